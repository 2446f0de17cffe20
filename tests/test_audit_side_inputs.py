"""What `kubefort audit` reads besides the log: --policy (coverage + KF-CP-057/058 at file:line),
--rbac (the cluster's roles for the detections), --usage-baseline/--learn-for (first seen)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from kubefort.cli import cli

BIND = {
    "kind": "Event",
    "apiVersion": "audit.k8s.io/v1",
    "level": "Request",
    "auditID": "b-1",
    "stage": "ResponseComplete",
    "verb": "create",
    "requestURI": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "user": {"username": "alice@example.com", "groups": ["system:authenticated"]},
    "sourceIPs": ["10.0.0.7"],
    "objectRef": {"resource": "clusterrolebindings", "apiGroup": "rbac.authorization.k8s.io", "name": "ops"},
    "responseStatus": {"code": 201},
    "stageTimestamp": "2026-11-30T10:00:00.000000Z",
    "requestObject": {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "ops"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "superuser"},
        "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}],
    },
}
SUPERUSER = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: superuser}
rules:
- {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}
"""
POLICY_DROPPING_SECRETS = """\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  resources:
  - group: ""
    resources: [secrets]
- level: Metadata
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, prog_name="kubefort")


def report(*args: str) -> tuple[int, dict[str, Any]]:
    r = run("audit", *args, "-o", "json", "--fail-on", "never", "-j", "1")
    return r.exit_code, json.loads(r.stdout)


def test_policy_gives_coverage_and_findings_at_its_line(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(json.dumps(BIND) + "\n")
    pol = tmp_path / "policy.yaml"
    pol.write_text(POLICY_DROPPING_SECRETS)
    code, rep = report(str(log), "--policy", str(pol), "--checks", "KF-AUDIT-001")
    assert code == 0
    cp = [r for r in rep["results"] if r["check_id"] == "KF-CP-057"]
    assert len(cp) == 1 and cp[0]["outcome"] == "failed"
    assert cp[0]["file"] == str(pol) and cp[0]["line"] == 4  # the rule that drops them
    cov = rep["extras"]["audit"]["coverage"]
    assert cov["error"] is None
    assert any(
        m["resource"] == "secrets" and m["not_recorded"] == ["get", "list", "watch"] for m in cov["not_recorded"]
    )
    assert "KF-CP-057" in [c["id"] for c in rep["checks"]]
    # the table says it too
    r = run("audit", str(log), "--policy", str(pol), "--fail-on", "never", "-j", "1")
    assert "audit policy: not recorded: Secrets" in r.output


def test_a_broken_policy_is_not_evaluated_and_the_run_incomplete(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(json.dumps(BIND) + "\n")
    pol = tmp_path / "policy.yaml"
    pol.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [\n")
    code, rep = report(str(log), "--policy", str(pol), "--checks", "KF-AUDIT-001")
    assert code == 3
    assert [r["check_id"] for r in rep["results"] if r["outcome"] == "not-evaluated"] == ["KF-INPUT-001"]
    assert "holds no audit.k8s.io Policy" in rep["extras"]["audit"]["coverage"]["error"]


def test_rbac_files_let_the_detections_judge_custom_roles(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(json.dumps(BIND) + "\n")
    rbac = tmp_path / "rbac"
    rbac.mkdir()
    (rbac / "roles.yaml").write_text(SUPERUSER)
    _, without = report(str(log), "--checks", "KF-AUDIT-004")
    assert [r["outcome"] for r in without["results"]] == ["not-evaluated"]
    _, with_rbac = report(str(log), "--checks", "KF-AUDIT-004", "--rbac", str(rbac))
    assert [r["outcome"] for r in with_rbac["results"]] == ["failed"]
    assert "ClusterRole/superuser" in with_rbac["results"][0]["message"]
    r = run("audit", str(log), "--rbac", str(tmp_path / "missing"))
    assert r.exit_code == 2 and "missing" in r.output


def _event(i: int, user: str, verb: str, day: int) -> dict[str, Any]:
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"u-{i}",
        "stage": "ResponseComplete",
        "verb": verb,
        "requestURI": "/api/v1/namespaces/shop/configmaps",
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": ["10.0.0.7"],
        "objectRef": {"resource": "configmaps", "namespace": "shop", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
        "stageTimestamp": f"2026-11-{day:02d}T10:00:00.000000Z",
    }


def test_usage_baseline_learns_then_judges_across_runs(tmp_path: Path) -> None:
    week = tmp_path / "week.log"
    week.write_text("\n".join(json.dumps(_event(i, "carol", "list", 1 + i)) for i in range(3)) + "\n")
    store = tmp_path / "usage.json"
    code, rep = report(str(week), "--checks", "KF-AUDIT-024", "--usage-baseline", str(store), "--learn-for", "7d")
    assert code == 0 and rep["results"] == []
    assert store.is_file() and rep["extras"]["audit"]["baseline"]["principals"] == 1
    later = tmp_path / "later.log"
    later.write_text(
        json.dumps(_event(10, "carol", "list", 20)) + "\n" + json.dumps(_event(11, "carol", "delete", 20)) + "\n"
    )
    code, rep = report(str(later), "--checks", "KF-AUDIT-024", "--usage-baseline", str(store))
    assert [(r["check_id"], r["event"]["verb"]) for r in rep["results"]] == [("KF-AUDIT-024", "delete")]
    (tmp_path / "bad.json").write_text("{}")
    r = run("audit", str(later), "--usage-baseline", str(tmp_path / "bad.json"))
    assert r.exit_code == 2 and "invalid usage baseline" in r.output
    r = run("audit", str(later), "--learn-for", "soon")
    assert r.exit_code == 2 and "--learn-for" in r.output
