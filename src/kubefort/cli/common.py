"""What the kubefort commands share: the check registry, output targets, --fail-on, baselines,
reporting and exit codes (the exit policy itself is `kubefort.verdict`)."""

from __future__ import annotations

import os
import sys
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
    "builtin_registry",
    "parse_fail_on",
    "parse_outputs",
    "read_baseline",
    "report_and_exit",
    "split_ids",
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
) -> None:
    """Render every requested report, then exit with the documented code (`kubefort.verdict`):

    0 clean; 1 a failure at or above the threshold; 3 something was not evaluated (or, with
    `nothing_evaluated`, nothing at all was) unless allow_incomplete.

    Reports to files are written first (`progress`, a `kubefort.engine.progress.ProgressCallback`,
    hears of each), then the one for stdout, laid out for the terminal's width (`$COLUMNS`, else
    100 columns when stdout is no terminal).
    """
    from kubefort import reporters
    from kubefort.reporters.layout import output_width
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
    v = verdict(result, threshold, allow_incomplete=allow_incomplete, nothing_evaluated=nothing_evaluated)
    if not quiet:
        click.echo(v.summary, err=True)
    sys.exit(v.code)
