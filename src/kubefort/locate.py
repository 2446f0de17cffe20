"""Map a path inside an object to file:line:column, lazily.

Locations are only needed for outcomes that are shown (failed, suppressed, not evaluated), so
the fast parse keeps no positions. The first time an input needs one, its text is parsed once
more, in place, by rapidyaml: every scalar of that tree points into the buffer, so a key's
offset is its position. The answer is libyaml's start mark, exactly: where rapidyaml's tree
cannot give it for certain (block scalars, empty or unbracketed containers, tags, anchors and
aliases, line breaks other than LF and CRLF, text that is not UTF-8), the document is composed
by libyaml (nodes with marks, no Python objects) and the path walked on that node tree.
`tests/test_locate.py` compares the two on every path of every object of the corpus.
"""

from __future__ import annotations

import bisect
import ctypes
import re
from typing import TYPE_CHECKING, Any

from kubefort.loaders.yamlparse import T_STR, parse_tree_in_place, resolve_plain
from kubefort.model import Path_

if TYPE_CHECKING:
    from yaml.nodes import Node

try:
    from ryml import _ryml
except ImportError:  # pragma: no cover - rapidyaml is a dependency; without it libyaml answers
    _ryml = None


def _key_text(node: Node) -> str | None:
    from yaml.nodes import ScalarNode  # PyYAML is loaded only when libyaml must answer

    if not isinstance(node, ScalarNode):
        return None
    if not node.style:  # plain (the composer's style is ""): `on:` is the key "true" for the API server
        tag, v = resolve_plain(node.value)
        if v is True:
            return "true"
        if v is False:
            return "false"
        if v is None:
            return "null"
        return str(v) if tag != T_STR else str(node.value)
    return str(node.value)


class _PyBuffer(ctypes.Structure):
    """CPython's Py_buffer: where a memoryview's bytes are."""

    _fields_ = (
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    )


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = (ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int)
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = (ctypes.POINTER(_PyBuffer),)


def _address(view: Any) -> int:
    b = _PyBuffer()
    if _get_buffer(view, ctypes.byref(b), 0) != 0:  # pragma: no cover - a memoryview always exports
        raise _Unsure
    try:
        return int(b.buf or 0)
    finally:
        _release_buffer(ctypes.byref(b))


class _Unsure(Exception):
    """rapidyaml's tree cannot give libyaml's mark for certain here: ask libyaml."""


_OTHER_BREAKS = re.compile(rb"\r(?!\n)|\xc2\x85|\xe2\x80[\xa8\xa9]")  # line breaks of YAML 1.1 besides LF and CRLF
_SPACE = b" \t\r\n"


# rapidyaml's node type bits (ryml.KEY_SQUO, ...), fixed by its C++ NodeType_e
_MAP, _SEQ, _VAL = 4, 8, 2
_KEYREF, _VALREF, _KEYANCH, _VALANCH, _KEYTAG, _VALTAG = 64, 128, 256, 512, 1024, 2048
_FLOW = 65536 | 131072  # FLOW_SL | FLOW_ML
_KEY_QUOTED = 33554432 | 134217728  # KEY_SQUO | KEY_DQUO
_KEY_BLOCK = 2097152 | 8388608  # KEY_LITERAL | KEY_FOLDED
_VAL_QUOTED = 67108864 | 268435456  # VAL_SQUO | VAL_DQUO
_VAL_BLOCK = 4194304 | 16777216  # VAL_LITERAL | VAL_FOLDED
_NONE = (1 << 64) - 1  # rapidyaml's NONE node id (ryml.NONE): "no such child"


class _RymlPositions:
    """libyaml's start marks read from rapidyaml's in-place tree of the same text.

    A node with a tag, an anchor or an alias is left to libyaml (its mark includes the
    properties; an alias is followed to its anchor), as are block scalars and empty values."""

    def __init__(self, data: bytes, parsed: tuple[Any, bytearray] | None = None) -> None:
        others = b"\r" in data or b"\xc2\x85" in data or b"\xe2\x80" in data  # memchr before the regex
        if data.startswith(b"\xef\xbb\xbf") or (others and _OTHER_BREAKS.search(data) is not None):
            raise _Unsure
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise _Unsure from None
        got = parsed if parsed is not None else parse_tree_in_place(data)
        if got is None:
            raise _Unsure
        self.tree, self.buf = got
        self.t = self.tree.this  # the SWIG pointer object: C calls on it skip unwrapping the proxy
        self.data = data
        self.base = _address(memoryview(self.buf))
        t = self.t
        root = self.tree.root_id()
        if self.tree.is_stream(root):
            self.docs = _children(t, root)
        elif _ryml.Tree_type(t, root) & (_MAP | _SEQ | _VAL):
            self.docs = [root]
        else:
            self.docs = []
        self._known: list[tuple[int, int]] = [(0, 1)]  # (offset, its 1-based line), sorted
        self._keys: dict[int, dict[str, int]] = {}  # map node -> {key as read: its last child}

    # -- offsets of libyaml's marks -------------------------------------------------------
    def _quote_before(self, off: int) -> int:
        off -= 1
        if not (0 <= off < len(self.data)) or self.data[off] not in b"\"'":
            raise _Unsure
        return off

    def key_offset(self, n: int) -> int:
        t = self.t
        ty = _ryml.Tree_type(t, n)
        if ty & (_KEY_BLOCK | _KEYREF | _KEYANCH | _KEYTAG):
            raise _Unsure
        k = _ryml.Tree_key(t, n)
        if k is None:
            raise _Unsure
        off = _address(k) - self.base
        return self._quote_before(off) if ty & _KEY_QUOTED else off

    def node_offset(self, n: int) -> int:
        """Where libyaml's node for `n` (the value of a key, an item, a document) starts."""
        t = self.t
        ty = _ryml.Tree_type(t, n)
        if ty & (_VALREF | _VALANCH | _VALTAG):
            raise _Unsure
        if ty & (_MAP | _SEQ):
            first = _ryml.Tree_first_child(t, n)
            if first == _NONE:
                raise _Unsure  # `{}` / `[]`: no scalar to count from
            inner = self.key_offset(first) if ty & _MAP else self.node_offset(first)
            if ty & _MAP and not ty & _FLOW:
                return inner  # a block mapping starts at its first key
            opener = b"{" if ty & _MAP else (b"[" if ty & _FLOW else b"-")
            i = inner - 1
            data = self.data
            while i >= 0 and data[i] in _SPACE:
                i -= 1
            if i < 0 or data[i : i + 1] != opener:
                raise _Unsure  # a comment between them, or a shape not thought of
            return i
        if ty & _VAL_BLOCK:
            raise _Unsure
        v = _ryml.Tree_val(t, n)
        if v is None or len(v) == 0:
            raise _Unsure  # an empty value's mark is where libyaml saw nothing: ask it
        off = _address(v) - self.base
        return self._quote_before(off) if ty & _VAL_QUOTED else off

    def position(self, off: int) -> tuple[int, int]:
        # lines counted by bytes.count from the nearest offset already placed (findings come
        # roughly in file order, so this reads each file about once)
        data, known = self.data, self._known
        i = bisect.bisect_right(known, (off, 1 << 62)) - 1
        base_off, base_line = known[i]
        line = base_line + data.count(b"\n", base_off, off)
        if i + 1 == len(known):
            known.append((off, line))
        else:
            bisect.insort(known, (off, line))
        start = data.rfind(b"\n", 0, off) + 1
        head = data[start:off]
        col = len(head) if head.isascii() else len(head.decode("utf-8"))
        return line, col + 1

    # -- the walk ------------------------------------------------------------------------
    def keys(self, n: int) -> dict[str, int]:
        """A mapping's keys as `_key_text` reads libyaml's nodes (plain keys resolved the go-yaml
        way), each to its last child: the parse keeps the last of duplicate keys."""
        got = self._keys.get(n)
        if got is not None:
            return got
        t = self.t
        got = {}
        for c in _children(t, n):
            ty = _ryml.Tree_type(t, c)
            if ty & (_KEY_BLOCK | _KEYREF | _KEYANCH | _KEYTAG):
                raise _Unsure
            k = _ryml.Tree_key(t, c)
            if k is None:
                raise _Unsure
            text = bytes(k).decode("utf-8")
            if not ty & _KEY_QUOTED:
                if not text:
                    raise _Unsure
                tag, v = resolve_plain(text)
                if tag != T_STR:
                    text = "true" if v is True else "false" if v is False else "null" if v is None else str(v)
            got[text] = c
        self._keys[n] = got
        return got

    def find(self, doc_index: int, path: Path_) -> tuple[int, int] | None:
        if doc_index >= len(self.docs):
            raise _Unsure
        t = self.t
        node = self.docs[doc_index]
        mark_key = False  # the mark is the key of `mark_node` (True) or `mark_node` itself
        mark_node = node
        for step in path:
            ty = _ryml.Tree_type(t, node)
            if ty & _VALREF:
                raise _Unsure  # libyaml follows an alias to its anchor
            if ty & _MAP and isinstance(step, str):
                child = self.keys(node).get(step)
                if child is None:
                    break
                node = mark_node = child
                mark_key = True
            elif ty & _SEQ and isinstance(step, int) and 0 <= step < _ryml.Tree_num_children(t, node):
                node = mark_node = _ryml.Tree_child(t, node, step)
                mark_key = False
            else:
                break
        off = self.key_offset(mark_node) if mark_key else self.node_offset(mark_node)
        return self.position(off)


def _children(t: Any, n: int) -> list[int]:
    out = []
    first, following = _ryml.Tree_first_child, _ryml.Tree_next_sibling
    c = first(t, n)
    while c != _NONE:
        out.append(c)
        c = following(t, c)
    return out


class Locator:
    """Positions for one input: rapidyaml's in-place tree of the whole text, parsed once on the
    first question; libyaml's composer (only the documents asked about, each once) where that
    tree cannot answer for certain."""

    def __init__(self, data: bytes | None, doc_lines: list[int] | None = None, tree: Any = None) -> None:
        """`tree`: the parser's in-place rapidyaml tree of `data` and its buffer, when it kept one."""
        self.data = data
        self._tree = tree
        self.doc_lines = doc_lines or []
        self._lines: list[bytes] | None = None
        self._docs: dict[int, tuple[Node, int]] = {}
        self._all: list[Node | None] | None = None
        self._fast: _RymlPositions | bool | None = None  # None: not tried yet; False: cannot
        self.fast_answers = 0  # how many finds rapidyaml's tree answered (for tests and benchmarks)

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
            from kubefort.loaders.yamlparse.exact import compose_nodes

            docs = compose_nodes(b"\n".join(self._lines[first:last]), limit=1)
            if docs and docs[0] is not None:
                found = (docs[0], first)
        if found is None:
            if self._all is None:
                from kubefort.loaders.yamlparse.exact import compose_nodes

                self._all = compose_nodes(self.data)
            root = self._all[doc_index] if doc_index < len(self._all) else None
            if root is not None:
                found = (root, 0)
        if found is not None:
            self._docs[doc_index] = found
        return found

    def find(self, doc_index: int, path: Path_) -> tuple[int, int] | None:
        """1-based (line, column) of the field at path, or of its deepest existing ancestor."""
        if self._fast is None:
            try:
                ok = self.data is not None and _ryml is not None
                self._fast = _RymlPositions(self.data, self._tree) if ok and self.data is not None else False
            except _Unsure:
                self._fast = False
        if isinstance(self._fast, _RymlPositions):
            try:
                pos = self._fast.find(doc_index, path)
                self.fast_answers += 1
                return pos
            except _Unsure:
                pass
        return self.find_composed(doc_index, path)

    def find_composed(self, doc_index: int, path: Path_) -> tuple[int, int] | None:
        """The same answer from libyaml's composed nodes (also the reference the tests compare with)."""
        from yaml.nodes import MappingNode, SequenceNode

        got = self._doc(doc_index)
        if got is None:
            return None
        node, offset = got
        mark = node.start_mark
        for step in path:
            if isinstance(node, MappingNode) and isinstance(step, str):
                # the last of duplicate keys: its value is the one the API server keeps
                found = [(k, v) for k, v in node.value if _key_text(k) == step]
                if not found:
                    break
                mark = found[-1][0].start_mark
                node = found[-1][1]
            elif isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
                node = node.value[step]
                mark = node.start_mark
            else:
                break
        return mark.line + 1 + offset, mark.column + 1
