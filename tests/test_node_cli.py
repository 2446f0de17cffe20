"""`kubefort node`: exit codes, formats, selection, manual controls, exceptions, --dump round trip.

The command is exercised with click's CliRunner (the `kubefort` group in cli/__init__.py loads it from its COMMANDS table).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from conftest import ROOT, scan_file
from kubefort.cli.node import node
from kubefort.registry import REGISTRY
from test_node_layouts import IS_ROOT, k3s_tree, kubeadm_tree

SCHEMA = json.loads((ROOT / "src" / "kubefort" / "schemas" / "report.schema.json").read_text())


@pytest.fixture(autouse=True)
def _node_checks():
    from kubefort.checks import control_plane, etcd, kubelet  # noqa: F401


def run(*args: str):
    return CliRunner().invoke(node, list(args), catch_exceptions=False)


@pytest.fixture
def default_node(tmp_path) -> Path:
    root = tmp_path / "node"
    kubeadm_tree(root, "default")
    return root


def test_exit_codes(tmp_path, default_node):
    assert run("--root", str(default_node), "-q").exit_code == 1
    assert run("--root", str(default_node), "-q", "--fail-on", "never").exit_code == 0
    assert run("--root", str(default_node), "-q", "--fail-on", "critical").exit_code == 0
    hardened = tmp_path / "hardened"
    kubeadm_tree(hardened, "hardened")
    if IS_ROOT:
        assert run("--root", str(hardened), "-q").exit_code == 0
    k3s = tmp_path / "k3s"
    k3s_tree(k3s)
    res = run("--root", str(k3s))
    assert res.exit_code == 3 and "not evaluated" in res.output
    assert run("--root", str(k3s), "-q", "--allow-incomplete", "--fail-on", "never").exit_code == 0


@pytest.mark.parametrize(
    "args,needle",
    [
        (("--root", "/definitely/not/here"), "kubefort: error: cannot read node root /definitely/not/here"),
        (("--checks", "KF-NOPE"), "unknown check"),
        (("--skip-checks", "KF-INPUT-001"), "cannot be skipped"),
        (("-o", "yaml"), "unknown format"),
        (("--fail-on", "sometimes"), "unknown severity"),
        (("--config", "/no/such/.kubefort.yaml"), "kubefort: error: cannot read config file /no/such/.kubefort.yaml"),
    ],
)
def test_usage_errors_exit_2(default_node, args, needle):
    res = CliRunner().invoke(node, ["--root", str(default_node), *args])
    assert res.exit_code == 2 and needle in res.output


def test_json_report_is_valid_and_carries_the_node(default_node, tmp_path):
    out = tmp_path / "r.json"
    res = run("--root", str(default_node), "-q", "-o", f"json={out}", "-o", "table", "--include-passed")
    assert res.exit_code == 1 and "Summary" in res.output
    doc = json.loads(out.read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    nodeinfo = doc["extras"]["node"]
    assert nodeinfo["name"] == "cp-default" and nodeinfo["distribution"] == "kubeadm"
    assert nodeinfo["components"]["kube-apiserver"]["origin"] == "static-pod"
    assert {m["cis"] for m in nodeinfo["cis_manual"]} >= {"3.1.1", "1.2.20"}
    statuses = {r["check_id"]: r["outcome"] for r in doc["results"] if r["resource"]["name"] == "kube-apiserver"}
    assert statuses["KF-CP-018"] == "failed" and statuses["KF-CP-025"] == "passed"
    anon = next(r for r in doc["results"] if r["check_id"] == "KF-CP-018")
    assert anon["file"] == "/etc/kubernetes/manifests/kube-apiserver.yaml" and anon["line"] and anon["remediation"]
    assert all(i["kind"] == "node" or i["kind"] == "file" for i in doc["inputs"])


def test_sarif_and_junit(default_node):
    sarif = json.loads(run("--root", str(default_node), "-q", "-o", "sarif").output)
    assert sarif["version"] == "2.1.0"
    rules = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert "KF-KUBELET-011" in rules
    junit = run("--root", str(default_node), "-q", "-o", "junit").output
    assert junit.startswith("<?xml") and "KF-ETCD-006" in junit


def test_selection(default_node):
    doc = json.loads(
        run("--root", str(default_node), "-q", "-o", "json", "--include-passed", "--checks", "KF-KUBELET").output
    )
    assert {r["check_id"].rsplit("-", 1)[0] for r in doc["results"]} == {"KF-KUBELET"}
    doc = json.loads(run("--root", str(default_node), "-q", "-o", "json", "--skip-checks", "KF-CP,KF-KUBELET").output)
    assert {r["check_id"] for r in doc["results"]} == {"KF-ETCD-004"}


def test_list_manual():
    res = run("--list-manual")
    assert res.exit_code == 0 and "3.1.1" in res.output and "manual" in res.output
    rows = json.loads(run("--list-manual", "-o", "json").output)
    by = {r["cis"]: r for r in rows}
    assert by["4.2.4"]["checked_by"] == ["KF-KUBELET-014"] and by["3.1.3"]["checked_by"] == []


def test_config_exceptions_and_severity(default_node, tmp_path):
    cfg = tmp_path / ".kubefort.yaml"
    cfg.write_text(
        "severity:\n  KF-CP-018: critical\n"
        "options:\n  KF-CP-061:\n    days: 400\n"
        "exceptions:\n"
        "- checks: [KF-ETCD-004]\n  reason: kubeadm runs etcd as root\n"
        "- checks: [KF-CP-009]\n  reason: never matches\n"
    )
    doc = json.loads(run("--root", str(default_node), "-q", "-o", "json", "--config", str(cfg)).output)
    by = {r["check_id"]: r for r in doc["results"]}
    assert by["KF-ETCD-004"]["outcome"] == "suppressed" and by["KF-ETCD-004"]["suppression"]["kind"] == "config"
    assert by["KF-CP-018"]["severity"] == "critical"
    # certificates valid for another year are reported once the option asks for 400 days' notice
    assert any(
        r["check_id"] == "KF-CP-061" and r["outcome"] == "failed" and " days" in r["message"] for r in doc["results"]
    )
    # unused exceptions are listed once, in their own section (not repeated among the warnings)
    assert doc["exceptions"]["unused"] and not any("unused exception" in w for w in doc["warnings"])


def test_baseline_is_stable_across_process_restarts(default_node, tmp_path):
    from kubefort import baseline as baseline_mod
    from kubefort.drivers.node import scan_node

    ids = tuple(m.id for m in REGISTRY if m.area in ("CP", "ETCD", "KUBELET", "INPUT"))
    result, _ = scan_node(str(default_node), ids, REGISTRY)
    base = tmp_path / "base.json"
    baseline_mod.write(str(base), result)
    assert run("--root", str(default_node), "-q", "--baseline", str(base)).exit_code == 0
    # the kubelet restarts with a new pid: the same findings keep the same fingerprints
    from test_node_layouts import Tree

    argv = b"/usr/bin/kubelet\0--kubeconfig=/etc/kubernetes/kubelet.conf\0--config=/var/lib/kubelet/config.yaml\0"
    Tree(default_node).write("/proc/100/cmdline", argv, 0o444)
    first, _ = scan_node(str(default_node), ids, REGISTRY)
    (default_node / "proc" / "100").rename(default_node / "proc" / "200")
    second, _ = scan_node(str(default_node), ids, REGISTRY)
    fps = lambda r: sorted(o.fingerprint for o in r.outcomes if o.status.value == "failed")
    assert fps(first) == fps(second) and any(o.source.file == "/usr/bin/kubelet" for o in first.outcomes if o.source)


def test_dump_round_trips_through_scan(default_node, tmp_path):
    dump = tmp_path / "node.yaml"
    doc = json.loads(run("--root", str(default_node), "-q", "-o", "json", "--dump", str(dump)).output)
    node_failed = {(r["check_id"], r["resource"]["name"]) for r in doc["results"] if r["outcome"] == "failed"}
    ids = tuple(sorted({c for c, _ in node_failed}))
    rescanned = {(o.check_id, o.resource.name) for o in scan_file(dump, ids) if o.status.value == "failed"}
    # static-pod, kubelet and file findings are the same when the dump is scanned later
    assert rescanned == node_failed


def test_empty_root_says_so(tmp_path):
    res = run("--root", str(tmp_path))
    assert res.exit_code == 3 and "no Kubernetes component found" in res.output


def test_empty_root_is_never_clean(tmp_path):
    """A root with no Kubernetes component evaluated nothing: exit 3, not a clean pass."""
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, "-m", "kubefort", "node", "--root", str(tmp_path), "-o", "json"],
        capture_output=True,
        timeout=120,
    )
    assert p.returncode == 3, p.stderr.decode()
    import json

    rep = json.loads(p.stdout)
    assert any("no Kubernetes component found" in w for w in rep["warnings"])
    p = subprocess.run(
        [sys.executable, "-m", "kubefort", "node", "--root", str(tmp_path), "-q", "--allow-incomplete"],
        capture_output=True,
        timeout=120,
    )
    assert p.returncode == 0
