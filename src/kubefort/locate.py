"""Map a path inside an object to file:line:column, lazily.

Locations are only needed for outcomes that are shown (failed, suppressed, not evaluated), so
the fast parse keeps no positions; the first time an input needs one, its text is composed once
by libyaml (nodes with marks, no Python objects) and paths are walked on that node tree.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from kubefort.loaders.yamlparse import _CParser, _GoResolver, resolve_plain
from kubefort.model import Path_

class _MarksOnly(_GoResolver):
    """Positions need no scalar types: every node is composed untyped (keys are resolved on demand)."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        return "tag:yaml.org,2002:str"


if _CParser is not None:

    class _Composer(_CParser, _MarksOnly):  # type: ignore[misc, valid-type]
        pass

else:  # pragma: no cover

    class _Composer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _MarksOnly):  # type: ignore[no-redef]
        def __init__(self, stream: Any) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)


def _key_text(node: Any) -> str | None:
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
        return str(v) if tag != "tag:yaml.org,2002:str" else node.value
    return node.value


class Locator:
    """Positions for one input. Only the documents asked about are composed, each once."""

    def __init__(self, data: bytes | None, doc_lines: list[int] | None = None) -> None:
        self.data = data
        self.doc_lines = doc_lines or []
        self._lines: list[bytes] | None = None
        self._docs: dict[int, tuple[Any, int]] = {}
        self._all: list[Any] | None = None

    @staticmethod
    def _compose_text(text: bytes, limit: int | None = None) -> list[Any]:
        docs: list[Any] = []
        loader = _Composer(text)
        try:
            while loader.check_node() and (limit is None or len(docs) < limit):
                docs.append(loader.get_node())
        except (yaml.YAMLError, RecursionError, ValueError):
            pass  # positions for the documents before the error are still good
        finally:
            loader.dispose()
        return docs

    def _doc(self, doc_index: int) -> tuple[Any, int] | None:
        """(root node, line offset) of one document."""
        if doc_index in self._docs:
            return self._docs[doc_index]
        if self.data is None:
            return None
        found: tuple[Any, int] | None = None
        if len(self.doc_lines) > 1 and doc_index < len(self.doc_lines):
            # compose just this document: the lines from its first node to the next one's
            if self._lines is None:
                self._lines = self.data.split(b"\n")
            first = self.doc_lines[doc_index] - 1
            last = self.doc_lines[doc_index + 1] - 1 if doc_index + 1 < len(self.doc_lines) else len(self._lines)
            docs = self._compose_text(b"\n".join(self._lines[first:last]), limit=1)
            if docs and docs[0] is not None:
                found = (docs[0], first)
        if found is None:
            if self._all is None:
                self._all = self._compose_text(self.data)
            if doc_index < len(self._all) and self._all[doc_index] is not None:
                found = (self._all[doc_index], 0)
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
