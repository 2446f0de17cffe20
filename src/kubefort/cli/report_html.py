"""`kubefort report html`: the stored history as one self-contained HTML file
(kubefort.history.html renders kubefort.history.view.build_view)."""

from __future__ import annotations

from typing import Any

import click

from kubefort.cli.metrics import Since
from kubefort.cli.params import FileError, OutputFile, os_reason, store_option

DEFAULT_SINCE = "90d"
MAX_FINDINGS = 20_000  # kubefort.history.view.MAX_FINDINGS (not imported: --help stays light)


class SinceOrAll(click.ParamType["float | None"]):
    """`--since`: as `kubefort metrics` reads it (30d, 12h, 2w, an ISO date), or `all`."""

    name = "since"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float | None:
        if value is None or (isinstance(value, str) and value.strip().lower() == "all"):
            return None
        return Since().convert(value, param, ctx)


@click.command("html")
@store_option()
@click.option(
    "--target",
    metavar="KEY",
    help="One target's history (a key of the store: cluster:..., repo:..., node:...); default: the fleet.",
)
@click.option(
    "--since",
    type=SinceOrAll(),
    default=DEFAULT_SINCE,
    show_default=True,
    metavar="WHEN",
    help="The history since WHEN: a duration back from now (30d, 12h, 2w), an ISO date (2025-06-01), or all.",
)
@click.option(
    "--max-findings",
    type=click.IntRange(min=0),
    default=MAX_FINDINGS,
    show_default=True,
    metavar="N",
    help="List at most N open findings, the most severe and oldest first (0: all); the counts, charts and "
    "top lists always cover every open finding.",
)
@click.option(
    "-o", "--output", type=OutputFile("HTML report"), required=True, metavar="FILE", help="The HTML file to write."
)
def html(store: str | None, target: str | None, since: float | None, max_findings: int, output: str) -> None:
    """Write the history as one self-contained HTML page: metrics, trends, time to remediate,
    open findings.

    The page shows the key metrics with trend sparklines, the open findings by severity over
    time, the top failing checks and namespaces, time to remediate per severity, framework
    compliance, and the open findings with their file:line or object and the fix (sortable,
    filterable; the first --max-findings of them, most severe and oldest first, so that the page of
    a large fleet still opens). It loads nothing from the network: open it offline or keep it as a
    CI artifact.

    \b
    Examples:
      kubefort report html --store sqlite:///var/lib/kubefort/history.db -o posture.html
      kubefort report html --target cluster:prod --since 30d -o prod.html
    """
    import time

    from kubefort.fileio import write_atomically
    from kubefort.history.html import render
    from kubefort.history.store import StoreError

    now = time.time()
    try:
        with _open_store(store) as opened:
            _check_target(opened, target)
            view = _build_view(opened, target=target, since=since, now=now, max_findings=max_findings)
    except StoreError as exc:
        raise FileError(str(exc)) from None
    page = render(view)
    try:
        write_atomically(output, page)
    except OSError as exc:
        raise FileError(f"cannot write HTML report {output}: {os_reason(exc)}") from None
    scans, listed = len(view.get("scans") or []), len(view.get("open_findings") or [])
    total = view["open_totals"]["count"]
    shown = f"{total:,} open findings" if listed == total else f"{total:,} open findings, {listed:,} of them listed"
    click.echo(f"wrote {output} ({len(page.encode()) / 1e6:.1f} MB: {scans:,} scans, {shown})", err=True)


def _open_store(url: str | None) -> Any:
    from kubefort.history.store import Store

    return Store.open(url)


def _build_view(
    store: Any, *, target: str | None, since: float | None, now: float, max_findings: int
) -> dict[str, Any]:
    from kubefort.history.view import build_view

    return build_view(store, target=target, since=since, now=now, max_findings=max_findings)


def _check_target(store: Any, target: str | None) -> None:
    """An unknown --target is an error naming the store's targets (and the nearest one)."""
    if target is None:
        return
    from kubefort.history.store import StoreError

    keys = [t.key for t in store.targets()]
    if target in keys:
        return
    from kubefort.cli.params import did_you_mean

    hint = did_you_mean(target, keys) if keys else ""
    known = ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "") if keys else "none: the store is empty"
    raise StoreError(f"no target {target!r} in {store.url}{hint} (targets: {known})")
