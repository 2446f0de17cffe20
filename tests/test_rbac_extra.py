"""KF-RBAC-030..034 (checks/rbac/extra.py) beyond their fixtures: the rule matching they use is the
authorizer's (kube/rbac `Request.matches`, resourceNames and requests without a name included),
and over random RBAC worlds each check flags exactly the bindings through which `Policy.who_can`
lets a subject make the requests the check is about."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefort.engine import Engine, EngineSettings
from kubefort.kube.rbac import Policy, Request, Rule
from kubefort.loaders.manifests import LoadedInput, add_object
from kubefort.model import InputRecord, Source, Status
from kubefort.registry import REGISTRY

VERBS = ["get", "create", "update", "patch", "delete", "deletecollection", "*"]
GROUPS = ["", "events.k8s.io", "networking.k8s.io", "*"]
RESOURCES = ["configmaps", "events", "services", "services/status", "networkpolicies", "*", "*/status"]
NAMES = ["aws-auth", "coredns"]
NAMESPACES = ["kube-system", "shop"]
SUBJECTS = [f"user-{i}" for i in range(4)]  # no default binding of any release names them


@pytest.fixture(autouse=True, scope="module")
def _rbac_checks() -> None:
    import kubefort.checks.rbac  # noqa: F401


rule_st = st.builds(
    lambda verbs, groups, resources, names: {
        "verbs": verbs,
        "apiGroups": groups,
        "resources": resources,
        **({"resourceNames": names} if names else {}),
    },
    st.lists(st.sampled_from(VERBS), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
)


def _rule(d: dict[str, Any]) -> Rule:
    return Rule(
        tuple(d["verbs"]), tuple(d["apiGroups"]), tuple(d["resources"]), tuple(d.get("resourceNames", ())), (), "r", 0
    )


@settings(max_examples=200, deadline=None)
@given(
    rule=rule_st,
    verb=st.sampled_from(VERBS[:-1]),
    target=st.sampled_from(
        [("", "configmaps", ""), ("events.k8s.io", "events", ""), ("", "services", "status"), ("", "events", "")]
    ),
    name=st.sampled_from([None, *NAMES, "other"]),
    any_name=st.booleans(),
)
def test_allows_is_the_authorizer(rule, verb, target, name, any_name):
    from kubefort.checks.rbac.extra import NAMELESS, Target, allows

    r = _rule(rule)
    t = Target(*target)

    def authorized(n: str) -> bool:
        return Request(verb, t.group, t.resource, t.subresource, name=n).matches(r)

    # a request without a name (create, deletecollection) never matches a rule with resourceNames
    candidates = [""] if verb in NAMELESS else [*NAMES, "other"]
    if name is not None:
        expected = authorized("" if verb in NAMELESS else name)
    elif any_name:
        expected = authorized("" if verb in NAMELESS else "a-name-no-rule-lists")
    else:
        expected = any(authorized(n) for n in candidates)
    assert allows(r, verb, t, name, any_name) is expected


# ------------------------------------------------------------------------------------------------
# the checks against who_can, over random RBAC worlds
# ------------------------------------------------------------------------------------------------
@st.composite
def world(draw: Any) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 3))):
        rules = draw(st.lists(rule_st, min_size=1, max_size=3))
        objs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": f"cr-{i}"},
                "rules": rules,
            }
        )
    for i in range(draw(st.integers(0, 2))):
        rules = draw(st.lists(rule_st, min_size=1, max_size=3))
        ns = draw(st.sampled_from(NAMESPACES))
        objs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": f"role-{i}", "namespace": ns},
                "rules": rules,
            }
        )
    roles = [(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objs]
    for i in range(draw(st.integers(1, 4))):
        kind, name, role_ns = draw(st.sampled_from(roles))
        subject = {"kind": "User", "name": draw(st.sampled_from(SUBJECTS)), "apiGroup": "rbac.authorization.k8s.io"}
        ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}
        if kind == "ClusterRole" and draw(st.booleans()):
            objs.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": f"b-{i}"},
                    "roleRef": ref,
                    "subjects": [subject],
                }
            )
        else:
            ns = role_ns or draw(st.sampled_from(NAMESPACES))
            objs.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": f"b-{i}", "namespace": ns},
                    "roleRef": ref,
                    "subjects": [subject],
                }
            )
    return objs


def _flagged(objs: list[dict[str, Any]], check_id: str) -> tuple[set[str], list[Any]]:
    engine = Engine(EngineSettings(check_ids=(check_id,)), REGISTRY)
    li = LoadedInput(InputRecord("in.yaml", "file"))
    for i, o in enumerate(objs):
        add_object(li, o, Source("in.yaml", doc_index=i), "in.yaml")
    part = engine.evaluate(li)
    outs = [o for o in part.outcomes + engine.cross_object(part.collected) if o.check_id == check_id]
    assert all(o.status in (Status.PASSED, Status.FAILED) for o in outs), [o.message for o in outs]
    return {o.resource.name for o in outs if o.status is Status.FAILED}, li.resources


def _who_can(resources: list[Any], requests: list[Request], any_namespace: bool = False) -> set[str]:
    pol = Policy(resources)
    out = set()
    for req in requests:
        for subject, grants in pol.who_can(req, any_namespace=any_namespace).items():
            if subject.name in SUBJECTS:
                out |= {g.binding.name for g in grants}
    return out


WRITE = ["create", "update", "patch", "delete", "deletecollection"]


def _named(verb: str, name: str) -> str:
    return "" if verb in ("create", "deletecollection") else name


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objs=world())
def test_aws_auth_check_flags_exactly_who_can_change_it(objs):
    flagged, resources = _flagged(objs, "KF-RBAC-034")
    reqs = [Request(v, "", "configmaps", namespace="kube-system", name=_named(v, "aws-auth")) for v in WRITE]
    assert flagged == _who_can(resources, reqs)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objs=world())
def test_kube_system_configmap_check_flags_who_can_write_some_configmap_there(objs):
    flagged, resources = _flagged(objs, "KF-RBAC-032")
    reqs = [
        Request(v, "", "configmaps", namespace="kube-system", name=_named(v, n))
        for v in WRITE
        for n in [*NAMES, "other"]
    ]
    assert flagged == _who_can(resources, reqs)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objs=world())
def test_events_check_flags_who_can_delete_any_event_anywhere(objs):
    flagged, resources = _flagged(objs, "KF-RBAC-031")
    reqs = [
        Request(v, g, "events", namespace=ns, name=_named(v, "an-event-no-rule-names"))
        for v in ("delete", "deletecollection")
        for g in ("", "events.k8s.io")
        for ns in NAMESPACES
    ]
    assert flagged == _who_can(resources, reqs, any_namespace=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objs=world())
def test_networking_check_flags_who_can_write_services_or_policies_anywhere(objs):
    flagged, resources = _flagged(objs, "KF-RBAC-033")
    targets = [("", "services", ""), ("", "services", "status"), ("networking.k8s.io", "networkpolicies", "")]
    reqs = [
        Request(v, g, r, sub, namespace=ns, name=_named(v, n))
        for v in WRITE
        for g, r, sub in targets
        for ns in NAMESPACES
        for n in [*NAMES, "other"]
    ]
    assert flagged == _who_can(resources, reqs, any_namespace=True)


def test_masters_binding_is_judged_on_added_subjects_only(tmp_path):
    """The release's own cluster-admin binding to system:masters is out of scope; a subject added to
    it, or system:masters added to another default binding, is judged."""
    from conftest import scan_text

    text = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: cluster-admin, labels: {kubernetes.io/bootstrapping: rbac-defaults}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "system:masters", apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:basic-user", labels: {kubernetes.io/bootstrapping: rbac-defaults}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:basic-user"}
subjects:
- {kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}
- {kind: Group, name: "system:masters", apiGroup: rbac.authorization.k8s.io}
"""
    outs = {
        o.resource.name: o for o in scan_text(tmp_path, text, checks=("KF-RBAC-030",)) if o.check_id == "KF-RBAC-030"
    }
    assert "cluster-admin" not in outs
    assert outs["system:basic-user"].status is Status.FAILED and outs["system:basic-user"].path == ("subjects", 1)
