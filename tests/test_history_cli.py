"""`--store` on scan/node/audit, `kubefort report diff`, and target detection (kubefort.history.target)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import FIXTURES, ROOT
from history_db import postgres, store_url  # noqa: F401 - fixtures
from kubefort.cli import cli
from kubefort.cli.report import SUBCOMMANDS
from kubefort.history.store import Store
from kubefort.history.target import for_audit, for_cluster, for_manifests, for_node, override, redact_url


def kf(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def app(tmp_path) -> Path:
    d = tmp_path / "app"
    shutil.copytree(ROOT / "examples" / "insecure-app", d)
    return d


def test_scan_store_then_diff(app, tmp_path, store_url):  # noqa: F811
    report = tmp_path / "r.json"
    res = kf("scan", str(app), "-o", f"json={report}", "--store", store_url)
    assert res.exit_code == 1  # the scan's own exit code
    assert report.is_file()
    assert "kubefort: stored scan " in res.stderr and f" of path:{app} in " in res.stderr
    text = (app / "app.yaml").read_text()
    (app / "app.yaml").write_text(text.replace("privileged: true", "privileged: false"))
    assert kf("scan", str(app), "-q", "--store", store_url).exit_code == 1
    res = kf("report", "diff", "--store", store_url, f"path:{app}@-1", "latest", "-o", "json")
    assert res.exit_code == 0
    d = json.loads(res.stdout)
    assert d["counts"] == {"new": 0, "fixed": 1, "unchanged": 83}
    assert [f["check_id"] for f in d["fixed"]] == ["KF-POD-001"]
    table = kf("report", "diff", "--store", store_url, f"path:{app}@-1", f"path:{app}@latest").stdout
    assert (
        f"fixed (1)\n  critical KF-POD-001    {app}/app.yaml:32  container 'metrics' sets securityContext.privileged=true"
        in table
    )
    assert "new (0)" in table and "fixed (1)" in table and "unchanged: 83" in table
    res = kf("report", "diff", "--store", store_url, "ffffff", "latest")
    assert res.exit_code == 2
    assert res.stderr == "kubefort: error: unknown scan 'ffffff': no stored scan id starts with it\n"
    with Store.open(store_url) as s:
        assert [x.kind for x in s.scans()] == ["manifests", "manifests"]


def test_store_failure_is_exit_2_and_the_report_is_still_written(app, tmp_path):
    db = tmp_path / "h.db"
    Store.open(f"sqlite:///{db}").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(30)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        report = tmp_path / "r.sarif"
        res = kf("scan", str(app), "-q", "-o", f"sarif={report}", "--store", f"sqlite:///{db}?timeout=0.2")
    finally:
        holder.kill()
        holder.wait()
    assert res.exit_code == 2
    assert res.stderr == (
        f"kubefort: error: cannot store the scan in sqlite:///{db}?timeout=0.2: "
        "the database is locked by another writer (waited 0.2 s)\n"
    )
    assert json.loads(report.read_text())["runs"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM scan").fetchone() == (0,)


def test_a_report_file_given_as_store(app, tmp_path):
    report = tmp_path / "r.json"
    kf("scan", str(app), "-q", "-o", f"json={report}")
    before = report.read_bytes()
    res = kf("scan", str(app), "-q", "-o", f"json={tmp_path / 'r2.json'}", "--store", f"sqlite:///{report}")
    assert res.exit_code == 2
    assert res.stderr == f"kubefort: error: cannot open the store sqlite:///{report}: not a SQLite database\n"
    assert (tmp_path / "r2.json").is_file() and report.read_bytes() == before


def test_password_is_never_printed(app):
    res = kf("scan", str(app), "-q", "--store", "postgresql://me:hunter2@127.0.0.1:1/db")
    assert res.exit_code == 2
    assert "hunter2" not in res.output + res.stderr
    assert res.stderr.startswith("kubefort: error: cannot open the store postgresql://me:***@127.0.0.1:1/db: ")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--store", "APP"), "'APP' is not a store URL (sqlite:///PATH or postgresql://...); to use the default"),
        (("APP", "--store-target", "x"), "--store-target needs --store"),
    ],
)
def test_store_usage_errors(app, args, needle):
    res = kf("scan", *[str(app) if a == "APP" else a for a in args])
    assert res.exit_code == 2
    assert needle.replace("APP", str(app)) in res.stderr


def test_store_alone_is_the_environment_or_the_default(app, tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "KUBEFORT_STORE": ""}
    assert kf("scan", str(app), "-q", "--store", env=env).exit_code == 1
    assert kf("scan", "--store=", str(app), "-q", "--store-target", "repo:mine", env=env).exit_code == 1
    with Store.open(f"sqlite:///{tmp_path}/data/kubefort/history.db") as s:
        assert [x.target for x in s.scans()] == [f"path:{app}", "repo:mine"]
    env["KUBEFORT_STORE"] = f"sqlite:///{tmp_path}/env.db"
    assert kf("scan", str(app), "-q", "--store", env=env).exit_code == 1
    assert kf("report", "diff", "latest", "latest", env=env).exit_code == 0
    with Store.open(env["KUBEFORT_STORE"]) as s:
        assert len(s.scans()) == 1


def test_node_and_audit_store(tmp_path):
    from test_node_layouts import kubeadm_tree

    url = f"sqlite:///{tmp_path}/h.db"
    root = tmp_path / "node"
    kubeadm_tree(root, "default")
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc" / "hostname").write_text("cp-1\n")
    assert kf("node", "--root", str(root), "-q", "--store", url).exit_code == 1
    log = FIXTURES / "audit" / "logs" / "plain.log"
    res = kf("audit", str(log), "-q", "--fail-on", "never", "--store", url)
    assert res.exit_code in (0, 3)
    with Store.open(url) as s:
        assert [(x.kind, x.target) for x in s.scans()] == [("node", "node:cp-1"), ("audit", f"audit:{log}")]


def test_report_group_lists_its_subcommands_lazily():
    res = kf("report", "--help")
    assert res.exit_code == 0
    listing = res.stdout.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listing] == sorted(SUBCOMMANDS)
    for line in listing:
        name, text = line.split(None, 1)
        assert SUBCOMMANDS[name][1].startswith(text.removesuffix("..."))


# ---------------------------------------------------------------------------------------------
# target detection
# ---------------------------------------------------------------------------------------------
def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    r = tmp_path / "repo"
    (r / "apps" / "a").mkdir(parents=True)
    (r / "apps" / "a" / "x.yaml").write_text("kind: ConfigMap\n")
    git(r, "init", "-q", "-b", "main")
    git(r, "-c", "user.email=t@e", "-c", "user.name=t", "add", ".")
    git(r, "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-q", "-m", "x")
    return r


def test_git_targets(repo):
    commit = git(repo, "rev-parse", "HEAD")
    t = for_manifests([str(repo)])
    assert (t.key, t.kind, t.scan_labels) == (f"repo:{repo}", "repo", {"commit": commit, "branch": "main"})
    git(repo, "remote", "add", "origin", "https://user:tok3n@git.example.com/org/app.git")
    t = for_manifests([str(repo / "apps" / "a")])
    assert t.key == "repo:https://git.example.com/org/app.git#apps/a"  # credentials dropped, the scanned part kept
    assert "tok3n" not in json.dumps([t.labels, t.scan_labels])
    assert (
        for_manifests([str(repo / "apps" / "a" / "x.yaml")]).key
        == "repo:https://git.example.com/org/app.git#apps/a/x.yaml"
    )
    git(repo, "checkout", "-q", "--detach")
    assert for_manifests([str(repo)]).scan_labels == {"commit": commit}


def test_targets_without_git(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert for_manifests([str(tmp_path)]).key == f"path:{tmp_path}"
    assert for_manifests(["-"]).key == "path:-"


def test_other_targets(tmp_path):
    t = for_cluster({"cluster": {"name": "prod", "server": "https://10.0.0.1:6443"}}, "snap.json.gz")
    assert (t.key, t.labels["server"], t.scan_labels["snapshot"]) == (
        "cluster:prod",
        "https://10.0.0.1:6443",
        str(Path("snap.json.gz").resolve()),
    )
    assert for_cluster({"cluster": {"name": "", "server": "https://k:6443"}}).key == "cluster:https://k:6443"
    assert for_node(str(tmp_path)).key == f"node:{tmp_path}"
    assert for_audit(["serve"]).key == "audit:serve"
    assert override(t, "cluster:eu-1").key == "cluster:eu-1" and override(t, "cluster:eu-1").kind == "cluster"
    assert override(t, "team-a").kind == "custom"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p%40ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:////x/h.db", "sqlite:////x/h.db"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown
