"""`kubefort explain`: one check in full (the text itself is `kubefort.docs`)."""

from __future__ import annotations

from typing import Any

import click

from kubefort.cli.common import FormatChoice, builtin_registry
from kubefort.cli.params import check_suggestion, complete_check


@click.command("explain")
@click.argument("check", shell_complete=complete_check)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=FormatChoice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="table: text for the terminal (wrapped to its width; 100 columns on a pipe); text is a deprecated alias.",
)
def explain(check: str, fmt: str) -> None:
    """Explain a check (by ID or name): what it does, why, example, fix, references."""
    from kubefort import docs

    reg = builtin_registry()
    try:
        meta = reg.get(check)
    except KeyError as exc:
        raise click.UsageError(check_suggestion(reg, [check], prefixes=False) or str(exc.args[0])) from None
    click.echo(docs.explain(meta, fmt, **text_layout()), nl=False)


def text_layout() -> dict[str, Any]:
    """Width and colour for text on stdout: the terminal's, or 100 columns and no colour on a pipe."""
    import os
    import sys

    from kubefort.reporters.width import output_width

    return {"width": output_width(sys.stdout), "color": sys.stdout.isatty() and "NO_COLOR" not in os.environ}
