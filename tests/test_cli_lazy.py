"""The `kubefort` group loads its subcommands lazily: `kubefort --help` lists every command
without importing any, `kubefort scan` imports none of the other commands' modules, and the
listing is exactly what click prints with every command imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kubefort.cli import COMMANDS, cli

# the modules of the other subcommands, and the heavy stacks behind them
SUBCOMMAND_MODULES = [
    f"kubefort.cli.{m}" for m in ("netpol", "node", "db", "rbac", "cluster", "checks", "explain", "version")
]
HEAVY = [
    "numpy",
    "kubernetes",
    "rich",
    "urllib.request",
    "kubefort.kube.netpol_inputs",
    "kubefort.kube.netpol_generate",
    "kubefort.kube.cis",
    "kubefort.vulndb.manage",
    "kubefort.cluster.client",
    "kubefort.drivers.node",
]

CLEAN_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  containers:
  - name: app
    image: nginx:1.27
"""


def _run(code: str, cwd: Path | None = None) -> dict:
    """Run `code` in a fresh interpreter; it prints a JSON document as its last stdout line."""
    p = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.splitlines()[-1])


def test_help_lists_every_command_without_importing_any():
    got = _run(
        """
        import json, sys
        from click.testing import CliRunner
        import kubefort.cli
        res = CliRunner().invoke(kubefort.cli.cli, ["--help"], prog_name="kubefort")
        print(json.dumps({"exit": res.exit_code, "output": res.output, "modules": sorted(sys.modules)}))
        """
    )
    assert got["exit"] == 0
    modules = set(got["modules"])
    for mod in [*SUBCOMMAND_MODULES, "kubefort.cli.scan", "kubefort.cli.common", "kubefort.registry", *HEAVY]:
        assert mod not in modules, f"`kubefort --help` imported {mod}"
    listing = got["output"].split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listing] == sorted(COMMANDS)
    for line in listing:  # every command with its short help
        name, text = line.split(None, 1)
        assert text.endswith(("...", ".")) and COMMANDS[name][1].startswith(text.removesuffix("...")), line
    # the names column is as wide as the longest name ("admission")
    assert "  rbac       Analyse RBAC exactly as the API server's authorizer does." in listing


def test_main_help_in_standalone_mode_imports_no_subcommand():
    got = _run(
        """
        import contextlib, io, json, sys
        from kubefort.cli import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                sys.argv = ["kubefort", "--help"]
                main()
            except SystemExit as exc:
                code = exc.code
        print(json.dumps({"exit": code, "output": out.getvalue(), "modules": sorted(sys.modules)}))
        """
    )
    assert got["exit"] == 0
    assert "Commands:" in got["output"]
    for name in COMMANDS:
        assert f"\n  {name} " in got["output"]
    for mod in [*SUBCOMMAND_MODULES, "kubefort.cli.scan", *HEAVY]:
        assert mod not in got["modules"]


def test_scan_imports_no_other_subcommand(tmp_path):
    (tmp_path / "pod.yaml").write_text(CLEAN_POD)
    got = _run(
        f"""
        import json, sys
        from kubefort.cli import cli
        try:
            cli(["scan", {str(tmp_path)!r}, "-o", "json", "-q", "--fail-on", "never", "-j", "1"], standalone_mode=False)
            code = 0
        except SystemExit as exc:
            code = exc.code
        print()
        print(json.dumps({{"exit": code, "modules": sorted(sys.modules)}}))
        """
    )
    assert got["exit"] == 0
    modules = set(got["modules"])
    assert {"kubefort.cli.scan", "kubefort.cli.common"} <= modules
    for mod in [*SUBCOMMAND_MODULES, "kubefort.kube.netpol_inputs", "kubefort.vulndb.manage", "urllib.request"]:
        assert mod not in modules, f"`kubefort scan` imported {mod}"


def test_the_table_matches_the_commands():
    ctx = click.Context(cli, info_name="kubefort")
    for name, (target, short) in COMMANDS.items():
        cmd = cli.get_command(ctx, name)
        assert cmd is not None and cmd.name == name, target
        assert not cmd.hidden and not cmd.deprecated and not cmd.short_help
        first = (cmd.help or "").partition("\n\n")[0]
        assert " ".join(first.split()) == short, f"COMMANDS[{name!r}] is not the first paragraph of its help"


@pytest.mark.parametrize("width", [30, 45, 60, 80, 100, 200])
def test_listing_is_what_click_prints_with_every_command_imported(width):
    ctx = click.Context(cli, info_name="kubefort")
    lazy = click.HelpFormatter(width=width)
    cli.format_commands(ctx, lazy)
    eager_group = click.Group("kubefort", commands={n: cli.get_command(ctx, n) for n in COMMANDS})
    eager = click.HelpFormatter(width=width)
    click.Group.format_commands(eager_group, ctx, eager)
    assert lazy.getvalue() == eager.getvalue()
    assert lazy.getvalue().count("\n") >= len(COMMANDS)


def test_unknown_command_suggests_a_lazy_one():
    res = CliRunner().invoke(cli, ["scn"], prog_name="kubefort")
    assert res.exit_code == 2
    assert "No such command 'scn'." in res.output
    assert "Did you mean 'scan'?" in res.output


def test_subcommands_run_through_the_group():
    runner = CliRunner()
    assert runner.invoke(cli, ["explain", "KF-POD-001"]).exit_code == 0
    res = runner.invoke(cli, ["netpol", "--help"])
    assert res.exit_code == 0 and "who can talk to whom" in res.output
    res = runner.invoke(cli, ["node", "--help"])
    assert res.exit_code == 0 and "--list-manual" in res.output
