"""SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer).

- one rule per check that ran; GitHub reads `properties.security-severity` and `tags` from the rule
- failed outcomes are results; suppressed outcomes are results carrying `suppressions`
- not-evaluated outcomes, input errors and warnings are tool execution notifications, and make
  `executionSuccessful` false (except plain warnings); unused/expired exceptions are configuration
  notifications
- passed outcomes are not listed (SARIF has no use for them)
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

import orjson

from kubefort.model import Outcome, ScanResult, Severity, Status, format_path
from kubefort.registry import CheckMeta, Registry
from kubefort.reporters import check_meta, checks_in_report, outcome_fingerprint, outcome_location, sort_outcomes

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/kubefort/kubefort"
FINGERPRINT_KEY = "kubefortFingerprint/v1"
SRCROOT = "%SRCROOT%"
MAX_TAGS = 20  # GitHub code scanning keeps at most 20 tags per rule

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.0",
    Severity.HIGH: "7.0",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}


def build(result: ScanResult, registry: Registry) -> dict[str, Any]:
    """The SARIF log as a plain dict (what `render` serialises)."""
    check_ids = checks_in_report(result)
    rule_index = {cid: i for i, cid in enumerate(check_ids)}
    effective = _effective_severities(result)
    rules = []
    for cid in check_ids:
        meta = check_meta(registry, cid)
        rules.append(_rule(meta, effective.get(cid, meta.severity)))

    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for o in sort_outcomes(result.outcomes):
        if o.status in (Status.FAILED, Status.SUPPRESSED):
            results.append(_result(o, rule_index[o.check_id]))
        elif o.status is Status.NOT_EVALUATED:
            notifications.append(_not_evaluated(o, rule_index[o.check_id]))

    successful = not notifications
    for i in result.inputs:
        if i.error:
            successful = False
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": f"could not load {_display(i.path)}: {i.error}"},
                    "locations": [{"physicalLocation": {"artifactLocation": _artifact(i.path)}}],
                }
            )
    for w in result.warnings:
        notifications.append({"level": "warning", "message": {"text": w}})

    config_notes = [
        {"level": "warning", "message": {"text": f"exception matched nothing: {e}"}} for e in result.unused_exceptions
    ] + [
        {"level": "warning", "message": {"text": f"exception has expired and no longer applies: {e}"}}
        for e in result.expired_exceptions
    ]

    invocation: dict[str, Any] = {"executionSuccessful": successful}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    if config_notes:
        invocation["toolConfigurationNotifications"] = config_notes

    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kubefort",
                        "version": result.tool_version,
                        "semanticVersion": result.tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render(result: ScanResult, registry: Registry) -> str:
    return orjson.dumps(build(result, registry), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()


def pascal_case(kebab: str) -> str:
    """privileged-container -> PrivilegedContainer."""
    return "".join(p[:1].upper() + p[1:] for p in kebab.split("-") if p)


def artifact_uri(file: str) -> tuple[str, str | None]:
    """(uri, uriBaseId) for a user-given path: relative paths resolve against %SRCROOT%."""
    if file == "-":
        return "stdin", None
    if PureWindowsPath(file).drive:
        return PureWindowsPath(file).as_uri(), None
    posix = file.replace("\\", "/")
    if posix.startswith("/"):
        return PurePosixPath(posix).as_uri(), None
    posix = str(PurePosixPath(posix))  # drops "./" and doubled slashes
    return quote(posix, safe="/"), SRCROOT


def _artifact(file: str | None) -> dict[str, Any]:
    uri, base = artifact_uri(file) if file else ("unknown", None)
    out: dict[str, Any] = {"uri": uri}
    if base:
        out["uriBaseId"] = base
    return out


def _display(file: str) -> str:
    return "stdin" if file == "-" else file


def _effective_severities(result: ScanResult) -> dict[str, Severity]:
    """Per check, the highest severity its non-passed outcomes carry.

    Configuration may override a check's severity and the outcomes carry the effective one; GitHub
    reads security-severity from the rule only, so the rule follows the outcomes.
    """
    out: dict[str, Severity] = {}
    for o in result.outcomes:
        if o.status is not Status.PASSED and o.severity > out.get(o.check_id, -1):
            out[o.check_id] = o.severity
    return out


def _rule(meta: CheckMeta, severity: Severity) -> dict[str, Any]:
    sections = meta.sections()
    full = _plain(sections.get("What it does", "")) or meta.title
    markdown = f"# {meta.id} {meta.name}\n\n{meta.title}\n\n{meta.doc}".rstrip() if meta.doc else meta.title
    if meta.remediation and "How to fix" not in sections:
        markdown += f"\n\n## How to fix\n{meta.remediation}"
    text = _plain(markdown)
    tags: list[str] = ["security"]
    if meta.area:
        tags.append(meta.area.lower())
    for scheme, ids in meta.mappings.as_dict().items():
        tags.extend(f"{scheme}:{i}" for i in ids)
    tags = list(dict.fromkeys(tags))[:MAX_TAGS]
    return {
        "id": meta.id,
        "name": pascal_case(meta.name),
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": full},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": {
            "tags": tags,
            "security-severity": SECURITY_SEVERITY[severity],
            "precision": "high",
            "kubefort-name": meta.name,
            "kubefort-severity": severity.label,
            "kubefort-area": meta.area,
            "kubefort-mappings": meta.mappings.as_dict(),
        },
    }


def _location(o: Outcome) -> dict[str, Any]:
    file, line, col = outcome_location(o)
    phys: dict[str, Any] = {"artifactLocation": _artifact(file)}
    if line is not None and line >= 1:
        region: dict[str, Any] = {"startLine": line}
        if col is not None and col >= 1:
            region["startColumn"] = col
        phys["region"] = region
    loc: dict[str, Any] = {"physicalLocation": phys}
    if o.resource is not None:
        loc["logicalLocations"] = [{"name": o.resource.name, "fullyQualifiedName": str(o.resource), "kind": "resource"}]
    return loc


def _message(o: Outcome) -> str:
    text = o.message or o.check_id
    return f"{o.resource}: {text}" if o.resource is not None else text


def _result(o: Outcome, rule_index: int) -> dict[str, Any]:
    props: dict[str, Any] = {"kubefort-severity": o.severity.label}
    if o.container:
        props["container"] = o.container
    if o.path:
        props["path"] = format_path(o.path)
    if o.event is not None:  # audit findings: the event, as the JSON report's results[].event
        props["event"] = o.event
    res: dict[str, Any] = {
        "ruleId": o.check_id,
        "ruleIndex": rule_index,
        "level": LEVEL[o.severity],
        "message": {"text": _message(o)},
        "locations": [_location(o)],
        "partialFingerprints": {FINGERPRINT_KEY: outcome_fingerprint(o)},
        "properties": props,
    }
    if o.status is Status.SUPPRESSED and o.suppression is not None:
        s = o.suppression
        sup: dict[str, Any] = {
            # no "status": the 2.1.0 schemas in use disagree on its name (status/state), and an
            # absent status already means the suppression is in effect
            "kind": "inSource" if s.kind == "annotation" else "external",
            "justification": s.reason,
        }
        sup_props = {k: v for k, v in (("kubefort-kind", s.kind), ("expires", s.expires), ("where", s.where)) if v}
        if sup_props:
            sup["properties"] = sup_props
        res["suppressions"] = [sup]
    elif o.status is Status.SUPPRESSED:
        res["suppressions"] = [{"kind": "external"}]
    return res


def _not_evaluated(o: Outcome, rule_index: int) -> dict[str, Any]:
    return {
        "level": "warning",
        "message": {"text": f"{o.check_id} not evaluated: {_message(o)}"},
        "locations": [_location(o)],
        "associatedRule": {"id": o.check_id, "index": rule_index},
    }


_HEADING = re.compile(r"^#{1,6}\s+", re.MULTILINE)


def _plain(markdown: str) -> str:
    """Markdown headings without their hashes: good enough as plain text for short rule docs."""
    return _HEADING.sub("", markdown).strip()
