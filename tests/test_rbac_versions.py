"""kubefort's versioned RBAC knowledge (issue 12 items 17 and 21): the shipped releases, the
choice of release, the API server's reconciliation of default objects, the generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubefort.kube.rbac import Policy, Request, Rule, Subject, identity_of, resolve_resource
from kubefort.kube.rbac.builtin import (
    bootstrap_objects,
    check_version,
    latest,
    parse_minor,
    pick_version,
    resource_table,
    scopes,
    shipped_versions,
)
from kubefort.kube.rbac.reconcile import breakdown, reconcile_binding, reconcile_role, rule_covers, uncovered
from kubefort.model import Resource, ResourceId, Source

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------
# shipped data
# ------------------------------------------------------------------------------------------------
def test_every_supported_release_is_shipped_and_loads():
    versions = shipped_versions()
    assert versions[0] == "1.29" and latest() == versions[-1] and len(versions) >= 9
    assert [int(v.split(".")[1]) for v in versions] == list(range(29, 29 + len(versions)))
    for v in versions:
        objs = bootstrap_objects(v)
        names = {(o["kind"], o["metadata"]["name"]) for o in objs}
        assert {
            ("ClusterRole", "cluster-admin"),
            ("ClusterRoleBinding", "cluster-admin"),
            ("ClusterRole", "view"),
        } <= names
        assert all(o["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults" for o in objs)
        pol = Policy(kubernetes_version=v)
        assert pol.version == v and not pol.problems and all(pol.role_of(b) is not None for b in pol.bindings)
        assert scopes(v)[("", "pods")] is True and scopes(v)[("", "nodes")] is False


def test_resource_scopes_follow_the_release():
    # DeviceClass: cluster-scoped where it exists (1.31 on), unknown before, never guessed namespaced
    assert resolve_resource("deviceclasses.resource.k8s.io", version="1.37").namespaced is False
    assert resolve_resource("deviceclasses.resource.k8s.io", version="1.30").namespaced is None
    with pytest.raises(ValueError):
        resolve_resource("deviceclasses", version="1.30")
    assert resolve_resource("deviceclass", version="1.37").resource == "deviceclasses"
    assert resolve_resource("widgets.example.com").namespaced is None
    assert resolve_resource("users").namespaced is False  # authorizer-only resources resolve too


def test_risk_targets_agree_with_every_release():
    """The risk tables of the checks name scopes; every shipped release must agree with them."""
    from kubefort.checks.rbac.common import ALL_RISKS, CSR_SIGNER

    for v in shipped_versions():
        table = scopes(v)
        through_rolebindings = set()
        for risk in (*ALL_RISKS, CSR_SIGNER):
            for verbs, t in risk.grants:
                scope = table.get((t.group, t.resource))
                if scope is None:  # extensions/*: long gone, kept for old clusters' rules
                    continue
                # a target only ClusterRoleBindings grant is cluster-scoped, and a namespaced resource
                # is never one of those
                assert t.namespaced or not scope, (v, t)
                if t.namespaced and not scope:
                    through_rolebindings.add((verbs, t.resource))
        # the one cluster-scoped target a RoleBinding grants: bind is checked in the namespace of
        # the binding being created (rbac's escalation check)
        assert through_rolebindings == {(("bind",), "clusterroles")}, v


@pytest.mark.parametrize(
    ("text", "minor"),
    [("1.30", "1.30"), ("v1.30", "1.30"), ("v1.30.2", "1.30"), ("v1.33.4-eks-1a2b", "1.33"), ("1.37.0+k3s1", "1.37")],
)
def test_parse_minor(text: str, minor: str):
    assert parse_minor(text) == minor


def test_pick_version():
    newest, oldest = shipped_versions()[-1], shipped_versions()[0]
    assert pick_version("1.30", "v1.33.1") == ("1.30", "as requested")
    assert pick_version(None, "v1.33.1")[0] == "1.33"
    assert pick_version(None, "v1.99.0") == (
        newest,
        f"the API server is v1.99.0, which kubefort ships no RBAC data for: nearest {newest}",
    )
    assert pick_version(None, "v1.20.0")[0] == oldest
    assert pick_version(None, "not-a-version")[0] == newest
    assert pick_version(None, None)[0] == newest
    for bad in ("1.12", "2.0", "one"):
        with pytest.raises(ValueError):
            check_version(bad)


def test_the_cluster_version_comes_from_cluster_info():
    info = Resource(
        ResourceId("kubefort.io/v1alpha1", "ClusterInfo", None, "lab"),
        {"serverVersion": {"gitVersion": "v1.31.4"}},
        Source("cluster"),
    )
    assert Policy([info]).version == "1.31"
    assert Policy([info], kubernetes_version="1.34").version == "1.34"
    assert Policy().version == latest()


# ------------------------------------------------------------------------------------------------
# reconciliation: validation.Covers, reconcile_role, reconcile_binding
# ------------------------------------------------------------------------------------------------
_VERBS = st.sampled_from(["get", "list", "create", "*"])
_GROUPS = st.sampled_from(["", "apps", "*"])
_RESOURCES = st.sampled_from(["pods", "pods/log", "deployments", "*", "*/log", "deployments/scale", "*/scale"])
_NAMES = st.sampled_from(["a", "b"])
_URLS = st.sampled_from(["/healthz", "/api", "/api/*", "*", "/logs*"])


@st.composite
def rules(draw: st.DrawFn) -> dict:
    verbs = draw(st.lists(_VERBS, min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 5)) == 0:
        return {"verbs": verbs, "nonResourceURLs": draw(st.lists(_URLS, min_size=1, max_size=2, unique=True))}
    out = {
        "verbs": verbs,
        "apiGroups": draw(st.lists(_GROUPS, min_size=1, max_size=2, unique=True)),
        "resources": draw(st.lists(_RESOURCES, min_size=1, max_size=2, unique=True)),
    }
    if draw(st.booleans()):
        out["resourceNames"] = draw(st.lists(_NAMES, min_size=1, max_size=2, unique=True))
    return out


def _rule(d: dict) -> Rule:
    return Rule(
        tuple(d["verbs"]),
        tuple(d.get("apiGroups", ())),
        tuple(d.get("resources", ())),
        tuple(d.get("resourceNames", ())),
        tuple(d.get("nonResourceURLs", ())),
    )


@given(owner=rules(), servant=rules())
@settings(max_examples=400, deadline=None)
def test_rule_covers_is_the_authorizer_on_atomic_rules(owner: dict, servant: dict):
    """On a broken-down rule (one verb, group, resource, name), Covers is exactly: does the owner
    rule allow that very request (RuleAllows)?"""
    r = _rule(owner)
    for sub in breakdown(servant):
        verb = sub["verbs"][0]
        if "nonResourceURLs" in sub:
            url = sub["nonResourceURLs"][0]
            if "*" not in url:
                assert rule_covers(owner, sub) == r.allows_url(verb, url), (owner, sub)
            continue
        res, _, subres = sub["resources"][0].partition("/")
        if "*" in (verb, sub["apiGroups"][0], res) or subres == "*":
            continue  # a wildcard in the servant is compared literally, not a request
        name = (sub.get("resourceNames") or [""])[0]
        assert rule_covers(owner, sub) == r.allows(verb, sub["apiGroups"][0], res, subres, name), (owner, sub)


def _role(rules_: list[dict], **extra: object) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "r"},
        "rules": rules_,
        **extra,
    }


@given(mine=st.lists(rules(), max_size=3), theirs=st.lists(rules(), max_size=3), protect=st.booleans())
@settings(max_examples=300, deadline=None)
def test_reconciled_role_keeps_everything_and_adds_the_missing_defaults(mine: list, theirs: list, protect: bool):
    existing = _role(mine)
    if protect:
        existing["metadata"] = {"name": "r", "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"}}
    rec = reconcile_role(existing, _role(theirs))
    got = rec.obj.get("rules", [])
    assert got[: len(mine)] == mine  # extras are kept, in place
    if protect:
        assert rec.obj is existing and rec.protected
    else:
        assert uncovered(got, theirs) == []  # every default permission is there afterwards
    for i, r in enumerate(mine):  # a rule is "default" exactly when the default covers all of it
        assert (i in rec.default_rules) == (uncovered(theirs, [r]) == [])
    assert all(i in rec.default_rules for i in range(len(mine), len(got)))


def test_reconciled_role_metadata_and_aggregation():
    default = _role(
        [],
        metadata={"name": "edit", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", "agg-admin": "true"}},
        aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"to-edit": "true"}}]},
    )
    mine = _role([], metadata={"name": "edit", "labels": {"agg-admin": "false"}})
    rec = reconcile_role(mine, default)
    assert rec.obj["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults", "agg-admin": "false"}
    assert rec.obj["aggregationRule"] == {"clusterRoleSelectors": [{"matchLabels": {"to-edit": "true"}}]}
    # an aggregationRule the default has not is removed
    plain = reconcile_role(_role([], aggregationRule={"clusterRoleSelectors": [{}]}), _role([]))
    assert "aggregationRule" not in plain.obj


def _crb(ref: str, *subjects: dict) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ref},
        "subjects": list(subjects),
    }


def test_reconciled_binding():
    masters = {"kind": "Group", "name": "system:masters", "apiGroup": "rbac.authorization.k8s.io"}
    anon = {"kind": "Group", "name": "system:unauthenticated", "apiGroup": "rbac.authorization.k8s.io"}
    rec = reconcile_binding(_crb("cluster-admin", anon), _crb("cluster-admin", masters))
    assert rec.obj["subjects"] == [anon, masters] and not rec.replaced
    other = reconcile_binding(_crb("view", anon), _crb("cluster-admin", masters))
    assert other.replaced and other.obj["subjects"] == [masters]  # a different roleRef: recreated
    kept = _crb("view", anon)
    kept["metadata"]["annotations"] = {"rbac.authorization.kubernetes.io/autoupdate": "false"}
    assert reconcile_binding(kept, _crb("cluster-admin", masters)).obj is kept


def test_policy_takes_default_objects_as_reconciled_and_marks_what_differs():
    objs = [
        _crb("cluster-admin", {"kind": "User", "name": "eve", "apiGroup": "rbac.authorization.k8s.io"})
        | {"metadata": {"name": "cluster-admin"}},
        _role([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}])
        | {"metadata": {"name": "system:public-info-viewer"}},
    ]
    res = [
        Resource(ResourceId(o["apiVersion"], o["kind"], None, o["metadata"]["name"]), o, Source("t.yaml", i))
        for i, o in enumerate(objs)
    ]
    pol = Policy(res)
    b = pol.binding(res[0])
    assert b is not None and b.default and b.extra_subjects() == [Subject("User", "eve")]
    assert set(b.subjects) == {Subject("User", "eve"), Subject("Group", "system:masters")}
    viewer = pol.roles["ClusterRole/system:public-info-viewer"]
    # the default rules come back as the reconciler appends them: broken down, one URL each
    default_rules = next(o for o in bootstrap_objects(latest()) if o["metadata"]["name"] == "system:public-info-viewer")
    appended = [sub for r in default_rules["rules"] for sub in breakdown(r)]
    assert viewer.changed and [r.default for r in viewer.rules] == [False] + [True] * len(appended)
    anyone = identity_of(Subject("User", "system:anonymous"))
    assert pol.authorize(anyone, Request("get", path="/healthz"))  # the default rule is back
    assert pol.authorize(anyone, Request("get", "", "secrets", namespace="x"))  # and the extra one holds


# ------------------------------------------------------------------------------------------------
# the generator (pure parts, on a miniature module tree)
# ------------------------------------------------------------------------------------------------
def test_generator_extracts_policy_and_resources(tmp_path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_rbac_data", ROOT / "tools" / "gen_rbac_data.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    golden = tmp_path / gen.GOLDEN_DIR
    golden.mkdir(parents=True)
    for i, name in enumerate(gen.GOLDEN_FILES):
        (golden / name).write_text(
            "apiVersion: v1\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: ClusterRole\n"
            f"  metadata: {{name: r{i}, creationTimestamp: null}}\n  rules: null\nkind: List\n"
        )
    disc = tmp_path / gen.DISCOVERY_DIR
    disc.mkdir(parents=True)
    core = {"groupVersion": "v1", "resources": [
        {"name": "pods", "namespaced": True, "kind": "Pod", "singularName": "pod", "shortNames": ["po"]},
        {"name": "pods/exec", "namespaced": True, "kind": "PodExecOptions"},
    ]}  # fmt: skip
    dra = {"groupVersion": "resource.k8s.io/v1", "resources": [
        {"name": "deviceclasses", "namespaced": False, "kind": "DeviceClass", "singularName": "deviceclass"},
    ]}  # fmt: skip
    (disc / "api__v1.json").write_text(json.dumps(core))
    (disc / "apis__resource.k8s.io__v1.json").write_text(json.dumps(dra))
    (disc / "apis__resource.k8s.io__v1beta1.json").write_text(
        json.dumps(dra | {"groupVersion": "resource.k8s.io/v1beta1"})
    )
    (disc / "apis__resource.k8s.io.json").write_text("{}")  # an APIGroup document, not a list
    assert gen.bootstrap_policy(tmp_path) == [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": f"r{i}"}}
        for i in range(len(gen.GOLDEN_FILES))
    ]
    assert gen.resource_table(tmp_path) == [
        ["", "pods", "Pod", True, "pod", "po"],
        ["resource.k8s.io", "deviceclasses", "DeviceClass", False, "deviceclass"],
    ]
    (disc / "apis__resource.k8s.io__v1beta1.json").write_text(
        json.dumps(
            {"groupVersion": "resource.k8s.io/v1beta1", "resources": [dra["resources"][0] | {"namespaced": True}]}
        )
    )
    with pytest.raises(SystemExit, match="namespaced in one version and not in another"):
        gen.resource_table(tmp_path)


def test_shipped_data_is_what_the_generator_writes():
    """index.json names every shipped directory and its counts match the files (no hand edits)."""
    index = json.loads((ROOT / "src/kubefort/kube/data/rbac/index.json").read_text())
    assert tuple(index) == shipped_versions()
    for v, meta in index.items():
        assert meta["source"].startswith(f"k8s.io/kubernetes@v{v}.")
        assert len(bootstrap_objects(v)) == meta["objects"]
        assert len(resource_table(v)) == meta["resources"] + 5  # the five authorizer-only resources
