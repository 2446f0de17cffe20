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


def markdown(m: CheckMeta) -> str:
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
        lines += ["", f"Source: `{m.source}`"]
    return "\n".join(lines) + "\n"


def explain(m: CheckMeta, fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps(as_dict(m), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "markdown":
        return markdown(m)
    import io

    from rich.console import Console
    from rich.markdown import Markdown

    buf = io.StringIO()
    import sys

    Console(file=buf, force_terminal=sys.stdout.isatty(), width=100).print(Markdown(markdown(m)))
    return buf.getvalue()


def catalog(metas: Sequence[CheckMeta], fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps([as_dict(m) for m in metas], option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "markdown":
        out = ["| ID | name | severity | title | peers |", "|---|---|---|---|---|"]
        for m in metas:
            peers = "; ".join(
                f"{_MAP_LABELS[k]} {', '.join(v)}"
                for k, v in m.mappings.as_dict().items()
                if k not in ("nsa", "mitre", "owasp")
            )
            out.append(f"| {m.id} | `{m.name}` | {m.severity.label} | {m.title} | {peers} |")
        return "\n".join(out) + "\n"
    import io
    import sys

    from rich.console import Console
    from rich.table import Table

    t = Table(show_lines=False, box=None, pad_edge=False)
    for col in ("ID", "name", "severity", "title"):
        t.add_column(col, no_wrap=col != "title")
    for m in metas:
        t.add_row(m.id, m.name, m.severity.label, m.title)
    buf = io.StringIO()
    Console(file=buf, force_terminal=sys.stdout.isatty(), width=120).print(t)
    buf.write(f"\n{len(metas)} check(s). `kubefort explain ID` for details.\n")
    return buf.getvalue()


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
            markdown(m).replace("# " + m.id, "## " + m.id, 1).replace("\n## ", "\n### ").rstrip("\n"),
            "",
        ]
    return "\n".join(parts)
