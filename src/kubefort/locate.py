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

if _CParser is not None:

    class _Composer(_CParser, _GoResolver):  # type: ignore[misc, valid-type]
        pass

else:  # pragma: no cover

    class _Composer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _GoResolver):  # type: ignore[no-redef]
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
    def __init__(self, data: bytes | None) -> None:
        self.data = data
        self._docs: list[Any] | None = None

    def _compose(self) -> list[Any]:
        if self._docs is None:
            docs: list[Any] = []
            if self.data is not None:
                loader = _Composer(self.data)
                try:
                    while loader.check_node():
                        docs.append(loader.get_node())
                except (yaml.YAMLError, RecursionError, ValueError):
                    pass  # positions for the documents before the error are still good
                finally:
                    loader.dispose()
            self._docs = docs
        return self._docs

    def find(self, doc_index: int, path: Path_) -> tuple[int, int] | None:
        """1-based (line, column) of the field at path, or of its deepest existing ancestor."""
        docs = self._compose()
        if doc_index >= len(docs) or docs[doc_index] is None:
            return None
        node = docs[doc_index]
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
        return mark.line + 1, mark.column + 1
