"""`kubefort rbac who-can | permissions | paths`: output contracts and exit codes (in-process, CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubefort.cli.rbac import rbac
from kubefort.kube.rbac.builtin import latest

RBAC = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: shop-secrets, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
subjects: [{kind: User, name: alice}, {kind: ServiceAccount, name: api}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: auditors}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
subjects: [{kind: Group, name: auditors, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: one-config, namespace: shop}
rules:
- {apiGroups: [""], resources: [configmaps], resourceNames: [app], verbs: [get]}
- {apiGroups: [apps], resources: ["*/scale"], verbs: [update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-config, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: one-config}
subjects: [{kind: User, name: bob}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ns-reader}
rules: [{apiGroups: [""], resources: [namespaces, nodes], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: carol-ns, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ns-reader}
subjects: [{kind: User, name: carol}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec: {group: example.com, scope: Namespaced, names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}, versions: []}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: widget-admin}
rules: [{apiGroups: [example.com], resources: [widgets], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dave-widgets, namespace: lab}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: widget-admin}
subjects: [{kind: User, name: dave}]
"""

ESCALATION = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: ci}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: binder}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: builder-binds}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: binder}
subjects: [{kind: ServiceAccount, name: builder, namespace: ci}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployer, namespace: ci}
rules: [{apiGroups: [apps], resources: [deployments], verbs: [create]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-deploys, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects: [{kind: User, name: alice}]
"""


@pytest.fixture
def rbac_file(tmp_path: Path) -> str:
    p = tmp_path / "rbac.yaml"
    p.write_text(RBAC)
    return str(p)


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(rbac, list(args))
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def who(*args: str) -> dict:
    code, out, _ = run("who-can", *args, "-o", "json", "--no-bootstrap")
    assert code == 0, out
    return json.loads(out)


def names(data: dict) -> set[str]:
    return {f"{s['kind']}:{s['namespace'] + ':' if s['namespace'] else ''}{s['name']}" for s in data["subjects"]}


# ---------------------------------------------------------------------------------------------
# who-can
# ---------------------------------------------------------------------------------------------
def test_who_can_json_contract(rbac_file: str):
    data = who("get", "secrets", "-n", "shop", rbac_file)
    assert names(data) == {"User:alice", "ServiceAccount:shop:api", "Group:auditors"}
    alice = next(s for s in data["subjects"] if s["name"] == "alice")
    assert set(alice) == {"kind", "name", "namespace", "via", "notEvaluated"} and alice["namespace"] is None
    assert alice["notEvaluated"] == [] and data["request"]["scope"] == "Namespaced"
    assert data["kubernetesVersion"] == latest() and data["warnings"] == [] and data["notes"] == []
    assert alice["via"] == [
        {
            "binding": "RoleBinding/shop/shop-secrets",
            "role": "ClusterRole/secret-reader",
            "rule": {
                "verbs": ["get", "list"],
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": [],
                "nonResourceURLs": [],
                "from": "ClusterRole/secret-reader",
                "index": 0,
                "default": False,
                "conditional": False,
            },
        }
    ]
    assert data["request"]["namespace"] == "shop" and data["problems"] == []


def test_who_can_namespace_scopes(rbac_file: str):
    assert names(who("get", "secrets", "-n", "billing", rbac_file)) == {"Group:auditors"}
    assert names(who("list", "secrets", "-A", rbac_file)) == {"Group:auditors"}
    anywhere = who("get", "secrets", rbac_file)
    assert (
        names(anywhere) == {"User:alice", "ServiceAccount:shop:api", "Group:auditors"}
        and anywhere["request"]["anyNamespace"]
    )


def test_who_can_resource_names_subresources_and_cluster_scope(rbac_file: str):
    assert names(who("get", "configmaps", "-n", "shop", "--name", "app", rbac_file)) == {"User:bob"}
    assert names(who("get", "configmaps", "-n", "shop", "--name", "db", rbac_file)) == set()
    assert names(who("get", "cm", "-n", "shop", rbac_file)) == set()  # no name: resourceNames never match
    assert names(who("update", "deployments.apps/scale", "-n", "shop", rbac_file)) == {"User:bob"}
    assert names(who("update", "deploy", "-n", "shop", rbac_file)) == set()
    # a RoleBinding never grants cluster-scoped resources, -n or not
    assert names(who("get", "nodes", "-n", "shop", rbac_file)) == set()
    # the API server puts a namespace's own name in the request's namespace
    assert names(who("get", "namespaces", "--name", "shop", rbac_file)) == {"User:carol"}
    assert names(who("get", "namespaces", "--name", "billing", rbac_file)) == set()
    # CRDs in the input resolve by short name
    assert names(who("delete", "wd", "-n", "lab", rbac_file)) == {"User:dave"}


def test_who_can_non_resource_url_and_bootstrap(rbac_file: str):
    code, out, _ = run("who-can", "get", "/healthz", rbac_file, "-o", "json")
    data = json.loads(out)
    assert {"Group:system:authenticated", "Group:system:unauthenticated"} <= names(data)
    assert names(who("get", "/healthz", rbac_file)) == set()
    code, out, _ = run("who-can", "get", "secrets", "-n", "shop", rbac_file)
    assert code == 0 and out.startswith("who can get secrets in namespace 'shop': ")
    assert (
        "Group:system:masters" in out
        and "RoleBinding/shop/shop-secrets -> ClusterRole/secret-reader rules[0]: get,list secrets" in out
    )


def test_who_can_usage_errors(rbac_file: str, tmp_path: Path):
    assert run("who-can", "get", "widgets", rbac_file)[0] == 0  # known from the input's CRD
    code, out, err = run("who-can", "get", "gizmos", rbac_file)
    assert code == 2 and "unknown resource 'gizmos'" in out + err
    assert run("who-can", "get", "pods", "-n", "a", "-A", rbac_file)[0] == 2
    assert run("who-can", "get", "pods", str(tmp_path / "missing.yaml"))[0] == 2


def test_load_problems_exit_3_with_results(tmp_path: Path, rbac_file: str):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    broken_role = tmp_path / "role.yaml"
    broken_role.write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: broken}\nrules: [{verbs: get}]\n"
    )
    r = CliRunner().invoke(
        rbac, ["who-can", "get", "secrets", "-n", "shop", rbac_file, str(bad), str(broken_role), "--no-bootstrap"]
    )
    assert r.exit_code == 3
    assert "User:alice" in r.stdout
    assert "bad.yaml" in r.stderr and "ClusterRole/broken ignored: rules[0].verbs is a string" in r.stderr


# ---------------------------------------------------------------------------------------------
# permissions
# ---------------------------------------------------------------------------------------------
def test_permissions_json_per_scope(rbac_file: str):
    code, out, _ = run("permissions", "ServiceAccount:shop:api", rbac_file, "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert data["subject"] == {"kind": "ServiceAccount", "name": "api", "namespace": "shop"}
    assert data["user"] == "system:serviceaccount:shop:api"
    assert set(data["groups"]) == {"system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"}
    scopes = {s["namespace"]: s["rules"] for s in data["scopes"]}
    assert [r["binding"] for r in scopes["shop"]] == ["RoleBinding/shop/shop-secrets"]
    assert any(r["role"] == "ClusterRole/system:service-account-issuer-discovery" for r in scopes[None])


def test_permissions_groups_namespace_filter_and_table(rbac_file: str):
    code, out, _ = run(
        "permissions", "User:alice", "--group", "auditors", "-n", "billing", rbac_file, "--no-bootstrap", "-o", "json"
    )
    data = json.loads(out)
    assert [s["namespace"] for s in data["scopes"]] == [None]
    assert data["scopes"][0]["rules"][0]["binding"] == "ClusterRoleBinding/auditors"
    code, out, _ = run("permissions", "User:bob", rbac_file, "--no-bootstrap")
    assert (
        code == 0 and "namespace shop" in out and "get configmaps named app" in out and "update */scale in apps" in out
    )
    code, out, _ = run("permissions", "User:nobody", rbac_file, "--no-bootstrap")
    assert "no permissions" in out
    assert run("permissions", "alice", rbac_file)[0] == 2


# ---------------------------------------------------------------------------------------------
# paths
# ---------------------------------------------------------------------------------------------
def test_paths_exit_1_with_hops(tmp_path: Path):
    p = tmp_path / "esc.yaml"
    p.write_text(ESCALATION)
    code, out, _ = run("paths", str(p), "-o", "json")
    assert code == 1
    data = json.loads(out)
    by = {f"{x['subject']['kind']}:{x['subject']['name']}": x for x in data["paths"]}
    assert set(by) == {"User:alice", "ServiceAccount:builder"}
    alice = by["User:alice"]
    assert alice["length"] == 3
    assert [h["technique"] for h in alice["hops"]] == ["T1610", "T1528", "T1098"]
    assert alice["hops"][0]["via"][0]["binding"] == "RoleBinding/ci/alice-deploys"
    assert alice["hops"][-1]["to"] == "cluster-admin"
    code, out, _ = run("paths", str(p), "--subject", "User:alice")
    assert code == 1 and "User:alice -> cluster-admin in 3 hops" in out and "[T1610 Deploy Container]" in out


def test_paths_none_exit_0(rbac_file: str):
    code, out, _ = run("paths", rbac_file)
    assert code == 0 and "no subject can reach cluster-admin" in out


# ---------------------------------------------------------------------------------------------
# the Kubernetes release (issue 12 item 21), unknown scopes, aggregated roles' own rules (item 22)
# ---------------------------------------------------------------------------------------------
def _json(*args: str) -> tuple[int, dict, str]:
    code, out, err = run(*args, "-o", "json")
    return code, json.loads(out), err


def test_kubernetes_version_chooses_the_default_policy(tmp_path: Path):
    f = tmp_path / "empty.yaml"
    f.write_text(RBAC)
    who_lists = ("who-can", "list", "clustertrustbundles.certificates.k8s.io", str(f))
    # 1.37's defaults let every ServiceAccount read ClusterTrustBundles; 1.29's do not
    _, new, _ = _json(*who_lists, "--kubernetes-version", "1.37")
    _, old, _ = _json(*who_lists, "--kubernetes-version", "v1.29.4")
    assert new["kubernetesVersion"] == "1.37" and old["kubernetesVersion"] == "1.29"
    assert "Group:system:serviceaccounts" in names(new) and "Group:system:serviceaccounts" not in names(old)
    _, default, _ = _json(*who_lists)
    assert default["kubernetesVersion"] == latest()
    code, _, err = run(*who_lists, "--kubernetes-version", "1.12")
    assert code == 2 and "no RBAC data for Kubernetes 1.12" in err and "ships 1.29 to" in err
    code, _, err = run(*who_lists, "--kubernetes-version", "1.37")
    assert code == 0 and "Kubernetes 1.37 RBAC defaults (k8s.io/kubernetes@v1.37." in err


DEVICE_READERS = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: device-reader}
rules: [{apiGroups: [resource.k8s.io], resources: [deviceclasses], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ns-devices, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: device-reader}
subjects: [{kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: all-devices}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: device-reader}
subjects: [{kind: User, name: bob}]
"""


def test_unknown_scope_is_not_evaluated_never_guessed(tmp_path: Path):
    f = tmp_path / "devices.yaml"
    f.write_text(DEVICE_READERS)
    args = ("who-can", "get", "deviceclasses.resource.k8s.io", str(f), "--no-bootstrap")
    # 1.37 serves DeviceClasses cluster-scoped: a RoleBinding cannot grant them
    _, known, _ = _json(*args, "--kubernetes-version", "1.37")
    assert known["request"]["scope"] == "Cluster" and names(known) == {"User:bob"} and not known["notes"]
    # 1.30 has no DeviceClass: its scope is unknown, so alice's RoleBinding is not evaluated
    _, unknown, _ = _json(*args, "--kubernetes-version", "1.30")
    assert unknown["request"]["scope"] == "unknown" and "scope is unknown" in unknown["notes"][0]
    by_name = {s["name"]: s for s in unknown["subjects"]}
    assert [g["binding"] for g in by_name["bob"]["via"]] == ["ClusterRoleBinding/all-devices"]
    assert by_name["alice"]["via"] == []
    assert [g["binding"] for g in by_name["alice"]["notEvaluated"]] == ["RoleBinding/shop/ns-devices"]
    code, out, _ = run(*args, "--kubernetes-version", "1.30")
    assert code == 0 and "(not evaluated: scope unknown)" in out and "note: deviceclasses.resource.k8s.io is" in out


AGGREGATED_WITH_RULES = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {example.com/aggregate-to-monitoring: "true"}}]
rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring-pods, labels: {example.com/aggregate-to-monitoring: "true"}}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: monitoring}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: monitoring}
subjects: [{kind: User, name: carol}]
"""


def test_aggregated_role_with_own_rules_is_answered_both_ways(tmp_path: Path):
    f = tmp_path / "agg.yaml"
    f.write_text(AGGREGATED_WITH_RULES)
    _, secrets, _ = _json("who-can", "get", "secrets", "-n", "x", str(f))
    carol = next(s for s in secrets["subjects"] if s["name"] == "carol")
    assert [g["rule"]["conditional"] for g in carol["via"]] == [True]
    assert secrets["warnings"] == [
        "ClusterRole/monitoring is aggregated and also writes 1 rule of its own that the aggregation does not "
        "give it: the aggregation controller replaces them when it runs; grants from them are marked 'granted if "
        "the rules are kept'"
    ]
    _, pods, _ = _json("who-can", "get", "pods", "-n", "x", str(f))
    carol = next(s for s in pods["subjects"] if s["name"] == "carol")
    assert [g["rule"]["conditional"] for g in carol["via"]] == [False]
    code, out, err = run("who-can", "get", "secrets", "-n", "x", str(f))
    assert code == 0 and "User:carol" in out and "(granted if the rules are kept" in out
    assert "warning: ClusterRole/monitoring is aggregated" in err
    code, out, _ = run("permissions", "User:carol", str(f))
    assert "get secrets (granted if the rules are kept" in out


def test_snapshot_input_gives_the_cluster_version(tmp_path: Path):
    import orjson

    from kubefort.cluster.collect import ListStatus, Page
    from kubefort.cluster.discovery import Discovery, ResourceType
    from kubefort.cluster.source import SnapshotWriter, cluster_info

    crb = ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, ("list",))
    head = {
        "kind": "KubefortClusterSnapshot",
        "version": 1,
        "kubefortVersion": "test",
        "created": "2026-11-25T00:00:00+00:00",
        "cluster": {"name": "lab", "server": "https://127.0.0.1:6443"},
        "info": cluster_info("lab", "https://127.0.0.1:6443", {"gitVersion": "v1.30.5-eks-1a2b", "minor": "30+"}, None),
        "discovery": Discovery([crb], "aggregated").as_dict(),
        "scope": {"namespaces": None, "skip": [], "anonymousProbe": False},
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "carol-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "User", "name": "carol"}],
    }
    path = tmp_path / "lab.json.gz"
    w = SnapshotWriter(str(path), head)
    w.page(Page(0, crb, None, 0, 0, orjson.dumps({"kind": "ClusterRoleBindingList", "items": [binding]})))
    w.close([ListStatus(crb, None, "ok")])
    code, data, err = _json("who-can", "delete", "nodes", str(path))
    assert code == 0, err
    assert data["kubernetesVersion"] == "1.30" and "User:carol" in names(data)
    _, forced, _ = _json("who-can", "delete", "nodes", str(path), "--kubernetes-version", "1.33")
    assert forced["kubernetesVersion"] == "1.33"


def _app(d: Path, user: str, verbs: str) -> str:
    d.mkdir()
    (d / "rbac.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader, namespace: shop}\n"
        f"rules: [{{apiGroups: [''], resources: [secrets], verbs: [{verbs}]}}]\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: readers, namespace: shop}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}\n"
        f"subjects: [{{kind: User, name: {user}}}]\n"
    )
    return str(d)


def test_separate_units_are_answered_apart(tmp_path: Path) -> None:
    """Two PATHs are two analysis units: the same Role defined differently in each never merges
    (the second would otherwise replace the first), and each unit gets its own answer."""
    a = _app(tmp_path / "prod", "alice", "get")
    b = _app(tmp_path / "dev", "bob", "list")
    code, out, _ = run("who-can", "get", "secrets", "-n", "shop", a, b, "-o", "json", "--no-bootstrap")
    assert code == 0
    data = json.loads(out)
    assert [u["unit"] for u in data["units"]] == [a, b]
    assert [names(u) for u in data["units"]] == [{"User:alice"}, set()]
    code, out, _ = run("who-can", "list", "secrets", "-n", "shop", a, b, "--no-bootstrap")
    assert code == 0
    assert f"== {a} ==" in out and f"== {b} ==" in out
    assert out.index("nobody") < out.index(f"== {b} ==") < out.index("User:bob")
    # one unit: the answer keeps its shape
    assert "units" not in who("get", "secrets", "-n", "shop", a)
    code, out, _ = run("permissions", "User:bob", a, b, "-o", "json", "--no-bootstrap")
    assert [bool(u["scopes"]) for u in json.loads(out)["units"]] == [False, True]
    code, out, _ = run("paths", a, b, "-o", "json", "--no-bootstrap")
    assert code == 0 and [u["paths"] for u in json.loads(out)["units"]] == [[], []]


@pytest.mark.parametrize("args", [("who-can", "get", "pods"), ("paths",), ("permissions", "User:alice")])
def test_paths_that_hold_no_object_are_reported_and_exit_3(tmp_path, args) -> None:
    """PATHs given that held no Kubernetes object: the answer is the built-in defaults' alone, which
    the command says (exit 3) rather than answer as if the inputs had been analysed."""
    (tmp_path / "values.yaml").write_text("replicas: 2\n")
    code, _, err = run(*args, str(tmp_path))
    assert code == 3
    assert "no Kubernetes objects found" in err and "only the built-in defaults answer" in err
