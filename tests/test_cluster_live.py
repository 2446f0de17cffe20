"""kubefort against a real kube-apiserver (tests/kubeapi.py): auth, discovery, pagination, 410
restarts, 403s, CRDs, secrets as metadata, snapshots, and the CLI's exit codes. No mocks."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kubefort.cluster.client import Cluster, ClusterError
from kubefort.cluster.collect import Collector, gaps, normalize
from kubefort.cluster.discovery import discover

KUBEFORT = [sys.executable, "-m", "kubefort"]
SECRET_VALUE = "hunter2-do-not-leak"


def privileged_deployment(name: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": "app", "image": "nginx:1.27", "securityContext": {"privileged": True}}]
                },
            },
        },
    }


@pytest.fixture(scope="module")
def world(apiserver):
    """Objects shared by the tests of this module (each test uses its own names)."""
    c = apiserver
    c.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}},
            privileged_deployment("web", "team-a"),
            privileged_deployment("api", "team-b"),
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "db",
                    "namespace": "team-a",
                    "annotations": {
                        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                            {"stringData": {"password": SECRET_VALUE}}
                        )
                    },
                },
                "type": "Opaque",
                "stringData": {"password": SECRET_VALUE},
            },
        ]
    )
    c.grant_namespace_read("team-viewer", "team-a")
    return c


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KUBEFORT, *args], capture_output=True, text=True, timeout=timeout)


def report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


# -- authentication ---------------------------------------------------------------------------------
@pytest.mark.parametrize("user", ["admin", "cert-admin", "exec-admin"])
def test_every_auth_method_lists_the_cluster(world, tmp_path, user):
    kc = world.kubeconfig(tmp_path / "kc", user)
    cluster = Cluster(str(kc))
    d = discover(cluster)
    keys = {t.key for t in d.types}
    assert d.method == "aggregated"
    assert {"pods", "deployments.apps", "clusterrolebindings.rbac.authorization.k8s.io", "secrets"} <= keys
    names = set()
    for page in Collector(cluster, d).pages():
        if page.rtype.key == "deployments.apps":
            names |= {o["metadata"]["name"] for o in normalize(page)}
    assert {"web", "api"} <= names


def test_bad_token_is_a_usage_error_not_an_empty_scan(world, tmp_path):
    kc = world.kubeconfig(tmp_path / "kc", "admin")
    cfg = json.loads(kc.read_text())
    cfg["users"][0]["user"]["token"] = "wrong"
    kc.write_text(json.dumps(cfg))
    r = run("scan", "--cluster", "--kubeconfig", str(kc))
    assert r.returncode == 2, r.stderr
    assert "401" in r.stderr or "Unauthorized" in r.stderr


def test_unknown_context_is_a_usage_error(world, tmp_path):
    kc = world.kubeconfig(tmp_path / "kc", "admin")
    r = run("scan", "--cluster", "--kubeconfig", str(kc), "--context", "nope")
    assert r.returncode == 2
    assert "context 'nope' not found" in r.stderr


# -- listing ------------------------------------------------------------------------------------------
def test_pagination_with_a_tiny_page_size_reads_every_object_once(world, tmp_path):
    world.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "paging"}}])
    world.apply(
        [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:02d}", "namespace": "paging"}}
            for i in range(25)
        ]
    )
    cluster = Cluster(str(world.kubeconfig(tmp_path / "kc", "admin")))
    col = Collector(cluster, discover(cluster), namespaces=["paging"], page_size=2)
    pages = [p for p in col.pages() if p.rtype.key == "configmaps"]
    names = [o["metadata"]["name"] for p in pages for o in normalize(p)]
    assert len(pages) == 13  # 25 objects, 2 per page
    assert sorted(names) == [f"cm-{i:02d}" for i in range(25)]
    assert [p.number for p in pages] == list(range(13))


def test_expired_continue_token_restarts_the_list(world, tmp_path):
    """etcd is compacted after the first page: the next page answers 410 Gone, and the list
    starts again as a new attempt (PodTemplates bypass the watch cache in the test server)."""
    world.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "expire"}}])
    tmpl = {"spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
    world.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {"name": f"t-{i}", "namespace": "expire"},
                "template": tmpl,
            }
            for i in range(6)
        ]
    )

    class Compacting(Cluster):
        compacted = 0

        def get(self, path, params=None, accept="application/json"):
            r = super().get(path, params, accept)
            if path.endswith("/podtemplates") and params and "continue" not in params and not Compacting.compacted:
                world.apply(
                    [
                        {
                            "apiVersion": "v1",
                            "kind": "PodTemplate",
                            "metadata": {"name": "t-late", "namespace": "expire"},
                            "template": tmpl,
                        }
                    ]
                )
                world.compact_etcd()
                Compacting.compacted += 1
            return r

    cluster = Compacting(str(world.kubeconfig(tmp_path / "kc", "admin")))
    col = Collector(cluster, discover(cluster), namespaces=["expire"], page_size=2)
    pages = [p for p in col.pages() if p.rtype.key == "podtemplates"]
    assert Compacting.compacted == 1
    assert {p.attempt for p in pages} == {0, 1}
    final = [o["metadata"]["name"] for p in pages if p.attempt == 1 for o in normalize(p)]
    assert sorted(final) == sorted([f"t-{i}" for i in range(6)] + ["t-late"])

    # through the whole scan: the abandoned attempt's objects are not counted twice
    cluster2 = Compacting(str(world.kubeconfig(tmp_path / "kc2", "admin")))
    Compacting.compacted = 0
    from kubefort.cluster.scan import scan_source
    from kubefort.cluster.source import LiveSource
    from kubefort.engine import EngineSettings
    from kubefort.registry import REGISTRY

    src = LiveSource(cluster2, namespaces=["expire"], page_size=2, probe=False)
    result = scan_source(src, EngineSettings(check_ids=tuple(m.id for m in REGISTRY)), jobs=1)
    tmpl_ids = [rid for rid, _ in result.resources if rid.kind == "PodTemplate"]
    assert Compacting.compacted == 1
    assert len(tmpl_ids) == len(set(tmpl_ids)) == 7


def test_secrets_are_read_as_metadata_only(world, tmp_path):
    cluster = Cluster(str(world.kubeconfig(tmp_path / "kc", "admin")))
    secrets, objects, wire = [], [], b""
    for page in Collector(cluster, discover(cluster), namespaces=["team-a"]).pages():
        items = normalize(page)
        objects += items
        if page.rtype.key == "secrets":
            secrets += items
            wire += page.data
    # the server sends no data field at all (a metadata Table); the only copy of the value on the
    # wire is inside kubectl's last-applied annotation, which is dropped on arrival
    assert b'"data"' not in wire and b"cGFzc3dvcmQ" not in wire
    assert SECRET_VALUE not in json.dumps(objects)
    (db,) = [s for s in secrets if s["metadata"]["name"] == "db"]
    assert db["type"] == "Opaque" and db["kind"] == "Secret" and db["apiVersion"] == "v1"
    assert "data" not in db and "kubectl.kubernetes.io/last-applied-configuration" not in db["metadata"].get(
        "annotations", {}
    )
    assert "managedFields" not in db["metadata"]


# -- permissions -------------------------------------------------------------------------------------
def test_namespace_scoped_credentials_give_a_useful_but_incomplete_scan(world, tmp_path):
    kc = world.kubeconfig(tmp_path / "kc", "team-viewer", namespace="team-a")
    out = tmp_path / "r.json"
    r = run("scan", "--cluster", "--kubeconfig", str(kc), "-o", f"json={out}", "--fail-on", "never")
    assert r.returncode == 3, r.stderr  # incomplete
    rep = report(out)
    res = rep["results"]
    # the namespace it can read is scanned: the privileged Deployment is found
    assert any(
        o["check_id"] == "KF-POD-001" and o["outcome"] == "failed" and o["resource"]["name"] == "web" for o in res
    )
    # nothing from team-b, which it cannot read
    assert not any((o["resource"] or {}).get("namespace") == "team-b" for o in res)
    # every forbidden list is reported, with the server's reason
    gaps_ = [o for o in res if o["check_id"] == "KF-INPUT-004"]
    assert {g["resource"]["kind"] for g in gaps_} >= {"Namespace", "ClusterRoleBinding", "ClusterRole", "Node"}
    assert all(g["outcome"] == "not-evaluated" and "403" in g["message"] for g in gaps_)
    # cross-object checks that need the missing objects say so rather than pass
    rbac = [o for o in res if o["check_id"].startswith("KF-RBAC-")]
    assert rbac and all(o["outcome"] == "not-evaluated" for o in rbac)
    assert all("could not be read" in o["message"] for o in rbac)
    assert not any(o["check_id"].startswith("KF-NET-") and o["outcome"] == "passed" for o in res)


def test_allow_incomplete_turns_exit_3_into_the_findings_code(world, tmp_path):
    kc = world.kubeconfig(tmp_path / "kc", "team-viewer", namespace="team-a")
    r = run("scan", "--cluster", "--kubeconfig", str(kc), "--allow-incomplete", "-q", "-o", "json")
    assert r.returncode == 1  # the privileged Deployment is a high finding
    r = run(
        "scan", "--cluster", "--kubeconfig", str(kc), "--allow-incomplete", "--fail-on", "never", "-q", "-o", "json"
    )
    assert r.returncode == 0


def test_namespace_flag_limits_namespaced_lists(world, tmp_path):
    kc = world.kubeconfig(tmp_path / "kc", "admin")
    out = tmp_path / "r.json"
    r = run("scan", "--cluster", "--kubeconfig", str(kc), "-n", "team-b", "-o", f"json={out}", "--fail-on", "never")
    assert r.returncode == 0, r.stderr
    objs = report(out)["objects"]
    namespaces = {o["namespace"] for o in objs if o["namespace"]}
    assert namespaces == {"team-b"}
    assert [o["name"] for o in objs if o["kind"] == "Namespace"] == ["team-b"]
    assert any(o["kind"] == "ClusterRole" for o in objs)  # cluster-scoped types are still read


# -- CRDs ---------------------------------------------------------------------------------------------
def test_crd_types_are_discovered_and_their_pod_templates_checked(world, tmp_path):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.kubefort.dev"},
        "spec": {
            "group": "example.kubefort.dev",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    world.apply([crd])
    deadline = time.monotonic() + 30
    while True:
        _status, body = world.request(
            "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.kubefort.dev"
        )
        if any(
            c.get("type") == "Established" and c.get("status") == "True"
            for c in (body.get("status") or {}).get("conditions") or []
        ):
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    widget = {
        "apiVersion": "example.kubefort.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "team-a"},
        "spec": {"template": {"spec": {"hostPID": True, "containers": [{"name": "w", "image": "nginx:1.27"}]}}},
    }
    deadline = time.monotonic() + 30
    while world.create("/apis/example.kubefort.dev/v1/namespaces/team-a/widgets", widget)[0] not in (201, 409):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    cluster = Cluster(str(world.kubeconfig(tmp_path / "kc", "admin")))
    deadline = time.monotonic() + 30
    while "widgets.example.kubefort.dev" not in {t.key for t in discover(cluster).types}:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    out = tmp_path / "r.json"
    r = run(
        "scan",
        "--cluster",
        "--kubeconfig",
        str(world.kubeconfig(tmp_path / "kc", "admin")),
        "-n",
        "team-a",
        "-o",
        f"json={out}",
        "--fail-on",
        "never",
    )
    assert r.returncode == 0, r.stderr
    hits = [
        o
        for o in report(out)["results"]
        if o["resource"] and o["resource"]["kind"] == "Widget" and o["outcome"] == "failed"
    ]
    assert any(o["check_id"] == "KF-POD-002" for o in hits), hits  # host PID namespace
    assert all(
        o["file"] == "cluster://admin@test/apis/example.kubefort.dev/v1/namespaces/team-a/widgets/w1" for o in hits
    )


# -- snapshots ----------------------------------------------------------------------------------------
def _comparable(rep: dict[str, Any]) -> dict[str, Any]:
    rep = json.loads(json.dumps(rep))
    rep["summary"].pop("duration_s", None)
    rep["extras"]["cluster"].pop("snapshot", None)
    return rep


def test_snapshot_gives_the_same_report_offline(world, tmp_path):
    kc = world.kubeconfig(tmp_path / "kc", "admin")
    live, offline, snap = tmp_path / "live.json", tmp_path / "offline.json", tmp_path / "cluster.json.gz"
    r = run("cluster", "snapshot", "--kubeconfig", str(kc), "-o", str(snap))
    assert r.returncode == 0, r.stderr
    r1 = run("scan", "--cluster", "--kubeconfig", str(kc), "-o", f"json={live}", "--include-passed")
    r2 = run("scan", str(snap), "-o", f"json={offline}", "--include-passed")
    assert r1.returncode == r2.returncode == 1, (r1.stderr, r2.stderr)
    a, b = _comparable(report(live)), _comparable(report(offline))
    assert a["results"] == b["results"]
    assert a == b
    assert report(offline)["extras"]["cluster"]["snapshot"]["file"] == str(snap)
    text = gzip.decompress(snap.read_bytes())
    assert SECRET_VALUE.encode() not in text and b"managedFields" not in text
    head = json.loads(text.split(b"\n", 1)[0] + b"]}")
    assert head["kind"] == "KubefortClusterSnapshot" and head["info"]["serverVersion"]["gitVersion"] == "v1.37.2"


def test_snapshot_of_restricted_credentials_records_what_was_forbidden(world, tmp_path):
    kc = world.kubeconfig(tmp_path / "kc", "team-viewer", namespace="team-a")
    snap, live, offline = tmp_path / "s.json.gz", tmp_path / "l.json", tmp_path / "o.json"
    r = run("cluster", "snapshot", "--kubeconfig", str(kc), "-o", str(snap))
    assert r.returncode == 3 and "forbidden" in r.stderr
    r1 = run("scan", "--cluster", "--kubeconfig", str(kc), "-o", f"json={live}")
    r2 = run("scan", str(snap), "-o", f"json={offline}")
    assert r1.returncode == r2.returncode == 3
    assert _comparable(report(live)) == _comparable(report(offline))


def test_truncated_snapshot_is_refused_not_half_scanned(world, tmp_path):
    kc = world.kubeconfig(tmp_path / "kc", "admin")
    snap = tmp_path / "s.json"
    assert run("cluster", "snapshot", "--kubeconfig", str(kc), "-o", str(snap), "-q").returncode == 0
    lines = snap.read_bytes().split(b"\n")
    cut = tmp_path / "cut.json"
    cut.write_bytes(b"\n".join(lines[: len(lines) // 2]) + b"\n")
    r = run("scan", str(cut))
    assert r.returncode == 2
    assert "truncated" in r.stderr


# -- cluster-level facts ------------------------------------------------------------------------------
def test_anonymous_probe_and_server_version_reach_the_checks(world, tmp_path):
    kc = world.kubeconfig(tmp_path / "kc", "admin")
    out = tmp_path / "r.json"
    run("scan", "--cluster", "--kubeconfig", str(kc), "-o", f"json={out}", "--include-passed", "--checks", "KF-CLU")
    res = [o for o in report(out)["results"] if o["resource"] and o["resource"]["kind"] == "ClusterInfo"]
    assert res and all(o["file"] == "cluster://admin@test/version" for o in res)
    by_id = {o["check_id"]: o for o in res}
    # the test server answers /version without credentials (upstream default) and nothing else
    anonymous = [o for o in res if "anonymous" in o["check_name"]]
    assert anonymous and {o["outcome"] for o in anonymous} <= {"passed", "failed"}
    assert by_id and all(o["outcome"] != "not-evaluated" for o in res), res


def test_no_cluster_flag_without_cluster(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"  # a readable file: the rule under test is the missing --cluster
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    r = run("scan", "--kubeconfig", str(kubeconfig), str(tmp_path))
    assert r.returncode == 2 and "--kubeconfig needs --cluster" in r.stderr
    r = run("scan")
    assert r.returncode == 2


def test_unreachable_server_is_a_usage_error(tmp_path):
    kc = tmp_path / "kc"
    kc.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "x",
                "clusters": [
                    {"name": "c", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    r = run("scan", "--cluster", "--kubeconfig", str(kc))
    assert r.returncode == 2
    assert "cannot reach https://127.0.0.1:1" in r.stderr


def test_cluster_error_class_is_raised_for_missing_kubeconfig(tmp_path):
    with pytest.raises(ClusterError, match="not found"):
        Cluster(str(tmp_path / "missing"))


def test_gaps_from_statuses_distinguish_requested_skips():
    from kubefort.cluster.collect import ListStatus
    from kubefort.cluster.discovery import ResourceType

    ev = ResourceType("", "v1", "events", "Event", True)
    pods = ResourceType("", "v1", "pods", "Pod", True)
    found = gaps(
        [
            ListStatus(ev, None, "skipped", message="--skip-resources"),
            ListStatus(pods, "a", "forbidden", message="403: no"),
        ],
        True,
    )
    assert [(g.kind, g.namespace, g.requested) for g in found] == [("Event", None, True), ("Pod", "a", False)]
    assert found[1].reason == "cannot list pods in namespace a: 403: no"


# -- controllers --------------------------------------------------------------------------------------
def test_objects_running_their_controllers_template_are_covered_by_it(world, tmp_path):
    """Deployment -> ReplicaSets -> Pods, with the ownerReferences the controllers would set (no
    controller runs in the test server). Pods that run their template are covered by it; a pod
    with an injected sidecar is checked itself; --scan-owned checks everything."""
    ns = "owners"
    world.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}])
    dep = privileged_deployment("shop", ns)
    _, dep = world.create(f"/apis/apps/v1/namespaces/{ns}/deployments", dep)
    ref = lambda o, kind, api: [
        {
            "apiVersion": api,
            "kind": kind,
            "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"],
            "controller": True,
        }
    ]
    tmpl = dep["spec"]["template"]
    labels = {"app": "shop", "pod-template-hash": "abc"}
    rs_now = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "shop-abc", "namespace": ns, "ownerReferences": ref(dep, "Deployment", "apps/v1")},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": tmpl["spec"]},
        },
    }
    old_spec = json.loads(json.dumps(tmpl["spec"]))
    old_spec["containers"][0]["image"] = "nginx:1.25"
    old_labels = {"app": "shop", "pod-template-hash": "old"}
    rs_old = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "shop-old", "namespace": ns, "ownerReferences": ref(dep, "Deployment", "apps/v1")},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": old_labels},
            "template": {"metadata": {"labels": old_labels}, "spec": old_spec},
        },
    }
    _, rs_now = world.create(f"/apis/apps/v1/namespaces/{ns}/replicasets", rs_now)
    world.create(f"/apis/apps/v1/namespaces/{ns}/replicasets", rs_old)
    same = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "shop-abc-1", "namespace": ns, "ownerReferences": ref(rs_now, "ReplicaSet", "apps/v1")},
        "spec": tmpl["spec"],
    }
    injected_spec = json.loads(json.dumps(tmpl["spec"]))
    injected_spec["containers"].append({"name": "mesh-proxy", "image": "proxy:1.0"})
    injected = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "shop-abc-2", "namespace": ns, "ownerReferences": ref(rs_now, "ReplicaSet", "apps/v1")},
        "spec": injected_spec,
    }
    orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "namespace": ns}, "spec": tmpl["spec"]}
    world.apply([same, injected, orphan])

    kc = world.kubeconfig(tmp_path / "kc", "admin")
    out, owned = tmp_path / "r.json", tmp_path / "owned.json"
    assert (
        run(
            "scan", "--cluster", "--kubeconfig", str(kc), "-n", ns, "-o", f"json={out}", "--fail-on", "never"
        ).returncode
        == 0
    )
    rep = report(out)
    covered = {o["name"]: o.get("coveredBy") for o in rep["objects"] if o["namespace"] == ns}
    assert covered == {
        "shop": None,
        "shop-abc": f"Deployment/{ns}/shop",
        "shop-old": f"Deployment/{ns}/shop (an earlier revision, scaled to 0)",
        "shop-abc-1": f"ReplicaSet/{ns}/shop-abc",
        "shop-abc-2": None,  # runs a container its template lacks
        "orphan": None,  # no controller
    }
    checked = {o["resource"]["name"] for o in rep["results"] if o["resource"] and o["resource"]["namespace"] == ns}
    assert checked == {"shop", "shop-abc-2", "orphan"}
    assert rep["extras"]["cluster"]["coveredByController"] == 3
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[1] / "src/kubefort/schemas/report.schema.json").read_text())
    jsonschema.validate(rep, schema)

    assert (
        run(
            "scan",
            "--cluster",
            "--kubeconfig",
            str(kc),
            "-n",
            ns,
            "--scan-owned",
            "-o",
            f"json={owned}",
            "--fail-on",
            "never",
        ).returncode
        == 0
    )
    rep2 = report(owned)
    assert not any("coveredBy" in o for o in rep2["objects"])
    assert {
        o["resource"]["name"] for o in rep2["results"] if o["resource"] and o["resource"]["namespace"] == ns
    } == set(covered)


def test_in_cluster_service_account_config(world, tmp_path, monkeypatch):
    """Inside a pod: no kubeconfig, a projected service-account token, the cluster CA and the
    KUBERNETES_SERVICE_* variables. The token is a real one from the TokenRequest API."""
    import kubernetes.config.incluster_config as incluster

    from kubefort.cluster import client as client_mod

    ns = "kubefort-system"
    world.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "scanner", "namespace": ns}},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "kubefort-test-pods"},
                "rules": [{"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "kubefort-test-pods"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "kubefort-test-pods",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "scanner", "namespace": ns}],
            },
        ]
    )
    status, body = world.request(
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts/scanner/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
    )
    assert status == 201, body
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(body["status"]["token"])
    (sa / "ca.crt").write_bytes(world.ca_file.read_bytes())
    (sa / "namespace").write_text(ns)
    monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
    monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
    monkeypatch.setattr(client_mod, "IN_CLUSTER_TOKEN", str(sa / "token"))
    monkeypatch.setattr(client_mod, "IN_CLUSTER_NAMESPACE", str(sa / "namespace"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(world.port))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config

    deadline = time.monotonic() + 10  # the authorizer learns the new binding through an informer
    while True:
        cluster = Cluster()
        assert cluster.in_cluster and cluster.name == "in-cluster" and cluster.default_namespace == ns
        col = Collector(cluster, discover(cluster))
        pods = [o for p in col.pages() if p.rtype.key == "pods" for o in normalize(p)]
        statuses = {s.rtype.key: s for s in col.statuses if s.namespace is None}
        if statuses["pods"].status == "ok" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert statuses["pods"].status == "ok" and statuses["namespaces"].status == "ok"
    assert statuses["configmaps"].status == "forbidden"
    assert "system:serviceaccount:kubefort-system:scanner" in statuses["configmaps"].message
    assert isinstance(pods, list)
