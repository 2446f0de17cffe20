"""Configuration documents read from the node (YAML or JSON): the first document of a file, and the
tree helpers the loaders use on them (lookup by key path, kubelet drop-in merging, copying).
"""

from __future__ import annotations

from typing import Any

from kubefort.loaders.yamlparse import parse_stream


def first_doc(data: bytes) -> object:
    """The first non-empty document of a YAML/JSON text (None when there is none); ValueError when it does not parse."""
    parsed = parse_stream(data)
    if parsed.error is not None:
        raise ValueError(f"not valid YAML/JSON: {parsed.error.message}")
    if parsed.doc_errors:
        raise ValueError(f"not valid YAML/JSON: {next(iter(parsed.doc_errors.values())).message}")
    docs = [d for d in parsed.docs if d is not None]
    return docs[0] if docs else None


def dig(d: object, *keys: str) -> object:
    """`d[k1][k2]...`, or None when a step is not a mapping."""
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def has(d: object, keys: tuple[object, ...]) -> bool:
    """Whether the key path exists in `d` (mapping keys and list indexes)."""
    for k in keys:
        if isinstance(d, dict):
            if k not in d:
                return False
            d = d[k]
        elif isinstance(d, list) and isinstance(k, int) and 0 <= k < len(d):
            d = d[k]
        else:
            return False
    return True


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Kubelet drop-in merging: mappings merge field by field, lists and scalars replace."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def copy_tree(d: dict[str, Any]) -> dict[str, Any]:
    """A copy of a parsed document whose mappings and lists are new (scalars are shared)."""
    return {k: _copy(v) for k, v in d.items()}


def _copy(v: object) -> object:
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v
