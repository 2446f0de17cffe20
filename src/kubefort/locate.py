"""Map a path inside an object to file:line:column, lazily.

Locations are only needed for outcomes that are shown (failed, suppressed, not evaluated), so
the fast parse keeps no positions; the first time an input needs one, its text is composed once
by libyaml (nodes with marks, no Python objects) and paths are walked on that node tree.
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kubefort.loaders.yamlparse import T_STR, compose_nodes, resolve_plain
from kubefort.model import Path_


def _key_text(node: Node) -> str | None:
    if not isinstance(node, ScalarNode):
        return None
    if node.style is None:  # plain: `on:` is the key "true" for the API server
        tag, v = resolve_plain(node.value)
        if v is True:
            return "true"
        if v is False:
            return "false"
        if v is None:
            return "null"
        return str(v) if tag != T_STR else str(node.value)
    return str(node.value)


class Locator:
    """Positions for one input. Only the documents asked about are composed, each once."""

    def __init__(self, data: bytes | None, doc_lines: list[int] | None = None) -> None:
        self.data = data
        self.doc_lines = doc_lines or []
        self._lines: list[bytes] | None = None
        self._docs: dict[int, tuple[Node, int]] = {}
        self._all: list[Node | None] | None = None

    def _doc(self, doc_index: int) -> tuple[Node, int] | None:
        """(root node, line offset) of one document."""
        if doc_index in self._docs:
            return self._docs[doc_index]
        if self.data is None:
            return None
        found: tuple[Node, int] | None = None
        if len(self.doc_lines) > 1 and doc_index < len(self.doc_lines):
            # compose just this document: the lines from its first node to the next one's
            if self._lines is None:
                self._lines = self.data.split(b"\n")
            first = self.doc_lines[doc_index] - 1
            last = self.doc_lines[doc_index + 1] - 1 if doc_index + 1 < len(self.doc_lines) else len(self._lines)
            docs = compose_nodes(b"\n".join(self._lines[first:last]), limit=1)
            if docs and docs[0] is not None:
                found = (docs[0], first)
        if found is None:
            if self._all is None:
                self._all = compose_nodes(self.data)
            root = self._all[doc_index] if doc_index < len(self._all) else None
            if root is not None:
                found = (root, 0)
        if found is not None:
            self._docs[doc_index] = found
        return found

    def find(self, doc_index: int, path: Path_) -> tuple[int, int] | None:
        """1-based (line, column) of the field at path, or of its deepest existing ancestor."""
        got = self._doc(doc_index)
        if got is None:
            return None
        node, offset = got
        mark = node.start_mark
        for step in path:
            if isinstance(node, MappingNode) and isinstance(step, str):
                for k, v in node.value:
                    if _key_text(k) == step:
                        mark = k.start_mark
                        node = v
                        break
                else:
                    break
            elif isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
                node = node.value[step]
                mark = node.start_mark
            else:
                break
        return mark.line + 1 + offset, mark.column + 1
