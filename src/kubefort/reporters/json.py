"""JSON report: the whole ScanResult as data, described by schemas/report.schema.json (schema_version "1.1")."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import orjson

from kubefort.model import Outcome, ScanResult, Status, Suppression, format_path
from kubefort.registry import Registry
from kubefort.reporters import (
    check_meta,
    checks_in_report,
    is_complete,
    outcome_fingerprint,
    outcome_location,
    resource_sort_key,
    severity_counts,
    sort_outcomes,
)

SCHEMA_VERSION = "1.1"
SCHEMA_ID = "https://kubefort.dev/schemas/report/v1.json"


_STREAMED = "@@kubefort:streamed-results@@"
_CHUNK = 2000


def build(
    result: ScanResult, registry: Registry, *, include_passed: bool = False, results: bool = True
) -> dict[str, Any]:
    """The report as a plain dict (what `render` serialises); results=False leaves a placeholder
    where `render_chunks` streams them."""
    counts = result.counts()
    outcomes = [o for o in result.outcomes if include_passed or o.status is not Status.PASSED] if results else []
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "kubefort", "version": result.tool_version},
        "inputs": [
            {
                "path": i.path,
                "kind": i.kind,
                "documents": i.documents,
                "objects": i.objects,
                "skipped": list(i.skipped),
                "error": i.error,
            }
            for i in result.inputs
        ],
        "summary": {
            "outcomes": {s.value: counts[s.value] for s in Status},
            "failed_by_severity": severity_counts(result),
            "checks": len(result.checks_run),
            "objects": len(result.resources),
            "complete": is_complete(result),
            "duration_s": round(result.duration_s, 3),
        },
        "checks": [_check(registry, cid) for cid in checks_in_report(result)],
        "objects": [
            {
                **rid.as_dict(),
                "file": src.file,
                "line": src.line,
                **result.object_extra.get((rid, src), {}),
            }
            for rid, src in sorted(result.resources, key=lambda rs: resource_sort_key(*rs))
        ],
        "results": [_result(o, registry) for o in sort_outcomes(outcomes)] if results else _STREAMED,
        "exceptions": {
            "unused": list(result.unused_exceptions),
            "expired": list(result.expired_exceptions),
        },
        "warnings": list(result.warnings),
        "extras": result.extras,
    }


_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE


def render(result: ScanResult, registry: Registry, *, include_passed: bool = False) -> str:
    return "".join(render_chunks(result, registry, include_passed=include_passed))


def render_chunks(result: ScanResult, registry: Registry, *, include_passed: bool = False) -> Iterator[str]:
    """The report's text in pieces, byte for byte what one `orjson.dumps` of `build()` gives, but
    the results (a cluster can have 100,000) are turned into dicts and text 2,000 at a time, so
    the report never exists twice in memory as objects."""
    text = orjson.dumps(
        build(result, registry, include_passed=include_passed, results=False), option=_OPTS, default=_default
    ).decode()
    marker = f'"{_STREAMED}"'
    at = text.index(marker)
    line = text.rfind("\n", 0, at) + 1
    pad = " " * (len(text[line:at]) - len(text[line:at].lstrip(" ")))
    yield text[:at]
    outcomes = sort_outcomes([o for o in result.outcomes if include_passed or o.status is not Status.PASSED])
    if not outcomes:
        yield "[]"
    else:
        yield "[\n"
        for i in range(0, len(outcomes), _CHUNK):
            body = orjson.dumps(
                [_result(o, registry) for o in outcomes[i : i + _CHUNK]],
                option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
                default=_default,
            ).decode()
            # "[\n  {...},\n  {...}\n]" -> the items, indented one level deeper (JSON strings hold no raw newlines)
            yield ("" if i == 0 else ",\n") + pad + body[2:-2].replace("\n", "\n" + pad)
        yield "\n" + pad + "]"
    yield text[at + len(marker) :]


def _check(registry: Registry, check_id: str) -> dict[str, Any]:
    m = check_meta(registry, check_id)
    return {
        "id": m.id,
        "name": m.name,
        "title": m.title,
        "severity": m.severity.label,
        "area": m.area,
        "mappings": m.mappings.as_dict(),
    }


def _result(o: Outcome, registry: Registry) -> dict[str, Any]:
    meta = check_meta(registry, o.check_id)
    file, line, column = outcome_location(o)
    out = {
        "check_id": o.check_id,
        "check_name": meta.name,
        "severity": o.severity.label,
        "outcome": o.status.value,
        "resource": o.resource.as_dict() if o.resource is not None else None,
        "container": o.container,
        "file": file,
        "line": line,
        "column": column,
        "path": format_path(o.path) if o.path else None,
        "message": o.message,
        "remediation": meta.remediation,
        "fingerprint": outcome_fingerprint(o),
        "suppression": _suppression(o.suppression),
    }
    if o.event is not None:  # audit findings: the event (AuditEvent.summary())
        out["event"] = o.event
    return out


def _suppression(s: Suppression | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"kind": s.kind, "reason": s.reason, "expires": s.expires, "where": s.where}


def _default(obj: object) -> object:
    # extras are free-form: accept the few non-JSON types Python code naturally puts there
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    if isinstance(obj, pathlib.PurePath):
        return obj.as_posix()
    raise TypeError(f"cannot serialise {type(obj).__name__} in the JSON report")
