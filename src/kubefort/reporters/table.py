"""Human report: findings grouped by object, then a summary. Rich renders it; colour only on request.

    Deployment/prod/web  deploy/web.yaml:1
      failed   critical  KF-POD-001  privileged-container  container=app  container 'app' is privileged
                                     deploy/web.yaml:21:13
                                     fix: Set securityContext.privileged to false.

Columns line up across groups; the last column wraps under itself (never truncated), and lines carry
no trailing spaces.
"""

from __future__ import annotations

import io
import re
from collections import Counter

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from kubefort.model import Outcome, ResourceId, ScanResult, Severity, Source, Status
from kubefort.registry import Registry
from kubefort.reporters import (
    check_meta,
    is_complete,
    outcome_location,
    resource_sort_key,
    severity_counts,
    sort_key,
)

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
STATUS_STYLE = {
    Status.FAILED: "bold red",
    Status.NOT_EVALUATED: "yellow",
    Status.SUPPRESSED: "magenta",
    Status.PASSED: "green",
}
INDENT = "  "


def render(
    result: ScanResult,
    registry: Registry,
    *,
    include_passed: bool = False,
    color: bool = False,
    width: int | None = None,
) -> str:
    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,  # the caller decides; ignore NO_COLOR here
        width=width or 120,
        highlight=False,
        emoji=False,
        force_jupyter=False,
        legacy_windows=False,
    )
    shown = [o for o in result.outcomes if include_passed or o.status is not Status.PASSED]
    # the same column widths in every group, so the report reads as one table
    status_w = max((len(o.status.value) for o in shown), default=0)
    severity_w = max((len(o.severity.label) for o in shown), default=0)
    id_w = max((len(o.check_id) for o in shown), default=0)
    for header, outcomes in _groups(result, shown):
        console.print(header)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True, min_width=status_w)
        grid.add_column(no_wrap=True, min_width=severity_w)
        grid.add_column(no_wrap=True, min_width=id_w)
        grid.add_column(ratio=1, overflow="fold")  # name, container, message, location; then fix / suppression
        for o in outcomes:
            grid.add_row(*_row(o, registry))
        console.print(Padding(grid, (0, 0, 0, len(INDENT))))
        console.print()
    _print_summary(console, result)
    return _strip_trailing(buf.getvalue())

def _where(file: str | None, line: int | None, col: int | None = None) -> str:
    text = "stdin" if file == "-" else (file or "?")
    if line is not None:
        text += f":{line}"
        if col is not None:
            text += f":{col}"
    return text


def _groups(result: ScanResult, outcomes: list[Outcome]) -> list[tuple[Text, list[Outcome]]]:
    """Outcomes grouped by object (or by input, for outcomes about a whole file), in file order."""
    sources: dict[ResourceId, Source] = {}
    for rid, src in result.resources:
        sources.setdefault(rid, src)
    grouped: dict[tuple[object, ...], list[Outcome]] = {}
    headers: dict[tuple[object, ...], Text] = {}
    for o in outcomes:
        if o.resource is not None:
            src = o.source or sources.get(o.resource)
            if src is not None:
                key: tuple[object, ...] = resource_sort_key(o.resource, src)
                where = _where(src.file, src.line)
            else:
                file, line, _ = outcome_location(o)
                key = (file or "", line or 0, 0, str(o.resource))
                where = _where(file, line)
            title = str(o.resource)
        else:
            file, _, _ = outcome_location(o)
            key = (file or "", 0, -1, "")
            title, where = _where(file, None), "(input)"
        grouped.setdefault(key, []).append(o)
        headers.setdefault(key, Text.assemble((title, "bold"), "  ", (where, "dim")))
    # keys are (file, line, doc_index, id) with the same types position by position
    return [(headers[k], sorted(grouped[k], key=sort_key)) for k in sorted(grouped)]


def _row(o: Outcome, registry: Registry) -> tuple[Text, Text, Text, Text]:
    meta = check_meta(registry, o.check_id)
    file, line, col = outcome_location(o)
    details = Text(meta.name)
    if o.container:
        details.append(f"  container={o.container}", "dim")
    details.append(f"  {o.message or meta.title}")
    details.append(f"  {_where(file, line, col)}", "cyan")
    if o.status is Status.SUPPRESSED and o.suppression is not None:
        s = o.suppression
        note = f"suppressed by {s.kind}" + (f" ({s.where})" if s.where else "") + f": {s.reason}"
        if s.expires:
            note += f" (expires {s.expires})"
        details.append("\n" + note, "magenta")
    if o.status is Status.FAILED and meta.remediation:
        details.append(f"\nfix: {meta.remediation}", "dim")
    return (
        Text(o.status.value, STATUS_STYLE[o.status]),
        Text(o.severity.label, SEVERITY_STYLE[o.severity]),
        Text(o.check_id, "bold"),
        details,
    )


def _print_summary(console: Console, result: ScanResult) -> None:
    counts = result.counts()
    console.print(Text("Summary", "bold underline"))
    line = Text(INDENT + "outcomes: ")
    for i, s in enumerate((Status.FAILED, Status.SUPPRESSED, Status.NOT_EVALUATED, Status.PASSED)):
        if i:
            line.append(", ")
        line.append(f"{counts[s.value]} {s.value}", STATUS_STYLE[s] if counts[s.value] else "")
    console.print(line)

    line = Text(INDENT + "failed by severity: ")
    for i, (label, n) in enumerate(severity_counts(result).items()):
        if i:
            line.append(", ")
        line.append(f"{n} {label}", SEVERITY_STYLE[Severity.parse(label)] if n else "")
    console.print(line)

    n_inputs = len(result.inputs)
    console.print(
        Text(
            INDENT + f"{_n(len(result.checks_run), 'check')} × {_n(len(result.resources), 'object')}"
            f" from {_n(n_inputs, 'input')} in {result.duration_s:.2f}s"
        )
    )

    _print_list(
        console,
        "inputs with errors",
        [f"{_where(i.path, None)}: {i.error}" for i in result.inputs if i.error],
        "red",
    )
    _print_list(
        console,
        "skipped documents",
        [f"{_where(i.path, None)}: {reason}" for i in result.inputs for reason in i.skipped],
        "dim",
    )
    reasons = Counter(o.message or "no reason given" for o in result.outcomes if o.status is Status.NOT_EVALUATED)
    _print_list(
        console,
        "not evaluated",
        [f"{reason} ({n}×)" if n > 1 else reason for reason, n in sorted(reasons.items(), key=lambda rn: (-rn[1], rn[0]))],
        "yellow",
    )
    _print_list(console, "unused exceptions", list(result.unused_exceptions), "yellow")
    _print_list(console, "expired exceptions (no longer applied)", list(result.expired_exceptions), "yellow")
    _print_list(console, "warnings", list(result.warnings), "yellow")

    console.print()
    failed = counts[Status.FAILED.value]
    if failed:
        console.print(Text(f"{_n(failed, 'failed check')}", "bold red"))
    else:
        console.print(Text("no failed checks", "bold green"))
    if not is_complete(result):
        console.print(Text("scan incomplete: some inputs or objects could not be evaluated (see above)", "yellow"))


def _print_list(console: Console, title: str, items: list[str], style: str) -> None:
    if not items:
        return
    console.print(Text(f"{INDENT}{title}:", style))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for item in items:
        grid.add_row("-", Text(item))
    console.print(Padding(grid, (0, 0, 0, 2 * len(INDENT))))


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


def _strip_trailing(text: str) -> str:
    """Drop the padding Rich leaves at line ends (also when followed by colour resets)."""
    return _TRAILING.sub(r"\1", text)
