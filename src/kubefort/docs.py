"""Check documentation: `kubefort explain`, `kubefort checks` and the generated docs/checks.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import orjson

from kubefort.registry import CheckMeta

_MAP_LABELS = {
    "cis": "CIS Kubernetes Benchmark",
    "nsa": "NSA-CISA",
    "pss": "Pod Security Standards",
    "mitre": "MITRE ATT&CK",
    "owasp": "OWASP Kubernetes Top 10",
    "trivy": "Trivy",
    "checkov": "Checkov",
    "kubescape": "Kubescape",
    "kube_linter": "KubeLinter",
    "polaris": "Polaris",
}


class CheckDoc(TypedDict):
    """A check's documentation as data (`kubefort explain -o json`, `kubefort checks -o json`)."""

    id: str
    name: str
    title: str
    severity: str
    area: str
    target: str
    kinds: list[str] | None
    mappings: dict[str, list[str]]
    remediation: str
    doc: dict[str, str]
    source: str


def as_dict(m: CheckMeta) -> CheckDoc:
    return {
        "id": m.id,
        "name": m.name,
        "title": m.title,
        "severity": m.severity.label,
        "area": m.area,
        "target": m.target,
        "kinds": sorted(m.kinds) if m.kinds else None,
        "mappings": m.mappings.as_dict(),
        "remediation": m.remediation,
        "doc": m.sections(),
        "source": m.source,
    }


def markdown(m: CheckMeta, *, source_line: bool = True) -> str:
    """`source_line=False` names the file only (docs/checks.md: an edit above a check must not
    make the committed page stale; the ID is in that file, and `kubefort explain` gives the line)."""
    lines = [
        f"# {m.id} `{m.name}`",
        "",
        f"**{m.title}** — severity **{m.severity.label}**, area `{m.area}`, runs on: {m.target}"
        + (f" ({', '.join(sorted(m.kinds))})" if m.kinds else ""),
        "",
    ]
    lines.append(m.doc.strip())
    lines += ["", "## Remediation", m.remediation]
    maps = m.mappings.as_dict()
    if maps:
        lines += ["", "## Mappings"]
        lines += [f"- {_MAP_LABELS[k]}: {', '.join(v)}" for k, v in maps.items()]
    if m.source:
        src = m.source if source_line else m.source.rsplit(":", 1)[0]
        lines += ["", f"Source: `{src}`"]
    return "\n".join(lines) + "\n"


def explain(m: CheckMeta, fmt: str, *, width: int | None = None, color: bool = False) -> str:
    """A check's documentation as json, markdown, or (`table`, the default) text for a terminal:
    wrapped at `width` columns (default: `kubefort.reporters.layout.DEFAULT_WIDTH`), coloured
    only when `color`, no line padded with spaces."""
    if fmt == "json":
        return orjson.dumps(as_dict(m), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "markdown":
        return markdown(m)
    from kubefort.reporters import catalog as text

    return text.explain(markdown(m), width=width, color=color)


# the mappings that name other tools' and standards' IDs for the same control (peer IDs)
PEER_KEYS = ("cis", "pss", "trivy", "checkov", "kubescape", "kube_linter", "polaris")


def peers(m: CheckMeta, labels: dict[str, str] = _MAP_LABELS) -> list[str]:
    """["Trivy KSV-0017", "Checkov CKV_K8S_16", ...]: the check's IDs in other tools and standards."""
    return [f"{labels[k]} {', '.join(v)}" for k, v in m.mappings.as_dict().items() if k in PEER_KEYS]


def catalog(metas: Sequence[CheckMeta], fmt: str, *, width: int | None = None, color: bool = False) -> str:
    """Every check as json, markdown, or (`table`) text for a terminal: ID, severity, name, title
    and peer IDs, wrapped at `width` columns, coloured only when `color`."""
    if fmt == "json":
        return orjson.dumps([as_dict(m) for m in metas], option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "markdown":
        out = ["| ID | name | severity | title | peers |", "|---|---|---|---|---|"]
        for m in metas:
            out.append(f"| {m.id} | `{m.name}` | {m.severity.label} | {m.title} | {'; '.join(peers(m))} |")
        return "\n".join(out) + "\n"
    from kubefort.reporters import catalog as text

    return text.catalog(metas, width=width, color=color)


def checks_page(metas: Sequence[CheckMeta]) -> str:
    """docs/checks.md: the catalog table, then every check's documentation."""
    parts = [
        "# Checks",
        "",
        "Generated from the code by `make docs` (`kubefort checks -o markdown` and `kubefort explain ID -o markdown`);",
        "a test fails when this file is stale.",
        "",
        catalog(metas, "markdown").rstrip("\n"),
        "",
    ]
    for m in metas:
        parts += [
            "---",
            "",
            markdown(m, source_line=False)
            .replace("# " + m.id, "## " + m.id, 1)
            .replace("\n## ", "\n### ")
            .rstrip("\n"),
            "",
        ]
    return "\n".join(parts)
