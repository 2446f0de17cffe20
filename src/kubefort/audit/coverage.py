"""Audit coverage: given the cluster's audit Policy, what is recorded, at which level, for the
requests the audit detections need; and the policy findings (KF-CP-057, KF-CP-058).

`coverage(policy_obj)` evaluates the policy (kube/auditpolicy.py, the API server's own rules) for
each request kind of `REQUEST_KINDS`, each verb class and each kind of caller, and returns the
dict the JSON report carries as `extras.audit.coverage` (`version` 1):

    {"version": 1,
     "error": null,                       # why the policy could not be evaluated (then no rows)
     "namespace": "default",              # where namespaced requests are made
     "callers": {"user": {"username": "jane@example.com", "groups": ["system:authenticated"]}, ...},
     "omitStages": ["RequestReceived"],   # the policy-wide omitStages
     "rows": [{"kind": "Secrets", "group": "", "resource": "secrets", "subresource": "",
               "verbs": "read", "caller": "user",
               "level": "Metadata",       # the lowest level recorded among the class's verbs
               "rule": 0,                 # the rule deciding that lowest verb (null: no rule matched)
               "by_verb": {"get": {"level": "Metadata", "rule": 0, "stages": ["ResponseComplete"]}, ...}},
              ...],
     "not_recorded": [{"kind": "Secrets", "group": "", "resource": "secrets", "subresource": "",
                       "verbs": "read", "caller": "serviceaccount", "not_recorded": ["list", "watch"],
                       "rules": [3]}, ...]}

Levels are what is written for a request that does not panic: None when no rule matches, when the
deciding rule says None, or when every stage the request writes is omitted. `stages` lists the
stages written (RequestReceived, ResponseStarted for long-running requests, ResponseComplete).

`policy_findings(policy_obj, engine)` runs the audit-policy checks KF-CP-057 (key events not
recorded) and KF-CP-058 (secret values logged) on the policy object, through the engine: one
definition of what a good policy records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubefort.engine import Engine, EngineSettings
from kubefort.kube.auditpolicy import AuditPolicy, AuditRequest, Decision, evaluate, parse_policy
from kubefort.model import NotEvaluated, Outcome, Source

VERSION = 1
NAMESPACE = "default"
POLICY_CHECKS = ("KF-CP-057", "KF-CP-058")
READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
CHANGE = ("create", "update", "patch", "delete")
USE = (("use", ("create", "get")),)  # streams and proxies: kubectl sends POST (create) or GET


@dataclass(frozen=True, slots=True)
class RequestKind:
    """A kind of request the detections read: `classes` maps a verb class (read, write, use)
    to its verbs."""

    kind: str
    group: str
    resource: str
    subresource: str = ""
    namespaced: bool = True
    classes: tuple[tuple[str, tuple[str, ...]], ...] = (("read", READ), ("write", WRITE))


ADMISSION = "admissionregistration.k8s.io"
RBAC = "rbac.authorization.k8s.io"
REQUEST_KINDS = (
    RequestKind("Secrets", "", "secrets"),
    RequestKind("ConfigMaps", "", "configmaps"),
    RequestKind(
        "service-account tokens (TokenRequest)", "", "serviceaccounts", "token", classes=(("write", ("create",)),)
    ),
    RequestKind(
        "TokenReviews", "authentication.k8s.io", "tokenreviews", namespaced=False, classes=(("write", ("create",)),)
    ),
    RequestKind("Roles", RBAC, "roles"),
    RequestKind("RoleBindings", RBAC, "rolebindings"),
    RequestKind("ClusterRoles", RBAC, "clusterroles", namespaced=False),
    RequestKind("ClusterRoleBindings", RBAC, "clusterrolebindings", namespaced=False),
    RequestKind("Pods", "", "pods"),
    RequestKind("pods/exec", "", "pods", "exec", classes=USE),
    RequestKind("pods/attach", "", "pods", "attach", classes=USE),
    RequestKind("pods/portforward", "", "pods", "portforward", classes=USE),
    RequestKind(
        "pods/ephemeralcontainers", "", "pods", "ephemeralcontainers", classes=(("write", ("update", "patch")),)
    ),
    RequestKind("pods/proxy", "", "pods", "proxy", classes=USE),
    RequestKind("services/proxy", "", "services", "proxy", classes=USE),
    RequestKind("nodes/proxy (kubelet API)", "", "nodes", "proxy", namespaced=False, classes=USE),
    RequestKind("Deployments", "apps", "deployments", classes=(("write", CHANGE),)),
    RequestKind("DaemonSets", "apps", "daemonsets", classes=(("write", CHANGE),)),
    RequestKind("StatefulSets", "apps", "statefulsets", classes=(("write", CHANGE),)),
    RequestKind("CronJobs", "batch", "cronjobs", classes=(("write", CHANGE),)),
    RequestKind("Namespaces", "", "namespaces", classes=(("write", CHANGE),)),
    RequestKind("Events", "", "events", classes=(("write", ("delete", "deletecollection")),)),
    RequestKind(
        "Events (events.k8s.io)", "events.k8s.io", "events", classes=(("write", ("delete", "deletecollection")),)
    ),
    RequestKind(
        "CertificateSigningRequests",
        "certificates.k8s.io",
        "certificatesigningrequests",
        namespaced=False,
        classes=(("write", ("create", "delete")),),
    ),
    RequestKind(
        "CSR approvals",
        "certificates.k8s.io",
        "certificatesigningrequests",
        "approval",
        namespaced=False,
        classes=(("write", ("update", "patch")),),
    ),
    RequestKind(
        "ValidatingWebhookConfigurations",
        ADMISSION,
        "validatingwebhookconfigurations",
        namespaced=False,
        classes=(("write", CHANGE),),
    ),
    RequestKind(
        "MutatingWebhookConfigurations",
        ADMISSION,
        "mutatingwebhookconfigurations",
        namespaced=False,
        classes=(("write", CHANGE),),
    ),
    RequestKind(
        "ValidatingAdmissionPolicies",
        ADMISSION,
        "validatingadmissionpolicies",
        namespaced=False,
        classes=(("write", CHANGE),),
    ),
    RequestKind(
        "ValidatingAdmissionPolicyBindings",
        ADMISSION,
        "validatingadmissionpolicybindings",
        namespaced=False,
        classes=(("write", CHANGE),),
    ),
    RequestKind(
        "CustomResourceDefinitions",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        namespaced=False,
        classes=(("write", CHANGE),),
    ),
    RequestKind("Nodes", "", "nodes", namespaced=False, classes=(("write", CHANGE),)),
)
# the callers each row is evaluated for (policies often treat them apart)
CALLERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("user", "jane@example.com", ("system:authenticated",)),
    (
        "serviceaccount",
        f"system:serviceaccount:{NAMESPACE}:app",
        ("system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}", "system:authenticated"),
    ),
    ("anonymous", "system:anonymous", ("system:unauthenticated",)),
)


def request(kind: RequestKind, verb: str, user: str, groups: tuple[str, ...]) -> AuditRequest:
    """The request the policy is asked about. A Namespace's own requests carry its name as their
    namespace (the API server's request info); cluster-scoped ones carry ""."""
    if kind.resource == "namespaces" and not kind.group:
        namespace, name = NAMESPACE, NAMESPACE
    else:
        namespace, name = (NAMESPACE if kind.namespaced else ""), ""
    return AuditRequest(kind.kind, verb, kind.group, kind.resource, kind.subresource, namespace, user, groups, name)


def _row(
    kind: RequestKind, verb_class: str, verbs: tuple[str, ...], caller: str, decisions: dict[str, Decision]
) -> dict[str, Any]:
    weakest = min(verbs, key=lambda v: decisions[v].level)  # the first verb at the lowest level
    d = decisions[weakest]
    return {
        "kind": kind.kind,
        "group": kind.group,
        "resource": kind.resource,
        "subresource": kind.subresource,
        "verbs": verb_class,
        "caller": caller,
        "level": d.level_name,
        "rule": d.rule,
        "by_verb": {
            v: {"level": decisions[v].level_name, "rule": decisions[v].rule, "stages": list(decisions[v].recorded)}
            for v in verbs
        },
    }


def _evaluate(policy: AuditPolicy) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for kind in REQUEST_KINDS:
        for verb_class, verbs in kind.classes:
            for caller, user, groups in CALLERS:
                decisions = {v: evaluate(policy, request(kind, v, user, groups)) for v in verbs}
                row = _row(kind, verb_class, verbs, caller, decisions)
                rows.append(row)
                dropped = [v for v in verbs if decisions[v].level == 0]
                if dropped:
                    missing.append(
                        {
                            **{k: row[k] for k in ("kind", "group", "resource", "subresource", "verbs", "caller")},
                            "not_recorded": dropped,
                            "rules": sorted({r for v in dropped if (r := decisions[v].rule) is not None}),
                        }
                    )
    return rows, missing


def coverage(policy_obj: Mapping[str, Any]) -> dict[str, Any]:
    """The coverage table of the policy (see the module docstring)."""
    out: dict[str, Any] = {
        "version": VERSION,
        "error": None,
        "namespace": NAMESPACE,
        "callers": {c: {"username": u, "groups": list(g)} for c, u, g in CALLERS},
        "omitStages": [],
        "rows": [],
        "not_recorded": [],
    }
    try:
        policy = parse_policy(policy_obj)
    except NotEvaluated as exc:
        out["error"] = exc.reason
        return out
    out["omitStages"] = sorted(policy.omit_stages)
    out["rows"], out["not_recorded"] = _evaluate(policy)
    return out


def summary_lines(cov: Mapping[str, Any]) -> list[str]:
    """A few lines for the table report: what the policy does not record."""
    if cov.get("error"):
        return [f"audit policy not evaluated: {cov['error']}"]
    lines = []
    for m in cov.get("not_recorded", ()):
        what = m["kind"] if not m["subresource"] or "/" in m["kind"] else f"{m['kind']}/{m['subresource']}"
        rules = ", ".join(f"rules[{r}]" for r in m["rules"]) or "no rule matches"
        lines.append(f"not recorded: {what} {'/'.join(m['not_recorded'])} by {m['caller']} ({rules})")
    return lines or ["every request kind the audit detections read is recorded"]


def policy_engine() -> Engine:
    """An engine running only the audit-policy checks."""
    return Engine(EngineSettings(check_ids=POLICY_CHECKS))


def policy_findings(policy_obj: Any, engine: Engine | None = None, source: Source | None = None) -> list[Outcome]:
    """KF-CP-057 and KF-CP-058 (and KF-INPUT problems of a malformed object) on the policy, through
    `engine` (its selection, options and severities apply; `policy_engine()` when None). Other
    checks the engine runs on the object are left out: they judge manifests, not policy files."""
    eng = engine if engine is not None else policy_engine()
    outs = eng.check_object(policy_obj, source)
    return [o for o in outs if o.check_id in POLICY_CHECKS or o.check_id.startswith("KF-INPUT-")]
