"""What the commands' parameters share: the files they read and write, shell completion of check
IDs and report formats, and "did you mean" for unknown checks and areas.

A file that cannot be read or written is a `FileError`: one line `kubefort: error: ...` on
stderr and exit 2, never a traceback. The parameter types `InputFile`, `InputDir` and
`OutputFile` check their file when the command line is parsed, so before any scan starts (an
output file is not created early: its directory must exist and be writable). Every file option
of every command uses one of them (tests/test_cli_errors.py drives each with files that cannot
be used).

Nothing here imports the check registry or the reporters until a completion or a suggestion
needs them: `kubefort --help` stays fast.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click
from click.shell_completion import CompletionItem

from kubefort.verdict import EXIT_USAGE

if TYPE_CHECKING:
    from kubefort.registry import Registry

__all__ = [
    "FileError",
    "InputDir",
    "InputFile",
    "OutputFile",
    "check_report_targets",
    "check_suggestion",
    "complete_areas",
    "complete_check",
    "complete_check_ids",
    "complete_report_formats",
    "did_you_mean",
    "file_error",
    "one_line",
    "os_reason",
    "read_problem",
    "store_option",
    "suggest",
    "write_problem",
]


# size suffixes: KiB/MiB/GiB (and K/M/G) are binary, KB/MB/GB decimal
_SIZE_SUFFIXES = (
    ("KIB", 1024),
    ("MIB", 1024**2),
    ("GIB", 1024**3),
    ("KB", 1000),
    ("MB", 1000**2),
    ("GB", 1000**3),
    ("K", 1024),
    ("M", 1024**2),
    ("G", 1024**3),
)


def parse_size(text: str, option: str, example: str = "4MiB") -> int:
    """`4MiB`, `512KiB`, `1048576` -> bytes, for a size option (`option` names it in errors);
    BadParameter for text that is not a size, or below one byte."""
    t = text.strip().upper()
    mult = 1
    for suffix, m in _SIZE_SUFFIXES:
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], m
            break
    try:
        size = int(float(t) * mult)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a size (e.g. {example})", param_hint=option) from None
    if size < 1:
        raise click.BadParameter(f"{text!r} must be at least one byte", param_hint=option)
    return size


def one_line(text: str) -> str:
    """`text` on one line: its lines joined by single spaces, blank lines dropped."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class FileError(click.ClickException):
    """A file (or a kubeconfig's cluster) that cannot be read, written or understood:
    `kubefort: error: MESSAGE` on one line, exit 2 (the usage-error code)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"kubefort: error: {self.format_message()}", file=file, err=file is None)


def os_reason(exc: OSError) -> str:
    """What went wrong, in the operating system's words ("No such file or directory"), lower-cased
    as the rest of kubefort's messages."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def file_error(exc: OSError, action: str = "cannot use") -> FileError:
    """A FileError for an OSError that escaped: "cannot write /x/y.json: no such file or directory"."""
    name = os.fsdecode(exc.filename) if isinstance(exc.filename, str | bytes | os.PathLike) else ""
    return FileError(f"{action} {name}: {os_reason(exc)}" if name else f"{action}: {os_reason(exc)}")


# ---------------------------------------------------------------------------------------------
# files: pure checks of whether a path can be read or written, and the parameter types using them
# ---------------------------------------------------------------------------------------------
def _stat_problem(path: str) -> str | None:
    try:
        os.stat(path)
    except OSError as exc:
        return os_reason(exc)
    return None


def read_problem(path: str, *, directory: bool = False) -> str | None:
    """Why `path` cannot be read as a file (a directory with `directory`), or None when it can."""
    problem = _stat_problem(path)
    if problem is not None:
        return problem
    if directory:
        if not os.path.isdir(path):
            return "not a directory"
        return None if os.access(path, os.R_OK | os.X_OK) else "permission denied"
    if os.path.isdir(path):
        return "it is a directory"
    return None if os.access(path, os.R_OK) else "permission denied"


def _nearest_existing(path: Path) -> Path:
    for candidate in path.parents:
        if os.path.lexists(candidate):
            return candidate
    return Path(".")  # pragma: no cover - a relative path's parents end in "."


def write_problem(path: str, *, make_parents: bool = False) -> str | None:
    """Why `path` cannot be written, or None when, as far as can be told without creating it, it can.

    kubefort replaces a regular file atomically (a temporary file in the same directory, then a
    rename), so the directory must exist and be writable; an existing special file (/dev/null, a
    FIFO) is written in place and must itself be writable. `make_parents`: missing directories
    will be created, so the nearest existing one must be a writable directory.
    """
    if not path:
        return "no file name given"
    p = Path(path)
    if p.is_dir():
        return "it is a directory"
    if p.exists() and not p.is_file():
        return None if os.access(p, os.W_OK) else "permission denied"
    parent = p.parent
    if make_parents and not os.path.lexists(parent):
        parent = _nearest_existing(p)
    if not os.path.lexists(parent):
        return f"directory {parent} does not exist"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"directory {parent} is not writable"
    if p.exists() and not os.access(p, os.W_OK):
        return "permission denied"
    return None


class _FileType(click.ParamType[str]):
    """A file parameter, checked when the command line is parsed; `what` names it in messages."""

    name = "file"

    def __init__(self, what: str) -> None:
        self.what = what

    def problem(self, path: str) -> str | None:
        raise NotImplementedError

    def action(self) -> str:
        return "cannot read"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        path = os.fsdecode(value)
        problem = self.problem(path)
        if problem is not None:
            raise FileError(f"{self.action()} {self.what} {path}: {problem}")
        return path

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        return [CompletionItem(incomplete, type="dir" if self.name == "directory" else "file")]


class InputFile(_FileType):
    """A file the command reads (config, baseline, values, kubeconfig, feed): it must exist and
    be a readable file."""

    def problem(self, path: str) -> str | None:
        return read_problem(path)


class InputDir(_FileType):
    """A directory the command reads (a node's root, its /proc)."""

    name = "directory"

    def problem(self, path: str) -> str | None:
        return read_problem(path, directory=True)


class OutputFile(_FileType):
    """A file the command writes (a report, baseline, snapshot, generated policies, dump): its
    directory must exist and be writable; the file itself is only written at the end."""

    def problem(self, path: str) -> str | None:
        return write_problem(path)

    def action(self) -> str:
        return "cannot write"


class OutputDir(_FileType):
    """A directory the command writes files into (reports, generated policies): created with its
    parents when missing, so an existing one must be a writable directory, and otherwise the
    nearest existing ancestor must be."""

    name = "directory"

    def problem(self, path: str) -> str | None:
        if not path:
            return "no directory name given"
        p = Path(path)
        if os.path.lexists(p):
            if not p.is_dir():
                return "not a directory"
            return None if os.access(p, os.W_OK | os.X_OK) else "permission denied"
        parent = _nearest_existing(p)
        if not parent.is_dir():
            return f"{parent} is not a directory"
        return None if os.access(parent, os.W_OK | os.X_OK) else f"directory {parent} is not writable"

    def action(self) -> str:
        return "cannot write"


# ---------------------------------------------------------------------------------------------
# reports: -o FORMAT[=FILE]
# ---------------------------------------------------------------------------------------------
# the file name suggested for a report that cannot go to stdout
REPORT_SUFFIX = {"json": ".json", "sarif": ".sarif", "junit": ".xml", "prometheus": ".prom", "table": ".txt"}


def check_report_targets(targets: Sequence[tuple[str, str | None]]) -> None:
    """Refuse reports that cannot be told apart or written: at most one report goes to stdout
    (click.UsageError naming -o FORMAT=FILE for the others), and each report file must be
    writable (FileError) before the scan starts."""
    to_stdout = [fmt for fmt, dest in targets if dest is None]
    if len(to_stdout) > 1:
        others = " ".join(f"-o {fmt}=kubefort{REPORT_SUFFIX.get(fmt, '.' + fmt)}" for fmt in to_stdout[1:])
        raise click.UsageError(
            f"at most one report can go to stdout ({', '.join(to_stdout)} were asked for); give FILE for the others: {others}"
        )
    for fmt, dest in targets:
        if dest is not None:
            problem = write_problem(dest)
            if problem is not None:
                raise FileError(f"cannot write {fmt} report {dest}: {problem}")


def complete_report_formats(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion of -o FORMAT[=FILE]: the report formats (the FILE part is left to the shell)."""
    from kubefort import reporters

    if "=" in incomplete:
        return []
    return [CompletionItem(f) for f in sorted(reporters.FORMATS) if f.startswith(incomplete.lower())]


# ---------------------------------------------------------------------------------------------
# checks: completion and "did you mean"
# ---------------------------------------------------------------------------------------------
def _registry() -> Registry:
    from kubefort.registry import load_builtin_checks

    reg: Registry = load_builtin_checks()
    return reg


def _check_keys(reg: Registry, *, prefixes: bool = True) -> list[tuple[str, str]]:
    """Every key --checks accepts, with what it means: IDs, names and (with `prefixes`) area
    prefixes such as KF-POD."""
    keys = [(m.id, m.title) for m in reg] + [(m.name, m.id) for m in reg]
    if not prefixes:
        return keys
    areas = sorted({m.id.rsplit("-", 1)[0] for m in reg})
    return [(a, "every check of the area") for a in areas] + keys


def _complete_keys(incomplete: str, keys: list[tuple[str, str]]) -> list[CompletionItem]:
    """The keys that complete `incomplete`; in a comma-separated list (`KF-POD-001,KF-IM`) the
    last item is completed and the ones before it kept."""
    done, _, current = incomplete.rpartition(",")
    prefix = done + "," if done else ""
    out = []
    for key, help_text in keys:
        wanted = current.upper() if key.startswith("KF-") else current.lower()
        if key.startswith(wanted):
            out.append(CompletionItem(prefix + key, help=help_text))
    return out


def complete_check_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion for --checks/--skip-checks: check IDs, names and area prefixes."""
    return _complete_keys(incomplete, _check_keys(_registry()))


def complete_check(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion for one check (`kubefort explain`): IDs and names."""
    return _complete_keys(incomplete.replace(",", ""), _check_keys(_registry(), prefixes=False))


def complete_areas(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion for `checks --area`: the areas (POD, IMG ...)."""
    areas = sorted({m.area for m in _registry()})
    return [CompletionItem(a) for a in areas if a.startswith(incomplete.upper().removeprefix("KF-"))]


def suggest(word: str, candidates: Iterable[str], *, limit: int = 3) -> list[str]:
    """The candidates closest to `word`, best first: difflib's similarity (case-insensitive, at
    least 0.6), then the longer common prefix (KF-POD-00l is KF-POD-001 rather than KF-POD-020),
    then alphabetical order."""
    by_folded: dict[str, str] = {}
    for c in candidates:
        by_folded.setdefault(c.lower(), c)
    folded = word.strip().lower()
    close = difflib.get_close_matches(folded, list(by_folded), n=len(by_folded), cutoff=0.6)

    def rank(c: str) -> tuple[float, int, str]:
        ratio = difflib.SequenceMatcher(None, folded, c).ratio()
        prefix = next((i for i, (x, y) in enumerate(zip(folded, c, strict=False)) if x != y), min(len(folded), len(c)))
        return (-ratio, -prefix, c)

    return [by_folded[c] for c in sorted(close, key=rank)[:limit]]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """ "; did you mean KF-POD-001?" (or "... KF-POD-001 or KF-POD-011?"), or "" with nothing close."""
    close = suggest(word, candidates)
    if not close:
        return ""
    return "; did you mean " + (close[0] if len(close) == 1 else ", ".join(close[:-1]) + " or " + close[-1]) + "?"


def check_suggestion(reg: Registry, keys: Iterable[str], *, prefixes: bool = True) -> str | None:
    """For the first of `keys` that names no check, the message: "unknown check 'KF-POD-999';
    did you mean KF-POD-009? (see `kubefort checks`)"; None when every key names a check. Keys
    are read as --checks reads them (ID, name or ID prefix), or without `prefixes` as `kubefort
    explain` does (ID or name)."""
    for key in keys:
        try:
            reg.select([key]) if prefixes else reg.get(key)
        except KeyError:
            area = key.strip().upper().removeprefix("KF-")
            if not prefixes and any(m.area == area for m in reg):
                return f"{key.strip()!r} is an area, not a check: `kubefort checks --area {area}` lists its checks"
            hint = did_you_mean(key, [k for k, _ in _check_keys(reg, prefixes=prefixes)])
            return f"unknown check {key.strip()!r}{hint} (see `kubefort checks`)"
    return None


F = TypeVar("F", bound=Callable[..., Any])


# ---------------------------------------------------------------------------------------------
# the history store (kubefort.history): one option for every command that records or reads it
# ---------------------------------------------------------------------------------------------
STORE_HELP = (
    "History store URL: sqlite:///PATH or postgresql://USER@HOST/DB. Alone (--store, or --store= before a PATH): "
    "$KUBEFORT_STORE, else SQLite in the user's data directory (~/.local/share/kubefort/history.db)."
)


def _check_store_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """`--store` takes a URL or nothing: a value without `scheme://` is most likely a PATH the
    option swallowed (`kubefort scan --store k8s/`), so it is a usage error saying how to write it."""
    if value and "://" not in value:
        raise click.BadParameter(
            f"{value!r} is not a store URL (sqlite:///PATH or postgresql://...); "
            "to use the default store before a PATH write --store= or put --store after the PATHs",
            ctx=ctx,
            param=param,
        )
    return value


def store_option(*, target: bool = False, record: bool = False) -> Callable[[F], F]:
    """The `--store [URL]` option (a flag with an optional value: absent None, alone ""), for
    every history command; `record=True` words it for the commands that record a scan, `target`
    adds `--store-target KEY`. `kubefort.history.store.Store.open` takes the value as it is."""

    def decorate(f: F) -> F:
        if target:
            f = click.option(
                "--store-target",
                "store_target",
                metavar="KEY",
                help="With --store: record the scan under this target key instead of the detected one "
                "(repo:..., path:..., cluster:..., node:..., audit:...; see docs/history.md).",
            )(f)
        return click.option(
            "--store",
            "store",
            is_flag=False,
            flag_value="",
            default=None,
            metavar="[URL]",
            callback=_check_store_url,
            help=("Record the scan in the history store (after the reports are written). " if record else "")
            + STORE_HELP,
        )(f)

    return decorate
