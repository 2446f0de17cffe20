"""Files a command cannot use end in one line, `kubefort: error: ...`, and exit 2: never a traceback.

Every command of the `kubefort` group is found by walking the group (a new command is covered
without touching this file); each of its file parameters (the `InputFile`, `InputDir` and
`OutputFile` types of `kubefort.cli.params`, `-o FORMAT[=FILE]`, the PATH arguments) is given,
one at a time, files that cannot be read or written. Files whose content is not what they claim
(a baseline, a config, a snapshot, a kubeconfig), writes that fail after the check passed, and
the pure checks themselves are tested below.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from kubefort.cli import cli
from kubefort.cli import params as params_mod
from kubefort.cli.params import FileError, InputDir, InputFile, OutputDir, OutputFile, read_problem, write_problem

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  containers:
  - name: app
    image: nginx:1.27
"""


# ---------------------------------------------------------------------------------------------
# the commands and their file parameters, found by walking the group
# ---------------------------------------------------------------------------------------------
def leaf_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every runnable command of `kubefort`, with its path (("rbac", "who-can"))."""
    ctx = click.Context(cli, info_name="kubefort")
    out: list[tuple[tuple[str, ...], click.Command]] = []

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None, name
            if isinstance(cmd, click.Group):
                walk(cmd, (*path, name))
            else:
                out.append(((*path, name), cmd))

    walk(cli, ())
    return out


COMMANDS = leaf_commands()
# arguments that name inputs to scan (a missing one is a file error), by parameter name
INPUT_PATH_ARGS = {"paths", "old", "new", "flow_files"}  # files the command opens itself ("-": stdin)
# parameter names that suggest a file: each must have a file role (so a file type of params)
FILEISH = re.compile(r"file|path|config|baseline|values|dump|root|proc|output|out\b|dir")
NOT_FILES = {"max_file_size"}  # names that match FILEISH but are no file


def file_role(p: click.Parameter) -> str | None:
    """What kind of file a parameter names: output, input, input-dir, report (-o FORMAT[=FILE])
    or path (PATHs to scan); None for other parameters."""
    if isinstance(p.type, OutputFile):
        return "output"
    if isinstance(p.type, OutputDir):
        return "output-dir"
    if isinstance(p.type, InputDir):
        return "input-dir"
    if isinstance(p.type, InputFile):
        return "input"
    if isinstance(p, click.Option) and p.metavar == "FORMAT[=FILE]":
        return "report"
    if p.name in INPUT_PATH_ARGS:  # arguments, and netpol observe's -m/--manifests PATHs
        return "path"
    return None


def test_the_walk_finds_every_command():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"scan", "checks", "explain", "version", "node", "cluster snapshot", "db update", "netpol generate"} <= names
    assert {"rbac who-can", "rbac permissions", "rbac paths", "netpol matrix", "netpol explain", "netpol diff"} <= names


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_file_parameter_uses_a_checked_file_type(path, cmd):
    """click.Path/click.File would fail with a multi-line usage error (or not at all, for an
    output): every file parameter uses InputFile, InputDir or OutputFile instead."""
    for p in cmd.params:
        assert not isinstance(p.type, click.Path | click.File), f"{' '.join(path)} {p.name}: use kubefort.cli.params"
        if isinstance(p, click.Option) and (p.is_flag or isinstance(p.type, click.Choice)):
            continue
        if p.name and FILEISH.search(p.name) and p.name not in NOT_FILES:
            assert file_role(p) is not None, f"{' '.join(path)} {p.name} looks like a file but has no file type"


class Tree:
    """A scratch directory with a manifest, a regular file and a directory to misuse."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest = root / "app" / "pod.yaml"
        self.manifest.parent.mkdir()
        self.manifest.write_text(POD)
        self.file = root / "a-file"
        self.file.write_text("x")
        self.dir = root / "a-dir"
        self.dir.mkdir()

    def bad_outputs(self) -> list[str]:
        return [str(self.root / "missing" / "out.json"), str(self.file / "out.json"), str(self.dir)]

    def bad_inputs(self) -> list[str]:
        return [str(self.root / "missing.yaml"), str(self.dir), str(self.file / "x.yaml")]

    def bad_dirs(self) -> list[str]:
        return [str(self.root / "missing"), str(self.file), str(self.file / "x")]

    def bad_paths(self) -> list[str]:
        return [str(self.root / "missing.yaml"), str(self.file / "x.yaml")]


def base_value(p: click.Parameter, tree: Tree) -> list[str]:
    """A valid value for a required parameter (what a minimal invocation needs)."""
    by_name = {
        "paths": [str(tree.manifest)],
        "flow_files": [str(tree.file)],
        "old": [str(tree.manifest.parent)],
        "new": [str(tree.manifest.parent)],
        "verb": ["get"],
        "resource": ["pods"],
        "subject": ["User:alice"],
        "src": ["shop/web"],
        "dst": ["shop/web"],
        "check": ["KF-POD-001"],
        "allows": ["shop/web:shop/web"],
        # serving certificate and key of the HTTPS commands (read at start, after parsing)
        "tls_cert_file": [str(tree.file)],
        "tls_private_key_file": [str(tree.file)],
    }
    if file_role(p) == "output":
        return [str(tree.root / f"{p.name}.out")]
    assert p.name in by_name, f"add a valid value for the required parameter {p.name!r} to base_value()"
    return by_name[p.name]


def invocation(path: tuple[str, ...], cmd: click.Command, tree: Tree, bad: click.Parameter, value: str) -> list[str]:
    """`kubefort PATH...` with the required parameters set to valid values and `bad` set to `value`."""
    options: list[str] = []
    arguments: list[str] = []
    for p in cmd.params:
        if p is bad:
            values = [value]
        elif p.required or p.name in INPUT_PATH_ARGS:  # (scan's PATHs are optional: --cluster)
            values = base_value(p, tree)
        else:
            continue
        if isinstance(p, click.Option):
            for v in values:
                options += [p.opts[0], v]
        else:
            arguments += values
    return [*path, *options, *arguments]


def bad_values(role: str, tree: Tree) -> list[str]:
    return {
        "output": tree.bad_outputs(),
        "report": [f"json={v}" for v in tree.bad_outputs()],
        "input": tree.bad_inputs(),
        "input-dir": tree.bad_dirs(),
        "output-dir": [str(tree.file), str(tree.file / "x")],
        "path": tree.bad_paths(),
    }[role]


def cases() -> Iterator[tuple[tuple[str, ...], click.Command, str]]:
    for path, cmd in COMMANDS:
        for p in cmd.params:
            if file_role(p) is not None:
                assert p.name is not None
                yield path, cmd, p.name


CASES = list(cases())


def assert_one_line_error(res: Result, *needles: str) -> None:
    assert isinstance(res.exception, SystemExit), res.exception  # not an uncaught exception
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kubefort: error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_every_command_with_a_file_parameter_is_covered():
    covered = {path for path, _, _ in CASES}
    for path in [("scan",), ("node",), ("cluster", "snapshot"), ("db", "update"), ("netpol", "generate")]:
        assert path in covered
    roles = {file_role(next(p for p in cmd.params if p.name == name)) for _, cmd, name in CASES}
    assert roles == {"output", "input", "input-dir", "output-dir", "report", "path"}


@pytest.mark.parametrize("path,cmd,name", CASES, ids=[f"{' '.join(p)} {n}" for p, _, n in CASES])
def test_unusable_files_are_one_line_errors(tmp_path, path, cmd, name):
    tree = Tree(tmp_path)
    param = next(p for p in cmd.params if p.name == name)
    role = file_role(param)
    assert role is not None
    for value in bad_values(role, tree):
        res = CliRunner().invoke(cli, invocation(path, cmd, tree, param, value))
        assert_one_line_error(res, value.partition("=")[2] if role == "report" else value)
        # an output is checked, never created early
        assert not (tmp_path / "missing").exists()


# ---------------------------------------------------------------------------------------------
# files that exist but are not what they claim to be
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def tree(tmp_path) -> Tree:
    return Tree(tmp_path)


def test_a_file_that_is_not_a_baseline(tree):
    for text in ("not json", '{"format": "other"}', '{"format": "kubefort-baseline/v1", "findings": [1]}'):
        tree.file.write_text(text)
        for command in (["scan", str(tree.manifest)], ["node", "--root", str(tree.dir)]):
            res = CliRunner().invoke(cli, [*command, "--baseline", str(tree.file)])
            assert_one_line_error(res, f"cannot read baseline {tree.file}")


@pytest.mark.parametrize("text", ["a: [1\n", "checks: 5\n", "- a list\n", "unknown_key: 1\n"])
def test_an_invalid_config_is_one_line(tree, text):
    tree.file.write_text(text)
    for command in (["scan", str(tree.manifest)], ["node", "--root", str(tree.dir)]):
        assert_one_line_error(CliRunner().invoke(cli, [*command, "--config", str(tree.file)]), "invalid config")


@pytest.mark.parametrize(
    "text",
    [
        '{"kind":"KubefortClusterSnapshot", not json\n',
        '{"kind":"KubefortClusterSnapshot","version":999,"pages":[\n',
        '{"kind":"KubefortClusterSnapshot","version":1,"pages":[\n',
    ],
)
def test_a_damaged_snapshot_is_one_line(tree, text):
    snap = tree.root / "snap.json"
    snap.write_text(text)
    assert_one_line_error(CliRunner().invoke(cli, ["scan", str(snap)]), f"cannot read snapshot {snap}")
    assert_one_line_error(CliRunner().invoke(cli, ["rbac", "paths", str(snap)]), f"cannot read snapshot {snap}")


@pytest.mark.parametrize(
    "text",
    ["a: [\n", "apiVersion: v1\nkind: Config\n", "contexts: 5\ncurrent-context: x\n", "current-context: nope\n"],
)
def test_an_unusable_kubeconfig_is_one_line(tree, text):
    tree.file.write_text(text)
    for command in (["scan", "--cluster"], ["cluster", "snapshot", "-o", str(tree.root / "s.json")]):
        assert_one_line_error(CliRunner().invoke(cli, [*command, "--kubeconfig", str(tree.file)]))
    assert not (tree.root / "s.json").exists()


def test_a_cve_feed_that_cannot_be_read_or_a_cache_that_cannot_be_written(tree, monkeypatch):
    tree.file.write_text("not json")
    res = CliRunner().invoke(cli, ["db", "update", "--from-file", str(tree.file)])
    assert_one_line_error(res, "could not read the CVE feed")
    # the user copy's directory cannot be created under a file: refused before reading the feed
    monkeypatch.setenv("XDG_CACHE_HOME", str(tree.file))
    res = CliRunner().invoke(cli, ["db", "update", "--from-file", str(tree.manifest)])
    assert_one_line_error(res, "cannot write the CVE data", f"{tree.file} is not a directory")


# ---------------------------------------------------------------------------------------------
# writes that fail after the early check passed (a directory removed, a full disk)
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def no_early_check(monkeypatch):
    """Every output passes the early check, so the write itself fails."""
    monkeypatch.setattr(params_mod, "write_problem", lambda *_a, **_k: None)


def test_a_report_write_that_fails_is_one_line(tree, no_early_check):
    dest = str(tree.root / "gone" / "r.json")
    res = CliRunner().invoke(cli, ["scan", str(tree.manifest), "-q", "-o", f"json={dest}", "-o", "table"])
    assert_one_line_error(res, f"cannot write json report {dest}: no such file or directory")
    assert res.stdout == ""  # report files are written before the one on stdout


def test_a_baseline_write_that_fails_is_one_line(tree, no_early_check):
    dest = str(tree.file / "b.json")
    res = CliRunner().invoke(cli, ["scan", str(tree.manifest), "-q", "--write-baseline", dest])
    assert_one_line_error(res, f"cannot write baseline {dest}: not a directory")


def test_a_policies_write_that_fails_is_one_line(tree, no_early_check):
    dest = str(tree.dir)
    res = CliRunner().invoke(
        cli, ["netpol", "generate", str(tree.manifest), "--allow", "shop/web:shop/web", "--out", dest]
    )
    assert_one_line_error(res, f"cannot write policies file {dest}")


def test_a_dump_write_that_fails_is_one_line(tree, no_early_check):
    dest = str(tree.root / "gone" / "dump.yaml")
    res = CliRunner().invoke(cli, ["node", "--root", str(tree.dir), "-q", "--dump", dest])
    assert_one_line_error(res, f"cannot write dump {dest}")


def test_a_cve_cache_write_that_fails_is_one_line(tree, no_early_check, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tree.file))
    sample = Path(__file__).parent / "fixtures" / "vulndb" / "official-cve-feed-sample.json"
    res = CliRunner().invoke(cli, ["db", "update", "--from-file", str(sample)])
    assert_one_line_error(res, "cannot write the CVE data")


def test_any_os_error_that_escapes_a_command_is_one_line(tree, monkeypatch):
    """The group's last line of defence: an OSError no command expected (here from the driver)."""
    from kubefort.drivers import manifests

    def fail(*_a, **_k):
        raise OSError(errno.EIO, "Input/output error", "/dev/sdz")

    monkeypatch.setattr(manifests, "scan", fail)
    res = CliRunner().invoke(cli, ["scan", str(tree.manifest), "-q"])
    assert_one_line_error(res, "cannot use /dev/sdz: input/output error")


def test_a_closed_stdout_stays_clicks_to_handle(tree, monkeypatch):
    from kubefort.drivers import manifests

    def fail(*_a, **_k):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(manifests, "scan", fail)
    res = CliRunner().invoke(cli, ["scan", str(tree.manifest), "-q"])
    assert res.exit_code == 1 and "kubefort: error" not in res.output  # click's own EPIPE exit


def test_the_installed_command_prints_no_traceback(tree):
    """The real entry point (not CliRunner): the issue's examples, each one line and exit 2."""
    for args in (
        ["-o", f"json={tree.root / 'no' / 'x.json'}"],
        ["--output-file", str(tree.root / "no" / "x.json")],
        ["--write-baseline", str(tree.root / "no" / "b.json")],
    ):
        p = subprocess.run(
            [sys.executable, "-m", "kubefort", "scan", str(tree.manifest), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("kubefort: error: cannot write"), p.stderr


# ---------------------------------------------------------------------------------------------
# the pure checks: they agree with what really happens, for any arrangement of files
# ---------------------------------------------------------------------------------------------
NODE = st.sampled_from(["missing", "file", "dir"])


def build(root: Path, kinds: list[str]) -> Path:
    """A path of len(kinds) components under root; each exists as kinds[i] says (as far as its
    parent allows: nothing exists under a file or a missing directory)."""
    p = root
    for i, kind in enumerate(kinds):
        p = p / f"c{i}"
        if not p.parent.is_dir():
            continue
        if kind == "file":
            p.write_text("content")
        elif kind == "dir":
            p.mkdir()
    return p


@settings(max_examples=150, deadline=None)
@given(kinds=st.lists(NODE, min_size=1, max_size=4), make_parents=st.booleans())
def test_write_problem_is_none_exactly_when_the_write_succeeds(kinds, make_parents):
    from kubefort.fileio import write_atomically

    with tempfile.TemporaryDirectory() as d:
        target = build(Path(d), kinds)
        problem = write_problem(str(target), make_parents=make_parents)
        try:
            write_atomically(target, "report", make_parents=make_parents)
            wrote = True
        except OSError:
            wrote = False
        assert (problem is None) == wrote, (kinds, problem)


@settings(max_examples=150, deadline=None)
@given(kinds=st.lists(NODE, min_size=1, max_size=4), directory=st.booleans())
def test_read_problem_is_none_exactly_when_the_read_succeeds(kinds, directory):
    with tempfile.TemporaryDirectory() as d:
        target = build(Path(d), kinds)
        problem = read_problem(str(target), directory=directory)
        try:
            if directory:
                os.listdir(target)
                assert target.is_dir()
            else:
                target.read_bytes()
            ok = True
        except (OSError, AssertionError):
            ok = False
        assert (problem is None) == ok, (kinds, problem)


def test_permissions_are_checked(tmp_path, monkeypatch):
    """(The tests may run as root, who may write anywhere: os.access decides here.)"""
    f = tmp_path / "f"
    f.write_text("x")
    monkeypatch.setattr(os, "access", lambda *_a, **_k: False)
    assert write_problem(str(tmp_path / "new")) == f"directory {tmp_path} is not writable"
    assert read_problem(str(f)) == "permission denied"
    assert read_problem(str(tmp_path), directory=True) == "permission denied"
    assert write_problem("/dev/null") == "permission denied"


def test_special_files_are_written_in_place():
    assert write_problem("/dev/null") is None  # kubefort scan -o json=/dev/null


@given(st.text(max_size=200))
def test_a_file_error_is_always_one_line(message):
    err = FileError(message)
    assert "\n" not in err.format_message() and "\r" not in err.format_message()


def test_an_escaped_os_error_names_its_file_when_it_has_one():
    from kubefort.cli.params import file_error

    assert file_error(OSError(errno.ENOSPC, "No space left on device")).format_message() == (
        "cannot use: no space left on device"
    )
    missing = FileNotFoundError(errno.ENOENT, "No such file or directory", "/x")
    assert file_error(missing, "cannot read").format_message() == "cannot read /x: no such file or directory"
