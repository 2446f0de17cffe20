"""Command line: argument parsing, reporter choice and exit codes. No analysis happens here.

`cli` is the `kubefort` group; every subcommand lives in a module of this package and is
imported only when it runs or its own help is shown (click's "lazily loading subcommands"
pattern): `kubefort --help` lists the commands from COMMANDS without importing any of them, and
`kubefort scan` imports `scan` and `common`, never netpol's, rbac's, node's or db's stack.
`common` holds what the commands share (`-o FORMAT[=FILE]`, `--fail-on`, baselines, reporting).
"""

from __future__ import annotations

import errno
import importlib
from collections.abc import Mapping
from gettext import gettext
from typing import Any

import click

# name -> ("module:attribute" of the command, the first paragraph of its help: what `kubefort
# --help` shows without importing the module). tests/test_cli_lazy.py holds the two equal.
COMMANDS: dict[str, tuple[str, str]] = {
    "admission": (
        "kubefort.cli.admission:admission",
        "Admission control: a validating webhook (serve, install) and ValidatingAdmissionPolicies (vap).",
    ),
    "audit": (
        "kubefort.cli.audit:audit",
        "Analyse API-server audit logs: detections (KF-AUDIT checks) and access metrics.",
    ),
    "checks": ("kubefort.cli.checks:checks_cmd", "List every check with its ID, name, severity and peer IDs."),
    "cluster": (
        "kubefort.cli.cluster:cluster_group",
        "Work with live clusters: take a snapshot to scan later, offline.",
    ),
    "db": ("kubefort.cli.db:db", "Show or update the Kubernetes release and CVE data (used by the KF-CLU checks)."),
    "explain": (
        "kubefort.cli.explain:explain",
        "Explain a check (by ID or name): what it does, why, example, fix, references.",
    ),
    "images": (
        "kubefort.cli.images:images_cmd",
        "Every container image of every workload, normalised as the runtime pulls it.",
    ),
    "metrics": (
        "kubefort.cli.metrics:metrics_cmd",
        "The key security metrics of the stored history: RBAC, network policies, pod security, audit, "
        "secrets, time to remediate and detect, and framework compliance (docs/history.md).",
    ),
    "netpol": (
        "kubefort.cli.netpol:netpol",
        "NetworkPolicy analysis: who can talk to whom, exactly as the API defines it.",
    ),
    "node": (
        "kubefort.cli.node:node",
        "Check a node's control-plane, etcd and kubelet configuration (CIS 1.x-4.x and more).",
    ),
    "rbac": ("kubefort.cli.rbac:rbac", "Analyse RBAC exactly as the API server's authorizer does."),
    "report": (
        "kubefort.cli.report:report",
        "Reports from the history store (scans recorded with --store): diff, html.",
    ),
    "scan": (
        "kubefort.cli.scan:scan",
        "Scan manifests (files, directories, '-' for stdin, Helm charts, Kustomize directories), "
        "a live cluster (--cluster), or a cluster snapshot (kubefort cluster snapshot).",
    ),
    "version": ("kubefort.cli.version:version", "Show kubefort's version, Python's and the YAML parsers in use."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use, from a name -> (import path,
    short help) table. Commands added the usual way (`add_command`) work as in any group."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        return self.load(cmd_name)

    def load(self, cmd_name: str) -> click.Command:
        """Import the command `cmd_name` of the table."""
        module_name, _, attr = self.lazy_commands[cmd_name][0].partition(":")
        cmd = getattr(importlib.import_module(module_name), attr)
        if not isinstance(cmd, click.Command):
            raise TypeError(f"{module_name}:{attr} is not a click command")
        return cmd

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; an OSError that escaped it (a file that vanished or filled the disk
        mid-run) ends as one line and exit 2, as every file error does, never as a traceback.
        A closed stdout (EPIPE) stays click's to handle."""
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise
            from kubefort.cli.params import file_error

            raise file_error(exc) from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            # click (>= 8.4: NoSuchCommand) suggests close names from `self.commands`, which holds
            # none of the lazy ones: suggest from every name instead
            no_such = getattr(click.exceptions, "NoSuchCommand", None)
            if no_such is None or not isinstance(exc, no_such):
                raise
            name = getattr(exc, "command_name", args[0])
            raise no_such(name, possibilities=self.list_commands(ctx), ctx=ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, with a stand-in holding the table's help for every command not
        yet imported: listing the commands imports none of them."""
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            if name in self.lazy_commands and name not in self.commands:
                commands.append((name, click.Command(name, help=self.lazy_commands[name][1])))
                continue
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                commands.append((name, cmd))
        if commands:
            # allow for 3 times the default spacing (as click.Group.format_commands)
            limit = formatter.width - 6 - max(len(name) for name, _cmd in commands)
            rows = [(name, cmd.get_short_help_str(limit)) for name, cmd in commands]
            with formatter.section(gettext("Commands")):
                formatter.write_dl(rows)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from kubefort.cli.version import version_text

    click.echo(version_text())
    ctx.exit()


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version (as `kubefort version`) and exit.",
)
def cli() -> None:
    """kubefort: Kubernetes security checks with one finding model.

    \b
    Start with:
      kubefort scan k8s/                 scan manifests, charts and kustomizations
      kubefort scan --cluster            scan the cluster of the current kubeconfig context
      kubefort checks                    list every check
      kubefort explain KF-POD-001        what a check looks for and how to fix it

    \b
    Shell completion (bash; zsh_source or fish_source for those shells):
      eval "$(_KUBEFORT_COMPLETE=bash_source kubefort)"
    """


def main() -> None:
    cli(prog_name="kubefort")


__all__ = ["COMMANDS", "LazyGroup", "cli", "main"]
