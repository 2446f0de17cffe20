"""The check catalog (`kubefort checks`) and one check's documentation (`kubefort explain`) as text
for a terminal or a pipe: wrapped at the output's width, at word boundaries, no line padded.

    KF-POD-001  critical  privileged-container  Container runs privileged
                          CIS 5.2.2; PSS baseline/privileged; Trivy KSV-0017; Checkov CKV_K8S_16

The documents themselves (markdown, JSON) are `kubefort.docs`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from kubefort.registry import CheckMeta
from kubefort.reporters.layout import Piece, Writer, console, strip_trailing
from kubefort.reporters.table import SEVERITY_STYLE
from kubefort.reporters.width import DEFAULT_WIDTH
from kubefort.wording import plural

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.markdown import MarkdownElement

GAP = "  "
# short names of the standards and tools a check maps to, for a line per check
SHORT_LABELS = {
    "cis": "CIS",
    "pss": "PSS",
    "trivy": "Trivy",
    "checkov": "Checkov",
    "kubescape": "Kubescape",
    "kube_linter": "KubeLinter",
    "polaris": "Polaris",
}


def catalog(metas: Sequence[CheckMeta], *, width: int | None = None, color: bool = False) -> str:
    """One entry per check: ID and severity columns, then name and title, then its peer IDs,
    wrapped under themselves."""
    from kubefort import docs

    buf = io.StringIO()
    out = Writer(console(width or DEFAULT_WIDTH, color, buf), color)
    id_w = max((len(m.id) for m in metas), default=0)
    sev_w = max((len(m.severity.label) for m in metas), default=0)
    for m in metas:
        prefix: list[Piece] = [
            (m.id.ljust(id_w), "bold"),
            (GAP, None),
            (m.severity.label.ljust(sev_w), SEVERITY_STYLE[m.severity]),
            (GAP, None),
        ]
        out.line(prefix, [(m.name, "bold"), (GAP, None), (m.title, None)])
        ids = docs.peers(m, SHORT_LABELS)
        if ids:
            out.line([(" " * (id_w + sev_w + 2 * len(GAP)), None)], [("peers: " + "; ".join(ids), "dim")])
    out.blank()
    out.line([], [(f"{plural(len(metas), 'check')}. `kubefort explain ID` for details.", None)])
    return buf.getvalue()


def explain(markdown: str, *, width: int | None = None, color: bool = False) -> str:
    """A check's markdown documentation rendered by Rich at `width`, without Rich's padding;
    words too long for a table column are folded, never cut off with an ellipsis."""
    from rich.markdown import Markdown, TableElement
    from rich.table import Table

    class FoldingTable(TableElement):
        def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
            for part in super().__rich_console__(console, options):
                if isinstance(part, Table):
                    for column in part.columns:
                        column.overflow = "fold"
                yield part

    class FoldingMarkdown(Markdown):
        elements: ClassVar[dict[str, type[MarkdownElement]]] = {**Markdown.elements, "table_open": FoldingTable}

    buf = io.StringIO()
    console(width or DEFAULT_WIDTH, color, buf).print(FoldingMarkdown(markdown))
    return strip_trailing(buf.getvalue())
