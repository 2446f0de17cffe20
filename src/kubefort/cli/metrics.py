"""`kubefort metrics`: the key security metrics of the stored history (docs/history.md)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import click

from kubefort.cli.params import FileError, check_report_targets, os_reason, store_option

FORMATS = ("table", "json", "prometheus")
JSON_VERSION = "kubefort.metrics/v1"


class Since(click.ParamType[float]):
    """`--since`: 30d, 12h, 2w, 90m or an ISO date/time; converted to Unix time when the command runs."""

    name = "since"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        from kubefort.history.aggregate import parse_since

        if isinstance(value, float):
            return value
        try:
            return parse_since(str(value), time.time())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _outputs(values: tuple[str, ...]) -> list[tuple[str, str | None]]:
    targets: list[tuple[str, str | None]] = []
    for v in values or ("table",):
        fmt, _, dest = v.partition("=")
        fmt = fmt.strip().lower()
        if fmt not in FORMATS:
            raise click.BadParameter(
                f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})", param_hint="--output"
            )
        targets.append((fmt, dest or None))
    check_report_targets(targets)
    return targets


@click.command("metrics")
@store_option()
@click.option(
    "--target",
    metavar="KEY",
    help="One target's metrics (a key of the store: cluster:..., repo:..., node:...); default: the fleet.",
)
@click.option(
    "--since",
    type=Since(),
    metavar="WHEN",
    help="Only the history since WHEN: a duration back from now (30d, 12h, 2w) or an ISO date (2025-06-01). Default: all of it.",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FORMAT[=FILE]",
    help="table (default), json or prometheus (gauges for the textfile collector); =FILE writes a file. Repeatable.",
)
def metrics_cmd(store: str | None, target: str | None, since: float | None, outputs: tuple[str, ...]) -> None:
    """The key security metrics of the stored history: RBAC, network policies, pod security,
    audit, secrets, time to remediate and detect, and framework compliance (docs/history.md).

    \b
    Examples:
      kubefort metrics --store sqlite:///var/lib/kubefort/history.db
      kubefort metrics --target cluster:prod --since 30d -o json
      kubefort metrics -o prometheus=/var/lib/node-exporter/kubefort-posture.prom
    """
    from kubefort.fileio import write_atomically
    from kubefort.history.store import Store, StoreError

    targets = _outputs(outputs)
    now = time.time()
    try:
        with Store.open(store) as opened:
            report = collect(opened, target=target, since=since, now=now)
    except StoreError as exc:
        raise FileError(str(exc)) from None
    for fmt, dest in sorted(targets, key=lambda t: t[1] is None):
        text = render(fmt, report)
        if dest is None:
            click.echo(text, nl=not text.endswith("\n"))
            continue
        try:
            write_atomically(dest, text)
        except OSError as exc:
            raise FileError(f"cannot write {fmt} report {dest}: {os_reason(exc)}") from None


def collect(store: Any, *, target: str | None, since: float | None, now: float) -> dict[str, Any]:
    """Everything the formats show: the metrics, and the framework views of the scope and (for
    Prometheus) of each target. An unknown --target is an error naming the known ones."""
    from kubefort.history import aggregate, frameworks
    from kubefort.history.store import StoreError
    from kubefort.registry import load_builtin_checks
    from kubefort.reporters.history_prometheus import FLEET

    if target is not None:
        keys = [t.key for t in store.targets()]
        if target not in keys:
            from kubefort.cli.params import did_you_mean

            hint = did_you_mean(target, keys) if keys else ""
            known = ", ".join(keys[:10]) or "none: the store is empty"
            raise StoreError(f"no target {target!r} in {store.url}{hint} (targets: {known})")
    registry = load_builtin_checks()
    data = aggregate.load(store, target=target, since=since)
    latest = frameworks.latest_complete(data.scans)
    per_target = {
        t: frameworks.framework_views(frameworks.merge_counts([s.check_counts or {}]), registry)
        for t, s in latest.items()
    }
    scope = frameworks.framework_views(frameworks.merge_counts(s.check_counts or {} for s in latest.values()), registry)
    if target is None:
        per_target[FLEET] = scope
    return {
        "version": JSON_VERSION,
        "generated_at": now,
        "store": str(store.url),
        "target": target,
        "since": since,
        "scans": len(data.scans),
        "metrics": aggregate.metrics(data, now=now),
        "frameworks": scope,
        "frameworks_by_target": per_target,
    }


def render(fmt: str, report: Mapping[str, Any]) -> str:
    if fmt == "json":
        import orjson

        body = {k: v for k, v in report.items() if k != "frameworks_by_target"}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "prometheus":
        from kubefort.reporters.history_prometheus import render as prometheus

        return prometheus(
            report["metrics"], report["frameworks_by_target"], target=report["target"], timestamp=report["generated_at"]
        )
    return table(report)


# ---------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------
def duration(seconds: float) -> str:
    """42s, 5m 3s, 3h 12m, 4d 6h: the two largest units."""
    s = round(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size or (unit == "s" and not parts):
            parts.append(f"{s // size}{unit}")
            s %= size
    return " ".join(parts[:2])


def value_text(m: Mapping[str, Any]) -> tuple[str, str | None]:
    """A metric's value as the table shows it, and the note to print under the table (why it
    has no value, or what a partial value leaves out)."""
    if not m.get("available") or m.get("value") is None:
        return "not available", str(m.get("reason") or "no data")
    v = m["value"]
    unit = m.get("unit")
    if unit == "ratio":
        text = f"{v * 100:.1f} %"
        if m.get("numerator") is not None and m.get("denominator") is not None:
            text += f" ({m['numerator']:g} of {m['denominator']:g})"
    elif unit == "seconds":
        text = duration(float(v))
    elif unit == "requests/hour":
        text = f"{v:.1f} /h"
    else:
        text = f"{v:g}"
    if m.get("partial"):
        return text + " partial", str(m.get("reason") or "")
    return text, None


def _short(v: float, unit: object) -> str:
    if unit == "ratio":
        return f"{v * 100:.1f} %"
    if unit == "seconds":
        return duration(v)
    return f"{v:g}"


def _trend_text(m: Mapping[str, Any]) -> str:
    """The first and the latest point of the trend: "12 -> 3"."""
    trend = m.get("trend") or []
    if len(trend) < 2 or not m.get("available"):
        return ""
    return f"{_short(trend[0][1], m.get('unit'))} -> {_short(trend[-1][1], m.get('unit'))}"


def table(report: Mapping[str, Any]) -> str:
    from kubefort.wording import plural

    scope = report["target"] or "the fleet (every target)"
    lines = [f"kubefort metrics of {scope}, store {report['store']}, {plural(report['scans'], 'scan')}"]
    rows = [("METRIC", "VALUE", "TREND")]
    notes: dict[str, int] = {}  # note -> its number, each note once
    for m in report["metrics"]:
        value, note = value_text(m)
        if note:
            value += f" [{notes.setdefault(note, len(notes) + 1)}]"
        rows.append((str(m["title"]), value, _trend_text(m)))
    lines += _columns(rows)
    lines += [f"[{n}] {note}" for note, n in notes.items()]
    lines.append("")
    fw_rows: list[Sequence[str]] = [
        ("FRAMEWORK", "PASSING", "FAILING", "NOT EVALUATED", "NOT COVERED", "SHARE PASSING")
    ]
    for fw in report["frameworks"]:
        share = "-" if fw["share_passing"] is None else f"{fw['share_passing'] * 100:.1f} %"
        fw_rows.append(
            (
                fw["framework"],
                str(fw["passing"]),
                str(fw["failing"]),
                str(fw["not_evaluated"]),
                str(fw["not_covered"]),
                share,
            )
        )
    lines += _columns(fw_rows)
    lines.append("Frameworks: the latest complete scan of each target; not-evaluated controls never count as passing.")
    return "\n".join(lines) + "\n"


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip() for r in rows]
