"""`kubefort checks`: list every check (the catalog itself is `kubefort.docs`)."""

from __future__ import annotations

import click

from kubefort.cli.common import FormatChoice, builtin_registry
from kubefort.cli.params import complete_areas, did_you_mean


@click.command("checks")
@click.option(
    "--area", shell_complete=complete_areas, help="Only this area (POD, IMG, SEC, INPUT, META ...; KF-POD works too)."
)
@click.option("--severity", "min_severity", help="Only checks of at least this severity.")
@click.option(
    "-o",
    "--output",
    "fmt",
    type=FormatChoice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="table: text for the terminal (wrapped to its width; 100 columns on a pipe); text is a deprecated alias.",
)
def checks_cmd(area: str | None, min_severity: str | None, fmt: str) -> None:
    """List every check with its ID, name, severity and peer IDs."""
    from kubefort import docs
    from kubefort.model import Severity

    reg = builtin_registry()
    metas = list(reg)
    if area:
        known = sorted({m.area for m in metas})
        wanted = area.strip().upper().removeprefix("KF-")
        if wanted not in known:
            raise click.BadParameter(
                f"unknown area {area!r}{did_you_mean(wanted, known)} (known areas: {', '.join(known)})",
                param_hint="--area",
            )
        metas = [m for m in metas if m.area == wanted]
    if min_severity:
        try:
            floor = Severity.parse(min_severity)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--severity") from None
        metas = [m for m in metas if m.severity >= floor]
    from kubefort.cli.explain import text_layout

    click.echo(docs.catalog(metas, fmt, **text_layout()), nl=False)
