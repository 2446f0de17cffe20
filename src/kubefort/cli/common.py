"""What the kubefort commands share: the check registry, output targets, --fail-on, baselines,
reporting and exit codes (the exit policy itself is `kubefort.verdict`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kubefort.engine.progress import ProgressCallback, ProgressEvent

from kubefort.cli.params import FileError, check_report_targets, os_reason
from kubefort.fileio import write_atomically
from kubefort.verdict import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_INCOMPLETE",
    "EXIT_OK",
    "EXIT_USAGE",
    "FormatChoice",
    "StoreRequest",
    "builtin_registry",
    "parse_fail_on",
    "parse_outputs",
    "read_baseline",
    "record_scan",
    "report_and_exit",
    "split_ids",
    "store_request",
]


def builtin_registry() -> Any:
    """Every built-in check (imported on first use: `kubefort --help` does not load them)."""
    from kubefort.registry import load_builtin_checks

    return load_builtin_checks()


# -o names no longer listed in help, and what they now are: the human format is `table` everywhere
DEPRECATED_FORMATS = {"text": "table"}


def load_command_config(config_path: str | None, no_config: bool, reg: Any, near: str | None = None) -> Any:
    """The `.kubefort.yaml` a command uses: `-c FILE`, else the nearest one above `near` (the first
    PATH; the working directory when None), none with `--no-config`. An invalid file is a
    one-line error (exit 2)."""
    from pathlib import Path

    from kubefort.config import ConfigError, find_config, load_config

    if no_config:
        return None
    path = Path(config_path) if config_path else find_config(near)
    if path is None:
        return None
    try:
        return load_config(path, reg)
    except ConfigError as exc:
        raise FileError(f"invalid config: {exc}") from None


def current_format(fmt: str) -> str:
    """A -o name as it is today: `text` is a deprecated alias of `table` (a note on stderr)."""
    new = DEPRECATED_FORMATS.get(fmt.strip().lower())
    if new is None:
        return fmt
    click.echo(f"kubefort: -o {fmt.strip()} is deprecated: use -o {new}", err=True)
    return new


class FormatChoice(click.Choice[str]):
    """`-o` for the commands with a fixed set of formats; also takes the deprecated aliases."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if isinstance(value, str) and DEPRECATED_FORMATS.get(value.strip().lower()) in self.choices:
            value = current_format(value)
        return super().convert(value, param, ctx)


def split_ids(values: tuple[str, ...]) -> list[str]:
    """`--checks A,B --checks C` -> [A, B, C]."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def parse_outputs(outputs: tuple[str, ...], output_file: str | None = None) -> list[tuple[str, str | None]]:
    """`-o FORMAT[=FILE]` (repeatable) and `--output-file` -> [(format, file or None for stdout)]."""
    from kubefort import reporters

    targets: list[tuple[str, str | None]] = []
    for o in outputs or ("table",):
        fmt, _, dest = o.partition("=")
        fmt = current_format(fmt.strip().lower())
        if fmt not in reporters.FORMATS:
            raise click.BadParameter(
                f"unknown format {fmt!r} (choose from {', '.join(sorted(reporters.FORMATS))})", param_hint="--output"
            )
        targets.append((fmt, dest or None))
    if output_file:
        free = [i for i, (_, d) in enumerate(targets) if d is None]
        if len(free) != 1:
            raise click.UsageError("--output-file needs exactly one -o FORMAT without =FILE")
        targets[free[0]] = (targets[free[0]][0], output_file)
    check_report_targets(targets)  # one report on stdout at most; report files writable, before any scan
    return targets


def parse_fail_on(fail_on: str | None, config: Any) -> Any:
    """The --fail-on threshold (a Severity), or None for 'never'; the config's fail_on is the default."""
    from kubefort.model import Severity

    text = fail_on or (config.fail_on.label if config is not None and config.fail_on else "high")
    if text.lower() in ("never", "none"):
        return None
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from None


def read_baseline(path: str | None) -> set[str] | None:
    from kubefort import baseline as baseline_mod

    if not path:
        return None
    try:
        return baseline_mod.read(path)
    except OSError as exc:
        raise FileError(f"cannot read baseline {path}: {os_reason(exc)}") from None
    except ValueError as exc:
        raise FileError(f"cannot read baseline {path}: {exc}") from None


@dataclass(frozen=True, slots=True)
class StoreRequest:
    """`--store [URL]` of a scan command: where to record the result (`url` "" is the default
    store), as which kind of scan, and its target: `--store-target` (`key`) else `detect(result)`,
    a `kubefort.history.target.TargetLabel`."""

    url: str
    kind: str
    detect: Callable[[Any], Any]
    key: str | None = None


def store_request(url: str | None, kind: str, detect: Callable[[Any], Any], key: str | None) -> StoreRequest | None:
    """The StoreRequest of a command's --store/--store-target, or None without --store."""
    if url is None:
        if key:
            raise click.UsageError("--store-target needs --store")
        return None
    return StoreRequest(url, kind, detect, key)


def record_scan(result: Any, registry: Any, request: StoreRequest, *, complete: bool, quiet: bool) -> None:
    """Record `result` in the history store (one transaction). A store that cannot be used is one
    line on stderr and exit 2; the reports are written by then."""
    from kubefort.history.store import Store, StoreError
    from kubefort.history.target import override

    try:
        target = override(request.detect(result), request.key)
        with Store.open(request.url) as store:
            row = store.record(result, registry, kind=request.kind, target=target, complete=complete)
    except StoreError as exc:
        raise FileError(str(exc)) from None
    if not quiet:
        click.echo(f"kubefort: stored scan {row.uid[:12]} of {row.target} in {store.url}", err=True)


def _reports_event(done: int, total: int, fmt: str = "") -> ProgressEvent:
    from kubefort.engine.progress import ProgressEvent

    return ProgressEvent("reports", done, total, current=fmt)


def report_and_exit(
    result: Any,
    registry: Any,
    targets: list[tuple[str, str | None]],
    *,
    include_passed: bool,
    color: bool | None,
    threshold: Any,
    allow_incomplete: bool,
    quiet: bool,
    nothing_evaluated: str | None = None,
    show_suppressed: bool = False,
    progress: ProgressCallback | None = None,
    store: StoreRequest | None = None,
) -> None:
    """Render every requested report, then exit with the documented code (`kubefort.verdict`):

    0 clean; 1 a failure at or above the threshold; 3 something was not evaluated (or, with
    `nothing_evaluated`, nothing at all was) unless allow_incomplete. With `store` (--store), the
    result is recorded in the history store once the reports are written: a store error is exit
    2 (`record_scan`), and a scan that evaluated nothing is recorded as incomplete.

    Reports to files are written first (`progress`, a `kubefort.engine.progress.ProgressCallback`,
    hears of each), then the one for stdout, laid out for the terminal's width (`$COLUMNS`, else
    100 columns when stdout is no terminal).
    """
    from kubefort import reporters
    from kubefort.reporters.width import output_width
    from kubefort.verdict import verdict

    if nothing_evaluated:
        result.warnings.append(nothing_evaluated)
    use_color = color if color is not None else (sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    files = sum(1 for _, dest in targets if dest is not None)
    if progress is not None:
        progress(_reports_event(0, files))
    # files first: a progress display on the terminal ends before anything is written to stdout
    for i, (fmt, dest) in enumerate(sorted(targets, key=lambda t: t[1] is None), 1):
        chunks = reporters.render_chunks(
            fmt,
            result,
            registry,
            include_passed=include_passed,
            show_suppressed=show_suppressed,
            color=use_color and dest is None and fmt == "table",
            width=output_width(sys.stdout if dest is None else None),
        )
        if dest is None:
            last = ""
            for last in chunks:
                click.echo(last, nl=False)
            if not last.endswith("\n"):
                click.echo("")
        else:
            try:
                write_atomically(dest, chunks)
            except OSError as exc:  # checked before the scan, but the disk may fill or the directory go
                raise FileError(f"cannot write {fmt} report {dest}: {os_reason(exc)}") from None
            if progress is not None:
                progress(_reports_event(i, files, fmt))  # the files come first: i of them are written
    if store is not None:
        record_scan(result, registry, store, complete=not nothing_evaluated, quiet=quiet)
    v = verdict(result, threshold, allow_incomplete=allow_incomplete, nothing_evaluated=nothing_evaluated)
    if not quiet:
        click.echo(v.summary, err=True)
    sys.exit(v.code)
