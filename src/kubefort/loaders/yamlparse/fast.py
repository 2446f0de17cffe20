"""The fast path: rapidyaml (C++) parses and emits JSON, orjson builds the objects; taken only
when a conservative lexical pre-scan proves the result equal to go-yaml v2's."""

from __future__ import annotations

import os
import re
from itertools import repeat
from typing import Any

import orjson

from kubefort.loaders.yamlparse.resolve import T_STR, resolve_plain
from kubefort.loaders.yamlparse.stream import ParsedStream

try:  # rapidyaml is a hard dependency, but stay usable if its wheel is missing on a platform
    import ryml
    from ryml import _ryml  # the C functions behind ryml.Tree's methods (called per node)
except Exception:  # noqa: BLE001  # pragma: no cover - any failure to import the C extension falls back to libyaml
    ryml = None

# ---------------------------------------------------------------------------------------------
# the lexical pre-scan that decides whether the fast path is exact
# ---------------------------------------------------------------------------------------------
# rapidyaml's JSON emitter keeps plain scalars as written, so every plain scalar that go-yaml v2
# reads as something else than rapidyaml appears in its JSON output as one whole JSON string:
# YAML 1.1 words (`yes`, `On`, `~`), numbers that are not canonical JSON numbers (`0755`, `08`,
# `1_000`, `0x1F`), `nan`/`inf` spellings (rapidyaml rewrites `nan` as `.nan`), the merge key
# `<<`, and unresolved aliases (`*name`). Finding none of those strings in the JSON proves the
# fast path exact for scalars. Quoted text that looks the same only costs a fallback.
_WORDS = (
    rb"y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|True|TRUE|False|FALSE|~|Null|NULL|<<"
    rb"|[-+]?\.?(?:[nN][aA][nN]|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
)
_ODDNUM = (
    rb"\+[0-9.][^\"\\]*"  # leading plus
    rb"|-?0[0-9xXoObB_][^\"\\]*"  # leading zero, base prefixes
    rb"|-?\.[0-9][^\"\\]*"  # leading dot
    rb"|-?[0-9][0-9.]*_[^\"\\]*"  # underscores
    rb"|-?[0-9]+\.(?:[eE][^\"\\]*)?"  # trailing dot
)
_RISKY_JSON = re.compile(
    (rb'"(?=[yYnNoOtTfF~<+\-.0-9iI])(?:' + _WORDS + rb"|" + _ODDNUM + rb')"').decode()
)  # emit_json gives str
# Tags, anchors, aliases and directives are dropped (or left unresolved) by the emitter. A text
# scan finds `!`, `&`, `*` or `%` where a node may start; only then is the tree asked whether a
# node really carries one (prose such as CEL's `!has(self.x)` in a block scalar is not a tag).
_BEFORE_PROPERTY = frozenset(b" \t\n\r\f\v[{,:")  # \s of a bytes pattern, and the flow indicators
_ENDS_PROPERTY = frozenset(b" \t\n\r\f\v,]}")


def may_have_node_properties(data: bytes) -> bool:
    """Is there a `!`, `&` or `*` after a space, a line break or a flow indicator and before a
    character that can continue it, or a `%` directive, or one of those at the very start? Each
    candidate is found by bytes.find (memchr): a regex with a lookbehind (the reference in
    tests/test_yaml_semantics.py) took 13x longer on the bench corpus."""
    if not data:
        return False
    if data[0] in b"!&*%" or b"\n%" in data:
        return True
    n = len(data)
    for ch in b"!&*":
        i = data.find(ch, 1)
        while i != -1:
            if data[i - 1] in _BEFORE_PROPERTY and i + 1 < n and data[i + 1] not in _ENDS_PROPERTY:
                return True
            i = data.find(ch, i + 1)
    return False


_DOC_SEP = re.compile(rb"\n---(?=[ \t\r\n]|\Z)")
_NUM_KEY = re.compile(r'"([-+]?[0-9.][0-9._eE+-]*)"\s*:')
_CANON_INT = re.compile(r"0|-?[1-9][0-9]{0,17}")
_NAN_INF = re.compile(rb"[-+]?\.?(?:[nN][aA][nN]|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)")
_SKIP = re.compile(rb"(?:[ \t\r\n]|#[^\n]*)*")


def _skip_end(data: bytes, pos: int) -> int:
    """Where the blanks and comments from `pos` end (`_SKIP` matches the empty string too)."""
    m = _SKIP.match(data, pos)
    return m.end() if m is not None else pos


def _doc_start_lines(data: bytes, ndocs: int) -> list[int]:
    """1-based line of each document's first node, as libyaml reports it (comments skipped)."""
    starts = [m.end() for m in _DOC_SEP.finditer(data)]
    if data.startswith(b"---") and (len(data) == 3 or data[3:4] in b" \t\r\n"):
        starts.insert(0, 3)
    first_sep = starts[0] - 3 if starts else len(data)
    head_end = _skip_end(data, 3 if data.startswith(b"\xef\xbb\xbf") else 0)
    if head_end < first_sep:  # content before the first '---': an implicit first document
        starts.insert(0, 0)
    if len(starts) != ndocs:
        return []  # disagreement: the caller falls back to the exact path
    lines: list[int] = []
    line, last = 1, 0
    for s in starts:
        pos = _skip_end(data, s)
        line += data.count(b"\n", last, pos)
        last = pos
        lines.append(line)
    return lines


_devnull_fd: int | None = None


_NODE_FLAGS = 0
if ryml is not None:
    _NODE_FLAGS = ryml.KEYTAG | ryml.VALTAG | ryml.KEYANCH | ryml.VALANCH | ryml.KEYREF | ryml.VALREF
_VAL_NOT_PLAIN = _KEY_NOT_PLAIN = _PLAIN_VAL = _PLAIN_KEY = 0
if ryml is not None:
    _PLAIN_VAL, _PLAIN_KEY = ryml.VAL, ryml.KEY
    _VAL_NOT_PLAIN = ryml.VAL_SQUO | ryml.VAL_DQUO | ryml.VAL_LITERAL | ryml.VAL_FOLDED
    _KEY_NOT_PLAIN = ryml.KEY_SQUO | ryml.KEY_DQUO | ryml.KEY_LITERAL | ryml.KEY_FOLDED


# where a plain scalar can end, and what may stand before one on its line (a superset: a `,`
# also matches inside prose, which the tree then rules out)
_PLAIN_END = rb"[ \t\r]*(?:$|#|[,\]}]|:(?:[ \t\r]|$))"
_BEFORE_PLAIN = re.compile(rb"(?:[ \t]*(?:(?:-|\?|---)[ \t]+)*|.*?(?::|[\[{,])[ \t]*)\Z", re.DOTALL)


def _maybe_plain(data: bytes, token: bytes) -> bool:
    """Could `token` stand as a whole plain scalar somewhere in the text?"""
    for m in re.finditer(re.escape(token) + _PLAIN_END, data, re.MULTILINE):
        start = m.start()
        line_start = data.rfind(b"\n", 0, start) + 1
        if _BEFORE_PLAIN.match(data, line_start, start):
            return True
    return False


def _plain_in_tree(tree: Any, tokens: set[bytes]) -> bool:
    """Is any of these texts a plain (unquoted, non-block) key or value in the tree?"""
    n = tree.size()
    has, val, key = _ryml.Tree_type_has_any, _ryml.Tree_val, _ryml.Tree_key
    tree = tree.this  # the SWIG pointer object: each C call skips unwrapping the proxy (3-4x faster)
    # map() over the C functions: a tree has a node per scalar, so no Python frame per node
    for i, plain_val, plain_key in zip(
        range(n),
        map(has, repeat(tree, n), range(n), repeat(_PLAIN_VAL, n)),
        map(has, repeat(tree, n), range(n), repeat(_PLAIN_KEY, n)),
        strict=False,
    ):
        if plain_val and not has(tree, i, _VAL_NOT_PLAIN):
            v = val(tree, i)  # None for an empty value
            if v is not None and bytes(v) in tokens:
                return True
        if plain_key and not has(tree, i, _KEY_NOT_PLAIN):
            k = key(tree, i)
            if k is not None and bytes(k) in tokens:
                return True
    return False


def _has_node_properties(tree: Any, data: bytes) -> bool:
    """Does any node carry a tag, an anchor or an alias? The text is searched first (`!`, `&`,
    `*` or `%` where a node may start); only then is every node of the tree asked, since prose
    such as CEL's `!has(self.x)` in a block scalar is no tag."""
    if not may_have_node_properties(data):
        return False
    n = tree.size()
    return any(map(_ryml.Tree_type_has_any, repeat(tree.this, n), range(n), repeat(_NODE_FLAGS, n)))


def parse_tree_in_place(data: bytes) -> tuple[Any, bytearray] | None:
    """rapidyaml's tree of `data` parsed in place in a copy (its scalars point into the returned
    buffer, so their offsets are positions in `data`), or None when rapidyaml is missing or
    fails. rapidyaml's own error text is kept off stderr."""
    global _devnull_fd
    if ryml is None:
        return None
    if _devnull_fd is None:
        _devnull_fd = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    os.dup2(_devnull_fd, 2)
    try:
        buf = bytearray(data)
        return ryml.parse_in_place(buf), buf
    except Exception:  # noqa: BLE001 - the caller falls back to libyaml
        return None
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def parse_fast(data: bytes) -> ParsedStream | None:
    """rapidyaml -> JSON -> orjson. Returns None whenever it cannot prove the result exact."""
    global _devnull_fd
    if ryml is None or not data.endswith(b"\n"):
        # rapidyaml keeps a line break that libyaml drops at the very end of a stream without a
        # final newline (clip-chomped block scalars), so such streams take the exact path
        return None
    # rapidyaml prints its own error text to stderr before raising; keep the user's terminal clean
    if _devnull_fd is None:
        _devnull_fd = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    os.dup2(_devnull_fd, 2)
    try:
        buf = bytearray(data)  # parsed in place: the locator reads scalar offsets from this tree
        tree = ryml.parse_in_place(buf)
        if _has_node_properties(tree, data):
            return None
        js = ryml.emit_json(tree)
        root = tree.root_id()
        is_stream = tree.is_stream(root)
        # a string in the JSON that go-yaml could read as a bool/null/number: was it plain?
        risky = {m.group(0)[1:-1].encode() for m in _RISKY_JSON.finditer(js)}
        for m in _NUM_KEY.finditer(js):
            if not _CANON_INT.fullmatch(m.group(1)):
                return None  # go-yaml reads it as a float key, formatted the Go way: exact path
        if risky:
            if any(_NAN_INF.fullmatch(t) for t in risky):
                return None  # rapidyaml rewrites some of these (`nan` -> `.nan`): no text to compare with
            # a plain scalar that go-yaml reads as this same string (a UUID such as `0547f3-...`)
            # gives the same value whichever way it was written
            risky = {t for t in risky if t == b"<<" or resolve_plain(t.decode())[0] != T_STR}
            maybe = {t for t in risky if _maybe_plain(data, t)}
            if maybe and _plain_in_tree(tree, maybe):
                return None
    except Exception:  # noqa: BLE001 - any failure of the fast path falls back to the exact (libyaml) path
        return None
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    try:
        value = orjson.loads(js)
    except orjson.JSONDecodeError:
        return None
    docs = value if is_stream else [value]
    if not is_stream and not data.strip(b" \t\r\n\xef\xbb\xbf"):
        docs = []
    lines = _doc_start_lines(data, len(docs))
    if not lines and docs:
        return None
    return ParsedStream(docs=docs, doc_lines=lines, fast=True, tree=(tree, buf))
