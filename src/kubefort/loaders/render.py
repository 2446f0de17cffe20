"""Render Helm charts and Kustomize directories to plain multi-document YAML.

kubefort does not reimplement Helm or Kustomize: it runs the real tools and scans what they
print. Everything here is offline-first and never raises for a tool problem:

* the binaries are named explicitly with ``KUBEFORT_HELM`` / ``KUBEFORT_KUSTOMIZE`` (a bare
  name is looked up on PATH, a path is used as is), else found on PATH, else in the cache that
  ``make tools`` fills (``$KUBEFORT_TOOLS_DIR/bin``, default ``~/.cache/kubefort/tools/bin``);
  kustomize falls back to ``kubectl kustomize``;
* commands are argument lists, never a shell; stdin is closed; each run has a timeout, after
  which the tool's whole process group is killed;
* a missing binary, a non-zero exit, a timeout or output that is not UTF-8 each give a
  :class:`RenderResult` with ``ok=False`` and a human ``error``;
* a kustomization that pulls a remote base (``github.com/...``, ``https://...``, ``git@...``)
  is refused before anything runs, because building it would need the network; the same for
  a Helm values file given as a URL. Helm charts whose dependencies are not vendored under
  ``charts/`` simply fail to render (helm is given no repository flags).

Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = [
    "ORIGIN_ANNOTATION",
    "RenderResult",
    "is_helm_chart",
    "is_kustomization",
    "origin_file",
    "render_helm",
    "render_kustomize",
    "split_helm_sources",
    "tools_bin_dir",
]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

# How much of a failing tool's stderr goes into RenderResult.error.
_STDERR_LINES = 12
_STDERR_CHARS = 2000


@dataclass(frozen=True, slots=True)
class RenderResult:
    ok: bool
    text: str  # rendered multi-document YAML ('' when not ok)
    error: str  # human message when not ok ('' when ok)
    tool: str  # 'helm' | 'kustomize' | 'kubectl kustomize'
    command: list[str]
    # kustomize: the directory (a real path) that the `config.kubernetes.io/origin` annotations
    # of the output are relative to, when the output carries them
    origin_root: str | None = None
    origins_added: bool = False  # kubefort asked for those annotations: they are not the user's


# --------------------------------------------------------------------------------------------
# detection


def is_helm_chart(d: Path) -> bool:
    """A directory holding a ``Chart.yaml``."""
    d = Path(d)
    return d.is_dir() and (d / "Chart.yaml").is_file()


def is_kustomization(d: Path) -> bool:
    """A directory holding ``kustomization.yaml``, ``kustomization.yml`` or ``Kustomization``."""
    d = Path(d)
    return d.is_dir() and any((d / name).is_file() for name in KUSTOMIZATION_FILES)


# --------------------------------------------------------------------------------------------
# running a tool


def tools_bin_dir() -> Path | None:
    """Where ``make tools`` (tools/install-test-tools.sh) puts helm and kustomize:
    ``$KUBEFORT_TOOLS_DIR/bin``, by default ``~/.cache/kubefort/tools/bin``."""
    base = os.environ.get("KUBEFORT_TOOLS_DIR", "").strip()
    if base:
        return Path(base) / "bin"
    try:
        return Path.home() / ".cache" / "kubefort" / "tools" / "bin"
    except RuntimeError:  # no home directory to expand
        return None


def _cached_tool(name: str) -> str | None:
    d = tools_bin_dir()
    if d is None:
        return None
    p = d / name
    return str(p) if p.is_file() and os.access(p, os.X_OK) else None


def not_found_message(name: str, env_var: str, on_path: str = "") -> str:
    """What to do when a renderer is nowhere: the three places kubefort looks, in order."""
    d = tools_bin_dir()
    where = str(d) if d is not None else "$KUBEFORT_TOOLS_DIR/bin"
    return (
        f"{name} not found: set {env_var}=/path/to/{name}, put {on_path or name} on PATH, "
        f"or build it with `make tools` (into {where}; KUBEFORT_TOOLS_DIR moves it)"
    )


def _find_binary(name: str, env_var: str) -> tuple[str | None, str]:
    """Return (path or None, error message when None): ``$env_var``, else PATH, else the tools cache.

    An explicit ``env_var`` is the only place looked at: a mistake in it must not silently run
    another binary."""
    explicit = os.environ.get(env_var, "").strip()
    if explicit:
        if os.sep in explicit or (os.altsep and os.altsep in explicit):
            if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
                return explicit, ""
            return None, f"{name} not found: {env_var}={explicit} is not an executable file"
        found = shutil.which(explicit)
        if found:
            return found, ""
        return None, f"{name} not found: {env_var}={explicit} is not on PATH"
    found = shutil.which(name) or _cached_tool(name)
    if found:
        return found, ""
    return None, not_found_message(name, env_var)


def _safe_path_arg(p: Path | str) -> str:
    """A path argument that a CLI parser cannot mistake for a flag."""
    s = os.fspath(p)
    if s.startswith("-"):
        s = os.path.join(".", s)
    return s


# advice written for helm's own command line ("Use --debug flag to render out invalid YAML"):
# a kubefort user cannot pass --debug to the helm kubefort runs
_HELM_DEBUG_ADVICE = re.compile(r"\s*Use --debug flag to render out invalid YAML\.?")


def _stderr_tail(stderr: bytes) -> str:
    text = _HELM_DEBUG_ADVICE.sub("", stderr.decode("utf-8", errors="replace")).strip()
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    tail = "\n".join(lines[-_STDERR_LINES:])
    if len(tail) > _STDERR_CHARS:
        tail = "..." + tail[-_STDERR_CHARS:]
    return tail


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - not POSIX
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        with contextlib.suppress(OSError):
            proc.kill()


def _run(
    tool: str, label: str, command: list[str], timeout: float, env: dict[str, str], cwd: str | None = None
) -> RenderResult:
    def fail(msg: str) -> RenderResult:
        return RenderResult(False, "", msg, tool, command)

    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,  # own process group: a timeout kills helpers too
        )
    except FileNotFoundError:
        return fail(f"{tool} not found: cannot execute {command[0]}")
    except OSError as exc:
        return fail(f"{tool} could not be started ({command[0]}): {exc.strerror or exc}")

    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired, OSError, ValueError):
            proc.communicate(timeout=5)
        return fail(f"{label} timed out after {timeout:g}s")
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise

    if proc.returncode != 0:
        code = proc.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"failed with exit code {code}"
        tail = _stderr_tail(stderr)
        return fail(f"{label} {how}" + (f":\n{tail}" if tail else " (no error output)"))
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        return fail(f"{label} printed output that is not UTF-8 (byte {exc.start})")
    text = text.removeprefix("\ufeff")
    return RenderResult(True, text, "", tool, command)


# --------------------------------------------------------------------------------------------
# helm


def _looks_like_url(s: str) -> bool:
    return "://" in s


def render_helm(
    chart: Path,
    *,
    values: Sequence[str] = (),
    set_values: Sequence[str] = (),
    namespace: str | None = None,
    release: str = "kubefort",
    timeout: float = 120,
) -> RenderResult:
    """``helm template RELEASE CHART [--namespace=NS] [--values=V]... [--set=S]...``.

    ``chart`` is a chart directory or a packaged chart (``.tgz``); it must exist locally (helm
    would otherwise look it up in a repository). Flags use the ``--flag=value`` form so that a
    value starting with ``-`` cannot be read as another flag.
    """
    tool = "helm"
    if isinstance(values, str):
        values = (values,)
    if isinstance(set_values, str):
        set_values = (set_values,)

    chart = Path(chart)
    if not chart.exists():
        return RenderResult(False, "", f"helm chart {chart} does not exist", tool, [])
    if not release or release.startswith("-"):
        return RenderResult(False, "", f"invalid helm release name {release!r}", tool, [])
    for v in values:
        if _looks_like_url(v):
            return RenderResult(
                False,
                "",
                f"remote helm values file {v} needs the network; kubefort is offline-first "
                "(download it yourself and pass the local file)",
                tool,
                [],
            )

    binary, err = _find_binary("helm", "KUBEFORT_HELM")
    args: list[str] = ["template", release, _safe_path_arg(chart)]
    if namespace:
        args.append(f"--namespace={namespace}")
    args += [f"--values={v}" for v in values]
    args += [f"--set={s}" for s in set_values]
    if binary is None:
        return RenderResult(False, "", err, tool, ["helm", *args])
    command = [binary, *args]

    env = dict(os.environ)
    env["HELM_NO_PLUGINS"] = "1"  # no plugin code runs (post-renderers, downloaders)
    return _run(tool, f"helm template {chart}", command, timeout, env)


_SOURCE_RE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$")


def split_helm_sources(text: str) -> list[tuple[str | None, str]]:
    """Split ``helm template`` output into ``(source, document)`` pairs, in order.

    ``source`` is the template path from the ``# Source: chart/templates/x.yaml`` comment
    that helm writes at the top of each document (None when absent); the comment line itself
    is dropped from the document text. Blank documents are skipped.
    """
    docs: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("---") and (len(line) == 3 or line[3] in " \t"):
            docs.append([])
            rest = line[3:].strip()
            if rest and not rest.startswith("#"):
                docs[-1].append(rest)  # '--- {inline: doc}'
            continue
        if line.rstrip() == "...":  # document end marker
            continue
        docs[-1].append(line)

    out: list[tuple[str | None, str]] = []
    for lines in docs:
        source: str | None = None
        body = lines
        for i, line in enumerate(lines):
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("#"):
                break
            m = _SOURCE_RE.match(stripped)
            if m:
                source = m.group(1)
                body = lines[:i] + lines[i + 1 :]
                break
        doc = "\n".join(body).strip("\n")
        if not doc.strip():
            continue
        out.append((source, doc + "\n"))
    return out


# --------------------------------------------------------------------------------------------
# kustomize

# Fields whose entries may name another kustomization (and so a remote one).
_REF_FIELDS = frozenset({"resources", "bases", "components", "generators", "transformers", "validators"})
_REMOTE_MARKERS = (
    "://",
    "github.com/",
    "gitlab.com/",
    "bitbucket.org/",
    "git@",
    "?ref=",
    "&ref=",
    "git::",
    "?version=",
)
_TOP_KEY_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:(.*)$")
_ITEM_RE = re.compile(r"^\s*-\s+(.*)$")
_MAX_SCAN_DEPTH = 20


def _kustomization_files(d: Path) -> list[Path]:
    return [d / name for name in KUSTOMIZATION_FILES if (d / name).is_file()]


def _scalar(raw: str) -> str:
    """A plain, single- or double-quoted YAML scalar with any trailing comment removed."""
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        q = raw[0]
        end = raw.find(q, 1)
        return raw[1:end] if end > 0 else raw[1:]
    cut = raw.find(" #")
    if cut >= 0:
        raw = raw[:cut]
    return raw.strip()


def _reference_entries(text: str, fields: frozenset[str] = _REF_FIELDS) -> list[str]:
    """Entries of resources/bases/components/... (`fields`) in a kustomization, by a plain line scan.

    Handles block lists (indented or not) and one-line flow lists (``resources: [a, b]``).
    """
    entries: list[str] = []
    current: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _TOP_KEY_RE.match(line)
        if m:  # a top-level key (no indentation)
            current = m.group(1) if m.group(1) in fields else None
            rest = m.group(2).strip()
            if current and rest.startswith("["):
                inner = rest[1:]
                end = inner.rfind("]")
                if end >= 0:
                    inner = inner[:end]
                entries += [s for s in (_scalar(x) for x in inner.split(",")) if s]
                current = None
            continue
        if current is None:
            continue
        m = _ITEM_RE.match(line) if line.lstrip().startswith("-") else None
        if m:
            item = m.group(1).strip()
            if item.startswith(("path:", "repo:")):  # mapping form
                item = item.split(":", 1)[1]
            value = _scalar(item)
            if value:
                entries.append(value)
        elif line.startswith((" ", "\t")):
            stripped = line.strip()
            if stripped.startswith(("path:", "repo:")):
                value = _scalar(stripped.split(":", 1)[1])
                if value:
                    entries.append(value)
    return entries


def _is_remote(entry: str, base: Path) -> bool:
    if any(marker in entry for marker in _REMOTE_MARKERS):
        return True
    if entry.startswith(("/", ".", "~")) or (base / entry).exists():
        return False
    # Like kustomize, treat a missing 'host.tld/org/repo' path as a git repository address.
    first, sep, _ = entry.partition("/")
    return (
        bool(sep)
        and entry.count("/") >= 2
        and "." in first.strip(".")
        and not first.endswith((".yaml", ".yml", ".json"))
    )


def _find_remote(d: Path) -> str | None:
    """First remote reference in the kustomization at ``d`` or any local base it includes."""
    seen: set[Path] = set()
    stack: list[tuple[Path, int]] = [(d, 0)]
    while stack:
        cur, depth = stack.pop()
        try:
            key = cur.resolve()
        except OSError:
            continue
        if key in seen or depth > _MAX_SCAN_DEPTH:
            continue
        seen.add(key)
        for kfile in _kustomization_files(cur):
            try:
                text = kfile.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for entry in _reference_entries(text):
                if _is_remote(entry, cur):
                    return entry
                sub = cur / entry
                if sub.is_dir():
                    stack.append((sub, depth + 1))
    return None


def _kustomize_command(d: Path) -> tuple[str, list[str] | None, str]:
    """Return (tool, command or None, error when None): ``$KUBEFORT_KUSTOMIZE``, else kustomize
    on PATH, else kustomize in the tools cache, else ``kubectl kustomize`` (kubectl on PATH)."""
    target = _safe_path_arg(d)
    if os.environ.get("KUBEFORT_KUSTOMIZE", "").strip():
        binary, err = _find_binary("kustomize", "KUBEFORT_KUSTOMIZE")
        if binary is None:
            return "kustomize", None, err
        return "kustomize", [binary, "build", target], ""
    binary = shutil.which("kustomize") or _cached_tool("kustomize")
    if binary:
        return "kustomize", [binary, "build", target], ""
    kubectl = shutil.which("kubectl")
    if kubectl:
        return "kubectl kustomize", [kubectl, "kustomize", target], ""
    return "kustomize", None, not_found_message("kustomize", "KUBEFORT_KUSTOMIZE", "kustomize (or kubectl)")


ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
_BUILD_METADATA = frozenset({"buildMetadata"})


def _wants_origins(d: Path) -> bool:
    """The kustomization at `d` itself asks for origin annotations (``buildMetadata: [originAnnotations]``)."""
    for kfile in _kustomization_files(d):
        try:
            text = kfile.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "originAnnotations" in _reference_entries(text, _BUILD_METADATA):
            return True
    return False


def _origin_wrapper(d: Path, workdir: str) -> str:
    """A kustomization in `workdir` (a real path) that builds `d` and adds origin annotations: kustomize then
    names each resource's file (``config.kubernetes.io/origin: {path: ...}``, relative to
    `workdir`) or the generator that made it (``configuredIn: .../kustomization.yaml``).

    kustomize refuses absolute resource paths, so `d` is named relative to `workdir`; the
    output is otherwise what building `d` gives (the wrapper adds nothing else)."""
    rel = os.path.relpath(os.path.realpath(d), workdir)
    text = json.dumps({"resources": [rel], "buildMetadata": ["originAnnotations"]}, indent=2)
    Path(workdir, "kustomization.yaml").write_text(text + "\n", encoding="utf-8")
    return workdir


def render_kustomize(d: Path, *, timeout: float = 120, origins: bool = False) -> RenderResult:
    """``kustomize build DIR`` (``KUBEFORT_KUSTOMIZE``, PATH, the tools cache), else ``kubectl kustomize DIR``.

    A kustomization that refers to a remote base, in itself or in a local base it includes,
    is refused without running anything.

    ``origins=True`` asks kustomize where each resource came from: a kustomization that does
    not ask for ``buildMetadata: [originAnnotations]`` itself is built through a wrapper
    kustomization in a temporary directory that does (``origins_added``: the annotations are
    kubefort's, to be removed from the objects); ``origin_root`` is what their paths are
    relative to. If the wrapped build fails, the plain build runs and its result is returned,
    so errors are the user's own and an older kustomize without the feature still renders.
    """
    d = Path(d)
    tool, command, err = _kustomize_command(d)
    shown = command if command is not None else ["kustomize", "build", _safe_path_arg(d)]
    if not is_kustomization(d):
        return RenderResult(
            False,
            "",
            f"{d} is not a kustomization directory (no {', '.join(KUSTOMIZATION_FILES)})",
            tool,
            shown,
        )
    remote = _find_remote(d)
    if remote is not None:
        return RenderResult(
            False,
            "",
            f"remote kustomize base {remote} needs the network; kubefort is offline-first "
            "(render it yourself and scan the output)",
            tool,
            shown,
        )
    if command is None:
        return RenderResult(False, "", err, tool, shown)

    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for credentials
    label = f"{'kustomize build' if tool == 'kustomize' else 'kubectl kustomize'} {d}"
    if not origins:
        return _run(tool, label, command, timeout, env)
    if _wants_origins(d):
        r = _run(tool, label, command, timeout, env)
        return replace(r, origin_root=os.path.realpath(d)) if r.ok else r
    started = time.monotonic()
    wrapped: RenderResult | None = None
    try:
        workdir = os.path.realpath(tempfile.mkdtemp(prefix="kubefort-kustomize-"))
    except OSError:
        workdir = None  # no temporary directory: build without origins
    if workdir is not None:
        try:
            wrapped = _run(tool, label, [*command[:-1], _origin_wrapper(d, workdir)], timeout, env)
        except (OSError, ValueError):
            wrapped = None
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if wrapped is not None and wrapped.ok:
            return replace(wrapped, origin_root=workdir, origins_added=True)
    remaining = timeout - (time.monotonic() - started)
    if wrapped is not None and remaining <= 0:
        return wrapped  # it timed out: the plain build would too
    return _run(tool, label, command, max(remaining, 0.001), env)


def origin_file(origin_root: str, origin_path: str, target: Path) -> str:
    """An origin annotation's path (relative to `origin_root`) as a path the user recognises:
    relative to the kustomization `target` as the user named it (``overlays/prod`` and
    ``../../base/web.yaml`` give ``base/web.yaml``)."""
    real = os.path.normpath(os.path.join(origin_root, origin_path))
    rel = os.path.relpath(real, os.path.realpath(target))
    return os.path.normpath(os.path.join(target, rel))
