"""Human report: findings grouped by object, then a summary. Rich styles it; colour only on request.

    Deployment/prod/web  deploy/web.yaml:1
      failed   critical  KF-POD-001  privileged-container  container=app  container 'app' is privileged
                                     deploy/web.yaml:21:13
                                     fix: Set securityContext.privileged to false.

Columns line up across groups; the last column wraps under itself at word boundaries (long words
folded, never truncated), and lines carry no trailing spaces (`kubefort.reporters.layout`).
Passed rows (--include-passed) say what was verified, not the check's title; suppressed findings
are counted in the summary and listed only with `show_suppressed`.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping

from kubefort.model import Outcome, ResourceId, ScanResult, Severity, Source, Status
from kubefort.registry import Registry
from kubefort.reporters import (
    audit_text,
    check_meta,
    is_complete,
    object_title,
    outcome_location,
    resource_sort_key,
    severity_counts,
    sort_key,
)
from kubefort.reporters.layout import Piece, Writer, console
from kubefort.reporters.width import DEFAULT_WIDTH
from kubefort.wording import plural

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
# how the summary names each kind of suppression (Suppression.kind)
SUPPRESSION_LABELS = {"baseline": "baseline", "config": "exceptions", "annotation": "inline ignores"}


def render(
    result: ScanResult,
    registry: Registry,
    *,
    include_passed: bool = False,
    show_suppressed: bool = False,
    color: bool = False,
    width: int | None = None,
) -> str:
    buf = io.StringIO()
    out = Writer(console(width or DEFAULT_WIDTH, color, buf), color)
    shown = [o for o in result.outcomes if _listed(o.status, include_passed, show_suppressed)]
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
    _summary(out, result, show_suppressed)
    return buf.getvalue()


def _listed(status: Status, include_passed: bool, show_suppressed: bool) -> bool:
    if status is Status.PASSED:
        return include_passed
    if status is Status.SUPPRESSED:
        return show_suppressed
    return True


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
        key: tuple[object, ...]
        if o.event is not None:  # an audit finding: one group per event, saying who did what
            file, line, _ = outcome_location(o)
            item = o.source.doc_index if o.source is not None else 0
            key = (file or "", line or 0, item, "")
            title, where = audit_text.header(o.event), _where(file, line)
        elif o.resource is not None:
            src = o.source or sources.get(o.resource)
            if src is not None:
                key = resource_sort_key(o.resource, src)
                where = _where(src.file, src.line)
            else:
                file, line, _ = outcome_location(o)
                key = (file or "", line or 0, 0, str(o.resource))
                where = _where(file, line)
            title = object_title(o.resource, src)
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


def _row(out: Writer, o: Outcome, registry: Registry, widths: tuple[int, int, int]) -> None:
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
    # a pass says what was verified: the title names the problem and would read like a failure
    text = meta.passed_text() if o.status is Status.PASSED else o.message or meta.title
    body.append((f"  {text}", None))
    body.append((f"  {_where(file, line, col)}", "cyan"))
    out.line(prefix, body)

    pad: list[Piece] = [(" " * sum(len(t) for t, _ in prefix), None)]
    if o.event is not None:
        out.line(pad, [(audit_text.detail(o.event), "dim")])
    if o.status is Status.SUPPRESSED and o.suppression is not None:
        s = o.suppression
        note = f"suppressed by {s.kind}" + (f" ({s.where})" if s.where else "") + f": {s.reason}"
        if s.expires:
            note += f" (expires {s.expires})"
        out.line(pad, [(note, "magenta")])
    if o.status is Status.FAILED and meta.remediation:
        out.line(pad, [(f"fix: {meta.remediation}", "dim")])


def suppressed_summary(result: ScanResult) -> str:
    """'78 suppressed (baseline 70, exceptions 8)': suppressed findings by what suppressed them."""
    kinds = Counter(
        o.suppression.kind if o.suppression is not None else "unknown"
        for o in result.outcomes
        if o.status is Status.SUPPRESSED
    )
    total = result.counts()[Status.SUPPRESSED.value]
    order = [*SUPPRESSION_LABELS, *sorted(k for k in kinds if k not in SUPPRESSION_LABELS)]
    parts = [f"{SUPPRESSION_LABELS.get(k, k)} {kinds[k]}" for k in order if kinds[k]]
    return f"{total} suppressed" + (f" ({', '.join(parts)})" if parts else "")


def _summary(out: Writer, result: ScanResult, show_suppressed: bool) -> None:
    counts = result.counts()
    out.line([], [("Summary", "bold underline")])
    pieces: list[Piece] = [(INDENT + "outcomes: ", None)]
    for i, s in enumerate((Status.FAILED, Status.SUPPRESSED, Status.NOT_EVALUATED, Status.PASSED)):
        if i:
            pieces.append((", ", None))
        text = suppressed_summary(result) if s is Status.SUPPRESSED else f"{counts[s.value]} {s.value}"
        pieces.append((text, STATUS_STYLE[s] if counts[s.value] else None))
    out.line([], pieces, hang=2 * len(INDENT))
    if counts[Status.SUPPRESSED.value] and not show_suppressed:
        out.line([(INDENT, None)], [("suppressed findings are not listed above (--show-suppressed lists them)", "dim")])

    pieces = [(INDENT + "failed by severity: ", None)]
    for i, (label, n) in enumerate(severity_counts(result).items()):
        if i:
            pieces.append((", ", None))
        pieces.append((f"{n} {label}", SEVERITY_STYLE[Severity.parse(label)] if n else None))
    out.line([], pieces, hang=2 * len(INDENT))

    audit = result.extras.get("audit")
    if isinstance(audit, dict):  # kubefort audit: events, not objects, and the access metrics
        events = sum(i.objects for i in result.inputs)
        scanned = (
            f"{plural(len(result.checks_run), 'check')} × {events:,} {'event' if events == 1 else 'events'}"
            f" from {plural(len(result.inputs), 'input')} in {result.duration_s:.2f}s"
        )
        out.line([(INDENT, None)], [(scanned, None)])
        for line in audit_text.summary_lines(audit):
            out.line([(INDENT, None)], [(line, None)], hang=2 * len(INDENT))
    else:
        scanned = (
            f"{plural(len(result.checks_run), 'check')} × {plural(len(result.resources), 'object')}"
            f" from {plural(len(result.inputs), 'input')} in {result.duration_s:.2f}s"
        )
        out.line([(INDENT, None)], [(scanned, None)])
    covered = (result.extras.get("cluster") or {}).get("coveredByController")
    if covered:
        note = f"{plural(covered, 'object')} covered by their controllers (same containers as its template; --scan-owned checks them too)"
        out.line([(INDENT, None)], [(note, None)])
    posture = (result.extras.get("cluster") or {}).get("namespaces")
    if posture:
        for line in posture_lines(posture):
            out.line([(INDENT, None)], [(line, None)])

    # an input's error is shown once: as its KF-INPUT row when it has one, else in this list
    input_rows = [o.message for o in result.outcomes if o.check_id.startswith("KF-INPUT-") and o.message]
    _list(
        out,
        "inputs with errors",
        [
            f"{_where(i.path, None)}: {i.error}"
            for i in result.inputs
            if i.error and not any(i.error in m for m in input_rows)
        ],
        "red",
    )
    _list(
        out,
        "skipped documents",
        [f"{_where(i.path, None)}: {reason}" for i in result.inputs for reason in i.skipped],
        "dim",
    )
    reasons = Counter(  # input-level outcomes (KF-INPUT) are rows of their own above
        f"{o.check_id}: {o.message or 'no reason given'}"
        for o in result.outcomes
        if o.status is Status.NOT_EVALUATED and not o.check_id.startswith("KF-INPUT-")
    )
    ranked = sorted(reasons.items(), key=lambda rn: (-rn[1], rn[0]))
    _list(out, "not evaluated", [f"{r} ({n}×)" if n > 1 else r for r, n in ranked], "yellow")
    _list(out, "unused exceptions", list(dict.fromkeys(result.unused_exceptions)), "yellow")
    _list(out, "expired exceptions (no longer applied)", list(dict.fromkeys(result.expired_exceptions)), "yellow")
    _list(out, "warnings", list(dict.fromkeys(result.warnings)), "yellow")

    out.blank()
    failed = counts[Status.FAILED.value]
    if failed:
        out.line([], [(plural(failed, "failed check"), "bold red")])
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


def _list(out: Writer, title: str, items: list[str], style: str) -> None:
    if not items:
        return
    out.line([(INDENT, None)], [(f"{title}:", style)])
    for item in items:
        out.line([(INDENT * 2 + "- ", None)], [(item, None)])
