"""What the kubefort commands share: the check registry, output targets, --fail-on, baselines,
reporting and exit codes (the exit policy itself is `kubefort.verdict`)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from kubefort.fileio import write_atomically
from kubefort.verdict import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_INCOMPLETE",
    "EXIT_OK",
    "EXIT_USAGE",
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


def split_ids(values: tuple[str, ...]) -> list[str]:
    """`--checks A,B --checks C` -> [A, B, C]."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def parse_outputs(outputs: tuple[str, ...], output_file: str | None = None) -> list[tuple[str, str | None]]:
    """`-o FORMAT[=FILE]` (repeatable) and `--output-file` -> [(format, file or None for stdout)]."""
    from kubefort import reporters

    targets: list[tuple[str, str | None]] = []
    for o in outputs or ("table",):
        fmt, _, dest = o.partition("=")
        fmt = fmt.strip().lower()
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
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"cannot read baseline {path}: {exc}") from None


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
) -> None:
    """Render every requested report, then exit with the documented code (`kubefort.verdict`):

    0 clean; 1 a failure at or above the threshold; 3 something was not evaluated (or, with
    `nothing_evaluated`, nothing at all was) unless allow_incomplete.
    """
    from kubefort import reporters
    from kubefort.verdict import verdict

    if nothing_evaluated:
        result.warnings.append(nothing_evaluated)
    use_color = color if color is not None else (sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    for fmt, dest in targets:
        chunks = reporters.render_chunks(
            fmt, result, registry, include_passed=include_passed, color=use_color and dest is None and fmt == "table"
        )
        if dest is None:
            last = ""
            for last in chunks:
                click.echo(last, nl=False)
            if not last.endswith("\n"):
                click.echo("")
        else:
            write_atomically(dest, chunks)
    v = verdict(result, threshold, allow_incomplete=allow_incomplete, nothing_evaluated=nothing_evaluated)
    if not quiet:
        click.echo(v.summary, err=True)
    sys.exit(v.code)
