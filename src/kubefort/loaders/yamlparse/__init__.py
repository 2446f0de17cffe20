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

from kubefort.loaders.yamlparse.fast import may_have_node_properties, parse_fast, parse_tree_in_place
from kubefort.loaders.yamlparse.resolve import (
    T_BOOL,
    T_FLOAT,
    T_INT,
    T_MAP,
    T_MERGE,
    T_NULL,
    T_SEQ,
    T_STR,
    go_format_float32,
    resolve_plain,
)
from kubefort.loaders.yamlparse.stream import MAX_EXPANDED_NODES, ParsedStream, ParseError

__all__ = [
    "MAX_EXPANDED_NODES",
    "T_BOOL",
    "T_FLOAT",
    "T_INT",
    "T_MAP",
    "T_MERGE",
    "T_NULL",
    "T_SEQ",
    "T_STR",
    "ParseError",
    "ParsedStream",
    "go_format_float32",
    "may_have_node_properties",
    "parse_stream",
    "parse_tree_in_place",
    "resolve_plain",
]


def parse_stream(data: bytes, *, allow_fast: bool = True) -> ParsedStream:
    """Parse a (multi-document) YAML or JSON byte stream. Never raises for bad input."""
    if allow_fast:
        res = parse_fast(data)
        if res is not None:
            return res
    from kubefort.loaders.yamlparse.exact import parse_exact  # PyYAML is loaded only when needed

    return parse_exact(data)
