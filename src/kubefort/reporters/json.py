"""JSON report: the whole ScanResult as data, described by schemas/report.schema.json (schema_version "1")."""

from __future__ import annotations

import pathlib
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

SCHEMA_VERSION = "1"
SCHEMA_ID = "https://kubefort.dev/schemas/report/v1.json"


def build(result: ScanResult, registry: Registry, *, include_passed: bool = False) -> dict[str, Any]:
    """The report as a plain dict (what `render` serialises)."""
    counts = result.counts()
    outcomes = [o for o in result.outcomes if include_passed or o.status is not Status.PASSED]
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
        "results": [_result(o, registry) for o in sort_outcomes(outcomes)],
        "exceptions": {
            "unused": list(result.unused_exceptions),
            "expired": list(result.expired_exceptions),
        },
        "warnings": list(result.warnings),
        "extras": result.extras,
    }


def render(result: ScanResult, registry: Registry, *, include_passed: bool = False) -> str:
    data = build(result, registry, include_passed=include_passed)
    opts = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
    return orjson.dumps(data, option=opts, default=_default).decode()


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
    return {
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


def _suppression(s: Suppression | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"kind": s.kind, "reason": s.reason, "expires": s.expires, "where": s.where}


def _default(obj: Any) -> Any:
    # extras are free-form: accept the few non-JSON types Python code naturally puts there
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    if isinstance(obj, pathlib.PurePath):
        return obj.as_posix()
    raise TypeError(f"cannot serialise {type(obj).__name__} in the JSON report")
