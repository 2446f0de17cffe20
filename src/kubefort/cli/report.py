"""`kubefort report`: views of the history store. Its subcommands load lazily (`diff` ->
kubefort.cli.report_diff, `html` -> kubefort.cli.report_html), as the top-level commands do."""

from __future__ import annotations

import click

from kubefort.cli import LazyGroup

# name -> ("module:attribute", the first paragraph of its help); tests/test_history_cli.py holds them equal
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "diff": (
        "kubefort.cli.report_diff:diff_cmd",
        "Compare two stored scans: the findings that are new, fixed and unchanged.",
    ),
    "html": (
        "kubefort.cli.report_html:html",
        "Write the history as one self-contained HTML page: metrics, trends, time to remediate, open findings.",
    ),
}


@click.group("report", cls=LazyGroup, lazy_commands=SUBCOMMANDS)
def report() -> None:
    """Reports from the history store (scans recorded with --store): diff, html."""
