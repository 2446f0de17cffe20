"""Parse Kubernetes YAML exactly the way the API server does, fast.

The API server (and kubectl) read YAML with sigs.k8s.io/yaml, which uses go-yaml v2: YAML 1.1
plain-scalar resolution (`yes`/`on`/`y` are booleans, `0755` is octal, `1_000` is 1000, `08` is
the float 8.0, timestamps stay strings), merge keys, last-wins duplicate keys, and it ignores
unknown tags. kubefort differs in one deliberate way: a document carrying a non-standard tag
(`!!python/object/apply`, `!Ref` ...) is refused as not evaluated, because kubefort never
constructs tagged objects and a tag in a manifest is either a mistake or an attack on a tool.

Two paths give identical objects:

* the fast path: rapidyaml (C++) parses and emits JSON, orjson builds Python objects. It is
  taken only when a conservative lexical pre-scan finds nothing rapidyaml would read
  differently from go-yaml v2 (YAML 1.1 words, non-canonical numbers, tags, anchors, aliases,
  directives); `tests/test_yaml_semantics.py` proves the agreement on the benchmark corpus;
* the exact path: libyaml's C parser with a resolver and constructor that follow go-yaml v2
  rule for rule (`_plain_tag`, `_go_int`), bounded against alias bombs and recursion.

Nothing here reads files; `parse_stream` takes bytes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, ClassVar

import orjson
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:  # rapidyaml is a hard dependency, but stay usable if its wheel is missing on a platform
    import ryml
    from ryml import _ryml  # the C functions behind ryml.Tree's methods (called per node)
except Exception:  # noqa: BLE001  # pragma: no cover - any failure to import the C extension falls back to libyaml
    ryml = None

# ---------------------------------------------------------------------------------------------
# go-yaml v2 plain-scalar resolution
# ---------------------------------------------------------------------------------------------
T_STR = "tag:yaml.org,2002:str"
T_INT = "tag:yaml.org,2002:int"
T_FLOAT = "tag:yaml.org,2002:float"
T_BOOL = "tag:yaml.org,2002:bool"
T_NULL = "tag:yaml.org,2002:null"
T_MAP = "tag:yaml.org,2002:map"
T_SEQ = "tag:yaml.org,2002:seq"
T_MERGE = "tag:yaml.org,2002:merge"
T_BINARY = "tag:yaml.org,2002:binary"
T_TIMESTAMP = "tag:yaml.org,2002:timestamp"

_GO_MAP: dict[str, tuple[str, Any]] = {}
for _words, _val, _tag in (
    (("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True, T_BOOL),
    (("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False, T_BOOL),
    (("", "~", "null", "Null", "NULL"), None, T_NULL),
    ((".nan", ".NaN", ".NAN"), float("nan"), T_FLOAT),
    ((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf"), T_FLOAT),
    (("-.inf", "-.Inf", "-.INF"), float("-inf"), T_FLOAT),
    (("<<",), "<<", T_MERGE),
):
    for _w in _words:
        _GO_MAP[_w] = (_tag, _val)

_HINT_NUM = set("+-0123456789")
_INT_RE = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_DOTFLOAT_RE = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


def _go_int(plain: str) -> int | float | None:
    """strconv.ParseInt/ParseUint(plain, 0, 64) as go-yaml v2 applies them (underscores removed)."""
    m = _INT_RE.match(plain)
    if not m:
        return None
    sign, digits = m.groups()
    # strconv's own prefixes, each read in its base (int(digits, 0) would also accept Python-only forms)
    if digits[:2] in ("0x", "0X"):
        v = int(digits[2:], 16)  # noqa: FURB166
    elif digits[:2] in ("0o", "0O"):
        v = int(digits[2:], 8)  # noqa: FURB166
    elif digits[:2] in ("0b", "0B"):
        v = int(digits[2:], 2)  # noqa: FURB166
    elif len(digits) > 1 and digits[0] == "0":
        v = int(digits[1:], 8)
    else:
        v = int(digits)
    if sign == "-":
        v = -v
    if _INT64_MIN <= v <= _UINT64_MAX:
        return v
    # out of range: go-yaml tries the float syntax next, then a big integer
    if _FLOAT_RE.match(plain):
        return float(plain)
    return v


def resolve_plain(value: str) -> tuple[str, Any]:
    """The (tag, value) go-yaml v2 gives an untagged plain scalar."""
    if value in _GO_MAP:
        return _GO_MAP[value]
    c = value[0]
    if c in _HINT_NUM:
        plain = value.replace("_", "")
        iv = _go_int(plain)
        if iv is not None:
            return (T_FLOAT if isinstance(iv, float) else T_INT), iv
        if _FLOAT_RE.match(plain):
            return T_FLOAT, float(plain)
        if plain.startswith("-0b") and re.fullmatch(r"-0b[01]+", plain):
            return T_INT, -int(plain[3:], 2)
    elif c == "." and _DOTFLOAT_RE.match(value):
        return T_FLOAT, float(value)
    return T_STR, value


class UnsupportedTag(yaml.constructor.ConstructorError):
    pass


class _GoResolver:
    """Resolver with go-yaml v2's rules; replaces PyYAML's YAML 1.1 regex table entirely."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                return resolve_plain(value)[0]
            return T_STR
        if kind is SequenceNode:
            return T_SEQ
        return T_MAP

    # PyYAML's composer calls these; we have no path resolvers
    def descend_resolver(self, *a: Any) -> None:
        pass

    def ascend_resolver(self, *a: Any) -> None:
        pass


def go_format_float32(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 32), as sigs.k8s.io/yaml formats float mapping keys."""
    if math.isnan(f):
        return ".nan"
    try:
        f32 = struct.unpack("f", struct.pack("f", f))[0]
    except OverflowError:
        f32 = math.inf if f > 0 else -math.inf
    if math.isinf(f32):
        return ".inf" if f32 > 0 else "-.inf"
    if f32 == 0:
        return "-0" if math.copysign(1, f32) < 0 else "0"
    for prec in range(1, 10):  # the shortest digits that read back as the same float32
        text = f"{f32:.{prec - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            break
    mant, exp_s = text.split("e")
    sign = "-" if mant.startswith("-") else ""
    digits = mant.lstrip("-").replace(".", "").rstrip("0") or "0"
    exp = int(exp_s)
    nd, dp = len(digits), exp + 1
    eprec = 6
    if eprec > nd >= dp:
        eprec = nd
    if exp < -4 or exp >= eprec:
        m = digits[0] + ("." + digits[1:] if nd > 1 else "")
        return f"{sign}{m}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= nd:
        return sign + digits + "0" * (dp - nd)
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def _key_to_json(key: Any) -> str:
    """sigs.k8s.io/yaml turns non-string keys into strings on the way to JSON."""
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return go_format_float32(key)
    raise yaml.constructor.ConstructorError(None, None, f"unsupported mapping key of type {type(key).__name__}")


class _GoConstructor(yaml.constructor.SafeConstructor):
    yaml_constructors: ClassVar[dict[str | None, Callable[..., Any]]] = {}
    yaml_multi_constructors: ClassVar[dict[str | None, Callable[..., Any]]] = {}

    def construct_go_scalar(self, node: ScalarNode) -> Any:
        tag, value = node.tag, node.value
        if tag == T_STR:
            return value
        if tag in (T_BOOL, T_INT, T_FLOAT, T_NULL):
            rtag, v = resolve_plain(value) if value else (T_NULL, None)
            if node.style is None and rtag == tag:  # the common, implicit case
                return v
            # explicit tag (`!!int "12"`): go-yaml resolves the text and insists on the type
            rtag, v = resolve_plain(value)
            if rtag == tag:
                return v
            if tag == T_FLOAT and rtag == T_INT:
                return float(v)
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot decode {rtag.rsplit(':', 1)[1]} {value!r} as a {tag.rsplit(':', 1)[1]}",
                node.start_mark,
            )
        raise AssertionError(tag)  # pragma: no cover

    def construct_go_binary(self, node: ScalarNode) -> str:
        try:
            raw = base64.b64decode("".join(node.value.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise yaml.constructor.ConstructorError(None, None, f"invalid !!binary: {exc}", node.start_mark) from None
        return base64.b64encode(raw).decode()

    def construct_go_timestamp(self, node: ScalarNode) -> str:
        return str(node.value)  # go-yaml keeps timestamp-looking text as a string for interface{} targets

    def construct_go_map(self, node: MappingNode) -> Any:
        data: dict[str, Any] = {}
        yield data
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = _key_to_json(self.construct_object(key_node, deep=False))
            data[key] = self.construct_object(value_node, deep=False)

    def construct_go_seq(self, node: SequenceNode) -> Any:
        data: list[Any] = []
        yield data
        data.extend(self.construct_sequence(node))

    def construct_unsupported(self, node: Any) -> Any:
        raise UnsupportedTag(
            None,
            None,
            f"unsupported YAML tag {node.tag!r}: kubefort never constructs tagged objects",
            node.start_mark,
        )


# what `add_constructor` does, without its Loader-typed signature (the table is this class's own)
_CONSTRUCTORS: dict[str | None, Callable[..., Any]] = {
    **dict.fromkeys((T_STR, T_BOOL, T_INT, T_FLOAT, T_NULL), _GoConstructor.construct_go_scalar),
    T_BINARY: _GoConstructor.construct_go_binary,
    T_TIMESTAMP: _GoConstructor.construct_go_timestamp,
    T_MAP: _GoConstructor.construct_go_map,
    T_SEQ: _GoConstructor.construct_go_seq,
    None: _GoConstructor.construct_unsupported,
}
_GoConstructor.yaml_constructors.update(_CONSTRUCTORS)

try:
    from yaml._yaml import CParser as _CParser  # libyaml; `yaml.CParser` is not exported

    HAVE_LIBYAML = True
except ImportError:  # pragma: no cover
    HAVE_LIBYAML = False


if HAVE_LIBYAML:

    class GoLoader(_CParser, _GoConstructor, _GoResolver):
        def __init__(self, stream: Any) -> None:
            _CParser.__init__(self, stream)
            _GoConstructor.__init__(self)

else:  # pragma: no cover - PyYAML without libyaml

    class GoLoader(  # type: ignore[no-redef]
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        _GoConstructor,
        _GoResolver,
    ):
        def __init__(self, stream: Any) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _GoConstructor.__init__(self)


# ---------------------------------------------------------------------------------------------
# composing node trees (positions only)
# ---------------------------------------------------------------------------------------------
class _MarksOnly(_GoResolver):
    """Positions need no scalar types: every node is composed untyped (keys are resolved on demand)."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        return T_STR


if HAVE_LIBYAML:

    class _Composer(_CParser, _MarksOnly):
        pass

else:  # pragma: no cover

    class _Composer(  # type: ignore[no-redef]
        yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _MarksOnly
    ):
        def __init__(self, stream: Any) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)


def compose_nodes(text: bytes, limit: int | None = None) -> list[Node | None]:
    """The node trees (with start marks) of the documents of `text`, at most `limit` of them.

    Scalars are composed untyped (every tag is `str`): callers read positions and resolve keys
    with :func:`resolve_plain` themselves. A YAML error ends the list: the documents before it
    are still returned."""
    docs: list[Node | None] = []
    loader = _Composer(text)
    try:
        while loader.check_node() and (limit is None or len(docs) < limit):
            docs.append(loader.get_node())
    except (yaml.YAMLError, RecursionError, ValueError):
        pass  # positions for the documents before the error are still good
    finally:
        loader.dispose()
    return docs


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
_ALIAS = re.compile(rb"[\s\[{,:]\*[^\s,\]}]|\A\*")
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


# ---------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------
def parse_stream(data: bytes, *, allow_fast: bool = True) -> ParsedStream:
    """Parse a (multi-document) YAML or JSON byte stream. Never raises for bad input."""
    if allow_fast:
        res = _parse_fast(data)
        if res is not None:
            return res
    return _parse_exact(data)


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
    return any(map(_ryml.Tree_type_has_any, repeat(tree, n), range(n), repeat(_NODE_FLAGS, n)))


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


def _parse_fast(data: bytes) -> ParsedStream | None:
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
        tree = ryml.parse_in_arena(data)
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
    return ParsedStream(docs=docs, doc_lines=lines, fast=True)


def _mark(m: Any) -> tuple[int | None, int | None]:
    if m is None:
        return None, None
    return m.line + 1, m.column + 1


def _expanded_size(root: Any) -> int:
    """Nodes after alias expansion, without expanding (memoised by identity); -1 on recursion."""
    memo: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        node, state = stack.pop()
        nid = id(node)
        if state == 0:
            if nid in memo:
                continue
            if nid in on_stack:
                return -1
            on_stack.add(nid)
            stack.append((node, 1))
            if isinstance(node, MappingNode):
                for k, v in node.value:
                    stack.append((k, 0))
                    stack.append((v, 0))
            elif isinstance(node, SequenceNode):
                for v in node.value:
                    stack.append((v, 0))
        else:
            total = 1
            if isinstance(node, MappingNode):
                for k, v in node.value:
                    total += memo.get(id(k), 1) + memo.get(id(v), 1)
            elif isinstance(node, SequenceNode):
                for v in node.value:
                    total += memo.get(id(v), 1)
            memo[nid] = total
            on_stack.discard(nid)
    return memo.get(id(root), 1)


def _parse_exact(data: bytes) -> ParsedStream:
    out = ParsedStream()
    check_aliases = _ALIAS.search(data) is not None
    try:
        loader = GoLoader(data)
    except Exception as exc:  # noqa: BLE001  # pragma: no cover - construction of the C parser itself
        out.error = ParseError(f"cannot read YAML: {exc}")
        return out
    try:
        while True:
            idx = len(out.docs)
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
            except yaml.MarkedYAMLError as exc:
                line, col = _mark(exc.problem_mark or exc.context_mark)
                out.error = ParseError(_yaml_msg(exc), line, col, idx)
                break
            except (yaml.YAMLError, ValueError, UnicodeError) as exc:
                out.error = ParseError(f"YAML error: {exc}", None, None, idx)
                break
            except RecursionError:
                out.error = ParseError("YAML nesting too deep", None, None, idx)
                break
            start = node.start_mark.line + 1 if node is not None else None
            out.doc_lines.append(start or 1)
            if check_aliases and node is not None:
                size = _expanded_size(node)
                if size < 0:
                    out.docs.append(None)
                    out.doc_errors[idx] = ParseError(
                        "recursive YAML alias (an alias that contains itself)", start, 1, idx
                    )
                    continue
                if size > MAX_EXPANDED_NODES:
                    out.docs.append(None)
                    out.doc_errors[idx] = ParseError(
                        f"excessive YAML aliasing: the document expands to {size:,} nodes "
                        f"(limit {MAX_EXPANDED_NODES:,}; a 'billion laughs' alias bomb?)",
                        start,
                        1,
                        idx,
                    )
                    continue
            try:
                doc = loader.construct_document(node) if node is not None else None
            except yaml.MarkedYAMLError as exc:
                line, col = _mark(exc.problem_mark or exc.context_mark)
                out.docs.append(None)
                out.doc_errors[idx] = ParseError(_yaml_msg(exc), line, col, idx)
                loader.constructed_objects = {}
                loader.recursive_objects = {}
                continue
            except RecursionError:
                out.docs.append(None)
                out.doc_errors[idx] = ParseError("YAML nesting too deep", start, 1, idx)
                continue
            out.docs.append(doc)
    finally:
        with contextlib.suppress(Exception):  # pragma: no cover - freeing the parser must not hide the result
            loader.dispose()
    return out


def _yaml_msg(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    return "YAML error: " + (": ".join(parts) if parts else str(exc).splitlines()[0])
