"""Dogfood: kubefort's own cluster-scan deployment (deploy/cluster-scan, deploy/helm/kubefort) passes
kubefort, and its ClusterRole stays read-only and least-privilege.

Scans run the real CLI. The Kustomize directory and the chart are rendered with the real tools
(KUBEFORT_KUSTOMIZE / KUBEFORT_HELM, then ~/.cache/kubefort/tools/bin, then PATH); tests that
need a missing tool skip (fail under KUBEFORT_REQUIRE_TOOLS=1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, tool_missing

PLAIN = ROOT / "deploy" / "cluster-scan"
CHART = ROOT / "deploy" / "helm" / "kubefort"
DOCS = ROOT / "docs" / "deploy.md"
READ_VERBS = {"get", "list"}
SECRET_ONLY_FINDINGS = {"KF-RBAC-005", "KF-RBAC-019"}  # what kubefort reports when the chart lists Secrets


def _tool(name: str, env: str) -> str | None:
    explicit = os.environ.get(env)
    if explicit:
        found = explicit if os.sep in explicit else shutil.which(explicit)
        return found if found and os.access(found, os.X_OK) else None
    cached = Path(os.environ.get("KUBEFORT_TOOLS_DIR", Path.home() / ".cache/kubefort/tools")) / "bin" / name
    return str(cached) if cached.is_file() and os.access(cached, os.X_OK) else shutil.which(name)


@pytest.fixture(scope="module")
def helm() -> str:
    h = _tool("helm", "KUBEFORT_HELM")
    if h is None:
        tool_missing("helm not found (KUBEFORT_HELM, ~/.cache/kubefort/tools/bin, PATH)")
    return h


@pytest.fixture(scope="module")
def kustomize() -> str:
    k = _tool("kustomize", "KUBEFORT_KUSTOMIZE")
    if k is None:
        tool_missing("kustomize not found (KUBEFORT_KUSTOMIZE, ~/.cache/kubefort/tools/bin, PATH)")
    return k


def kubefort(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "kubefort"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "kubefort"]
    return subprocess.run(
        [*cmd, *args], capture_output=True, cwd=ROOT, timeout=300, env=dict(os.environ, **(env or {}))
    )


def scan_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    p = kubefort("scan", *args, "--pss", "restricted", "--no-config", "-o", "json", "-q", env=env)
    assert p.returncode in (0, 1), p.stderr.decode()
    return p.returncode, json.loads(p.stdout)


def failed(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["check_id"], r["message"]) for r in report["results"] if r["outcome"] == "failed"]


def assert_clean(code: int, report: dict[str, Any]) -> None:
    outcomes = report["summary"]["outcomes"]
    assert failed(report) == [] and outcomes["failed"] == 0
    assert outcomes["not-evaluated"] == 0 and outcomes["suppressed"] == 0
    assert report["summary"]["complete"] and code == 0
    assert all(i["error"] is None for i in report["inputs"])
    (cron,) = [o for o in report["objects"] if o["kind"] == "CronJob"]
    assert cron["pss"]["allowed"] is True and cron["pss"]["level"] == "restricted"


def helm_template(helm: str, *sets: str) -> list[dict[str, Any]]:
    args = [helm, "template", "kubefort", str(CHART), "-n", "kubefort"]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def plain_objects() -> list[dict[str, Any]]:
    return [
        d
        for f in sorted(PLAIN.glob("*.yaml"))
        if f.name != "kustomization.yaml"
        for d in yaml.safe_load_all(f.read_text())
        if d
    ]


def one(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (obj,) = [o for o in objs if o["kind"] == kind]
    return obj


def granted(role: dict[str, Any]) -> set[tuple[str, str]]:
    return {(g, r) for rule in role["rules"] for g in rule.get("apiGroups", []) for r in rule.get("resources", [])}


def skip_list(objs: list[dict[str, Any]]) -> list[str]:
    (c,) = one(objs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    (value,) = [e["value"] for e in c["env"] if e["name"] == "SKIP_RESOURCES"]
    return [s for s in re.sub(r"\s+", "", value).split(",") if s]


def assert_read_only(role: dict[str, Any], *, secrets: bool) -> None:
    assert role.get("aggregationRule") is None
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= READ_VERBS, rule  # no write verb, no watch, no escalate/bind/impersonate
        for field in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"):
            assert not any("*" in v for v in rule.get(field, [])), rule
        assert not rule.get("nonResourceURLs") and not rule.get("resourceNames")
        assert all("/" not in r for r in rule["resources"]), rule  # no subresources (pods/exec, nodes/proxy ...)
    has_secrets = ("", "secrets") in granted(role)
    assert has_secrets is secrets
    if secrets:
        (rule,) = [r for r in role["rules"] if "secrets" in r["resources"]]
        assert rule["verbs"] == ["list"] and rule["resources"] == ["secrets"]


# ------------------------------------------------------------------ scans with the real CLI


def test_plain_manifests_pass_kubefort_as_files() -> None:
    code, rep = scan_json(str(PLAIN), "--no-render")
    assert_clean(code, rep)
    assert {o["kind"] for o in rep["objects"]} >= {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "CronJob",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "PersistentVolumeClaim",
    }


def test_plain_manifests_pass_kubefort_rendered_by_kustomize(kustomize: str) -> None:
    code, rep = scan_json(str(PLAIN), env={"KUBEFORT_KUSTOMIZE": kustomize})
    assert [i["kind"] for i in rep["inputs"]] == ["kustomize"]
    assert_clean(code, rep)
    assert len(rep["objects"]) == len(plain_objects())


def test_chart_passes_kubefort(helm: str) -> None:
    code, rep = scan_json(str(CHART), env={"KUBEFORT_HELM": helm})
    assert [i["kind"] for i in rep["inputs"]] == ["helm"]
    assert_clean(code, rep)


def test_chart_with_crd_groups_and_options_passes_kubefort(helm: str) -> None:
    code, rep = scan_json(
        str(CHART),
        "--set",
        "rbac.extraResources[0].apiGroups[0]=argoproj.io",
        "--set",
        "rbac.extraResources[0].resources={workflows,cronworkflows}",
        "--set",
        "scan.namespace=shop",
        "--set",
        "prometheus.persistence.create=false",
        env={"KUBEFORT_HELM": helm},
    )
    assert_clean(code, rep)


def test_chart_listing_secrets_is_reported_by_kubefort(helm: str) -> None:
    """Opting in to Secret metadata grants `list secrets`, which returns values: kubefort says so."""
    code, rep = scan_json(str(CHART), "--set", "scan.secretMetadata=true", env={"KUBEFORT_HELM": helm})
    assert {cid for cid, _ in failed(rep)} == SECRET_ONLY_FINDINGS and code == 1
    assert rep["summary"]["outcomes"]["not-evaluated"] == 0


# ------------------------------------------------------------------ the ClusterRole


def test_plain_cluster_role_is_read_only_without_secrets() -> None:
    objs = plain_objects()
    role = one(objs, "ClusterRole")
    assert_read_only(role, secrets=False)
    binding = one(objs, "ClusterRoleBinding")
    sa = one(objs, "ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": sa["metadata"]["namespace"]}
    ]
    assert sa["automountServiceAccountToken"] is False
    assert not [o for o in objs if o["kind"] in ("Role", "RoleBinding")]


@pytest.mark.parametrize("secrets", [False, True])
def test_chart_cluster_role_is_read_only(helm: str, secrets: bool) -> None:
    objs = helm_template(helm, f"scan.secretMetadata={str(secrets).lower()}")
    role = one(objs, "ClusterRole")
    assert_read_only(role, secrets=secrets)
    assert ("secrets" in skip_list(objs)) is not secrets
    # the chart and the plain manifests grant the same types
    assert granted(role) - {("", "secrets")} == granted(one(plain_objects(), "ClusterRole"))


def test_chart_extra_resources_are_read_only_whatever_the_values_say(helm: str) -> None:
    objs = helm_template(
        helm,
        "rbac.extraResources[0].apiGroups[0]=argoproj.io",
        "rbac.extraResources[0].resources[0]=workflows",
        "rbac.extraResources[0].verbs[0]=delete",  # not a value the chart reads: verbs are fixed
    )
    role = one(objs, "ClusterRole")
    assert_read_only(role, secrets=False)
    assert ("argoproj.io", "workflows") in granted(role)


def test_chart_without_config_maps(helm: str) -> None:
    objs = helm_template(helm, "scan.configMaps=false")
    assert ("", "configmaps") not in granted(one(objs, "ClusterRole"))
    assert "configmaps" in skip_list(objs)


def test_granted_and_skipped_types_are_disjoint_and_in_sync(helm: str) -> None:
    plain = plain_objects()
    chart = helm_template(helm)
    assert skip_list(plain) == skip_list(chart)
    names = {r if g == "" else f"{r}.{g}" for g, r in granted(one(plain, "ClusterRole"))}
    skipped = set(skip_list(plain))
    assert not names & skipped
    assert len(skipped) == len(skip_list(plain))
    assert all(re.fullmatch(r"[a-z0-9]+(\.[a-z0-9.-]+)?", s) for s in skipped)
    # --skip-resources replaces kubefort's default list, so the deployment repeats it
    from kubefort.cluster.collect import DEFAULT_SKIP

    assert {"secrets", "events", *DEFAULT_SKIP} <= skipped


def test_chart_refuses_an_image_without_digest(helm: str) -> None:
    p = subprocess.run(
        [helm, "template", "kubefort", str(CHART), "--set", "image.digest="], capture_output=True, timeout=120
    )
    assert p.returncode != 0 and b"pinned by digest" in p.stderr


@pytest.mark.parametrize("where", ["plain", "chart"])
def test_rbac_grants_nothing_risky(helm: str, kustomize: str, where: str) -> None:
    """kubefort rbac: the scanner's account cannot read Secrets and has no escalation path."""
    target = str(PLAIN) if where == "plain" else str(CHART)
    env = {"KUBEFORT_HELM": helm, "KUBEFORT_KUSTOMIZE": kustomize}
    sa = (
        "ServiceAccount:kubefort-cluster-scan:kubefort-cluster-scan"
        if where == "plain"
        else "ServiceAccount:default:kubefort"
    )
    _, ns, name = sa.split(":")

    p = kubefort("rbac", "who-can", "list", "secrets", target, "-o", "json", env=env)
    assert p.returncode == 0, p.stderr.decode()
    subjects = {(s["kind"], s["namespace"], s["name"]) for s in json.loads(p.stdout)["subjects"]}
    assert ("ServiceAccount", ns, name) not in subjects

    p = kubefort("rbac", "permissions", sa, target, "-o", "json", env=env)
    assert p.returncode == 0, p.stderr.decode()
    rules = [r["rule"] for scope in json.loads(p.stdout)["scopes"] for r in scope["rules"]]
    ours = [r for r in rules if r["from"].startswith("ClusterRole/kubefort")]
    assert ours and all(set(r["verbs"]) <= READ_VERBS for r in ours)

    p = kubefort("rbac", "paths", target, "-o", "json", env=env)
    assert p.returncode == 0, p.stderr.decode()
    assert json.loads(p.stdout)["paths"] == []


# ------------------------------------------------------------------ image and docs


def test_dockerfile_runs_as_numeric_non_root_user() -> None:
    text = (PLAIN / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) >= 10000
    assert "pip install" in text


def test_docs_explain_every_granted_type_and_the_placeholder_image() -> None:
    doc = DOCS.read_text()
    for _g, r in sorted(granted(one(plain_objects(), "ClusterRole"))):
        assert f"`{r}`" in doc, r
    for word in (
        "kubectl apply -k deploy/cluster-scan",
        "helm install",
        "Dockerfile",
        "placeholder",
        "secretMetadata",
        "extraResources",
    ):
        assert word in doc, word


# ------------------------------------------------------------------ against a real kube-apiserver


@pytest.fixture(scope="module")
def scan_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A kube-apiserver of our own (not the session one: these tests add cluster-wide RBAC), with
    the plain manifests' namespace, ServiceAccount, ClusterRole and binding, and a token for it."""
    import time

    import kubeapi

    if not kubeapi.binaries_ready():
        tool_missing(
            f"kube-apiserver and etcd {kubeapi.k8s_version()} are not built: run `bash tools/install-test-cluster.sh` (needs Go)"
        )
    if shutil.which("openssl") is None:
        tool_missing("openssl is needed to make the test cluster's certificates")
    c = kubeapi.TestCluster().start()
    try:
        objs = plain_objects()
        c.apply([o for o in objs if o["kind"] in ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")])
        c.apply(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": "shop"},
                    "spec": {
                        "selector": {"matchLabels": {"app": "web"}},
                        "template": {
                            "metadata": {"labels": {"app": "web"}},
                            "spec": {
                                "containers": [
                                    {"name": "app", "image": "nginx:1.27", "securityContext": {"privileged": True}}
                                ]
                            },
                        },
                    },
                },
            ]
        )
        sa = one(objs, "ServiceAccount")["metadata"]
        status, body = c.create(
            f"/api/v1/namespaces/{sa['namespace']}/serviceaccounts/{sa['name']}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600},
            },
        )
        assert status == 201, body
        c.TOKENS = {**c.TOKENS, "scanner": (body["status"]["token"], "")}
        deadline = time.monotonic() + 10  # the authorizer sees new bindings through an informer
        while c.request("GET", "/apis/apps/v1/deployments", user="scanner")[0] != 200:
            assert time.monotonic() < deadline, "the scanner's token cannot list deployments"
            time.sleep(0.1)
        yield c, c.kubeconfig(tmp_path_factory.mktemp("kc") / "kubeconfig", "scanner")
    finally:
        c.stop()


def _live_scan(kc: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    p = kubefort(
        "scan",
        "--cluster",
        "-A",
        "--kubeconfig",
        str(kc),
        "--no-config",
        "--fail-on",
        "never",
        "-q",
        "-o",
        "json",
        "-o",
        f"prometheus={out}",
        *extra,
    )
    assert p.returncode in (0, 3), p.stderr.decode()[-2000:]
    return p, json.loads(p.stdout)


def _prom(path: Path) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        s.name: s.value for f in text_string_to_metric_families(path.read_text()) for s in f.samples if not s.labels
    }


def _forbidden(rep: dict[str, Any]) -> list[str]:
    """Types the server refused (KF-INPUT-004 and input errors): what the ClusterRole must prevent."""
    return [i["error"] for i in rep["inputs"] if i["error"]] + [
        r["message"] for r in rep["results"] if r["check_id"] == "KF-INPUT-004" and r["outcome"] == "not-evaluated"
    ]


def _not_evaluated_beyond_requested_skips(rep: dict[str, Any]) -> list[str]:
    return [
        r["message"]
        for r in rep["results"]
        if r["outcome"] == "not-evaluated" and "in --skip-resources" not in r["message"]
    ]


def test_cronjob_command_lists_everything_it_does_not_skip(scan_cluster, tmp_path: Path) -> None:
    """The CronJob's --skip-resources plus the ClusterRole cover every type a real v1.37 API server
    serves: nothing is forbidden, and nothing is not evaluated except for the deliberate skips."""
    _, kc = scan_cluster
    p, rep = _live_scan(kc, tmp_path / "k.prom", "--skip-resources", ",".join(skip_list(plain_objects())))
    assert _forbidden(rep) == []
    assert _not_evaluated_beyond_requested_skips(rep) == []
    assert ("KF-POD-001", "web") in {
        (r["check_id"], (r["resource"] or {}).get("name")) for r in rep["results"] if r["outcome"] == "failed"
    }
    m = _prom(tmp_path / "k.prom")
    assert m["kubefort_objects_scanned"] == len(rep["objects"])
    assert m["kubefort_incomplete"] == (0.0 if p.returncode == 0 else 1.0)


def test_cronjob_command_is_complete_with_the_cluster_role(scan_cluster, tmp_path: Path) -> None:
    _, kc = scan_cluster
    p, rep = _live_scan(kc, tmp_path / "k.prom", "--skip-resources", ",".join(skip_list(plain_objects())))
    assert p.returncode == 0 and rep["summary"]["complete"]
    assert _prom(tmp_path / "k.prom")["kubefort_incomplete"] == 0.0


def test_without_the_skip_list_the_scan_is_incomplete(scan_cluster, tmp_path: Path) -> None:
    """What the skip list is for: types the role does not grant answer 403."""
    _, kc = scan_cluster
    p, rep = _live_scan(kc, tmp_path / "k.prom")
    assert p.returncode == 3 and rep["summary"]["outcomes"]["not-evaluated"] > 0
    assert _prom(tmp_path / "k.prom")["kubefort_incomplete"] == 1.0


def test_a_crd_group_must_be_granted_or_skipped(scan_cluster, tmp_path: Path) -> None:
    c, kc = scan_cluster
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
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
    c.apply([crd])
    import time

    deadline = time.monotonic() + 30
    while c.request("GET", "/apis/example.com/v1/widgets")[0] != 200:
        assert time.monotonic() < deadline, "the CRD is not served"
        time.sleep(0.2)
    try:
        skip = skip_list(plain_objects())
        p, rep = _live_scan(kc, tmp_path / "a.prom", "--skip-resources", ",".join(skip))
        assert p.returncode == 3  # forbidden: the documented trade-off
        assert any("widgets" in f for f in _forbidden(rep))
        p, rep = _live_scan(kc, tmp_path / "b.prom", "--skip-resources", ",".join([*skip, "widgets.example.com"]))
        assert _forbidden(rep) == [] and _not_evaluated_beyond_requested_skips(rep) == []
    finally:
        c.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
