"""Human report: findings grouped by object, then a summary. Rich styles it; colour only on request.

    Deployment/prod/web  deploy/web.yaml:1
      failed   critical  KF-POD-001  privileged-container  container=app  container 'app' is privileged
                                     deploy/web.yaml:21:13
                                     fix: Set securityContext.privileged to false.

Columns line up across groups; the last column wraps under itself (folded, never truncated), and lines
carry no trailing spaces.

Lines are laid out and wrapped here, and Rich renders their styles: Console.print, rich.table and
Text.wrap cost 0.15-1 ms per finding, and a report with tens of thousands of findings must still
render in about a second.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from rich.cells import cell_len, chop_cells
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style

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
GAP = "  "

Piece = tuple[str, "str | Style | None"]  # text and its style ("" or None: unstyled)


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
        no_color=not color,  # the caller decides; NO_COLOR is the CLI's business
        width=width or 120,
        highlight=False,
        emoji=False,
        force_jupyter=False,
        legacy_windows=False,
    )
    out = _Writer(console, color)
    shown = [o for o in result.outcomes if include_passed or o.status is not Status.PASSED]
    # the same column widths in every group, so the report reads as one table
    widths = (
        max((len(o.status.value) for o in shown), default=0),
        max((len(o.severity.label) for o in shown), default=0),
        max((len(o.check_id) for o in shown), default=0),
    )
    for header, outcomes in _groups(result, shown):
        out.line([], header, hang=len(INDENT))
        for o in outcomes:
            _row(out, o, registry, widths)
        out.blank()
    _summary(out, result)
    return buf.getvalue()


class _Writer:
    """Writes styled lines to the console's file; Rich renders the styles and wraps long lines."""

    def __init__(self, console: Console, color: bool) -> None:
        self.console = console
        self.width = console.width
        self.color_system = ColorSystem.STANDARD if color else None
        self._styles: dict[str, Style] = {}

    def line(self, prefix: Sequence[Piece], body: Sequence[Piece], hang: int | None = None) -> None:
        """prefix + body on one line; a body too wide wraps onto lines indented by `hang`."""
        body = [(_safe(t), st) for t, st in body]
        hang = sum(cell_len(t) for t, _ in prefix) if hang is None else hang
        if sum(cell_len(t) for t, _ in (*prefix, *body)) <= self.width:
            self._write([*prefix, *body])
            return
        # one width for every line: the narrower of the first line's room and the continuation's
        room = max(self.width - max(hang, sum(cell_len(t) for t, _ in prefix)), 20)
        for i, pieces in enumerate(_wrap(body, room)):
            self._write([*prefix, *pieces] if i == 0 else [(" " * hang, None), *pieces])

    def blank(self) -> None:
        self.console.file.write("\n")

    def _write(self, pieces: list[Piece]) -> None:
        while pieces and not pieces[-1][0].rstrip():
            pieces.pop()
        if pieces:
            pieces[-1] = (pieces[-1][0].rstrip(), pieces[-1][1])
        if self.color_system is None:
            text = "".join(t for t, _ in pieces)
        else:
            text = "".join(self._style(s).render(t, color_system=self.color_system) if s else t for t, s in pieces)
        self.console.file.write(text + "\n")

    def _style(self, style: str | Style) -> Style:
        if isinstance(style, Style):
            return style
        cached = self._styles.get(style)
        if cached is None:
            cached = self._styles[style] = self.console.get_style(style)
        return cached


_TOKEN = re.compile(r"\S+|\s+")
_LINE_BREAKS = re.compile(r"\s*[\n\r\v\f\x85\u2028\u2029]\s*|\t")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    """Text from manifests on one line and without control characters (no terminal escapes)."""
    return _CONTROL.sub("\ufffd", _LINE_BREAKS.sub(" ", text))


def _wrap(body: Sequence[Piece], width: int) -> list[list[Piece]]:
    """Greedy word wrap of styled pieces; words wider than a line are folded, never cut off.

    (Text.wrap does the same at ~0.15 ms a line; reports can have tens of thousands of lines.)
    """
    lines: list[list[Piece]] = [[]]
    used = 0
    for text, style in body:
        for tok in _TOKEN.findall(text):
            w = cell_len(tok)
            if tok.isspace():
                if used:  # spaces at the start of a continuation line are dropped
                    lines[-1].append((tok, style))
                    used += w
                continue
            if used and used + w > width:
                lines.append([])
                used = 0
            if w > width:
                *full, tok = chop_cells(tok, width)
                for chunk in full:
                    lines[-1].append((chunk, style))
                    lines.append([])
                w = cell_len(tok)
            lines[-1].append((tok, style))
            used += w
    return lines


def _where(file: str | None, line: int | None, col: int | None = None) -> str:
    text = "stdin" if file == "-" else (file or "?")
    if line is not None:
        text += f":{line}"
        if col is not None:
            text += f":{col}"
    return text


def _groups(result: ScanResult, outcomes: list[Outcome]) -> list[tuple[list[Piece], list[Outcome]]]:
    """Outcomes grouped by object (or by input, for outcomes about a whole file), in file order."""
    sources: dict[ResourceId, Source] = {}
    for rid, rsrc in result.resources:
        sources.setdefault(rid, rsrc)
    grouped: dict[tuple[object, ...], list[Outcome]] = {}
    headers: dict[tuple[object, ...], list[Piece]] = {}
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
        if key not in grouped:
            grouped[key] = []
            headers[key] = [(title, "bold"), (GAP, None), (where, "dim")]
        grouped[key].append(o)
    # keys are (file, line, doc_index, id) with the same types position by position
    return [(headers[k], sorted(grouped[k], key=sort_key)) for k in sorted(grouped)]


def _row(out: _Writer, o: Outcome, registry: Registry, widths: tuple[int, int, int]) -> None:
    """One outcome: status, severity and ID columns, then details wrapped under themselves."""
    meta = check_meta(registry, o.check_id)
    file, line, col = outcome_location(o)
    status_w, severity_w, id_w = widths
    prefix: list[Piece] = [
        (INDENT, None),
        (o.status.value.ljust(status_w), STATUS_STYLE[o.status]),
        (GAP, None),
        (o.severity.label.ljust(severity_w), SEVERITY_STYLE[o.severity]),
        (GAP, None),
        (o.check_id.ljust(id_w), "bold"),
        (GAP, None),
    ]
    body: list[Piece] = [(meta.name, None)]
    if o.container:
        body.append((f"  container={o.container}", "dim"))
    body.append((f"  {o.message or meta.title}", None))
    body.append((f"  {_where(file, line, col)}", "cyan"))
    out.line(prefix, body)

    pad: list[Piece] = [(" " * sum(len(t) for t, _ in prefix), None)]
    if o.status is Status.SUPPRESSED and o.suppression is not None:
        s = o.suppression
        note = f"suppressed by {s.kind}" + (f" ({s.where})" if s.where else "") + f": {s.reason}"
        if s.expires:
            note += f" (expires {s.expires})"
        out.line(pad, [(note, "magenta")])
    if o.status is Status.FAILED and meta.remediation:
        out.line(pad, [(f"fix: {meta.remediation}", "dim")])


def _summary(out: _Writer, result: ScanResult) -> None:
    counts = result.counts()
    out.line([], [("Summary", "bold underline")])
    pieces: list[Piece] = [(INDENT + "outcomes: ", None)]
    for i, s in enumerate((Status.FAILED, Status.SUPPRESSED, Status.NOT_EVALUATED, Status.PASSED)):
        if i:
            pieces.append((", ", None))
        pieces.append((f"{counts[s.value]} {s.value}", STATUS_STYLE[s] if counts[s.value] else None))
    out.line([], pieces, hang=2 * len(INDENT))

    pieces = [(INDENT + "failed by severity: ", None)]
    for i, (label, n) in enumerate(severity_counts(result).items()):
        if i:
            pieces.append((", ", None))
        pieces.append((f"{n} {label}", SEVERITY_STYLE[Severity.parse(label)] if n else None))
    out.line([], pieces, hang=2 * len(INDENT))

    scanned = (
        f"{_n(len(result.checks_run), 'check')} × {_n(len(result.resources), 'object')}"
        f" from {_n(len(result.inputs), 'input')} in {result.duration_s:.2f}s"
    )
    out.line([(INDENT, None)], [(scanned, None)])
    covered = (result.extras.get("cluster") or {}).get("coveredByController")
    if covered:
        note = f"{_n(covered, 'object')} covered by their controllers (same containers as its template; --scan-owned checks them too)"
        out.line([(INDENT, None)], [(note, None)])
    posture = (result.extras.get("cluster") or {}).get("namespaces")
    if posture:
        for line in posture_lines(posture):
            out.line([(INDENT, None)], [(line, None)])

    _list(out, "inputs with errors", [f"{_where(i.path, None)}: {i.error}" for i in result.inputs if i.error], "red")
    _list(
        out,
        "skipped documents",
        [f"{_where(i.path, None)}: {reason}" for i in result.inputs for reason in i.skipped],
        "dim",
    )
    reasons = Counter(
        f"{o.check_id}: {o.message or 'no reason given'}" for o in result.outcomes if o.status is Status.NOT_EVALUATED
    )
    ranked = sorted(reasons.items(), key=lambda rn: (-rn[1], rn[0]))
    _list(out, "not evaluated", [f"{r} ({n}×)" if n > 1 else r for r, n in ranked], "yellow")
    _list(out, "unused exceptions", list(result.unused_exceptions), "yellow")
    _list(out, "expired exceptions (no longer applied)", list(result.expired_exceptions), "yellow")
    _list(out, "warnings", list(result.warnings), "yellow")

    out.blank()
    failed = counts[Status.FAILED.value]
    if failed:
        out.line([], [(_n(failed, "failed check"), "bold red")])
    else:
        out.line([], [("no failed checks", "bold green")])
    if not is_complete(result):
        out.line([], [("scan incomplete: some inputs or objects could not be evaluated (see above)", "yellow")])


def posture_lines(posture: Mapping[str, Mapping[str, object]]) -> list[str]:
    """The cluster's namespaces at a glance: Pod Security levels and how many have each control."""
    n = len(posture)
    levels = Counter(row.get("podSecurityEnforce") or "no label" for row in posture.values())
    shown = ", ".join(
        f"{lvl} {levels[lvl]}" for lvl in ("restricted", "baseline", "privileged", "no label") if levels[lvl]
    )
    others = sum(v for k, v in levels.items() if k not in ("restricted", "baseline", "privileged", "no label"))
    parts = []
    for key, label in (
        ("defaultDenyIngress", "default-deny ingress"),
        ("defaultDenyEgress", "default-deny egress"),
        ("resourceQuota", "ResourceQuota"),
        ("limitRange", "LimitRange"),
    ):
        yes = sum(1 for row in posture.values() if row.get(key) is True)
        judged = sum(1 for row in posture.values() if isinstance(row.get(key), bool))
        unknown = sum(1 for row in posture.values() if key in row and row[key] is None)
        parts.append(f"{label} {yes}/{judged}" + (f" ({unknown} not evaluated)" if unknown else ""))
    return [
        f"namespaces: {n}; Pod Security enforce: {shown}" + (f", other {others}" if others else ""),
        "  with " + ", ".join(parts),
    ]


def _list(out: _Writer, title: str, items: list[str], style: str) -> None:
    if not items:
        return
    out.line([(INDENT, None)], [(f"{title}:", style)])
    for item in items:
        out.line([(INDENT * 2 + "- ", None)], [(item, None)])


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
