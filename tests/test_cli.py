"""The CLI end to end: exit codes, selection, config, exceptions, baselines, outputs, inputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, tool_missing

PRIV_POD = textwrap.dedent(
    """\
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
          allowPrivilegeEscalation: false
          runAsNonRoot: true
    """
)
CLEAN_POD = PRIV_POD.replace("privileged: true", "privileged: false")


def kf(
    *args: str, cwd: Path | None = None, stdin: bytes | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    e = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "kubefort", *args], capture_output=True, cwd=cwd, input=stdin, timeout=300, env=e
    )


def report(p: subprocess.CompletedProcess) -> dict:
    return json.loads(p.stdout)


def write(tmp: Path, name: str, text: str) -> Path:
    f = tmp / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)
    return f


def test_version_and_help():
    from kubefort import __version__

    # --version prints what `kubefort version` prints: kubefort's version first, then Python's and the YAML parsers
    assert kf("--version").stdout.decode().splitlines()[0] == f"kubefort {__version__}"
    h = kf("scan", "--help").stdout.decode()
    for word in ("--fail-on", "--baseline", "--checks", "Exit codes", "not evaluated"):
        assert word in h


@pytest.mark.slow  # ~10 kubefort subprocesses: ~7 s
def test_exit_codes(tmp_path):
    bad = write(tmp_path, "bad.yaml", PRIV_POD)
    good = write(tmp_path, "good.yaml", CLEAN_POD)
    broken = write(tmp_path, "broken.yaml", "a: [1\n")
    assert kf("scan", str(good), "-q").returncode == 0
    assert kf("scan", str(bad), "-q").returncode == 1
    assert kf("scan", str(bad), "-q", "--fail-on", "never").returncode == 0
    assert kf("scan", str(good), "-q", "--checks", "KF-POD-001", "--fail-on", "critical").returncode == 0
    assert kf("scan", str(broken), "-q").returncode == 3
    assert kf("scan", str(broken), "-q", "--allow-incomplete").returncode == 0
    assert kf("scan", str(broken), str(bad), "-q", "--allow-incomplete").returncode == 1
    assert kf("scan", str(tmp_path / "missing.yaml"), "-q").returncode == 2


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--checks", "KF-POD-999"], "unknown check"),
        (["--skip-checks", "not-a-check"], "unknown check"),
        (["--skip-checks", "KF-INPUT-001"], "cannot be skipped"),
        (["--fail-on", "urgent"], "unknown severity"),
        (["-o", "xml"], "unknown format"),
        (["--baseline", "/nonexistent/baseline.json"], "cannot read baseline"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, needle):
    f = write(tmp_path, "p.yaml", CLEAN_POD)
    p = kf("scan", str(f), *args)
    assert p.returncode == 2 and needle in p.stderr.decode()


@pytest.mark.slow  # ~8 kubefort subprocesses: ~2.5 s
def test_selection_by_prefix_name_and_severity(tmp_path):
    f = write(tmp_path, "p.yaml", PRIV_POD)
    ids = lambda p: {m["id"] for m in report(p)["checks"]}
    assert ids(kf("scan", str(f), "-o", "json", "--checks", "KF-POD-00")) >= {"KF-POD-001", "KF-POD-006"}
    assert "KF-IMG-001" not in ids(kf("scan", str(f), "-o", "json", "--checks", "KF-POD"))
    only = ids(kf("scan", str(f), "-o", "json", "--checks", "privileged-container"))
    assert {i for i in only if not i.startswith("KF-INPUT")} == {"KF-POD-001"}
    crit = ids(kf("scan", str(f), "-o", "json", "--severity", "critical"))
    from kubefort.registry import REGISTRY

    expected = {m.id for m in REGISTRY if m.severity.label == "critical" and m.target != "input"}
    assert "KF-POD-001" in expected and {i for i in crit if not i.startswith("KF-INPUT")} == expected


def test_multiple_outputs_and_output_file(tmp_path):
    f = write(tmp_path, "p.yaml", PRIV_POD)
    p = kf(
        "scan",
        str(f),
        "--checks",
        "KF-POD-001",
        "-o",
        "table",
        "-o",
        f"json={tmp_path / 'r.json'}",
        "-o",
        f"sarif={tmp_path / 'r.sarif'}",
        "-o",
        f"junit={tmp_path / 'r.xml'}",
    )
    assert p.returncode == 1 and b"KF-POD-001" in p.stdout
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["outcomes"]["failed"] == 1
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")
    kf("scan", str(f), "-o", "json", "--output-file", str(tmp_path / "o.json"))
    assert json.loads((tmp_path / "o.json").read_text())["tool"]["name"] == "kubefort"


def test_stdin_json_and_list(tmp_path):
    p = kf("scan", "-", "-o", "json", "--checks", "KF-POD-001", stdin=PRIV_POD.encode())
    rep = report(p)
    (fail,) = [r for r in rep["results"] if r["outcome"] == "failed"]
    assert fail["file"] == "-" and fail["line"] == 11
    lst = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "a"},
                "spec": {"containers": [{"name": "c", "image": "x:1", "securityContext": {"privileged": True}}]},
            }
        ],
    }
    f = write(tmp_path, "list.json", json.dumps(lst, indent=1))
    rep = report(kf("scan", str(f), "-o", "json", "--checks", "KF-POD-001"))
    (fail,) = [r for r in rep["results"] if r["outcome"] == "failed"]
    assert fail["resource"]["name"] == "a" and fail["line"] == 17


def test_directory_walk_and_exclude(tmp_path):
    write(tmp_path, "a/p.yaml", PRIV_POD)
    write(tmp_path, "a/b/q.yml", PRIV_POD.replace("name: web", "name: q"))
    write(tmp_path, "a/testdata/r.yaml", PRIV_POD.replace("name: web", "name: r"))
    write(tmp_path, "a/.hidden/s.yaml", PRIV_POD.replace("name: web", "name: s"))
    write(tmp_path, "a/notes.txt", "not yaml")
    rep = report(kf("scan", str(tmp_path / "a"), "-o", "json", "--exclude", "testdata"))
    assert sorted(o["name"] for o in rep["objects"]) == ["q", "web"]


def test_config_exceptions_expiry_and_unused(tmp_path):
    write(tmp_path, "p.yaml", PRIV_POD)
    write(
        tmp_path,
        ".kubefort.yaml",
        textwrap.dedent(
            """\
            exceptions:
              - checks: [privileged-container]
                namespaces: [shop]
                names: ["we*"]
                reason: VPN gateway needs /dev/net/tun
                expires: 2999-01-01
              - checks: [KF-POD-002]
                reason: nothing matches this one
              - checks: [KF-IMG-001]
                reason: expired long ago
                expires: 2001-01-01
            """
        ),
    )
    p = kf("scan", str(tmp_path), "-o", "json", "--checks", "KF-POD-001,KF-POD-002,KF-IMG-001")
    rep = report(p)
    assert p.returncode == 0
    (s,) = [r for r in rep["results"] if r["outcome"] == "suppressed"]
    assert (
        s["check_id"] == "KF-POD-001"
        and s["suppression"]["kind"] == "config"
        and s["suppression"]["expires"] == "2999-01-01"
    )
    assert any("KF-POD-002" in u for u in rep["exceptions"]["unused"])
    assert any("KF-IMG-001" in e for e in rep["exceptions"]["expired"])
    assert kf("scan", str(tmp_path), "-o", "json", "--no-config", "--checks", "KF-POD-001").returncode == 1


@pytest.mark.parametrize(
    "cfg,needle",
    [
        ("exceptions: [{checks: [KF-POD-001]}]\n", "reason"),
        ("exceptions: [{checks: [KF-NOPE-001], reason: x}]\n", "unknown check"),
        ("exceptions: [{checks: [KF-POD-001], reason: x, expires: someday}]\n", "YYYY-MM-DD"),
        ("exceptions: [{checks: [KF-POD-001], reason: x, namespace: y}]\n", "unknown key"),
        ("colour: red\n", "unknown key"),
        ("a: [1\n", "YAML error"),
    ],
)
def test_invalid_config_is_a_usage_error(tmp_path, cfg, needle):
    write(tmp_path, "p.yaml", PRIV_POD)
    write(tmp_path, ".kubefort.yaml", cfg)
    p = kf("scan", str(tmp_path / "p.yaml"))
    assert p.returncode == 2 and needle in p.stderr.decode(), p.stderr.decode()


@pytest.mark.slow  # ~6 kubefort subprocesses: 1.8-2.8 s
def test_baseline_round_trip_and_stable_fingerprints(tmp_path):
    f = write(tmp_path, "p.yaml", PRIV_POD)
    base = tmp_path / "baseline.json"
    # accepting today's findings succeeds (exit 0, not the findings code 1): tests/test_cli_verdict.py
    assert kf("scan", str(f), "-q", "--write-baseline", str(base)).returncode == 0
    assert kf("scan", str(f), "-q", "--baseline", str(base)).returncode == 0
    # unrelated lines move: the fingerprint stays, the finding stays baselined
    f.write_text("# a new comment\n\n" + PRIV_POD.replace("metadata:\n", "metadata:\n  labels: {team: a}\n"))
    rep = report(kf("scan", str(f), "-o", "json", "--baseline", str(base)))
    assert [r["outcome"] for r in rep["results"] if r["check_id"] == "KF-POD-001"] == ["suppressed"]
    # a new finding is not in the baseline
    f.write_text(PRIV_POD.replace("image: nginx:1.27", "image: nginx"))
    p = kf("scan", str(f), "-o", "json", "--baseline", str(base), "--fail-on", "medium")
    assert p.returncode == 1
    assert [r["check_id"] for r in report(p)["results"] if r["outcome"] == "failed"] == ["KF-IMG-001"]


def test_crd_workloads_by_walker_and_by_config(tmp_path):
    write(
        tmp_path,
        "crds.yaml",
        textwrap.dedent(
            """\
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata: {name: kn}
            spec:
              template:
                spec:
                  containers:
                  - image: ghcr.io/x/y:1
                    securityContext: {privileged: true}
            ---
            apiVersion: example.com/v1
            kind: Runner
            metadata: {name: runner}
            spec:
              podTemplate:
                body:
                  containers:
                  - {name: r, image: "x:1", securityContext: {privileged: true}}
            """
        ),
    )
    rep = report(kf("scan", str(tmp_path / "crds.yaml"), "-o", "json", "--checks", "KF-POD-001"))
    assert sorted((r["resource"]["name"], r["line"]) for r in rep["results"] if r["outcome"] == "failed") == [
        ("kn", 9),
        ("runner", 18),
    ]
    write(tmp_path, ".kubefort.yaml", "pod_template_paths:\n  - kind: Runner\n    paths: [spec.podTemplate.body]\n")
    rep = report(kf("scan", str(tmp_path / "crds.yaml"), "-o", "json", "--checks", "KF-POD-001"))
    assert len([r for r in rep["results"] if r["outcome"] == "failed"]) == 2


@pytest.mark.slow  # serial and 2-worker scans: 1.5-3.1 s
def test_parallel_and_serial_scans_agree(tmp_path):
    for i in range(40):
        write(tmp_path, f"d/p{i:02}.yaml", PRIV_POD.replace("name: web", f"name: web{i}") + "# " + "x" * 200_000 + "\n")
    # enough cross-object input (RBAC, namespaces) for the cluster phase to fork as well
    rbac = []
    for i in range(120):
        rbac.append(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{i}}}\n")
        rbac.append(
            f"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: rb{i}, namespace: ns{i}}}\n"
            f"subjects: [{{kind: ServiceAccount, name: default, namespace: ns{i}}}]\n"
            f"roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {'edit' if i % 2 else 'view'}}}\n"
        )
    write(tmp_path, "d/rbac.yaml", "---\n".join(rbac))
    serial = report(kf("scan", str(tmp_path / "d"), "-o", "json", "-j", "1"))
    parallel = report(kf("scan", str(tmp_path / "d"), "-o", "json", "-j", "2"))
    for r in (serial, parallel):
        r["summary"].pop("duration_s", None)
    assert serial["results"] == parallel["results"] and serial["summary"] == parallel["summary"]


def test_checks_and_explain():
    p = kf("checks", "-o", "json")
    ids = [c["id"] for c in json.loads(p.stdout)]
    assert "KF-POD-001" in ids and ids == sorted(ids)
    e = kf("explain", "privileged-container", "-o", "markdown").stdout.decode()
    for section in (
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "## How to fix",
        "## References",
        "CKV_K8S_16",
    ):
        assert section in e
    assert kf("explain", "KF-NOPE-001").returncode == 2


def _tool(name: str, env: str) -> str | None:
    import shutil

    cand = os.environ.get(env) or str(
        Path(os.environ.get("KUBEFORT_TOOLS_DIR", Path.home() / ".cache/kubefort/tools")) / "bin" / name
    )
    return cand if os.path.isfile(cand) else shutil.which(name)


@pytest.mark.tools  # runs the real binary found by _tool()
def test_helm_chart_is_rendered_and_findings_point_at_the_template(tmp_path):
    helm = _tool("helm", "KUBEFORT_HELM")
    if helm is None:
        tool_missing("helm not found")
    write(tmp_path, "chart/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
    write(tmp_path, "chart/values.yaml", "privileged: false\n")
    write(
        tmp_path,
        "chart/templates/pod.yaml",
        PRIV_POD.replace("privileged: true", "privileged: {{ .Values.privileged }}"),
    )
    env = {"KUBEFORT_HELM": helm}
    assert kf("scan", str(tmp_path / "chart"), "-q", "--checks", "KF-POD-001", env=env).returncode == 0
    p = kf("scan", str(tmp_path / "chart"), "-o", "json", "--checks", "KF-POD-001", "--set", "privileged=true", env=env)
    (fail,) = [r for r in report(p)["results"] if r["outcome"] == "failed"]
    assert fail["file"].endswith("chart/templates/pod.yaml") and fail["line"] is None
    p = kf("scan", str(tmp_path / "chart"), "-q", env={"KUBEFORT_HELM": str(tmp_path / "no-helm")})
    assert p.returncode == 3


@pytest.mark.tools  # runs the real binary found by _tool()
def test_kustomize_directory_is_rendered(tmp_path):
    kz = _tool("kustomize", "KUBEFORT_KUSTOMIZE")
    if kz is None:
        tool_missing("kustomize not found")
    write(tmp_path, "k/pod.yaml", CLEAN_POD)
    write(tmp_path, "k/kustomization.yaml", "resources: [pod.yaml]\nnamespace: prod\n")
    rep = report(kf("scan", str(tmp_path / "k"), "-o", "json", env={"KUBEFORT_KUSTOMIZE": kz}))
    assert [(o["name"], o["namespace"]) for o in rep["objects"]] == [("web", "prod")]
    assert rep["inputs"][0]["kind"] == "kustomize"


def test_make_demo_examples():
    clean = kf("scan", str(ROOT / "examples" / "hardened-app"), "-q")
    assert clean.returncode == 0, clean.stdout.decode()
    dirty = kf("scan", str(ROOT / "examples" / "insecure-app"), "-o", "json")
    assert dirty.returncode == 1
    failed = {r["check_id"] for r in report(dirty)["results"] if r["outcome"] == "failed"}
    assert {"KF-POD-001", "KF-POD-002", "KF-POD-004", "KF-SEC-001", "KF-IMG-001"} <= failed


def test_passes_are_counted_the_same_whether_or_not_they_are_listed(tmp_path: Path) -> None:
    """Without --include-passed or a JUnit report, passes are counted, not kept as objects: the
    summary, the findings and the exit code must not change."""

    def scan(*extra: str) -> tuple[int, dict]:
        out = tmp_path / f"r{len(extra)}.json"
        r = subprocess.run(
            [sys.executable, "-m", "kubefort", "scan", str(ROOT / "examples"), "-o", f"json={out}", "-q", *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return r.returncode, json.loads(out.read_text())

    code_a, lean = scan()
    code_b, full = scan("--include-passed", "-o", f"junit={tmp_path / 'j.xml'}")
    assert code_a == code_b
    assert lean["summary"]["outcomes"] == full["summary"]["outcomes"]
    assert lean["summary"]["outcomes"]["passed"] > 0
    assert lean["results"] == [r for r in full["results"] if r["outcome"] != "passed"]
    assert (tmp_path / "j.xml").read_text().count("<testcase") == sum(full["summary"]["outcomes"].values())


# ---------------------------------------------------------------------------------------------
# smaller things a user meets every day: version, "did you mean", unknown areas, completion,
# Helm options without a chart
# ---------------------------------------------------------------------------------------------
def invoke(*args: str):
    from click.testing import CliRunner

    from kubefort.cli import cli

    return CliRunner().invoke(cli, list(args))


def test_version_command_and_option_agree():
    import platform

    from kubefort import __version__

    res = invoke("version")
    assert res.exit_code == 0 and invoke("--version").output == res.output == invoke("-V").output
    lines = res.output.splitlines()
    assert lines[0] == f"kubefort {__version__}"
    assert lines[1].startswith(f"Python {platform.python_version()} (")
    # both YAML parsers, with their versions, are in this environment (a wheel missing one says so)
    assert re.fullmatch(r"rapidyaml \d+\.\d+\.\d+: available \(fast YAML path\)", lines[2]), lines[2]
    assert re.fullmatch(r"libyaml \d+\.\d+\.\d+: available \(exact YAML path\)", lines[3]), lines[3]


def test_version_names_a_missing_parser(monkeypatch):
    from kubefort.cli import version as version_mod
    from kubefort.loaders.yamlparse import exact, fast

    monkeypatch.setattr(fast, "ryml", None)
    monkeypatch.setattr(exact, "HAVE_LIBYAML", False)
    lines = version_mod.version_text().splitlines()
    assert lines[2] == "rapidyaml: not available (every file takes the exact path, more slowly)"
    assert lines[3] == "libyaml: not available (PyYAML's pure-Python parser is used, much more slowly)"


@pytest.mark.parametrize(
    "typo,suggested",
    [
        ("KF-POD-00l", "KF-POD-001"),
        ("kf-pod-0001", "KF-POD-001"),
        ("privileged-containers", "privileged-container"),
        ("privilegd-container", "privileged-container"),
        ("KF-PDO", "KF-POD"),
    ],
)
def test_unknown_checks_suggest_the_closest(typo, suggested):
    f = str(ROOT / "examples" / "hardened-app")
    for args in (["scan", f, "--checks", f"KF-IMG-001,{typo}"], ["scan", f, "--skip-checks", typo]):
        res = invoke(*args)
        assert res.exit_code == 2 and f"unknown check '{typo}'; did you mean " in res.stderr, res.stderr
        assert suggested in res.stderr.split("did you mean", 1)[1]
    if typo != "KF-PDO":  # explain takes one check, not an area
        res = invoke("explain", typo)
        assert res.exit_code == 2 and f"did you mean {suggested}" in res.stderr.replace(",", " ")


def test_nothing_close_suggests_nothing():
    res = invoke("explain", "zzzzzz")
    assert res.exit_code == 2 and "unknown check 'zzzzzz' (see `kubefort checks`)" in res.stderr


def test_explain_of_an_area_points_at_checks():
    res = invoke("explain", "KF-POD")
    assert res.exit_code == 2 and "`kubefort checks --area POD` lists its checks" in res.stderr


def test_checks_area():
    from kubefort.registry import load_builtin_checks

    areas = sorted({m.area for m in load_builtin_checks()})
    for area in areas:
        for spelled in (area, area.lower(), f"KF-{area}"):
            res = invoke("checks", "--area", spelled, "-o", "json")
            assert res.exit_code == 0 and {c["id"].split("-")[1] for c in json.loads(res.stdout)} == {area}
    res = invoke("checks", "--area", "FOO")
    assert res.exit_code == 2 and f"unknown area 'FOO' (known areas: {', '.join(areas)})" in res.stderr
    res = invoke("checks", "--area", "PDO")
    assert res.exit_code == 2 and "did you mean POD?" in res.stderr


def complete(args: list[str], incomplete: str) -> list[str]:
    from click.shell_completion import ShellComplete

    from kubefort.cli import cli

    comp = ShellComplete(cli, {}, "kubefort", "_KUBEFORT_COMPLETE")
    return [c.value for c in comp.get_completions(args, incomplete)]


def test_completion_of_checks_formats_and_areas():
    from kubefort.registry import load_builtin_checks

    reg = load_builtin_checks()
    pod_ids = sorted(m.id for m in reg if m.id.startswith("KF-POD-00"))
    assert complete(["explain"], "KF-POD-00") == pod_ids
    assert complete(["explain"], "kf-pod-00") == pod_ids
    assert complete(["explain"], "privileged-c") == ["privileged-container"]
    assert complete(["scan", "--checks"], "KF-PO") == ["KF-POD", *sorted(m.id for m in reg if m.area == "POD")]
    assert complete(["scan", "--skip-checks"], "KF-POD-001,KF-POD-00") == [f"KF-POD-001,{i}" for i in pod_ids]
    assert complete(["scan", "-o"], "") == ["json", "junit", "prometheus", "sarif", "table"]
    assert complete(["scan", "-o"], "j") == ["json", "junit"]
    assert complete(["node", "-o"], "s") == ["sarif"]
    assert complete(["checks", "-o"], "") == ["table", "json", "markdown"]
    assert complete(["checks", "--area"], "kf-p") == ["POD", "PSA", "PSS"]


def test_completion_through_the_shell_protocol():
    env = {"_KUBEFORT_COMPLETE": "bash_source"}
    script = kf(env=env).stdout.decode()
    assert "_kubefort_completion" in script and "complete " in script
    env = {"_KUBEFORT_COMPLETE": "bash_complete", "COMP_WORDS": "kubefort explain privileged-c", "COMP_CWORD": "2"}
    assert kf(env=env).stdout.decode().splitlines() == ["plain,privileged-container"]


def test_helm_options_without_a_chart_are_refused(tmp_path):
    pod = write(tmp_path, "p.yaml", CLEAN_POD)
    values = write(tmp_path, "values.yaml", "replicas: 1\n")
    for extra in (["-f", str(values)], ["--set", "image.tag=1"], ["--values", str(values), "--set", "a=b"]):
        res = invoke("scan", str(pod), *extra)
        assert res.exit_code == 2 and "apply to Helm charts, and no PATH is a directory with a Chart.yaml" in res.stderr
    chart = tmp_path / "chart"
    write(chart, "Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
    res = invoke("scan", str(chart), "--no-render", "--set", "a=b")
    assert res.exit_code == 2 and "--no-render reads charts as plain files" in res.stderr
    res = invoke("scan", "--cluster", "--set", "a=b")
    assert res.exit_code == 2 and "not to a cluster or a snapshot" in res.stderr
