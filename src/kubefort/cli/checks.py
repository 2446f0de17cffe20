"""`kubefort checks`: list every check (the catalog itself is `kubefort.docs`)."""

from __future__ import annotations

import click

from kubefort.cli.common import builtin_registry


@click.command("checks")
@click.option("--area", help="Only this area (POD, IMG, SEC, INPUT, META ...).")
@click.option("--severity", "min_severity", help="Only checks of at least this severity.")
@click.option(
    "-o", "--output", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True
)
def checks_cmd(area: str | None, min_severity: str | None, fmt: str) -> None:
    """List every check with its ID, name, severity and peer IDs."""
    from kubefort import docs
    from kubefort.model import Severity

    reg = builtin_registry()
    metas = list(reg)
    if area:
        metas = [m for m in metas if m.area.upper() == area.upper().removeprefix("KF-")]
    if min_severity:
        try:
            floor = Severity.parse(min_severity)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--severity") from None
        metas = [m for m in metas if m.severity >= floor]
    click.echo(docs.catalog(metas, fmt), nl=False)
