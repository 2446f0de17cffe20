"""Shared by the KF-RBAC modules: the one Policy per scan, the risky-permission tables (targets,
risks, `risky`), resolving a binding to its role, and the message helpers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubefort.kube.rbac import Binding, Grant, Policy, Role, Subject
from kubefort.model import ClusterIndex, NotApplicable, NotEvaluated, Resource, Violation
from kubefort.wording import plural

NSA = ("NSA-CISA Kubernetes Hardening Guide: Authentication and authorization",)
BINDINGS = ("RoleBinding", "ClusterRoleBinding")
ROLES = ("Role", "ClusterRole")
# ClusterInfo: the API server's version (live scans and snapshots) chooses the release whose
# default policy and resource table apply
NEEDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ClusterInfo")
MAX_LISTED = 4


@dataclass(frozen=True, slots=True)
class RbacOptions:
    """kubernetes_version: the release (1.N) whose default roles and bindings and resource table
    apply; empty: the API server's (a live cluster or snapshot), else the newest kubefort ships."""

    kubernetes_version: str = ""


def with_kubernetes_version(options: Mapping[str, object], version: str, ids: Iterable[str]) -> dict[str, object]:
    """`options` with one release for every check of `ids` that takes RbacOptions (ValueError for
    a release kubefort does not ship)."""
    from kubefort.kube.rbac.builtin import check_version

    opts = RbacOptions(check_version(version))
    return {**options, **dict.fromkeys(ids, opts)}


def policy_key(options: RbacOptions | None = None) -> str:
    """The index's derived-data key of the Policy for these options (one per release)."""
    return f"rbac-policy/{options.kubernetes_version if options is not None else ''}"


def policy_for(index: ClusterIndex, options: RbacOptions | None = None) -> Policy:
    """One Policy per cluster index and release (built once, shared by every RBAC check of a scan)."""
    version = options.kubernetes_version if options is not None else ""
    return index.derived(policy_key(options), lambda: Policy(index.resources, kubernetes_version=version or None))


# ------------------------------------------------------------------------------------------------
# risky permissions
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Target:
    group: str
    resource: str
    subresource: str = ""
    namespaced: bool = True  # False: only a ClusterRoleBinding can grant it


def target(text: str, group: str = "", namespaced: bool = True) -> Target:
    res, _, sub = text.partition("/")
    return Target(group, res, sub, namespaced)


@dataclass(frozen=True, slots=True)
class Risk:
    what: str
    grants: tuple[tuple[tuple[str, ...], Target], ...]  # (verbs, target) pairs
    any_name: bool = True  # False: rules restricted by resourceNames do not count

    def match(self, g: Grant, memo: dict[Any, bool] | None = None) -> bool:
        """Does the grant give this risk? (memo: a per-Policy cache keyed by rule and binding scope)"""
        if memo is None:
            return self._match(g)
        key = (self.what, id(g.rule), g.binding.namespace is None)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = self._match(g)
        return hit

    def _match(self, g: Grant) -> bool:
        r = g.rule
        if not self.any_name and r.resource_names:
            return False
        for verbs, t in self.grants:
            if not t.namespaced and g.binding.namespace is not None:
                continue
            if any(r.covers(v, t.group, t.resource, t.subresource) for v in verbs):
                return True
        return False


def risk(what: str, verbs: tuple[str, ...], *targets: Target, any_name: bool = True) -> Risk:
    return Risk(what, tuple((verbs, t) for t in targets), any_name)


WRITE = ("create", "update", "patch", "delete", "deletecollection")
WORKLOAD_TARGETS = (
    target("pods"),
    target("replicationcontrollers"),
    target("deployments", "apps"),
    target("replicasets", "apps"),
    target("statefulsets", "apps"),
    target("daemonsets", "apps"),
    target("jobs", "batch"),
    target("cronjobs", "batch"),
    target("deployments", "extensions"),
    target("replicasets", "extensions"),
    target("daemonsets", "extensions"),
)
RBAC_G = "rbac.authorization.k8s.io"
SECRETS_READ = risk("read Secrets", ("get", "list", "watch"), target("secrets"), any_name=False)
WORKLOAD_WRITE = risk("create or change pods and pod controllers", ("create", "update", "patch"), *WORKLOAD_TARGETS)
EXEC_ATTACH = risk("run commands in containers", ("create", "get"), target("pods/exec"), target("pods/attach"))
PORT_FORWARD = risk("port-forward into pods", ("create", "get"), target("pods/portforward"))
NODES_PROXY = risk(
    "reach the kubelet API", ("get", "create", "update", "patch", "delete"), target("nodes/proxy", namespaced=False)
)
SA_TOKEN = risk("mint ServiceAccount tokens", ("create",), target("serviceaccounts/token"))
CSR_APPROVAL = risk(
    "approve CertificateSigningRequests",
    ("update", "patch"),
    target("certificatesigningrequests/approval", "certificates.k8s.io", False),
)
CSR_SIGNER = risk("approve for a signer", ("approve",), target("signers", "certificates.k8s.io", False))
WEBHOOK_WRITE = risk(
    "change admission webhooks",
    WRITE,
    target("validatingwebhookconfigurations", "admissionregistration.k8s.io", False),
    target("mutatingwebhookconfigurations", "admissionregistration.k8s.io", False),
)
PV_CREATE = risk("create PersistentVolumes", ("create",), target("persistentvolumes", namespaced=False))
RBAC_WRITE = risk(
    "change RBAC objects",
    WRITE,
    target("roles", RBAC_G),
    target("rolebindings", RBAC_G),
    target("clusterroles", RBAC_G, False),
    target("clusterrolebindings", RBAC_G, False),
)
# bind is checked in the namespace of the binding being created, for Roles and ClusterRoles alike;
# escalate on a ClusterRole only at cluster scope
ESCALATE_BIND = Risk(
    "escalate or bind roles",
    (
        (("escalate", "bind"), target("roles", RBAC_G)),
        (("bind",), target("clusterroles", RBAC_G)),
        (("escalate",), target("clusterroles", RBAC_G, False)),
    ),
)
IMPERSONATE = risk(
    "impersonate other identities",
    ("impersonate",),
    target("users", namespaced=False),
    target("groups", namespaced=False),
    target("serviceaccounts"),
    target("uids", "authentication.k8s.io", False),
)


def is_full_wildcard(g: Grant) -> bool:
    r = g.rule
    return "*" in r.verbs and "*" in r.api_groups and "*" in r.resources and not r.resource_names


ALL_RISKS = (
    ESCALATE_BIND,
    IMPERSONATE,
    SECRETS_READ,
    WORKLOAD_WRITE,
    EXEC_ATTACH,
    PORT_FORWARD,
    NODES_PROXY,
    SA_TOKEN,
    WEBHOOK_WRITE,
    PV_CREATE,
    RBAC_WRITE,
    CSR_APPROVAL,
)


def risky(grants: Iterable[Grant], memo: dict[Any, bool] | None = None) -> list[tuple[str, Grant]]:
    """(what, grant) for every risky permission among grants (CSR approval only with a signer)."""
    gl = list(grants)
    out: list[tuple[str, Grant]] = []
    signer = any(CSR_SIGNER.match(g, memo) for g in gl)
    for g in gl:
        if is_full_wildcard(g):
            out.append(("do anything (*/*/*)", g))
            continue
        for rk in ALL_RISKS:
            if rk.match(g, memo) and (rk is not CSR_APPROVAL or signer):
                out.append((rk.what, g))
                break
    return out


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
# why `resolve` leaves a binding without an outcome (each binding check's "## Not applicable when")
REPLACED = "a later object of the same name replaces this binding"
DEFAULT = "the release's default binding, unchanged"
ROLE_OUT_OF_SCOPE = "a later object of the same name replaces this role, or it is the release's default role, unchanged"
OTHER_BINDING_KIND = "a binding of the other kind (the RoleBinding and ClusterRoleBinding checks are separate)"


def resolve(res: Resource, index: ClusterIndex, options: RbacOptions | None = None) -> tuple[Policy, Binding, Role]:
    """The binding and its role. NotApplicable for a binding the API server would not hold (a later
    object of the same name replaced it) and for an unchanged default (the release's own binding,
    its subjects and its role's rules as the release creates them); NotEvaluated when unknowable."""
    pol = policy_for(index, options)
    prob = pol.problem(res)
    if prob is not None:
        raise prob
    b = pol.binding(res)
    if b is None:  # a later object of the same name replaced this one
        raise NotApplicable(REPLACED)
    role = pol.role_of(b)
    if role is None:
        rk = ("ClusterRole", None, b.role_name) if b.role_kind == "ClusterRole" else ("Role", b.namespace, b.role_name)
        why = pol.problems.get(rk)
        raise NotEvaluated(
            f"{b.role_key} "
            + (f"is malformed ({why.reason})" if why else "is neither in the scanned objects nor a default role"),
            ("roleRef", "name"),
        )
    if b.default and not b.extra_subjects() and not role.changed:
        raise NotApplicable(DEFAULT)
    return pol, b, role


def judged(b: Binding, grants: Iterable[Grant]) -> list[tuple[list[Subject], list[Grant]]]:
    """What of a binding the checks judge, as (subjects, grants) groups: every subject with every
    grant, except that a default binding's default subjects are judged on the rules beyond the
    release's defaults only (the release's own grants are out of scope)."""
    gl = list(grants)
    subjects = [s for s in b.subjects if s.key is not None]
    extra = [s for s in subjects if s not in b.default_subjects]
    dflt = [s for s in subjects if s in b.default_subjects]
    changed = [g for g in gl if not g.rule.default]
    return [(ss, gs) for ss, gs in ((extra, gl), (dflt, changed)) if ss and gs]


def subjects_text(subjects: Iterable[Any]) -> str:
    s = [str(x) for x in subjects]
    return ("subject " if len(s) == 1 else "subjects ") + ", ".join(s)


def scope_text(b: Binding) -> str:
    return f"in namespace {b.namespace!r}" if b.namespace is not None else "cluster-wide"


def grants_text(grants: list[Grant]) -> str:
    more = f"; and {plural(len(grants) - MAX_LISTED, 'more rule')}" if len(grants) > MAX_LISTED else ""
    return "; ".join(g.describe() for g in grants[:MAX_LISTED]) + more


def permission_violation(
    res: Resource, index: ClusterIndex, risks: tuple[Risk, ...], what: str, options: RbacOptions | None = None
) -> Iterator[Violation]:
    pol, b, _ = resolve(res, index, options)
    memo = pol.cache.setdefault("risk-match", {})
    hits = [g for g in pol.grants_of(b) if any(rk.match(g, memo) for rk in risks)]
    for subjects, grants in judged(b, hits):
        yield Violation(
            f"{subjects_text(subjects)} can {what} {scope_text(b)}: {grants_text(grants)}", ("roleRef", "name")
        )
