"""Where a rendered Kustomize object came from: its resource file, and a field's line in it only when exact.

``kustomize build`` output exists in no file, so its line numbers mean nothing to a user.
kustomize can say where each resource came from (``buildMetadata: [originAnnotations]`` adds
``config.kubernetes.io/origin``: ``path:`` the resource file, or ``configuredIn:`` the
kustomization whose generator made it; see sigs.k8s.io/kustomize api/types/kustomization.go
``OriginAnnotations`` and api/resource/origin.go). kubefort then

* finds the object's document in that file (same kind and API group, a name the rendered name
  contains: prefixes, suffixes and namespaces are added by kustomize; one best match or none),
* and, for a finding, gives a line only when the field at the finding's path holds, in that
  document, exactly the value the rendered object has. A value that an overlay's patch set is
  not in the file: the finding names the file and the object, without a misleading line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from kubefort.loaders.yamlparse import ParsedStream, parse_stream
from kubefort.locate import Locator
from kubefort.model import Location, Path_, Source

_MISSING = object()


def parse_origin(value: Any) -> tuple[str | None, str | None]:
    """(path, configuredIn) of a ``config.kubernetes.io/origin`` annotation value (a small YAML
    mapping); (None, None) when it is not one."""
    if not isinstance(value, str):
        return None, None
    parsed = parse_stream(value.encode())
    doc = parsed.docs[0] if parsed.docs and parsed.error is None and not parsed.doc_errors else None
    if not isinstance(doc, dict):
        return None, None
    path, configured = doc.get("path"), doc.get("configuredIn")
    return (
        path if isinstance(path, str) and path else None,
        configured if isinstance(configured, str) and configured else None,
    )


def _group(api_version: Any) -> str | None:
    return api_version.rpartition("/")[0] if isinstance(api_version, str) else None


def _name(obj: Any) -> str | None:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else None


def _namespace(obj: Any) -> str | None:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    return ns if isinstance(ns, str) else None


def match_document(obj: dict[str, Any], docs: Sequence[Any]) -> int | None:
    """The index of the document in a resource file that `obj` (kustomize output) was built from,
    or None when no single document is the best match.

    A candidate has the same kind and API group and a name the rendered name contains
    (``namePrefix``/``nameSuffix`` add to it); the best has the same name, else the longest
    contained one, then the same namespace. A tie is no answer."""
    kind, group, name = obj.get("kind"), _group(obj.get("apiVersion")), _name(obj)
    if name is None:
        return None
    ns = _namespace(obj)
    scored: list[tuple[tuple[bool, int, bool], int]] = []
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict) or doc.get("kind") != kind or _group(doc.get("apiVersion")) != group:
            continue
        n = _name(doc)
        if n is None or n not in name:
            continue
        scored.append(((n == name, len(n), _namespace(doc) == ns), i))
    if not scored:
        return None
    scored.sort(reverse=True)
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        return None
    return scored[0][1]


def value_at(obj: Any, path: Path_) -> Any:
    """The value at `path` inside `obj`, or a sentinel when the path does not exist."""
    cur = obj
    for p in path:
        if isinstance(p, int):
            if not isinstance(cur, list) or not 0 <= p < len(cur):
                return _MISSING
            cur = cur[p]
        else:
            if not isinstance(cur, dict) or p not in cur:
                return _MISSING
            cur = cur[p]
    return cur


def same_value(a: Any, b: Any) -> bool:
    """Equal as the API server would read them (bool is not int: ``true`` is not ``1``)."""
    if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def read_resource_file(path: str, max_size: int) -> bytes | None:
    """The bytes of a resource file an origin annotation names: a regular file of at most
    `max_size` bytes (an annotation is text anyone can write: never a device or a FIFO)."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > max_size:
            return None
        with open(path, "rb") as fh:
            data = fh.read(max_size + 1)
    except OSError:
        return None
    return data if len(data) <= max_size else None


class OriginFiles:
    """Resource files read back to locate findings in rendered Kustomize objects, each read and
    parsed once (only for findings that are shown)."""

    def __init__(self, max_size: int = 32 * 1024 * 1024) -> None:
        self.max_size = max_size
        self._files: dict[str, tuple[ParsedStream, Locator] | None] = {}

    def _load(self, file: str) -> tuple[ParsedStream, Locator] | None:
        if file not in self._files:
            data = read_resource_file(file, self.max_size)
            if data is None:
                self._files[file] = None
            else:
                parsed = parse_stream(data)
                self._files[file] = (parsed, Locator(data, parsed.doc_lines, tree=parsed.tree))
        return self._files[file]

    def locate(self, src: Source, path: Path_, obj: Any) -> Location:
        """Where a finding at `path` of the rendered object `obj` is: `src.file` with a line only
        when the document was identified (`src.line`) and holds the same value at `path`."""
        if src.line is None or obj is None:
            return Location(src.file)
        got = self._load(src.file)
        if got is None:
            return Location(src.file)
        parsed, locator = got
        if src.doc_index >= len(parsed.docs):
            return Location(src.file)
        if not path:
            return Location(src.file, src.line)  # the object as a whole: its document (or List item)
        inside = src.item_path + tuple(path)  # `obj` is the List item when item_path is set
        mine, theirs = value_at(parsed.docs[src.doc_index], inside), value_at(obj, path)
        if mine is _MISSING or theirs is _MISSING or not same_value(mine, theirs):
            return Location(src.file)
        pos = locator.find(src.doc_index, inside)
        return Location(src.file, pos[0], pos[1]) if pos is not None else Location(src.file)
