"""The per-request audit detections (KF-AUDIT-002..015) beyond their fixtures: the audit services
(`object_outcomes` through the engine, `RbacKnowledge` on the real built-in roles of every shipped
release), the checks that need the cluster's RBAC objects, their options, and properties over
classes of events (scope, robustness, anonymous requests)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubefort.audit.analyzer import AuditAnalyzer, AuditSettings
from kubefort.audit.context import AuditContext, AuditServices
from kubefort.audit.event import AuditEvent
from kubefort.audit.rbac_knowledge import ADMIN, RbacKnowledge
from kubefort.audit.services import ObjectOutcomes, default_services
from kubefort.checks.audit import common
from kubefort.config import ConfigError, make_options
from kubefort.kube.rbac import Identity, Request
from kubefort.kube.rbac.builtin import bootstrap_objects, latest, shipped_versions
from kubefort.model import NotApplicable, NotEvaluated, Status
from kubefort.registry import REGISTRY

MINE = [m for m in REGISTRY if m.target == "audit" and 2 <= int(m.id[-3:]) <= 19]
RBAC = "rbac.authorization.k8s.io"
RBAC_V1 = f"{RBAC}/v1"
BASE: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Event",
    "level": "Request",
    "stage": "ResponseComplete",
    "user": {"username": "alice", "groups": ["system:authenticated"]},
    "responseStatus": {"code": 200},
}
POD_FLAGS = {
    "KF-POD-001": ("container", "privileged"),
    "KF-POD-002": ("pod", "hostPID"),
    "KF-POD-003": ("pod", "hostIPC"),
    "KF-POD-004": ("pod", "hostNetwork"),
}
WRAPPERS = {
    "pods": ("", "Pod", "v1", ()),
    "deployments": ("apps", "Deployment", "apps/v1", ("spec", "template")),
    "jobs": ("batch", "Job", "batch/v1", ("spec", "template")),
    "cronjobs": ("batch", "CronJob", "batch/v1", ("spec", "jobTemplate", "spec", "template")),
}


def event(n: int = 0, **fields: Any) -> AuditEvent:
    raw = copy.deepcopy(BASE)
    raw["auditID"] = f"t-{n}"
    raw.update(copy.deepcopy(fields))
    return AuditEvent.read(raw, "t.jsonl", n + 1)


def analyzer(check_id: str, services: AuditServices | None = None, options: Any = None) -> AuditAnalyzer:
    opts = {check_id: options} if options is not None else {}
    return AuditAnalyzer(AuditSettings((check_id,), options=opts), REGISTRY, services)


def judge(check_id: str, ev: AuditEvent, services: AuditServices | None = None, options: Any = None) -> tuple[str, str]:
    """(status, message) of one check on one event: passed / not-applicable / the outcome's."""
    an = analyzer(check_id, services, options)
    outs = an.feed(ev)
    if outs:
        return outs[0].status.value, outs[0].message
    return ("passed" if an.passed else "not-applicable"), ""


def pod_body(flags: frozenset[str], resource: str = "pods") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "shop/app"}]}
    for cid in flags:
        where, key = POD_FLAGS[cid]
        if where == "pod":
            spec[key] = True
        else:
            spec["containers"][0]["securityContext"] = {"privileged": True}
    _group, kind, api_version, path = WRAPPERS[resource]
    template: dict[str, Any] = {"metadata": {"labels": {"app": "x"}}, "spec": spec}
    if resource == "pods":
        return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}
    cur = obj
    for step in path[:-1]:
        cur = cur.setdefault(step, {})
    cur[path[-1]] = template
    if resource == "deployments":
        obj["spec"]["selector"] = {"matchLabels": {"app": "x"}}
    if resource == "cronjobs":
        obj["spec"]["schedule"] = "* * * * *"
    return obj


def binding(
    kind: str, role_kind: str, role: str, subjects: list[dict[str, Any]], ns: str | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "b"} | ({"namespace": ns} if ns else {})
    return {
        "apiVersion": RBAC_V1,
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def role(kind: str, name: str, rules: list[dict[str, Any]], ns: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name} | ({"namespace": ns} if ns else {})
    return {"apiVersion": RBAC_V1, "kind": kind, "metadata": meta, "rules": rules}


# ------------------------------------------------------------------------------------------------
# object_outcomes: the per-object checks through one engine
# ------------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(flags=st.frozensets(st.sampled_from(sorted(POD_FLAGS))))
def test_object_outcomes_fail_exactly_the_checks_whose_fact_the_pod_has(flags: frozenset[str]) -> None:
    oo = ObjectOutcomes(REGISTRY)
    outs = oo(pod_body(flags), tuple(POD_FLAGS))
    assert {o.check_id for o in outs} == flags
    assert all(o.status is Status.FAILED for o in outs)


def test_object_outcomes_keep_one_engine_per_check_tuple_and_ignore_inline_suppressions() -> None:
    oo = ObjectOutcomes(REGISTRY)
    body = pod_body(frozenset({"KF-POD-001"}))
    body["metadata"]["annotations"] = {"kubefort.io/ignore": "KF-POD-001=the requester says so"}
    outs = oo(body, ("KF-POD-001",))
    assert [(o.check_id, o.status, o.suppression) for o in outs] == [("KF-POD-001", Status.FAILED, None)]
    assert oo.engine(("KF-POD-001",)) is oo.engine(("KF-POD-001",))
    assert oo.engine(("KF-POD-001",)) is not oo.engine(("KF-POD-002",))


def test_object_outcomes_report_a_malformed_body_as_not_evaluated() -> None:
    outs = ObjectOutcomes(REGISTRY)({"kind": "Pod", "metadata": {"name": "x"}}, ("KF-POD-001",))
    assert [(o.check_id, o.status) for o in outs] == [("KF-INPUT-003", Status.NOT_EVALUATED)]
    assert "apiVersion is missing" in outs[0].message


def test_default_services_wire_the_engine_the_rbac_knowledge_and_the_clock() -> None:
    svc = default_services(REGISTRY, "1.30", [role("ClusterRole", "x", [])])
    assert isinstance(svc.rbac, RbacKnowledge) and svc.rbac.version == "1.30" and svc.rbac.cluster_objects
    assert isinstance(svc.object_outcomes, ObjectOutcomes) and svc.now is not None and svc.now() > 0
    assert not default_services(REGISTRY).rbac.cluster_objects
    with pytest.raises(ValueError, match=r"no RBAC data for Kubernetes 1\.2"):
        default_services(REGISTRY, "1.2")


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-003 on every pod-bearing kind, for every combination of facts
# ------------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(flags=st.frozensets(st.sampled_from(sorted(POD_FLAGS))), resource=st.sampled_from(sorted(WRAPPERS)))
def test_privileged_pod_requested_cites_exactly_the_failing_pod_checks(flags: frozenset[str], resource: str) -> None:
    group = WRAPPERS[resource][0]
    ev = event(
        verb="create",
        objectRef={"resource": resource, "apiGroup": group, "namespace": "shop", "name": "x"},
        requestObject=pod_body(flags, resource),
    )
    status, message = judge("KF-AUDIT-003", ev)
    assert status == ("failed" if flags else "passed")
    cited = {cid for cid in POD_FLAGS if cid in message}
    assert cited == flags


def test_privileged_pod_requested_options_choose_the_checks_and_refuse_others() -> None:
    meta = REGISTRY.get("KF-AUDIT-003")
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "a", "image": "a", "ports": [{"containerPort": 80, "hostPort": 80}]}]},
    }
    ev = event(verb="create", objectRef={"resource": "pods", "namespace": "shop", "name": "x"}, requestObject=body)
    assert judge("KF-AUDIT-003", ev)[0] == "passed"  # a host port is not a privilege by default
    opts = make_options(meta, {"checks": ["KF-POD-016"]}, "t")
    status, message = judge("KF-AUDIT-003", ev, options=opts)
    assert status == "failed" and "KF-POD-016" in message
    with pytest.raises(ConfigError, match="unknown check 'KF-POD-999'"):
        make_options(meta, {"checks": ["KF-POD-999"]}, "t")
    with pytest.raises(ConfigError, match="KF-RBAC-001 is a cluster check"):
        make_options(meta, {"checks": ["KF-RBAC-001"]}, "t")


def test_trusted_principals_by_pattern_and_group() -> None:
    meta = REGISTRY.get("KF-AUDIT-005")
    ev = event(
        verb="delete",
        user={"username": "system:serviceaccount:argocd:argocd-application-controller", "groups": ["gitops"]},
        objectRef={"resource": "roles", "apiGroup": RBAC, "namespace": "shop", "name": "r"},
    )
    assert judge("KF-AUDIT-005", ev)[0] == "failed"
    by_name = make_options(meta, {"trusted_users": ["system:serviceaccount:argocd:*"]}, "t")
    by_group = make_options(meta, {"trusted_groups": ["gitops"]}, "t")
    assert judge("KF-AUDIT-005", ev, options=by_name)[0] == "passed"
    assert judge("KF-AUDIT-005", ev, options=by_group)[0] == "passed"
    controller = event(
        verb="update",
        user={"username": "system:kube-controller-manager"},
        objectRef={"resource": "roles", "apiGroup": RBAC, "namespace": "shop", "name": "r"},
    )
    no_system = make_options(meta, {"trust_system": False}, "t")
    assert judge("KF-AUDIT-005", controller)[0] == "passed"
    assert judge("KF-AUDIT-005", controller, options=no_system)[0] == "failed"


@settings(max_examples=80, deadline=None)
@given(
    ns=st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    name=st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
)
def test_only_kube_system_serviceaccounts_are_control_plane(ns: str, name: str) -> None:
    user = f"system:serviceaccount:{ns}:{name}"
    assert common.is_system_user(user) == (ns == "kube-system")
    assert common.is_system_user(f"system:node:{name}")
    assert not common.is_system_user(name) and not common.is_system_user("system:anonymous")


# ------------------------------------------------------------------------------------------------
# RbacKnowledge on the real built-in roles
# ------------------------------------------------------------------------------------------------
def crb(role_name: str, subjects: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return binding("ClusterRoleBinding", "ClusterRole", role_name, subjects or [{"kind": "User", "name": "u"}])


@pytest.mark.parametrize("version", shipped_versions())
def test_builtin_roles_of_every_release_are_judged_by_the_rbac_engine(version: str) -> None:
    k = RbacKnowledge(version)
    assert k.version == version and not k.cluster_objects
    admin = k.judge_binding(crb("cluster-admin"), None)
    assert admin.admin and admin.risks == (ADMIN,)
    assert k.judge_binding(crb("view"), None).risks == ()
    assert k.judge_binding(crb("system:public-info-viewer"), None).risks == ()
    edit = k.judge_binding(crb("edit"), None)
    assert not edit.admin and {"read Secrets", "create or change pods and pod controllers"} <= set(edit.risks)
    assert "change RBAC objects" in k.judge_binding(crb("admin"), None).risks
    # the defaults' rules are the release's own (bootstrap.json of that release)
    names = {o["metadata"]["name"] for o in bootstrap_objects(version) if o["kind"] == "ClusterRole"}
    assert {r.name for r in k.policy.roles.values() if r.kind == "ClusterRole"} == names


def test_default_subjects_of_a_default_binding_are_not_judged_and_crowds_are_named() -> None:
    k = RbacKnowledge()
    v = k.judge_binding(
        crb(
            "cluster-admin",
            [{"kind": "Group", "name": "system:masters"}, {"kind": "Group", "name": "system:unauthenticated"}],
        )
        | {"metadata": {"name": "cluster-admin"}},
        None,
    )
    assert [str(s) for s in v.subjects] == ["Group:system:unauthenticated"]
    other = k.judge_binding(crb("cluster-admin", [{"kind": "Group", "name": "system:masters"}]), None)
    assert [str(s) for s in other.subjects] == ["Group:system:masters"]  # not the default binding: judged


def test_cluster_scoped_risks_do_not_count_through_a_rolebinding() -> None:
    proxy = role("ClusterRole", "node-proxy", [{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}])
    k = RbacKnowledge(None, [proxy])
    assert k.judge_binding(crb("node-proxy"), None).risks == ("reach the kubelet API",)
    rb = binding("RoleBinding", "ClusterRole", "node-proxy", [{"kind": "User", "name": "u"}], "shop")
    assert k.judge_binding(rb, "shop").risks == ()


def test_unknown_roles_are_not_evaluated_saying_what_is_missing() -> None:
    rb = binding("RoleBinding", "Role", "deployer", [{"kind": "User", "name": "u"}], "shop")
    with pytest.raises(
        NotEvaluated, match=r"Role/shop/deployer is not a default role of Kubernetes .* no RBAC objects"
    ):
        RbacKnowledge().judge_binding(rb, "shop")
    with pytest.raises(NotEvaluated, match="nor among the RBAC objects given"):
        RbacKnowledge(None, []).judge_binding(rb, "shop")
    deployer = role(
        "Role", "deployer", [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}], "shop"
    )
    v = RbacKnowledge(None, [deployer]).judge_binding(rb, "shop")
    assert v.risks == ("create or change pods and pod controllers",)


def test_malformed_rbac_objects_are_listed_not_used() -> None:
    k = RbacKnowledge(None, [{"apiVersion": RBAC_V1, "kind": "Role", "metadata": {"name": 3}}, "not an object"])
    assert len(k.problems) == 1 and "metadata.name" in k.problems[0]


@pytest.mark.parametrize("version", shipped_versions())
def test_public_requests_are_exactly_the_public_info_viewer_role(version: str) -> None:
    k = RbacKnowledge(version)
    for path in ("/healthz", "/livez", "/readyz", "/version", "/version/"):
        assert k.public(Request("get", path=path))
        assert not k.public(Request("post", path=path))
    for path in ("/healthz/etcd", "/metrics", "/api", "/openapi/v2", "/"):
        assert not k.public(Request("get", path=path))
    assert not k.public(Request("get", "", "namespaces"))


@settings(max_examples=100, deadline=None)
@given(path=st.from_regex(r"/[a-z0-9/._-]{0,30}", fullmatch=True), query=st.sampled_from(["", "?verbose", "?x=1"]))
def test_any_allowed_anonymous_request_to_a_non_public_path_is_flagged(path: str, query: str) -> None:
    ev = event(
        verb="get",
        user={"username": "system:anonymous", "groups": ["system:unauthenticated"]},
        requestURI=path + query,
    )
    public = path in ("/healthz", "/livez", "/readyz", "/version", "/version/")
    status, message = judge("KF-AUDIT-008", ev)
    assert status == ("passed" if public else "failed")
    if not public:
        assert message == f"an unauthenticated request was allowed: get {path}"
    refused = event(verb="get", user={"username": "system:anonymous"}, requestURI=path, responseStatus={"code": 403})
    assert judge("KF-AUDIT-008", refused)[0] == "passed"


def test_anonymous_allowed_paths_option_uses_rbac_url_patterns() -> None:
    meta = REGISTRY.get("KF-AUDIT-008")
    opts = make_options(meta, {"allowed_paths": ["/.well-known/*", "/openid/v1/jwks"]}, "t")
    anon = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
    for uri, expect in (
        ("/.well-known/openid-configuration", "passed"),
        ("/openid/v1/jwks", "passed"),
        ("/openid/v1/jwks/x", "failed"),
        ("/.well-knownx", "failed"),
    ):
        assert judge("KF-AUDIT-008", event(verb="get", user=anon, requestURI=uri), options=opts)[0] == expect, uri


def test_unheld_compares_with_the_requesters_rules_where_they_apply() -> None:
    objs = [
        binding("RoleBinding", "ClusterRole", "edit", [{"kind": "User", "name": "alice"}], "shop"),
    ]
    k = RbacKnowledge(None, objs)
    alice = Identity("alice", frozenset({"system:authenticated"}))
    secrets = role("Role", "r", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}], "shop")
    rules = k.role_rules(secrets, "shop")
    assert k.unheld(alice, rules, "shop") == []
    assert k.unheld(alice, rules, "other") == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    assert k.unheld(alice, rules, "") != []


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-006 with the cluster's RBAC objects
# ------------------------------------------------------------------------------------------------
def escalation_services(*extra: dict[str, Any]) -> AuditServices:
    rbac_writer = role(
        "Role",
        "rbac-writer",
        [{"apiGroups": [RBAC], "resources": ["rolebindings", "roles"], "verbs": ["create", "update", "patch"]}],
        "shop",
    )
    objs = [rbac_writer, binding("RoleBinding", "Role", "rbac-writer", [{"kind": "User", "name": "alice"}], "shop")]
    return default_services(REGISTRY, None, objs + list(extra))


def rb_event(role_kind: str, role_name: str, **user: Any) -> AuditEvent:
    body = binding("RoleBinding", role_kind, role_name, [{"kind": "User", "name": "bob"}], "shop")
    fields: dict[str, Any] = {"user": user} if user else {}
    return event(
        verb="create",
        objectRef={"resource": "rolebindings", "apiGroup": RBAC, "namespace": "shop", "name": "b"},
        requestObject=body,
        **fields,
    )


def test_binding_a_role_the_requester_does_not_hold_is_flagged_with_how() -> None:
    status, message = judge("KF-AUDIT-006", rb_event("ClusterRole", "admin"), escalation_services())
    assert status == "failed"
    assert message.startswith("alice created RoleBinding shop/b granting permissions it does not hold (")
    assert "which the RBAC objects given do not explain" in message
    bind = role("ClusterRole", "binder", [{"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["bind"]}])
    via = binding("RoleBinding", "ClusterRole", "binder", [{"kind": "User", "name": "alice"}], "shop")
    status, message = judge("KF-AUDIT-006", rb_event("ClusterRole", "admin"), escalation_services(bind, via))
    assert status == "failed" and "through `bind` (RoleBinding/shop/b -> ClusterRole/binder rules[0]" in message


def test_binding_what_the_requester_holds_or_as_system_masters_passes() -> None:
    assert judge("KF-AUDIT-006", rb_event("Role", "rbac-writer"), escalation_services())[0] == "passed"
    masters = {"username": "root", "groups": ["system:masters", "system:authenticated"]}
    assert judge("KF-AUDIT-006", rb_event("ClusterRole", "admin", **masters), escalation_services())[0] == "passed"


def test_writing_a_role_beyond_the_requesters_rules_means_escalate() -> None:
    body = role("Role", "grab", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}], "shop")
    ev = event(
        verb="create",
        objectRef={"resource": "roles", "apiGroup": RBAC, "namespace": "shop", "name": "grab"},
        requestObject=body,
    )
    status, message = judge("KF-AUDIT-006", ev, escalation_services())
    assert status == "failed"
    assert "(get secrets, list secrets)" in message and "`escalate`" in message
    mild = role("Role", "mild", [{"apiGroups": [RBAC], "resources": ["roles"], "verbs": ["create"]}], "shop")
    ev2 = event(
        verb="create",
        objectRef={"resource": "roles", "apiGroup": RBAC, "namespace": "shop", "name": "mild"},
        requestObject=mild,
    )
    assert judge("KF-AUDIT-006", ev2, escalation_services())[0] == "passed"


def test_an_aggregation_rule_takes_every_permission() -> None:
    writer = role(
        "ClusterRole", "cr-writer", [{"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["create"]}]
    )
    grant = binding("ClusterRoleBinding", "ClusterRole", "cr-writer", [{"kind": "User", "name": "alice"}])
    agg = role("ClusterRole", "agg", []) | {"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}}
    ev = event(
        verb="create", objectRef={"resource": "clusterroles", "apiGroup": RBAC, "name": "agg"}, requestObject=agg
    )
    status, message = judge("KF-AUDIT-006", ev, escalation_services(writer, grant))
    assert status == "failed" and "(* *.*, * *)" in message
    plain = event(
        verb="create",
        objectRef={"resource": "clusterroles", "apiGroup": RBAC, "name": "plain"},
        requestObject=role("ClusterRole", "plain", []),
    )
    assert judge("KF-AUDIT-006", plain, escalation_services(writer, grant))[0] == "passed"


def test_a_binding_to_a_users_own_role_is_judged_with_its_objects() -> None:
    svc = escalation_services()
    ev = event(
        verb="create",
        objectRef={"resource": "rolebindings", "apiGroup": RBAC, "namespace": "shop", "name": "b"},
        requestObject=binding("RoleBinding", "Role", "rbac-writer", [{"kind": "User", "name": "bob"}], "shop"),
    )
    status, message = judge("KF-AUDIT-004", ev, svc)
    assert (
        status == "failed"
        and "Role/shop/rbac-writer (it can change RBAC objects) in namespace shop to User:bob" in message
    )


# ------------------------------------------------------------------------------------------------
# properties over classes of events
# ------------------------------------------------------------------------------------------------
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "post"]
RESOURCES = [
    ("", "pods", ""),
    ("", "pods", "exec"),
    ("", "pods", "ephemeralcontainers"),
    ("", "pods", "status"),
    ("", "nodes", "proxy"),
    ("", "namespaces", ""),
    ("", "namespaces", "finalize"),
    ("", "events", ""),
    ("", "serviceaccounts", "token"),
    ("", "secrets", ""),
    ("apps", "deployments", ""),
    ("batch", "cronjobs", ""),
    (RBAC, "clusterrolebindings", ""),
    (RBAC, "roles", ""),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", ""),
    ("certificates.k8s.io", "certificatesigningrequests", "approval"),
    ("example.com", "pods", ""),
    ("", "", ""),
]
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "privileged", "x", "True"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["spec", "metadata", "labels", "kind", "rules", "subjects", "status", "conditions", "containers"]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=12,
)


def admitted(meta: Any, verb: str, group: str, resource: str, sub: str) -> bool:
    scope = meta.audit
    if scope.verbs is not None and verb not in scope.verbs:
        return False
    if not resource:
        return scope.nonresource or scope.resources is None
    if scope.resources is None:
        return True
    gr = f"{resource}.{group}" if group else resource
    return (f"{gr}/{sub}" if sub else gr) in scope.resources


@settings(max_examples=150, deadline=None)
@given(
    verb=st.sampled_from(VERBS),
    target=st.sampled_from(RESOURCES),
    code=st.sampled_from([200, 201, 403, 404, None]),
    request=JSONISH,
    response=JSONISH,
    user=st.sampled_from(["alice", "system:anonymous", "system:node:n1", "system:serviceaccount:ci:r"]),
)
def test_any_event_gets_an_outcome_only_in_scope_and_never_an_internal_error(
    verb: str, target: tuple[str, str, str], code: int | None, request: Any, response: Any, user: str
) -> None:
    group, resource, sub = target
    fields: dict[str, Any] = {
        "verb": verb,
        "user": {"username": user},
        "requestURI": f"/x/{resource}",
        "requestObject": request,
        "responseObject": response,
        "responseStatus": {"code": code} if code is not None else {},
    }
    if resource:
        fields["objectRef"] = {
            "resource": resource,
            "apiGroup": group,
            "subresource": sub,
            "namespace": "ns",
            "name": "n",
        }
    for meta in MINE:
        an = analyzer(meta.id)
        outs = an.feed(event(**fields))
        if not admitted(meta, verb, group, resource, sub):
            assert outs == [] and an.passed == 0, (meta.id, outs)
        for o in outs:
            assert "internal error" not in o.message, (meta.id, o.message)


def test_every_not_applicable_reason_is_documented() -> None:
    """The only NotApplicable of these checks (KF-AUDIT-006 without the cluster's RBAC) is written
    in its docs' '## Not applicable when', as `kubefort explain` shows it."""
    meta = REGISTRY.get("KF-AUDIT-006")
    ev = rb_event("ClusterRole", "admin")
    ctx: AuditContext[None] = AuditContext(None, services=default_services(REGISTRY))
    with pytest.raises(NotApplicable) as exc:
        list(meta.func(ev, ctx))  # type: ignore[call-arg, arg-type, misc]
    assert " ".join(str(exc.value).split()) in " ".join(meta.sections()["Not applicable when"].split())


def test_checks_fall_back_to_the_default_services() -> None:
    ctx: AuditContext[None] = AuditContext(None)
    assert common.rbac_knowledge(ctx).version == latest()
    outs = common.object_outcomes(ctx, pod_body(frozenset({"KF-POD-004"})), ("KF-POD-004",))
    assert [o.check_id for o in outs] == ["KF-POD-004"]


@pytest.mark.parametrize(
    ("uri", "expect"),
    [
        ("/api/v1/pods?dryRun=All", True),
        ("/api/v1/pods?dryRun=All&x=1", True),
        ("/api/v1/pods", False),
        ("/api/v1/pods?dryRun=", False),
    ],
)
def test_dry_run_requests(uri: str, expect: bool) -> None:
    assert common.dry_run(event(requestURI=uri)) is expect


def test_kubelet_proxy_ignored_paths() -> None:
    meta = REGISTRY.get("KF-AUDIT-009")
    opts = make_options(meta, {"ignored_paths": ["/metrics"]}, "t")
    ref = {"resource": "nodes", "subresource": "proxy", "name": "n1"}
    scrape = event(verb="get", requestURI="/api/v1/nodes/n1/proxy/metrics/cadvisor", objectRef=ref)
    run = event(verb="create", requestURI="/api/v1/nodes/n1/proxy/run/a/b/c?cmd=id", objectRef=ref)
    assert judge("KF-AUDIT-009", scrape, options=opts)[0] == "passed"
    assert judge("KF-AUDIT-009", run, options=opts)[0] == "failed"
    assert judge("KF-AUDIT-009", scrape)[0] == "failed"
