"""What a parse returns: the documents, where each starts, and the errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------
MAX_EXPANDED_NODES = 1_000_000  # alias expansion bound (billion-laughs); go-yaml has a similar guard


@dataclass(slots=True)
class ParseError:
    message: str
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    doc_index: int | None = None  # the document it belongs to, when known


@dataclass(slots=True)
class ParsedStream:
    docs: list[Any] = field(default_factory=list)  # one entry per YAML document (None for empty ones)
    doc_lines: list[int] = field(default_factory=list)  # 1-based first line of each document
    doc_errors: dict[int, ParseError] = field(default_factory=dict)  # per-document failures (others still usable)
    error: ParseError | None = None  # a failure that ends the stream: later documents are unknown
    fast: bool = False  # which path parsed it (for benchmarks and tests)
    # the fast path's rapidyaml tree, parsed in place, and its buffer: positions for findings
    # without parsing the text again (`locate.Locator(tree=...)`); not picklable, not kept
    tree: Any = field(default=None, repr=False, compare=False)
