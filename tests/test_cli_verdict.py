"""What a finished scan says and exits with (`kubefort.verdict`), end to end.

* the summary says "clean" only when nothing failed at any severity; failures below --fail-on
  are "no failures at or above X (N below)";
* a scan that read no Kubernetes object says so and exits 3 (0/1 with --allow-incomplete);
* at most one report goes to stdout;
* `--write-baseline` writes the baseline, prints one line and exits 0 (3 when incomplete).
"""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kubefort.cli import cli
from kubefort.cli.common import parse_outputs
from kubefort.model import InputRecord, Outcome, ScanResult, Severity, Status, Suppression
from kubefort.verdict import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    baseline_verdict,
    nothing_found,
    nothing_listed,
    verdict,
)

PRIV_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  containers:
  - name: app
    image: nginx:1.27
    securityContext:
      privileged: true
"""
CLEAN_POD = PRIV_POD.replace("privileged: true", "privileged: false")
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata: {a: b}\n"


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin)


def summary_line(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("kubefort: exit "))


# ---------------------------------------------------------------------------------------------
# the verdict over any set of outcomes
# ---------------------------------------------------------------------------------------------
OUTCOME = st.tuples(
    st.sampled_from(list(Status)), st.sampled_from(list(Severity)), st.booleans()
)  # status, severity, suppressed by the user's choice (not-evaluated by --skip-resources)


def result_of(rows: list[tuple[Status, Severity, bool]]) -> ScanResult:
    outcomes = [
        Outcome(
            f"KF-POD-{i:03}",
            status,
            None,
            None,
            severity=sev,
            suppression=Suppression("config", "skipped on request") if chosen else None,
        )
        for i, (status, sev, chosen) in enumerate(rows)
    ]
    return ScanResult("test", outcomes, [], [], [])


@settings(max_examples=300)
@given(
    rows=st.lists(OUTCOME, max_size=12),
    threshold=st.none() | st.sampled_from(list(Severity)),
    allow=st.booleans(),
    nothing=st.none() | st.just("no Kubernetes objects found in k8s (1 input read): nothing was evaluated"),
)
def test_the_verdict_of_any_result(rows, threshold, allow, nothing):
    v = verdict(result_of(rows), threshold, allow_incomplete=allow, nothing_evaluated=nothing)
    failed = [sev for status, sev, _ in rows if status is Status.FAILED]
    failing = [sev for sev in failed if threshold is not None and sev >= threshold]
    below = len(failed) - len(failing)
    incomplete = sum(1 for status, _, chosen in rows if status is Status.NOT_EVALUATED and not chosen)

    expected = EXIT_FINDINGS if failing else EXIT_OK
    if (incomplete or nothing) and not allow:
        expected = EXIT_INCOMPLETE
    assert v.code == expected
    assert v.summary.startswith(f"kubefort: exit {expected}: ")
    assert "\n" not in v.summary
    # "clean" only when nothing failed at any severity and everything was evaluated
    assert v.summary.endswith(": clean") == (not failed and not incomplete and not nothing)
    if failing:
        noun = "check" if len(failing) == 1 else "checks"
        assert f"{len(failing)} failed {noun} at or above {threshold.label}" in v.summary
        assert (f"({below} below)" in v.summary) == bool(below)
    elif failed and threshold is not None:
        assert f"no failures at or above {threshold.label} ({below} below)" in v.summary
    elif failed:
        assert "(--fail-on never)" in v.summary
    if incomplete:
        assert ("not evaluated (allowed)" in v.summary) == allow
    if nothing:
        assert nothing in v.summary and v.summary.endswith("(allowed)") == allow


@given(rows=st.lists(OUTCOME, max_size=12), allow=st.booleans(), nothing=st.none() | st.just("nothing found"))
def test_writing_a_baseline_never_fails_on_findings(rows, allow, nothing):
    v = baseline_verdict(result_of(rows), allow_incomplete=allow, nothing_evaluated=nothing)
    incomplete = any(status is Status.NOT_EVALUATED and not chosen for status, _, chosen in rows)
    assert v.code == (EXIT_INCOMPLETE if (incomplete or nothing) and not allow else EXIT_OK)
    assert ("not in the baseline" in v.summary) == incomplete
    assert (v.summary == "") == (not incomplete and not nothing)  # a complete baseline: one line says it all


def test_nothing_found_says_what_was_read():
    assert nothing_found(["k8s"], [InputRecord("k8s/a.yaml", "file", 1, 1)], 1) is None
    assert nothing_found(["k8s"], [], 0) == (
        "no Kubernetes objects found in k8s (no .yaml, .yml or .json file): nothing was evaluated"
    )
    assert "left after --exclude" in str(nothing_found(["k8s"], [], 0, excluded=True))
    skipped = [InputRecord("a.yaml", "file", 2, 0, ["doc 1", "doc 2"]), InputRecord("b.yaml", "file", 0, 0)]
    assert "(2 inputs read, 2 non-Kubernetes documents skipped)" in str(nothing_found(["a.yaml", "b.yaml"], skipped, 0))
    assert "in stdin (1 input read, all empty)" in str(nothing_found(["-"], [InputRecord("-", "stdin")], 0))
    assert nothing_listed("the cluster", 3) is None
    assert nothing_listed("the cluster", 0) == "no Kubernetes objects found in the cluster: nothing was evaluated"


# ---------------------------------------------------------------------------------------------
# the summary line of real scans
# ---------------------------------------------------------------------------------------------
def test_clean_only_without_failures(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(PRIV_POD)
    res = run("scan", str(f), "-o", f"json={tmp_path / 'r.json'}", "-j", "1")
    failed = json.loads((tmp_path / "r.json").read_text())["summary"]["outcomes"]["failed"]
    assert res.exit_code == 1 and failed > 3
    # only the critical one fails the scan at --fail-on critical: the others are "below"
    crit = sum(1 for r in json.loads((tmp_path / "r.json").read_text())["results"] if r.get("severity") == "critical")
    res = run("scan", str(f), "--fail-on", "critical", "-o", f"json={tmp_path / 'r.json'}", "-j", "1")
    assert res.exit_code == 1
    assert summary_line(res.stderr) == (
        f"kubefort: exit 1: {crit} failed check{'s' if crit > 1 else ''} at or above critical ({failed - crit} below)"
    )
    res = run("scan", str(f), "--skip-checks", "KF-POD-001,KF-PSS", "--fail-on", "critical", "-o", "json", "-j", "1")
    below = json.loads(res.stdout)["summary"]["outcomes"]["failed"]
    assert res.exit_code == 0 and below > 0
    assert summary_line(res.stderr) == f"kubefort: exit 0: no failures at or above critical ({below} below)"
    res = run("scan", str(f), "--fail-on", "never", "-o", "json", "-j", "1")
    assert summary_line(res.stderr) == f"kubefort: exit 0: {failed} failed checks (--fail-on never)"
    f.write_text(CLEAN_POD)
    res = run("scan", str(f), "--checks", "KF-POD-001", "-j", "1")
    assert res.exit_code == 0 and summary_line(res.stderr) == "kubefort: exit 0: clean"


# ---------------------------------------------------------------------------------------------
# a scan that read nothing
# ---------------------------------------------------------------------------------------------
def read_nothing_cases(tmp: Path) -> list[tuple[list[str], str, str]]:
    """(arguments, stdin, what the message must say): each reads no Kubernetes object."""
    (tmp / "empty").mkdir()
    (tmp / "docs").mkdir()
    (tmp / "docs" / "README.md").write_text("# not yaml\n")
    (tmp / "excluded").mkdir()
    (tmp / "excluded" / "pod.yaml").write_text(PRIV_POD)
    (tmp / "values.yaml").write_text("replicas: 3\nimage: {tag: '1.2'}\n---\n- a list\n")
    (tmp / "blank.yaml").write_text("# only a comment\n---\n")
    return [
        ([str(tmp / "empty")], "", f"in {tmp / 'empty'} (no .yaml, .yml or .json file)"),
        ([str(tmp / "docs")], "", "(no .yaml, .yml or .json file)"),
        ([str(tmp / "excluded"), "--exclude", "*.yaml"], "", "(no .yaml, .yml or .json file left after --exclude)"),
        ([str(tmp / "values.yaml")], "", "(1 input read, 2 non-Kubernetes documents skipped)"),
        ([str(tmp / "blank.yaml")], "", "(1 input read, all empty)"),
        (["-"], "", "in stdin (1 input read, all empty)"),
        (["-"], "a: 1\n", "in stdin (1 input read, 1 non-Kubernetes document skipped)"),
        ([str(tmp / "empty"), str(tmp / "docs")], "", f"in {tmp / 'empty'}, {tmp / 'docs'}"),
    ]


def test_a_scan_that_read_nothing_is_incomplete(tmp_path):
    for args, stdin, detail in read_nothing_cases(tmp_path):
        res = run("scan", *args, "-o", "json", "-j", "1", stdin=stdin)
        assert res.exit_code == EXIT_INCOMPLETE, (args, res.output)
        line = summary_line(res.stderr)
        assert line.startswith("kubefort: exit 3: no Kubernetes objects found ") and detail in line, (args, line)
        assert line.endswith(": nothing was evaluated")
        assert any("no Kubernetes objects found" in w for w in json.loads(res.stdout)["warnings"])
        # --allow-incomplete: the scan is allowed to be empty, and still says so
        res = run("scan", *args, "--allow-incomplete", "-j", "1", stdin=stdin)
        assert res.exit_code == EXIT_OK, (args, res.output)
        assert summary_line(res.stderr).endswith("nothing was evaluated (allowed)")


def test_reading_one_object_is_not_reading_nothing(tmp_path):
    (tmp_path / "values.yaml").write_text("replicas: 3\n")
    (tmp_path / "cm.yaml").write_text(CONFIGMAP)
    res = run("scan", str(tmp_path), "-j", "1")
    assert res.exit_code == EXIT_OK and "no Kubernetes objects" not in res.output


def test_a_snapshot_with_no_objects_is_incomplete(tmp_path):
    from kubefort.cluster.collect import ListStatus
    from kubefort.cluster.discovery import Discovery, ResourceType
    from kubefort.cluster.source import SnapshotWriter, cluster_info

    pods = ResourceType("", "v1", "pods", "Pod", True, ("list",))
    header = {
        "kind": "KubefortClusterSnapshot",
        "version": 1,
        "kubefortVersion": "test",
        "created": "2026-11-25T00:00:00+00:00",
        "cluster": {"name": "lab", "server": "https://127.0.0.1:6443"},
        "info": cluster_info("lab", "https://127.0.0.1:6443", {"gitVersion": "v1.37.2"}, None),
        "discovery": Discovery([pods], "aggregated").as_dict(),
        "scope": {"namespaces": ["typo"], "skip": [], "anonymousProbe": False},
    }
    w = SnapshotWriter(str(tmp_path / "s.json"), header)
    w.close([ListStatus(pods, "typo", "ok")])
    res = run("scan", str(tmp_path / "s.json"), "-q", "-o", "json")
    assert res.exit_code == EXIT_INCOMPLETE
    assert json.loads(res.stdout)["warnings"] == [
        f"no Kubernetes objects found in snapshot {tmp_path / 's.json'}: nothing was evaluated"
    ]


# ---------------------------------------------------------------------------------------------
# at most one report on stdout
# ---------------------------------------------------------------------------------------------
FORMATS = ["table", "json", "sarif", "junit", "prometheus"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FORMATS), st.booleans()), min_size=1, max_size=5))
def test_at_most_one_report_goes_to_stdout(asked):
    with tempfile.TemporaryDirectory() as d:
        outputs = tuple(f"{fmt}={d}/r{i}.out" if to_file else fmt for i, (fmt, to_file) in enumerate(asked))
        on_stdout = [fmt for fmt, to_file in asked if not to_file]
        if len(on_stdout) <= 1:
            targets = parse_outputs(outputs)
            assert [fmt for fmt, dest in targets if dest is None] == on_stdout
            return
        with pytest.raises(click.UsageError) as err:
            parse_outputs(outputs)
        msg = err.value.format_message()
        assert msg.startswith("at most one report can go to stdout")
        for fmt in on_stdout[1:]:  # each other one gets a suggested file
            assert f"-o {fmt}=kubefort." in msg


@pytest.mark.parametrize("pair", list(itertools.permutations(FORMATS, 2)), ids="-".join)
def test_two_reports_on_stdout_are_refused(tmp_path, pair):
    f = tmp_path / "p.yaml"
    f.write_text(PRIV_POD)
    res = run("scan", str(f), "-o", pair[0], "-o", pair[1])
    assert res.exit_code == 2 and res.stdout == ""
    assert "at most one report can go to stdout" in res.stderr
    assert f"give FILE for the others: -o {pair[1]}=kubefort." in res.stderr


def test_the_suggested_command_works(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(PRIV_POD)
    res = run("scan", str(f), "-o", "json", "-o", f"sarif={tmp_path / 'kubefort.sarif'}", "-j", "1")
    assert res.exit_code == 1 and json.loads(res.stdout)["tool"]["name"] == "kubefort"
    assert json.loads((tmp_path / "kubefort.sarif").read_text())["version"] == "2.1.0"


# ---------------------------------------------------------------------------------------------
# --write-baseline: accept today's findings
# ---------------------------------------------------------------------------------------------
def test_writing_a_baseline_succeeds_and_reports_nothing(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(PRIV_POD)
    base = tmp_path / "b.json"
    res = run("scan", str(f), "--write-baseline", str(base), "-j", "1")
    n = len(json.loads(base.read_text())["findings"])
    assert n > 3
    assert res.exit_code == EXIT_OK
    assert res.stdout == f"wrote {n} findings to {base}\n"
    assert res.stderr == ""
    # the baseline accepts them: the next scan is clean
    res = run("scan", str(f), "--baseline", str(base), "-j", "1")
    assert res.exit_code == EXIT_OK and summary_line(res.stderr) == "kubefort: exit 0: clean"
    # rewritten with the old baseline in use, it keeps the accepted findings
    res = run("scan", str(f), "--baseline", str(base), "--write-baseline", str(base), "-q", "-j", "1")
    assert res.exit_code == EXIT_OK and res.stdout == f"wrote {n} findings to {base}\n"


def test_one_finding_is_singular(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(PRIV_POD)
    res = run("scan", str(f), "--checks", "KF-POD-001", "--write-baseline", str(tmp_path / "b.json"), "-j", "1")
    assert res.exit_code == EXIT_OK and res.stdout == f"wrote 1 finding to {tmp_path / 'b.json'}\n"


def test_an_incomplete_baseline_says_so(tmp_path):
    (tmp_path / "p.yaml").write_text(PRIV_POD)
    (tmp_path / "broken.yaml").write_text("a: [1\n")
    base = tmp_path / "b.json"
    res = run("scan", str(tmp_path), "--write-baseline", str(base), "-j", "1")
    assert res.exit_code == EXIT_INCOMPLETE and res.stdout.startswith("wrote ")
    assert "not evaluated: their findings are not in the baseline" in summary_line(res.stderr)
    assert base.exists()
    res = run("scan", str(tmp_path), "--write-baseline", str(base), "--allow-incomplete", "-j", "1")
    assert res.exit_code == EXIT_OK and summary_line(res.stderr).endswith("(allowed)")
    res = run("scan", str(tmp_path / "broken.yaml"), "--write-baseline", str(base), "-q", "-j", "1")
    assert res.exit_code == EXIT_INCOMPLETE and res.stderr == ""  # -q: the exit code speaks


@pytest.mark.parametrize("extra", [["-o", "json"], ["-o", "json=r.json"], ["--output-file", "r.json"]])
def test_a_baseline_and_a_report_are_refused(tmp_path, extra):
    f = tmp_path / "p.yaml"
    f.write_text(PRIV_POD)
    res = run("scan", str(f), "--write-baseline", str(tmp_path / "b.json"), *extra)
    assert res.exit_code == 2 and "--write-baseline writes the baseline and no report" in res.stderr
    assert not (tmp_path / "b.json").exists()


def test_a_progress_display_ends_before_the_baseline_line(tmp_path):
    """On a terminal the progress display must be gone before the line on stdout: the baseline
    is announced to it as the one report, done."""
    from kubefort.cli.scan import _write_baseline

    events = []
    with pytest.raises(SystemExit) as exit_:
        _write_baseline(
            result_of([(Status.FAILED, Severity.HIGH, False)]),
            str(tmp_path / "b.json"),
            allow_incomplete=False,
            quiet=True,
            nothing=None,
            progress=events.append,
        )
    assert exit_.value.code == EXIT_OK
    assert [(e.phase, e.done, e.total) for e in events] == [("reports", 0, 1), ("reports", 1, 1)]
