"""Reporters: turn a finished ScanResult into text. No filtering, no re-analysis, no exit policy.

`render(fmt, result, registry)` picks the module for a format name. Every renderer returns the whole
report as one string ending in exactly one newline; write it out as is (no extra newline).

The small helpers below are shared by the format modules: where an outcome points, how outcomes are
ordered, and the check metadata to show for an ID the registry may not know.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.model import Outcome, ResourceId, ScanResult, Severity, Source, Status, fingerprint, format_path
from kubefort.registry import CheckMeta, Mappings, Registry

__all__ = [
    "FORMATS",
    "check_meta",
    "object_title",
    "outcome_fingerprint",
    "outcome_location",
    "render",
    "render_chunks",
    "sort_outcomes",
]

FORMATS = {"table", "json", "sarif", "junit", "prometheus"}


def render_chunks(
    fmt: str,
    result: ScanResult,
    registry: Registry,
    *,
    include_passed: bool = False,
    show_suppressed: bool = False,
    color: bool = False,
    width: int | None = None,
) -> Iterator[str]:
    """`render` in pieces, for writing big reports without holding them twice (JSON streams its
    results; other formats come in one piece)."""
    if fmt == "json":
        from kubefort.reporters import json

        return json.render_chunks(result, registry, include_passed=include_passed)
    return iter(
        (
            render(
                fmt,
                result,
                registry,
                include_passed=include_passed,
                show_suppressed=show_suppressed,
                color=color,
                width=width,
            ),
        )
    )


def render(
    fmt: str,
    result: ScanResult,
    registry: Registry,
    *,
    include_passed: bool = False,
    show_suppressed: bool = False,
    color: bool = False,
    width: int | None = None,
) -> str:
    """Render `result` in format `fmt` (one of FORMATS).

    include_passed adds passed outcomes to the table and JSON reports (SARIF never lists them,
    JUnit always does; Prometheus only counts them). The table counts suppressed findings and
    lists them only with show_suppressed (JSON, SARIF and JUnit always list them). color and
    width (default: `layout.DEFAULT_WIDTH`) apply to the table only.
    """
    if fmt == "table":
        from kubefort.reporters import table

        return table.render(
            result, registry, include_passed=include_passed, show_suppressed=show_suppressed, color=color, width=width
        )
    if fmt == "json":
        from kubefort.reporters import json

        return json.render(result, registry, include_passed=include_passed)
    if fmt == "sarif":
        from kubefort.reporters import sarif

        return sarif.render(result, registry)
    if fmt == "junit":
        from kubefort.reporters import junit

        return junit.render(result, registry)
    if fmt == "prometheus":
        from kubefort.reporters import prometheus

        return prometheus.render(result, registry)
    raise ValueError(f"unknown output format {fmt!r} (choose one of: {', '.join(sorted(FORMATS))})")


def outcome_location(o: Outcome) -> tuple[str | None, int | None, int | None]:
    """(file, line, column) of an outcome: the engine's location as given, else where its document starts.

    A location without a line stays without one (the engine leaves lines out for rendered Helm or
    Kustomize output, whose lines exist in no file).
    """
    if o.location is not None:
        return o.location.file, o.location.line, o.location.column if o.location.line is not None else None
    if o.source is not None:
        return o.source.file, o.source.line, None
    return None, None, None


def outcome_fingerprint(o: Outcome) -> str:
    """The engine's fingerprint, or the model's recipe when the engine left it empty."""
    if o.fingerprint:
        return o.fingerprint
    file = o.source.file if o.source is not None else (o.location.file if o.location else None)
    return fingerprint(o.check_id, o.resource, o.container, o.path, file)


def sort_key(o: Outcome) -> tuple[object, ...]:
    """Deterministic report order: file, line, column, check ID, then the rest as tie-breakers."""
    file, line, col = outcome_location(o)
    return (
        file or "",
        line if line is not None else 0,
        col if col is not None else 0,
        o.check_id,
        str(o.resource) if o.resource is not None else "",
        o.container or "",
        format_path(o.path),
        o.message,
        _STATUS_ORDER[o.status],
    )


def sort_outcomes(outcomes: list[Outcome]) -> list[Outcome]:
    return sorted(outcomes, key=sort_key)


def resource_sort_key(rid: ResourceId, src: Source) -> tuple[object, ...]:
    return (src.file, src.line if src.line is not None else 0, src.doc_index, str(rid))


# what the loaders put where an object has no usable kind or name: "?" for a malformed object
# (kind, apiVersion or metadata of the wrong type), "(no name)" for one without metadata.name
_UNKNOWN = ("", "?")
_NO_NAME = "(no name)"


def object_title(rid: ResourceId, src: Source | None) -> str:
    """How reports name an object: "Deployment/prod/web". An object without a usable kind or name
    is named by what is known of it and by its document instead ("Pod without a name, document 1",
    "ConfigMap, document 3", "document 2"), never "?/?"."""
    if rid.kind not in _UNKNOWN and rid.name not in _UNKNOWN and rid.name != _NO_NAME:
        return str(rid)
    what = [] if rid.kind in _UNKNOWN else [rid.kind + (" without a name" if rid.name == _NO_NAME else "")]
    if src is not None:
        doc = f"document {src.doc_index + 1}"
        if len(src.item_path) >= 2:  # a member of a List
            doc = f"{src.item_path[0]}[{src.item_path[1]}] of {doc}"
        what.append(doc)
    return ", ".join(what) or "object of unknown kind"


def check_meta(registry: Registry, check_id: str) -> CheckMeta:
    """Metadata for a check ID; a stand-in (name from the ID, no docs) when the registry lacks it."""
    try:
        return registry.get(check_id)
    except KeyError:
        parts = check_id.split("-")
        return CheckMeta(
            id=check_id,
            name=check_id.lower(),
            title=check_id,
            severity=Severity.INFO,
            area=parts[1] if len(parts) > 2 else "",
            target="object",
            kinds=None,
            mappings=Mappings(),
            raw_doc="",
            remediation="",
        )


def checks_in_report(result: ScanResult) -> list[str]:
    """IDs of the checks that ran plus any that only appear in outcomes, sorted."""
    return sorted(set(result.checks_run) | {o.check_id for o in result.outcomes})


def severity_counts(result: ScanResult, status: Status = Status.FAILED) -> dict[str, int]:
    """{critical: n, high: n, ...} over the outcomes with `status`, most severe first."""
    out = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for o in result.outcomes:
        if o.status is status:
            out[o.severity.label] += 1
    return out


def is_complete(result: ScanResult) -> bool:
    """True when every input loaded and every (check, target) pair could be judged, apart from
    those the user chose not to feed (`--skip-resources`: not evaluated, by request)."""
    return not any(i.error for i in result.inputs) and not any(
        o.status is Status.NOT_EVALUATED and o.suppression is None for o in result.outcomes
    )


_STATUS_ORDER = {Status.FAILED: 0, Status.NOT_EVALUATED: 1, Status.SUPPRESSED: 2, Status.PASSED: 3}
