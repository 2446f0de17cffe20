"""The exact path: libyaml's C parser with a resolver and constructor that follow go-yaml v2
rule for rule, bounded against alias bombs and recursion; and node trees with marks for the
locator. The only module that imports PyYAML: a scan whose inputs all take the fast path never
loads it."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Callable
from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kubefort.loaders.yamlparse.resolve import (
    T_BINARY,
    T_BOOL,
    T_FLOAT,
    T_INT,
    T_MAP,
    T_NULL,
    T_SEQ,
    T_STR,
    T_TIMESTAMP,
    go_format_float32,
    resolve_plain,
)
from kubefort.loaders.yamlparse.stream import MAX_EXPANDED_NODES, ParsedStream, ParseError

_ALIAS = re.compile(rb"[\s\[{,:]\*[^\s,\]}]|\A\*")


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


def parse_exact(data: bytes) -> ParsedStream:
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
