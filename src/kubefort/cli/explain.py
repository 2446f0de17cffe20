"""`kubefort explain`: one check in full (the text itself is `kubefort.docs`)."""

from __future__ import annotations

import click

from kubefort.cli.common import builtin_registry


@click.command("explain")
@click.argument("check")
@click.option(
    "-o", "--output", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
def explain(check: str, fmt: str) -> None:
    """Explain a check (by ID or name): what it does, why, example, fix, references."""
    from kubefort import docs

    reg = builtin_registry()
    try:
        meta = reg.get(check)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from None
    click.echo(docs.explain(meta, fmt), nl=False)
