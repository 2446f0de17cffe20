"""`kubefort audit` (kubefort/cli/audit.py): dispatch between PATHs and the serve/rbac
subcommands, exit codes, the JSON report's shape (results[].event, extras.audit), the table,
SARIF and Prometheus renderings of audit findings, baselines, config exceptions naming users,
and the audit benchmark scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result

from conftest import FIXTURES, ROOT
from kubefort.cli import cli

LOGS = FIXTURES / "audit" / "logs"
SCHEMA = json.loads((ROOT / "src" / "kubefort" / "schemas" / "report.schema.json").read_text())


def ev(i: int, **fields: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"a-{i}",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/shop/pods",
        "verb": "list",
        "user": {"username": "system:serviceaccount:shop:web", "groups": ["system:serviceaccounts"]},
        "sourceIPs": ["10.244.1.7"],
        "userAgent": "web/1.0",
        "objectRef": {"resource": "pods", "namespace": "shop", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
        "stageTimestamp": f"2026-11-30T10:00:{i:02d}.000000Z",
    }
    e.update(fields)
    return e


EXEC = ev(
    2,
    verb="create",
    stage="ResponseStarted",
    requestURI="/api/v1/namespaces/kube-system/pods/etcd-node-1/exec?command=sh",
    user={"username": "alice@example.com", "groups": ["sre", "system:authenticated"]},
    userAgent="kubectl/v1.37.0",
    objectRef={
        "resource": "pods",
        "subresource": "exec",
        "namespace": "kube-system",
        "name": "etcd-node-1",
        "apiVersion": "v1",
    },
    responseStatus={"code": 101},
)


def write(path: Path, events: list[dict[str, Any]], extra: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(e).encode() + b"\n" for e in events) + extra)
    return path


def run(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False, prog_name="kubefort")


@pytest.fixture
def logs(tmp_path: Path) -> dict[str, Path]:
    return {
        "clean": write(tmp_path / "clean.log", [ev(1), ev(3)]),
        "exec": write(tmp_path / "exec.log", [ev(1), EXEC, dict(EXEC, stage="ResponseComplete"), ev(3)]),
        "bad": write(tmp_path / "bad.log", [ev(1), EXEC], b'{"kind":"Event","apiVer\n'),
    }


# ---------------------------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------------------------
def test_audit_path_analyses_and_subcommands_dispatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = run("audit", "--help")
    assert r.exit_code == 0
    assert "Usage: kubefort audit [OPTIONS] PATH...  |  serve ...  |  rbac ..." in r.output
    assert "--max-event-size" in r.output and "serve" in r.output and "rbac" in r.output
    r = run("audit", "serve", "--help")
    assert r.exit_code == 0 and "--tls-cert-file" in r.output
    r = run("audit", "rbac", "--help")
    assert r.exit_code == 0 and "generate" in r.output
    # a log file named like a subcommand is read when given as a path
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "serve", [ev(1)])
    r = run("audit", "./serve", "-q")
    assert r.exit_code == 0, r.output
    assert "1 event" in r.output
    # options before the PATH
    r = run("audit", "-q", "-o", "json", "./serve")
    assert r.exit_code == 0 and json.loads(r.output)["extras"]["audit"]["events"]["total"] == 1


def test_the_subcommand_table_matches_the_commands() -> None:
    import click

    from kubefort.cli import audit as audit_cli

    ctx = click.Context(audit_cli.audit, info_name="audit")
    for name, (_target, short) in audit_cli.SUBCOMMANDS.items():
        cmd = audit_cli.audit.get_command(ctx, name)
        assert cmd is not None and cmd.name == name
        assert " ".join((cmd.help or "").partition("\n\n")[0].split()) == short


def test_a_subcommand_not_built_fails_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubefort.cli import audit as audit_cli

    monkeypatch.setitem(audit_cli.audit.lazy_commands, "later", ("kubefort.cli.audit_later:later", "Later."))
    r = CliRunner().invoke(cli, prog_name="kubefort", args=["audit", "later"])
    assert r.exit_code == 2
    assert "`kubefort audit later` is not built yet" in r.output


def test_usage_errors() -> None:
    r = CliRunner().invoke(cli, prog_name="kubefort", args=["audit"])
    assert r.exit_code == 2 and "give PATHs of audit logs" in r.output
    r = CliRunner().invoke(cli, prog_name="kubefort", args=["audit", "/nonexistent/audit.log"])
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1] == (
        "kubefort: error: cannot read /nonexistent/audit.log: no such file or directory"
    )
    r = CliRunner().invoke(cli, prog_name="kubefort", args=["audit", str(LOGS / "plain.log"), "--checks", "KF-POD-001"])
    assert r.exit_code == 2 and "KF-POD-001 cannot run here: kubefort audit runs the KF-AUDIT checks" in r.output
    r = CliRunner().invoke(
        cli, prog_name="kubefort", args=["audit", str(LOGS / "plain.log"), "--max-event-size", "lots"]
    )
    assert r.exit_code == 2 and "'lots' is not a size" in r.output
    r = CliRunner().invoke(cli, prog_name="kubefort", args=["audit", "-", "-"])
    assert r.exit_code == 2 and "'-' (stdin) can be given once" in r.output


@pytest.mark.parametrize(
    "args",
    [
        ("--baseline", "/nonexistent/base.json"),
        ("-c", "/nonexistent/.kubefort.yaml"),
        ("-o", "json=/nonexistent/dir/report.json"),
        ("--output-file", "/nonexistent/dir/report.txt"),
        ("--write-baseline", "/nonexistent/dir/base.json"),
    ],
)
def test_unusable_files_are_one_line_errors(args: tuple[str, ...]) -> None:
    """The analysis is not a leaf command of the `audit` group, so tests/test_cli_errors.py does
    not walk into it: its file parameters are checked here the same way."""
    r = CliRunner().invoke(cli, ["audit", str(LOGS / "plain.log"), *args], prog_name="kubefort")
    assert r.exit_code == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kubefort: error: ") and "/nonexistent/" in lines[0]


# ---------------------------------------------------------------------------------------------
# exit codes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("log", "args", "code"),
    [
        ("clean", (), 0),
        ("exec", (), 0),  # KF-AUDIT-001 is medium: below the default --fail-on high
        ("exec", ("--fail-on", "medium"), 1),
        ("bad", (), 3),
        ("bad", ("--allow-incomplete",), 0),
        ("bad", ("--allow-incomplete", "--fail-on", "medium"), 1),
    ],
)
def test_exit_codes(logs: dict[str, Path], log: str, args: tuple[str, ...], code: int) -> None:
    r = run("audit", str(logs[log]), "--no-config", "-o", "json", *args)
    assert r.exit_code == code, r.output


def test_no_event_at_all_is_incomplete(tmp_path: Path) -> None:
    empty = tmp_path / "audit.log"
    empty.write_bytes(b"")
    r = run("audit", str(empty), "-o", "json")
    assert r.exit_code == 3
    assert "no audit events found in" in r.output and "nothing was evaluated" in r.output
    r = run("audit", str(tmp_path), "--allow-incomplete", "-o", "json")
    assert r.exit_code == 0


def test_stdin(logs: dict[str, Path]) -> None:
    r = run("audit", "-", "-o", "json", "--fail-on", "medium", input=logs["exec"].read_bytes())
    assert r.exit_code == 1
    doc = json.loads(r.output[: r.output.rindex("}") + 1])
    [res] = [x for x in doc["results"] if x["check_id"] == "KF-AUDIT-001"]
    assert (res["file"], res["line"]) == ("-", 2)
    assert doc["inputs"] == [{"path": "-", "kind": "stdin", "documents": 4, "objects": 4, "skipped": [], "error": None}]


# ---------------------------------------------------------------------------------------------
# reports
# ---------------------------------------------------------------------------------------------
def test_json_report_carries_the_event_and_the_metrics(logs: dict[str, Path]) -> None:
    r = run("audit", str(logs["bad"]), "-o", "json", "--allow-incomplete", "--checks", "KF-AUDIT-001")
    doc = json.loads(r.output[: r.output.rindex("}") + 1])
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert [c["id"] for c in doc["checks"]] == ["KF-AUDIT-001", "KF-INPUT-006"]
    exec_, bad = doc["results"]
    assert exec_["check_id"] == "KF-AUDIT-001" and exec_["outcome"] == "failed"
    assert (exec_["file"], exec_["line"]) == (str(logs["bad"]), 2)
    assert exec_["resource"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "namespace": "kube-system",
        "name": "etcd-node-1/exec",
    }
    assert exec_["event"] == {
        "auditID": "a-2",
        "stage": "ResponseStarted",
        "stageTimestamp": "2026-11-30T10:00:02.000000Z",
        "user": {"username": "alice@example.com", "groups": ["sre", "system:authenticated"]},
        "sourceIPs": ["10.244.1.7"],
        "userAgent": "kubectl/v1.37.0",
        "verb": "create",
        "requestURI": "/api/v1/namespaces/kube-system/pods/etcd-node-1/exec?command=sh",
        "responseCode": 101,
        "objectRef": {
            "apiGroup": "",
            "apiVersion": "v1",
            "resource": "pods",
            "subresource": "exec",
            "namespace": "kube-system",
            "name": "etcd-node-1",
        },
    }
    assert bad["check_id"] == "KF-INPUT-006" and bad["outcome"] == "not-evaluated" and "event" not in bad
    assert (bad["line"], bad["resource"]) == (3, None)
    assert bad["message"].startswith("truncated line: the line ends inside its JSON value")
    assert doc["summary"]["outcomes"] == {"passed": 0, "failed": 1, "suppressed": 0, "not-evaluated": 1}
    assert doc["summary"]["complete"] is False
    audit = doc["extras"]["audit"]
    assert audit["version"] == "kubefort.audit.metrics/v1"
    assert (audit["events"]["total"], audit["requests"]) == (2, 2)
    assert audit["checks"] == {"KF-AUDIT-001": {"evaluated": 1, "findings": 1}}
    assert doc["inputs"] == [
        {"path": str(logs["bad"]), "kind": "audit-log", "documents": 3, "objects": 2, "skipped": [], "error": None}
    ]


def test_table_shows_who_did_what_when_and_the_metrics(logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # the temporary directory's long name would wrap lines
    r = run("audit", str(logs["exec"]), "--checks", "KF-AUDIT-001", "--no-color")
    out = r.output
    assert f"alice@example.com create pods/exec kube-system/etcd-node-1  {logs['exec']}:2" in out
    assert "alice@example.com ran a command in pod kube-system/etcd-node-1 (a system namespace)" in out
    assert "at 2026-11-30T10:00:02.000000Z from 10.244.1.7 (kubectl/v1.37.0), response 101, auditID a-2" in out
    assert "2 checks × 4 events from 1 input in" in out
    assert "audit: 4 events, 3 requests judged, from 2026-11-30T10:00:01.000000Z to 2026-11-30T10:00:03.000000Z" in out
    assert "access violations (401/403): none" in out
    assert "suspicious events by check: KF-AUDIT-001 1" in out


def test_sarif_points_at_the_events_line(logs: dict[str, Path]) -> None:
    r = run("audit", str(logs["exec"]), "--checks", "KF-AUDIT-001", "-o", "sarif")
    [res] = json.loads(r.output[: r.output.rindex("}") + 1])["runs"][0]["results"]
    assert res["locations"][0]["physicalLocation"]["region"] == {"startLine": 2}
    assert res["properties"]["event"]["auditID"] == "a-2"


def test_prometheus_has_the_access_metrics() -> None:
    r = run("audit", str(LOGS / "metrics.log"), "--checks", "KF-AUDIT-001", "-o", "prometheus")
    text = r.output
    for sample in (
        'kubefort_audit_events{stage="ResponseComplete"} 9.0',
        "kubefort_audit_requests 9.0",
        'kubefort_audit_access_violations{code="403"} 2.0',
        'kubefort_audit_access_violations_by_principal{principal="anonymous@203.0.113.9"} 1.0',
        'kubefort_audit_access_violations_by_resource{resource="/readyz"} 1.0',
        'kubefort_audit_secret_requests_by_namespace{namespace="(all namespaces)"} 1.0',
        'kubefort_audit_secret_requests_by_verb{verb="get"} 2.0',
        'kubefort_audit_check_requests{check_id="KF-AUDIT-001"} 0.0',
        "kubefort_audit_first_event_timestamp_seconds 1.796032801e+09",
    ):
        assert sample in text, sample


def test_junit_lists_audit_findings(logs: dict[str, Path]) -> None:
    r = run("audit", str(logs["exec"]), "--checks", "KF-AUDIT-001", "-o", "junit")
    assert "KF-AUDIT-001" in r.output and "<failure" in r.output


# ---------------------------------------------------------------------------------------------
# baselines and exceptions
# ---------------------------------------------------------------------------------------------
def test_write_baseline_then_baseline_suppresses(logs: dict[str, Path], tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    r = run("audit", str(logs["exec"]), "--checks", "KF-AUDIT-001", "--write-baseline", str(base))
    assert r.exit_code == 0 and "wrote 1 finding to" in r.output
    r = run("audit", str(logs["exec"]), "--checks", "KF-AUDIT-001", "--baseline", str(base), "-o", "json")
    doc = json.loads(r.output[: r.output.rindex("}") + 1])
    assert [x["outcome"] for x in doc["results"]] == ["suppressed"]
    assert doc["results"][0]["suppression"]["kind"] == "baseline"


def test_config_exception_naming_the_user(logs: dict[str, Path], tmp_path: Path) -> None:
    cfg = tmp_path / "k.yaml"
    cfg.write_text(
        "exceptions:\n- checks: [KF-AUDIT-001]\n  reason: on-call break-glass\n  users: ['alice@*']\n"
        "- checks: [KF-AUDIT-001]\n  reason: never used\n  groups: [nobody]\n"
    )
    r = run("audit", str(logs["exec"]), "-c", str(cfg), "--checks", "KF-AUDIT-001", "-o", "json", "--fail-on", "medium")
    assert r.exit_code == 0
    doc = json.loads(r.output[: r.output.rindex("}") + 1])
    assert doc["results"][0]["suppression"] == {
        "kind": "config",
        "reason": "on-call break-glass",
        "expires": None,
        "where": "k.yaml exceptions[0]",
    }
    assert doc["exceptions"]["unused"] == ["k.yaml exceptions[1]: KF-AUDIT-001 (groups=['nobody'])"]


def test_max_event_size(tmp_path: Path) -> None:
    big = write(tmp_path / "a.log", [ev(1), ev(2, requestObject={"x": "y" * 5000}), ev(3)])
    r = run("audit", str(big), "--max-event-size", "2KiB", "-o", "json")
    assert r.exit_code == 3
    doc = json.loads(r.output[: r.output.rindex("}") + 1])
    [p] = [x for x in doc["results"] if x["check_id"] == "KF-INPUT-006"]
    assert p["line"] == 2 and "over --max-event-size (2,048 bytes)" in p["message"]


def test_scan_never_reports_the_audit_input_check() -> None:
    from kubefort.engine.selection import select_checks
    from kubefort.registry import REGISTRY

    scan = select_checks(REGISTRY, family=lambda m: m.target != "audit")
    assert "KF-INPUT-006" not in scan and "KF-INPUT-001" in scan
    audit = select_checks(REGISTRY, family=lambda m: m.target == "audit", inputs=lambda m: m.id == "KF-INPUT-006")
    assert [i for i in audit if i.startswith("KF-INPUT")] == ["KF-INPUT-006"]


# ---------------------------------------------------------------------------------------------
# the benchmark scripts
# ---------------------------------------------------------------------------------------------
def test_bench_scripts_run(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    gen = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen_audit.py"), str(log), "--events", "3000", "--seed", "7"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert gen.returncode == 0, gen.stderr
    assert len(log.read_bytes().splitlines()) == 3000
    p = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_audit.py"), str(log), "--jobs", "1,2", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "events/s" in p.stdout
