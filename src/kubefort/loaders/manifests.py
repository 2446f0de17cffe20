"""Manifest inputs: files, directories, stdin, Helm charts and Kustomize directories.

`discover` turns the user's PATH arguments into input specs; `load` turns one spec into
Resources plus LoadProblems (unreadable file, YAML error, failed render, malformed object).
A problem is never dropped: the engine turns each into a not-evaluated outcome.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kubefort.loaders import render
from kubefort.loaders.yamlparse import ParsedStream, parse_stream
from kubefort.model import InputRecord, Resource, ResourceId, Source

EXTENSIONS = (".yaml", ".yml", ".json")
DEFAULT_MAX_FILE_SIZE = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class InputSpec:
    kind: str  # "file" | "stdin" | "helm" | "kustomize"
    path: str
    size: int = 0


@dataclass(frozen=True, slots=True)
class LoadOptions:
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    helm_values: tuple[str, ...] = ()
    helm_set: tuple[str, ...] = ()
    namespace: str | None = None
    render_timeout: float = 120.0


@dataclass(slots=True)
class LoadProblem:
    kind: str  # "read" | "parse" | "render" | "invalid"
    file: str
    message: str
    line: int | None = None
    column: int | None = None
    doc_index: int | None = None
    resource: ResourceId | None = None
    source: Source | None = None
    path: tuple[str | int, ...] = ()  # the offending field inside the object (malformed objects)


@dataclass(slots=True)
class LoadedInput:
    record: InputRecord
    resources: list[Resource] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    data: bytes | None = None  # the raw text the resources' lines refer to (None for rendered input)
    doc_lines: list[int] = field(default_factory=list)  # first line of each document in data
    parse_tree: Any = field(default=None, repr=False)  # the parser's in-place tree of data, for the locator


class UsageError(Exception):
    pass


def _excluded(path: str, patterns: Sequence[str]) -> bool:
    p = path.replace(os.sep, "/")
    name = os.path.basename(p)
    return any(
        fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(p, f"*/{pat}") for pat in patterns
    )


def discover(paths: Sequence[str], exclude: Sequence[str] = (), render_dirs: bool = True) -> list[InputSpec]:
    """Expand PATH arguments. Raises UsageError for a path that does not exist."""
    specs: list[InputSpec] = []
    for raw in paths:
        if raw == "-":
            specs.append(InputSpec("stdin", "-"))
            continue
        p = Path(raw)
        if not p.exists():
            raise UsageError(f"no such file or directory: {raw}")
        if p.is_file():
            # a file named explicitly is scanned whatever its extension
            specs.append(InputSpec("file", raw, p.stat().st_size))
            continue
        specs.extend(_walk(p, exclude, render_dirs))
    return specs


def _walk(root: Path, exclude: Sequence[str], render_dirs: bool) -> list[InputSpec]:
    out: list[InputSpec] = []
    stack = [root]
    while stack:
        d = stack.pop()
        ds = str(d)
        if d != root and _excluded(ds, exclude):
            continue
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        names = {e.name for e in entries}
        if render_dirs and "Chart.yaml" in names:
            out.append(InputSpec("helm", ds))
            continue
        if render_dirs and names.intersection(render.KUSTOMIZATION_FILES):
            out.append(InputSpec("kustomize", ds))
            continue
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue  # .git, .github, editor state
            if e.is_dir(follow_symlinks=False):
                subdirs.append(Path(e.path))
            elif e.is_file() and e.name.endswith(EXTENSIONS) and not _excluded(e.path, exclude):
                try:
                    size = e.stat().st_size
                except OSError:
                    size = 0
                out.append(InputSpec("file", e.path, size))
        stack.extend(reversed(subdirs))
    return out


# ---------------------------------------------------------------------------------------------
def load(spec: InputSpec, opts: LoadOptions = LoadOptions(), stdin_data: bytes | None = None) -> LoadedInput:
    if spec.kind == "helm":
        return _load_rendered(spec, opts, "helm")
    if spec.kind == "kustomize":
        return _load_rendered(spec, opts, "kustomize")
    li = LoadedInput(InputRecord(spec.path, spec.kind))
    if spec.kind == "stdin":
        data = stdin_data if stdin_data is not None else sys.stdin.buffer.read(opts.max_file_size + 1)
    else:
        try:
            size = os.path.getsize(spec.path)
            if size > opts.max_file_size:
                return _fail(
                    li, "read", f"file is {size:,} bytes, over the {opts.max_file_size:,}-byte limit (--max-file-size)"
                )
            with open(spec.path, "rb") as fh:
                data = fh.read(opts.max_file_size + 1)
        except OSError as exc:
            return _fail(li, "read", f"cannot read file: {exc.strerror or exc}")
    if len(data) > opts.max_file_size:
        return _fail(li, "read", f"input is over the {opts.max_file_size:,}-byte limit (--max-file-size)")
    data, problem = _check_text(data)
    if problem is not None:
        line, msg = problem
        return _fail(li, "read", msg, line)
    li.data = data
    parsed = _parse(data, spec.path)
    li.doc_lines = parsed.doc_lines
    li.parse_tree = parsed.tree
    _objects(li, parsed, spec.path)
    return li


def _fail(li: LoadedInput, kind: str, msg: str, line: int | None = None) -> LoadedInput:
    li.record.error = msg
    li.problems.append(LoadProblem(kind, li.record.path, msg, line))
    return li


def _check_text(data: bytes) -> tuple[bytes, tuple[int | None, str] | None]:
    """Decode-check the input: UTF-8 (or UTF-16/32 with a BOM), not binary."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            enc = "utf-32" if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")) else "utf-16"
            return data.decode(enc).encode("utf-8"), None
        except UnicodeDecodeError as exc:
            return data, (None, f"invalid UTF-16 text: {exc.reason}")
    if b"\x00" in data[:8192]:
        return data, (None, "binary file (contains NUL bytes), not YAML or JSON")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return data, (line, f"invalid UTF-8 at byte {exc.start} (line {line}): {exc.reason}")
    return data, None


def _parse(data: bytes, name: str) -> ParsedStream:
    stripped = data.lstrip(b" \t\r\n\xef\xbb\xbf")
    if name.endswith(".json") or stripped[:1] in (b"{", b"["):
        try:
            return ParsedStream(docs=[orjson.loads(data.lstrip(b"\xef\xbb\xbf"))], doc_lines=[1], fast=True)
        except orjson.JSONDecodeError:
            pass  # JSON-looking YAML (flow style), or broken JSON: the YAML parser says which
    return parse_stream(data)


def _objects(
    li: LoadedInput,
    parsed: ParsedStream,
    file: str,
    rendered_by: str | None = None,
    template: str | None = None,
    doc_offset: int = 0,
) -> None:
    rec = li.record
    for i, doc in enumerate(parsed.docs):
        line = parsed.doc_lines[i] if i < len(parsed.doc_lines) else None
        idx = i + doc_offset
        err = parsed.doc_errors.get(i)
        if err is not None:
            rec.documents += 1
            li.problems.append(LoadProblem("parse", file, err.message, err.line, err.column, idx))
            continue
        if doc is None:
            continue  # an empty document
        rec.documents += 1
        src = Source(file, idx, line, (), rendered_by, template)
        add_object(li, doc, src, file)
    if parsed.error is not None:
        e = parsed.error
        more = "; the rest of the file was not read" if parsed.docs else ""
        li.problems.append(LoadProblem("parse", file, e.message + more, e.line, e.column, e.doc_index))
        rec.error = e.message


def add_object(li: LoadedInput, doc: Any, src: Source, file: str) -> None:
    """Validate one decoded document and add it to `li`: a Resource (List members one by one),
    a LoadProblem for a malformed object, or a `skipped` note for what is not a Kubernetes object."""
    where = f"document {src.doc_index + 1}" + (f" (line {src.line})" if src.line else "")
    if src.item_path:
        where += f" {src.item_path[0]}[{src.item_path[1]}]"
    if not isinstance(doc, dict):
        li.record.skipped.append(f"{where}: {type(doc).__name__}, not a Kubernetes object")
        return
    if "apiVersion" not in doc and "kind" not in doc:
        li.record.skipped.append(f"{where}: no apiVersion or kind, not a Kubernetes object")
        return
    kind, av, meta = doc.get("kind"), doc.get("apiVersion"), doc.get("metadata")
    problem: str | None = None
    field_path: tuple[str | int, ...] = ()
    if not isinstance(kind, str) or not kind:
        problem, field_path = f"kind is {kind!r}, expected a non-empty string", ("kind",)
    elif not isinstance(av, str) or not av:
        problem, field_path = f"apiVersion is {av!r}, expected a non-empty string", ("apiVersion",)
    elif meta is not None and not isinstance(meta, dict):
        problem, field_path = f"metadata is {type(meta).__name__}, expected a mapping", ("metadata",)
    if problem is None and isinstance(meta, dict):
        for key in ("name", "namespace"):
            if meta.get(key) is not None and not isinstance(meta.get(key), str):
                problem, field_path = f"metadata.{key} is {meta.get(key)!r}, expected a string", ("metadata", key)
    if problem is not None:
        rid = ResourceId(str(av or "?"), str(kind or "?"), None, "?")
        li.problems.append(
            LoadProblem(
                "invalid",
                file,
                f"{where}: malformed object: {problem}",
                src.line,
                None,
                src.doc_index,
                rid,
                src,
                field_path,
            )
        )
        return
    if not (isinstance(kind, str) and isinstance(av, str)):  # pragma: no cover - checked above: a problem otherwise
        return
    if kind.endswith("List") and "items" in doc and not src.item_path:
        items = doc.get("items")
        if not isinstance(items, list):
            rid = ResourceId(av, kind, None, "?")
            li.problems.append(
                LoadProblem(
                    "invalid",
                    file,
                    f"{where}: {kind}.items is {type(items).__name__}, expected a list",
                    src.line,
                    None,
                    src.doc_index,
                    rid,
                    src,
                    ("items",),
                )
            )
            return
        for j, item in enumerate(items):
            add_object(
                li, item, Source(src.file, src.doc_index, src.line, ("items", j), src.rendered_by, src.template), file
            )
        return
    meta = meta or {}
    name = meta.get("name") or (
        f"{meta['generateName']}*" if isinstance(meta.get("generateName"), str) else "(no name)"
    )
    rid = ResourceId(av, kind, meta.get("namespace") or None, name)
    li.resources.append(Resource(rid, doc, src))
    li.record.objects += 1


def _load_rendered(spec: InputSpec, opts: LoadOptions, tool: str) -> LoadedInput:
    li = LoadedInput(InputRecord(spec.path, tool))
    d = Path(spec.path)
    if tool == "helm":
        rr = render.render_helm(
            d, values=opts.helm_values, set_values=opts.helm_set, namespace=opts.namespace, timeout=opts.render_timeout
        )
    else:
        rr = render.render_kustomize(d, timeout=opts.render_timeout)
    if not rr.ok:
        return _fail(li, "render", f"{rr.tool} could not render {spec.path}: {rr.error}")
    if tool == "helm":
        offset = 0
        for source, text in render.split_helm_sources(rr.text):
            # "# Source: mychart/templates/deploy.yaml" -> <chart dir>/templates/deploy.yaml
            file = str(d / source.split("/", 1)[1]) if source and "/" in source else spec.path
            parsed = parse_stream(text.encode())
            _objects(li, parsed, file, "helm", source, offset)
            offset += max(1, len(parsed.docs))
    else:
        parsed = parse_stream(rr.text.encode())
        _objects(li, parsed, spec.path, "kustomize", None)
    return li


def load_resources(
    paths: Sequence[str], exclude: Sequence[str] = (), opts: LoadOptions = LoadOptions(), render_dirs: bool = True
) -> tuple[list[Resource], list[LoadProblem], list[InputRecord]]:
    """Every object under PATHs (for analysis commands such as `kubefort rbac` and `kubefort netpol`).

    Raises UsageError for a path that does not exist. Problems are returned, never dropped: a
    command must report them (and exit 3) rather than analyse a partial set silently.
    """
    resources: list[Resource] = []
    problems: list[LoadProblem] = []
    records: list[InputRecord] = []
    stdin = None
    for spec in discover(paths, exclude, render_dirs):
        if spec.kind == "stdin" and stdin is None:
            stdin = sys.stdin.buffer.read()
        li = load(spec, opts, stdin if spec.kind == "stdin" else None)
        resources.extend(li.resources)
        problems.extend(li.problems)
        records.append(li.record)
    return resources, problems, records
