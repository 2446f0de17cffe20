"""The audit Policy evaluator (kube/auditpolicy.py) against levels derived by hand from how each
random rule was built, the policy validation the API server applies, and audit coverage
(kubefort/audit/coverage.py): the table, what is not recorded, and the policy findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubefort.audit import coverage as cov
from kubefort.engine import Engine, EngineSettings
from kubefort.engine.selection import select_checks
from kubefort.kube.auditpolicy import LEVELS, STAGES, AuditRequest, evaluate, parse_policy
from kubefort.model import NotEvaluated, Status
from kubefort.registry import REGISTRY

# ------------------------------------------------------------------------------------------------
# random rules whose verdict on one request is known by construction
# ------------------------------------------------------------------------------------------------
LONG_RUNNING_SUBS = {"exec", "attach", "log", "portforward", "proxy"}


@st.composite
def requests(draw: st.DrawFn) -> AuditRequest:
    user = draw(st.sampled_from(["alice", "system:serviceaccount:shop:web", "system:anonymous"]))
    groups = tuple(draw(st.lists(st.sampled_from(["system:authenticated", "dev", "ops"]), max_size=2, unique=True)))
    verb = draw(st.sampled_from(["get", "list", "watch", "create", "patch", "delete", "proxy"]))
    if draw(st.booleans()):
        path = draw(st.sampled_from(["/healthz", "/healthz/etcd", "/api/v1", "/metrics"]))
        return AuditRequest("r", verb, user=user, groups=groups, path=path, namespace="")
    return AuditRequest(
        "r",
        verb,
        draw(st.sampled_from(["", "apps", "rbac.authorization.k8s.io"])),
        draw(st.sampled_from(["pods", "secrets", "deployments"])),
        draw(st.sampled_from(["", "exec", "status", "log"])),
        draw(st.sampled_from(["default", "kube-system", ""])),
        user,
        groups,
        draw(st.sampled_from(["", "web-0"])),
    )


@st.composite
def matching_rule(draw: st.DrawFn, r: AuditRequest) -> dict[str, Any]:
    """A rule that admits `r`: every field it sets lists the request's value (or a wildcard)."""
    rule: dict[str, Any] = {}
    if draw(st.booleans()):
        rule["users"] = [r.user, "someone-else"]
    if draw(st.booleans()) and r.groups:
        group: str = draw(st.sampled_from(r.groups))
        rule["userGroups"] = ["nobody-group", group]
    if draw(st.booleans()):
        rule["verbs"] = ["other-verb", r.verb]
    if r.path is not None:
        if draw(st.booleans()):
            rule["nonResourceURLs"] = [
                "/nope",
                draw(st.sampled_from(["*", r.path, r.path[: max(1, len(r.path) - 2)] + "*"])),
            ]
        return rule
    if draw(st.booleans()):
        rule["namespaces"] = ["elsewhere", r.namespace]
    if draw(st.booleans()):
        combined = f"{r.resource}/{r.subresource}" if r.subresource else r.resource
        forms = ["*", combined, f"{r.resource}/*"] + ([f"*/{r.subresource}"] if r.subresource else [])
        gr: dict[str, Any] = {"group": r.group}
        if draw(st.booleans()):
            gr["resources"] = ["widgets", draw(st.sampled_from(forms))]
            if draw(st.booleans()):
                gr["resourceNames"] = ["other", r.name]
        rule["resources"] = [{"group": "not.this.group"}, gr]
    return rule


@st.composite
def missing_rule(draw: st.DrawFn, r: AuditRequest) -> dict[str, Any]:
    """A rule that does not admit `r`: a matching rule with one field made to exclude it."""
    rule = draw(matching_rule(r))
    ways = ["users", "verbs", "groups"]
    if r.path is None:
        ways += ["namespaces", "group", "resource", "names", "urls"]
    else:
        ways += ["path", "resources-on-path"]
    way = draw(st.sampled_from(ways))
    if way == "users":
        rule["users"] = ["someone-else"]
    elif way == "verbs":
        rule["verbs"] = ["other-verb"]
    elif way == "groups":
        rule["userGroups"] = ["nobody-group"]
    elif way == "namespaces":
        rule["namespaces"] = ["elsewhere"]
    elif way == "group":
        rule["resources"] = [{"group": "not.this.group"}]
    elif way == "resource":
        other = (
            "widgets" if not r.subresource else draw(st.sampled_from(["widgets", r.resource, f"*/{r.subresource}x"]))
        )
        rule["resources"] = [{"group": r.group, "resources": [other, "widgets/*"]}]
    elif way == "names":
        combined = f"{r.resource}/{r.subresource}" if r.subresource else r.resource
        rule["resources"] = [{"group": r.group, "resources": [combined], "resourceNames": ["other"]}]
    elif way == "urls":  # a non-resource rule never admits a resource request
        rule.pop("namespaces", None)
        rule.pop("resources", None)
        rule["nonResourceURLs"] = ["*"]
    elif way == "path":
        rule["nonResourceURLs"] = ["/nope", "/other*"]
    else:  # a resource rule never admits a non-resource request
        rule.pop("nonResourceURLs", None)
        rule["namespaces"] = [""]
    return rule


@st.composite
def policies(draw: st.DrawFn) -> tuple[AuditRequest, dict[str, Any], int | None]:
    """(request, policy, index of the first rule built to match it or None)."""
    r = draw(requests())
    n = draw(st.integers(1, 5))
    first = draw(st.one_of(st.none(), st.integers(0, n - 1)))
    rules = []
    for i in range(n):
        rule = (
            draw(missing_rule(r)) if first is None or i < first else draw(st.one_of(matching_rule(r), missing_rule(r)))
        )
        if i == first:
            rule = draw(matching_rule(r))
        rule["level"] = draw(st.sampled_from(LEVELS))
        if draw(st.booleans()):
            rule["omitStages"] = draw(st.lists(st.sampled_from(STAGES), max_size=3, unique=True))
        rules.append(rule)
    policy: dict[str, Any] = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": rules}
    if draw(st.booleans()):
        policy["omitStages"] = draw(st.lists(st.sampled_from(STAGES), max_size=2, unique=True))
    return r, policy, first


@settings(max_examples=400, deadline=None)
@given(policies())
def test_the_evaluator_agrees_with_rules_built_to_match(case: tuple[AuditRequest, dict[str, Any], int | None]) -> None:
    r, policy, first = case
    d = evaluate(parse_policy(policy), r)
    assert d.rule == first
    if first is None:
        assert (d.level, d.rule_level) == (0, 0)
        return
    rule = policy["rules"][first]
    omitted = set(rule.get("omitStages", ())) | set(policy.get("omitStages", ()))
    long_running = r.verb in ("watch", "proxy") or (r.path is None and r.subresource in LONG_RUNNING_SUBS)
    written = ["RequestReceived"] + (["ResponseStarted"] if long_running else []) + ["ResponseComplete"]
    level = LEVELS.index(rule["level"])
    recorded = tuple(s for s in written if s not in omitted) if level else ()
    assert d.rule_level == level
    assert d.recorded == recorded
    assert d.level == (level if recorded else 0)


# ------------------------------------------------------------------------------------------------
# hand-picked cases: the corners of checker.go
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    rule: dict[str, Any]
    request: AuditRequest
    matches: bool


PODS_EXEC = AuditRequest("x", "create", "", "pods", "exec", "shop", name="web-0")
CASES = [
    Case(
        {"resources": [{"group": "", "resources": ["pods/*"]}]}, AuditRequest("x", "get", "", "pods"), True
    ),  # resource/* admits the resource itself
    Case({"resources": [{"group": "", "resources": ["*/exec"]}]}, PODS_EXEC, True),
    Case({"resources": [{"group": "", "resources": ["*/exec"]}]}, AuditRequest("x", "get", "", "pods"), False),
    Case({"resources": [{"group": "", "resources": ["pods"]}]}, PODS_EXEC, False),  # a subresource needs resource/sub
    Case({"resources": [None]}, AuditRequest("x", "get", "", "secrets"), True),  # null element: the core group
    Case({"resources": [None]}, AuditRequest("x", "get", "apps", "deployments"), False),
    Case(
        {"resources": [{"group": None, "resources": [None]}]}, AuditRequest("x", "get", "", "secrets"), False
    ),  # [null] is [""]
    Case({"resources": [{"resources": ["pods/exec"], "resourceNames": ["web-0"]}]}, PODS_EXEC, True),
    Case({"resources": [{"resources": ["pods/exec"], "resourceNames": ["web-1"]}]}, PODS_EXEC, False),
    Case({"resources": [{"resources": ["pods"], "resourceNames": [""]}]}, AuditRequest("x", "list", "", "pods"), True),
    Case({"namespaces": [""]}, AuditRequest("x", "get", "", "nodes", namespace=""), True),  # cluster scope is ""
    Case({"namespaces": ["shop"]}, AuditRequest("x", "get", "", "healthz", path="/healthz"), False),
    Case({"nonResourceURLs": ["/healthz*"]}, AuditRequest("x", "get", path="/healthz/etcd"), True),
    Case({"nonResourceURLs": ["/healthz"]}, AuditRequest("x", "get", path="/healthz/etcd"), False),
    Case({"nonResourceURLs": ["*"]}, AuditRequest("x", "get", "", "pods"), False),
    Case({"users": [None]}, AuditRequest("x", "get", "", "pods", user=""), True),  # [null] is [""]
    Case({"userGroups": ["ops"]}, AuditRequest("x", "get", "", "pods", groups=("dev", "ops")), True),
    Case({"userGroups": ["ops"]}, AuditRequest("x", "get", "", "pods", groups=()), False),
]


@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_rule_matching_corners(case: Case) -> None:
    policy = parse_policy({"rules": [{**case.rule, "level": "Metadata"}]})
    assert (evaluate(policy, case.request).rule == 0) is case.matches


@pytest.mark.parametrize(
    ("policy", "path", "message"),
    [
        ({"rules": []}, ("rules",), "the policy has no rules; the API server refuses the policy"),
        ({}, ("rules",), "the policy has no rules"),
        ({"rules": {"level": "None"}}, ("rules",), "rules is a mapping, expected a list"),
        ({"rules": [None]}, ("rules", 0, "level"), "rules[0].level is missing"),
        ({"rules": [{"level": "All"}]}, ("rules", 0, "level"), "rules[0].level is 'All', not a level"),
        (
            {"rules": [{"level": "None", "users": "alice"}]},
            ("rules", 0, "users"),
            "rules[0].users is a string, expected a list",
        ),
        (
            {"rules": [{"level": "None", "verbs": ["get", 3]}]},
            ("rules", 0, "verbs", 1),
            "rules[0].verbs[1] is a number",
        ),
        (
            {"rules": [{"level": "None", "nonResourceURLs": ["healthz"]}]},
            ("rules", 0, "nonResourceURLs", 0),
            "must start with '/' and may end with '*'",
        ),
        (
            {"rules": [{"level": "None", "nonResourceURLs": ["/a*b"]}]},
            ("rules", 0, "nonResourceURLs", 0),
            "may end with '*'",
        ),
        (
            {"rules": [{"level": "None", "nonResourceURLs": ["/x"], "namespaces": ["a"]}]},
            ("rules", 0, "nonResourceURLs"),
            "applies to both resources and non-resource URLs",
        ),
        (
            {"rules": [{"level": "None", "resources": [{"group": "Apps"}]}]},
            ("rules", 0, "resources", 0, "group"),
            "'Apps' is not a DNS subdomain",
        ),
        (
            {"rules": [{"level": "None", "resources": [{"resourceNames": ["x"]}]}]},
            ("rules", 0, "resources", 0, "resourceNames"),
            "sets resourceNames without resources",
        ),
        (
            {"rules": [{"level": "None", "omitStages": ["ResponseEnded"]}]},
            ("rules", 0, "omitStages", 0),
            "'ResponseEnded' is not a stage",
        ),
        ({"rules": [{"level": "None", "resources": ["secrets"]}]}, ("rules", 0, "resources", 0), "expected a mapping"),
    ],
)
def test_policies_the_api_server_refuses(policy: dict[str, Any], path: tuple[Any, ...], message: str) -> None:
    with pytest.raises(NotEvaluated) as exc:
        parse_policy(policy)
    assert exc.value.path == path
    assert message in exc.value.reason


def test_unknown_policy_wide_stages_are_ignored_as_the_api_server_does() -> None:
    p = parse_policy({"omitStages": ["Whatever"], "rules": [{"level": "Request"}]})
    d = evaluate(p, AuditRequest("x", "get", "", "secrets"))
    assert (d.level, d.recorded) == (2, ("RequestReceived", "ResponseComplete"))


# ------------------------------------------------------------------------------------------------
# coverage
# ------------------------------------------------------------------------------------------------
POLICY = yaml.safe_load(
    """
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  userGroups: [system:serviceaccounts]
  verbs: [list, watch]
- level: Metadata
  resources:
  - {group: "", resources: [secrets, configmaps, serviceaccounts/token]}
- level: None
  resources:
  - {group: rbac.authorization.k8s.io}
- level: None
  users: [system:anonymous]
- level: RequestResponse
  resources:
  - {group: "", resources: [pods/exec, pods/attach, pods/portforward]}
- level: Request
  verbs: [create, update, patch, delete, deletecollection]
- level: Metadata
"""
)


def _row(c: dict[str, Any], kind: str, verbs: str, caller: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [r for r in c["rows"] if (r["kind"], r["verbs"], r["caller"]) == (kind, verbs, caller)]
    assert len(rows) == 1
    return rows[0]


def test_coverage_rows() -> None:
    c = cov.coverage(POLICY)
    assert c["version"] == 1 and c["error"] is None and c["omitStages"] == ["RequestReceived"]
    assert len(c["rows"]) == sum(len(k.classes) for k in cov.REQUEST_KINDS) * len(cov.CALLERS)
    assert _row(c, "Secrets", "read", "serviceaccount") == {
        "kind": "Secrets",
        "group": "",
        "resource": "secrets",
        "subresource": "",
        "verbs": "read",
        "caller": "serviceaccount",
        "level": "None",
        "rule": 0,
        "by_verb": {
            "get": {"level": "Metadata", "rule": 1, "stages": ["ResponseComplete"]},
            "list": {"level": "None", "rule": 0, "stages": []},
            "watch": {"level": "None", "rule": 0, "stages": []},
        },
    }
    exec_row = _row(c, "pods/exec", "use", "user")
    assert exec_row["level"] == "RequestResponse" and exec_row["rule"] == 4
    assert exec_row["by_verb"]["create"]["stages"] == ["ResponseStarted", "ResponseComplete"]
    assert _row(c, "Deployments", "write", "user")["level"] == "Request"
    assert _row(c, "Pods", "read", "user")["level"] == "Metadata"


def test_coverage_lists_what_is_not_recorded() -> None:
    c = cov.coverage(POLICY)
    missing = {(m["kind"], m["verbs"], m["caller"]): (m["not_recorded"], m["rules"]) for m in c["not_recorded"]}
    rbac_kinds = ("Roles", "RoleBindings", "ClusterRoles", "ClusterRoleBindings")
    assert missing[("Secrets", "read", "serviceaccount")] == (["list", "watch"], [0])
    assert missing[("ClusterRoleBindings", "write", "user")] == (list(cov.WRITE), [2])
    assert missing[("Pods", "write", "anonymous")] == (list(cov.WRITE), [3])
    # everything the anonymous caller does is dropped (rule 3) unless an earlier rule records it
    anonymous = {k for (k, _v, caller) in missing if caller == "anonymous"}
    assert anonymous == {k.kind for k in cov.REQUEST_KINDS} - {
        "Secrets",
        "ConfigMaps",
        "service-account tokens (TokenRequest)",
    }
    users = {k for (k, _v, caller) in missing if caller == "user"}
    assert users == set(rbac_kinds)
    assert cov.summary_lines(c)[0] == "not recorded: Secrets list/watch by serviceaccount (rules[0])"


def test_coverage_of_a_policy_the_api_server_refuses() -> None:
    c = cov.coverage({"rules": [{"level": "Everything"}]})
    assert c["rows"] == [] and c["not_recorded"] == []
    assert c["error"].startswith("rules[0].level is 'Everything', not a level")
    assert cov.summary_lines(c) == [f"audit policy not evaluated: {c['error']}"]


def test_a_namespace_object_is_requested_in_its_own_namespace() -> None:
    """The API server's request info gives a Namespace's requests its own name as namespace."""
    policy = {"rules": [{"level": "None", "namespaces": [cov.NAMESPACE]}, {"level": "Metadata"}]}
    c = cov.coverage(policy)
    assert _row(c, "Namespaces", "write", "user")["level"] == "None"
    assert _row(c, "ClusterRoles", "write", "user")["level"] == "Metadata"  # cluster scope: ""


def test_coverage_of_a_complete_policy_lists_nothing() -> None:
    c = cov.coverage({"rules": [{"level": "Metadata"}]})
    assert c["not_recorded"] == []
    assert cov.summary_lines(c) == ["every request kind the audit detections read is recorded"]


# ------------------------------------------------------------------------------------------------
# policy findings: KF-CP-057 and KF-CP-058 through the engine
# ------------------------------------------------------------------------------------------------
def test_policy_findings_are_the_policy_checks() -> None:
    outs = cov.policy_findings(POLICY)
    assert [(o.check_id, o.status) for o in outs] == [("KF-CP-057", Status.FAILED), ("KF-CP-058", Status.FAILED)]
    assert "binding cluster roles" in outs[0].message and "listing Secrets" not in outs[0].message
    assert outs[1].message == "the policy logs request or response bodies for: TokenReviews at Request"


def test_policy_findings_ignore_the_engines_other_checks() -> None:
    ids = select_checks(REGISTRY, [], [])
    engine = Engine(EngineSettings(check_ids=tuple(ids)))
    outs = cov.policy_findings(
        {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}, engine
    )
    assert {o.check_id for o in outs} <= {"KF-CP-057", "KF-CP-058"} | {i for i in ids if i.startswith("KF-INPUT-")}
    assert all(o.status is not Status.FAILED for o in outs)


def test_policy_findings_of_a_refused_policy_are_not_evaluated() -> None:
    outs = cov.policy_findings({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": []})
    assert [(o.check_id, o.status) for o in outs] == [
        ("KF-CP-057", Status.NOT_EVALUATED),
        ("KF-CP-058", Status.NOT_EVALUATED),
    ]
    assert "the API server refuses the policy" in outs[0].message
