"""`kubefort rbac who-can | permissions | paths`: output contracts and exit codes (in-process, CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubefort.cli.rbac import rbac

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
    assert set(alice) == {"kind", "name", "namespace", "via"} and alice["namespace"] is None
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
    assert code == 1 and "User:alice -> cluster-admin in 3 hop(s)" in out and "[T1610 Deploy Container]" in out


def test_paths_none_exit_0(rbac_file: str):
    code, out, _ = run("paths", rbac_file)
    assert code == 0 and "no subject can reach cluster-admin" in out
