"""Manifest inputs: files, directories, stdin, Helm charts and Kustomize directories.

`discover` turns the user's PATH arguments into input specs; `load` turns one spec into
Resources plus LoadProblems (unreadable file, YAML error, failed render, malformed object).
A problem is never dropped: the engine turns each into a not-evaluated outcome.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kubefort.loaders import render
from kubefort.loaders.yamlparse import ParsedStream, ParseError, parse_stream
from kubefort.model import InputRecord, Resource, ResourceId, Source

EXTENSIONS = (".yaml", ".yml", ".json")
DEFAULT_MAX_FILE_SIZE = 32 * 1024 * 1024


NO_NAME = "(no name)"  # the name shown for an object without metadata.name (and no generateName)


@dataclass(frozen=True, slots=True)
class InputSpec:
    kind: str  # "file" | "stdin" | "helm" | "kustomize"
    path: str
    size: int = 0
    # the analysis unit (`Source.unit`): the PATH given, or the chart or kustomization itself;
    # None: the scan's one unit (inputs made by hand, for instance in tests, stay together)
    unit: str | None = None


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
    """Expand PATH arguments. Raises UsageError for a path that does not exist.

    Each spec carries its analysis unit: the PATH it was found under, except that each Helm
    chart and each kustomization is a unit of its own (cross-object checks never mix units)."""
    specs: list[InputSpec] = []
    for raw in paths:
        if raw == "-":
            specs.append(InputSpec("stdin", "-", unit="-"))
            continue
        p = Path(raw)
        if not p.exists():
            raise UsageError(f"no such file or directory: {raw}")
        if p.is_file():
            # a file named explicitly is scanned whatever its extension
            specs.append(InputSpec("file", raw, p.stat().st_size, raw))
            continue
        specs.extend(_walk(p, exclude, render_dirs, raw))
    return specs


def _walk(root: Path, exclude: Sequence[str], render_dirs: bool, unit: str) -> list[InputSpec]:
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
            out.append(InputSpec("helm", ds, unit=ds))
            continue
        if render_dirs and names.intersection(render.KUSTOMIZATION_FILES):
            out.append(InputSpec("kustomize", ds, unit=ds))
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
                out.append(InputSpec("file", e.path, size, unit))
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
    _objects(li, parsed, spec.path, unit=spec.unit)
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


# where a rendered object is shown: (file, document index, line), the line only when exact
Place = Callable[[Any, int], tuple[str, int, int | None]]


def _objects(
    li: LoadedInput,
    parsed: ParsedStream,
    file: str,
    rendered_by: str | None = None,
    template: str | None = None,
    doc_offset: int = 0,
    *,
    unit: str | None = None,
    place: Place | None = None,
) -> None:
    """Add the documents of `parsed` to `li`. Rendered text (`rendered_by`) exists in no file:
    its objects are shown at `file` (or where `place` says) without a line, and its parse
    errors name the line of the rendered output in the message, not as a position in `file`."""
    rec = li.record
    for i, doc in enumerate(parsed.docs):
        line = parsed.doc_lines[i] if i < len(parsed.doc_lines) else None
        idx = i + doc_offset
        err = parsed.doc_errors.get(i)
        if err is not None:
            rec.documents += 1
            li.problems.append(_parse_problem(file, err, idx, rendered_by))
            continue
        if doc is None:
            continue  # an empty document
        rec.documents += 1
        if rendered_by is None:
            src = Source(file, idx, line, (), None, None, unit)
        elif place is not None:
            shown, doc_index, shown_line = place(doc, idx)
            src = Source(shown, doc_index, shown_line, (), rendered_by, template, unit)
        else:
            src = Source(file, idx, None, (), rendered_by, template, unit)
        add_object(li, doc, src, src.file)
    if parsed.error is not None:
        e = parsed.error
        more = "; the rest of the file was not read" if parsed.docs else ""
        problem = _parse_problem(file, e, e.doc_index, rendered_by)
        problem.message += more
        li.problems.append(problem)
        rec.error = e.message


def _parse_problem(file: str, err: ParseError, doc_index: int | None, rendered_by: str | None) -> LoadProblem:
    if rendered_by is None or err.line is None:
        return LoadProblem("parse", file, err.message, err.line, err.column, doc_index)
    # the position is in the rendered output, which exists in no file
    return LoadProblem(
        "parse", file, f"{err.message} (line {err.line} of the {rendered_by} output)", None, None, doc_index
    )


def _shown(doc: dict[str, Any], key: str) -> str:
    """A field's value as a message shows it: "missing", "null", or the value ('' or 5)."""
    if key not in doc:
        return "missing"
    return "null" if doc[key] is None else repr(doc[key])


def _nonempty_str(doc: dict[str, Any], key: str) -> bool:
    """`doc[key]` as unstructured's GetKind/GetAPIVersion read it is set: a non-empty string."""
    v = doc.get(key)
    return isinstance(v, str) and bool(v)


def add_object(li: LoadedInput, doc: Any, src: Source, file: str) -> None:
    """Validate one decoded document and add it to `li`: a Resource (List members one by one),
    a LoadProblem for a malformed object, or a `skipped` note for what is not a Kubernetes object."""
    if src.rendered_by is not None and src.line is None:
        where = f"rendered document {src.doc_index + 1}"  # not a document of src.file
    else:
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
        problem, field_path = f"kind is {_shown(doc, 'kind')}, expected a non-empty string", ("kind",)
    elif not isinstance(av, str) or not av:
        problem, field_path = f"apiVersion is {_shown(doc, 'apiVersion')}, expected a non-empty string", ("apiVersion",)
    elif meta is not None and not isinstance(meta, dict):
        problem, field_path = f"metadata is {type(meta).__name__}, expected a mapping", ("metadata",)
    if problem is None and isinstance(meta, dict):
        for key in ("name", "namespace"):
            if meta.get(key) is not None and not isinstance(meta.get(key), str):
                problem, field_path = f"metadata.{key} is {meta.get(key)!r}, expected a string", ("metadata", key)
        for key in ("labels", "annotations"):  # map[string]string: a null value is "", others are refused
            m = meta.get(key)
            if m is not None and not isinstance(m, dict):
                problem, field_path = f"metadata.{key} is {type(m).__name__}, expected a mapping", ("metadata", key)
            elif isinstance(m, dict):
                bad = next((k for k, v in m.items() if v is not None and not isinstance(v, str)), None)
                if bad is not None:
                    problem = f"metadata.{key}.{bad} is {m[bad]!r:.40}, expected a string"
                    field_path = ("metadata", key, bad)
                for k, v in m.items():
                    if v is None:
                        m[k] = ""  # the decoded object: every check reads the label or annotation as set
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
        # a typed list (PodList, NamespaceList ... as the API returns them) leaves kind and
        # apiVersion out of its items: as apimachinery's decoder does (unstructured decodeToList),
        # an item with neither gets the list's apiVersion and its kind less "List"
        item_kind = kind.removesuffix("List")
        for j, item in enumerate(items):
            if (
                item_kind
                and isinstance(item, dict)
                and not _nonempty_str(item, "kind")
                and not _nonempty_str(item, "apiVersion")
            ):
                item = {**item, "kind": item_kind, "apiVersion": av}
            add_object(
                li,
                item,
                Source(src.file, src.doc_index, src.line, ("items", j), src.rendered_by, src.template, src.unit),
                file,
            )
        return
    meta = meta or {}
    name = meta.get("name") or (f"{meta['generateName']}*" if isinstance(meta.get("generateName"), str) else NO_NAME)
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
        rr = render.render_kustomize(d, timeout=opts.render_timeout, origins=True)
    if not rr.ok:
        return _fail(li, "render", f"{rr.tool} could not render {spec.path}: {rr.error}")
    if tool == "helm":
        offset = 0
        for source, text in render.split_helm_sources(rr.text):
            # "# Source: mychart/templates/deploy.yaml" -> <chart dir>/templates/deploy.yaml
            file = str(d / source.split("/", 1)[1]) if source and "/" in source else spec.path
            parsed = parse_stream(text.encode())
            _objects(li, parsed, file, "helm", source, offset, unit=spec.unit)
            offset += max(1, len(parsed.docs))
    else:
        parsed = parse_stream(rr.text.encode())
        kfile = _kustomization_file(d)
        _objects(
            li,
            parsed,
            kfile,
            "kustomize",
            spec.path,
            unit=spec.unit,
            place=_kustomize_place(d, kfile, rr, opts.max_file_size),
        )
    return li


def _kustomization_file(d: Path) -> str:
    name = next((n for n in render.KUSTOMIZATION_FILES if (d / n).is_file()), render.KUSTOMIZATION_FILES[0])
    return str(d / name)


def _kustomize_place(d: Path, kfile: str, rr: render.RenderResult, max_size: int) -> Place:
    """Where each object of a kustomize build is shown: the resource file kustomize names in its
    origin annotation (the document in it when exactly one matches), the kustomization whose
    generator made it, else the kustomization built. Annotations kubefort asked for are removed
    from the object, so checks see what the user's own build gives."""
    from kubefort.loaders import origin  # reads resource files back: only for kustomize output

    files: dict[str, ParsedStream | None] = {}

    def parsed_file(path: str) -> ParsedStream | None:
        if path not in files:
            data = origin.read_resource_file(path, max_size)
            files[path] = parse_stream(data) if data is not None else None
        return files[path]

    def place(doc: Any, idx: int) -> tuple[str, int, int | None]:
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        annotations = meta.get("annotations") if isinstance(meta, dict) else None
        if rr.origin_root is None or not isinstance(meta, dict) or not isinstance(annotations, dict):
            return kfile, idx, None
        if rr.origins_added:
            value = annotations.pop(render.ORIGIN_ANNOTATION, None)
            if not annotations:
                del meta["annotations"]
        else:
            value = annotations.get(render.ORIGIN_ANNOTATION)
        path, configured_in = origin.parse_origin(value)
        if path is None:
            return (render.origin_file(rr.origin_root, configured_in, d) if configured_in else kfile), idx, None
        file = render.origin_file(rr.origin_root, path, d)
        got = parsed_file(file)
        j = origin.match_document(doc, got.docs) if got is not None else None
        if got is None or j is None or j >= len(got.doc_lines):
            return file, idx, None
        return file, j, got.doc_lines[j]

    return place


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
