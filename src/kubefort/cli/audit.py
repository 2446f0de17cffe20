"""`kubefort audit`: analyse API-server audit logs; `audit serve` and `audit rbac` are its subcommands.

`kubefort audit PATH...` reads logs (files, directories, `-` for stdin) through
`kubefort.drivers.audit`; the subcommands load lazily (`serve` -> kubefort.cli.audit_serve,
`rbac` -> kubefort.cli.audit_rbac), and any other first argument is a PATH (a file named
`serve` is given as `./serve`). Argument parsing, reporter choice and exit codes only.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from kubefort.cli import LazyGroup
from kubefort.cli.common import (
    builtin_registry,
    load_command_config,
    parse_fail_on,
    parse_outputs,
    read_baseline,
    report_and_exit,
    split_ids,
    store_request,
)
from kubefort.cli.params import (
    FileError,
    InputFile,
    OutputFile,
    check_suggestion,
    complete_check_ids,
    complete_report_formats,
    os_reason,
    parse_size,
    store_option,
)

# name -> ("module:attribute", the first paragraph of its help); tests/test_audit_cli.py holds them equal
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "rbac": (
        "kubefort.cli.audit_rbac:rbac",
        "Least privilege from usage: RBAC from what principals did, and grants nobody used.",
    ),
    "serve": (
        "kubefort.cli.audit_serve:serve",
        "Receive audit events from the API server's webhook backend and analyse them live.",
    ),
}

EXIT_CODES_HELP = """\b
Exit codes:
  0  no failed check at or above --fail-on, and every line was read
  1  at least one failed check at or above --fail-on (default: high)
  2  usage error: bad option, unknown check ID, invalid config or baseline,
     a PATH or file that cannot be read or written (one line on stderr)
  3  incomplete: a line or file could not be read as audit events, or
     events are out of time order (KF-INPUT-006), or no event was found,
     or a request could not be judged (a not-evaluated outcome: a binding
     to a role kubefort was not given with --rbac, a body the policy did
     not record); --allow-incomplete turns this into 0/1
With --write-baseline: 0 once the baseline is written (3 when incomplete).
"""

AUDIT_HELP = """Analyse API-server audit logs: detections (KF-AUDIT checks) and access metrics.

PATH: audit log files as --audit-log-path writes them (JSON lines, .gz too), directories of them
(rotated files read oldest first), '-' for stdin, EventList documents (the webhook backend's),
EKS CloudWatch and GKE Cloud Audit Logs exports. Each request is judged once. Subcommands:
`kubefort audit serve` (live receiver), `kubefort audit rbac` (least privilege from usage).
"""


class AuditGroup(LazyGroup):
    """`kubefort audit`: its lazily loaded subcommands when the first argument names one, else
    the analysis of PATHs (`analyse`), options and all."""

    ARGS = "kubefort.audit.args"  # where parse_args leaves the analysis's arguments for invoke

    def __init__(self, *args: Any, analyse: click.Command, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.analyse = analyse

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and (args[0] in self.lazy_commands or args[0] in ctx.help_option_names):
            return super().parse_args(ctx, args)
        ctx.meta[self.ARGS] = list(args)
        return []

    def invoke(self, ctx: click.Context) -> Any:
        args = ctx.meta.pop(self.ARGS, None)
        if args is None:
            return super().invoke(ctx)
        if not args:
            raise click.UsageError("give PATHs of audit logs ('-' for stdin), or a subcommand: serve, rbac", ctx)
        with self.analyse.make_context(ctx.info_name, args, parent=ctx.parent) as sub:
            return self.analyse.invoke(sub)

    def load(self, cmd_name: str) -> click.Command:
        try:
            return super().load(cmd_name)
        except ImportError as exc:
            if (getattr(exc, "name", "") or "").startswith("kubefort.cli.audit_"):
                raise click.UsageError(f"`kubefort audit {cmd_name}` is not built yet") from None
            raise

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] PATH...  |  serve ...  |  rbac ...")

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.format_usage(ctx, formatter)
        self.format_help_text(ctx, formatter)
        self.analyse.format_options(ctx, formatter)
        self.format_commands(ctx, formatter)
        self.analyse.format_epilog(ctx, formatter)


@click.command("audit", epilog=EXIT_CODES_HELP, help=AUDIT_HELP)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FORMAT[=FILE]",
    shell_complete=complete_report_formats,
    help="Report format: table (default), json, sarif, junit, prometheus. Repeat for several (at most one on stdout); FORMAT=FILE writes to a file.",
)
@click.option("--output-file", type=OutputFile("report"), help="Write the (single) report to FILE instead of stdout.")
@click.option(
    "--show-suppressed",
    is_flag=True,
    help="List suppressed findings (baseline, exceptions) in the table; by default it only counts them.",
)
@click.option(
    "--checks",
    "select",
    multiple=True,
    metavar="IDS",
    shell_complete=complete_check_ids,
    help="Run only these audit checks: IDs, names or ID prefixes (KF-AUDIT), comma-separated.",
)
@click.option(
    "--skip-checks",
    "skip",
    multiple=True,
    metavar="IDS",
    shell_complete=complete_check_ids,
    help="Do not run these checks.",
)
@click.option(
    "--fail-on",
    metavar="LEVEL",
    help="Exit 1 when a failed check has at least this severity; 'never' to only report. Default: high.",
)
@click.option(
    "--allow-incomplete",
    is_flag=True,
    help="Do not exit 3 when lines could not be read, events are out of order, or no event was found.",
)
@click.option(
    "--max-event-size",
    default="4MiB",
    show_default=True,
    help="Lines longer than this are reported (KF-INPUT-006) and skipped without being held in memory.",
)
@click.option(
    "--kubernetes-version",
    "k8s_version",
    default=None,
    metavar="1.N",
    help="Kubernetes release whose default RBAC roles the detections use (default: the newest kubefort ships).",
)
@click.option(
    "-c",
    "--config",
    "config_path",
    type=InputFile("config file"),
    help="Config file (default: nearest .kubefort.yaml above the first PATH).",
)
@click.option("--no-config", is_flag=True, help="Ignore .kubefort.yaml files.")
@click.option(
    "--baseline", type=InputFile("baseline"), help="Suppress findings whose fingerprints are in this baseline file."
)
@click.option(
    "--write-baseline",
    type=OutputFile("baseline"),
    help="Write the fingerprints of current findings to this file and exit 0 (no report): accept today's findings.",
)
@click.option(
    "--policy",
    "policy_file",
    type=InputFile("audit policy"),
    help="The cluster's audit Policy (the API server's --audit-policy-file): which requests it records at "
    "which level (extras.audit.coverage) and KF-CP-057/058 on it.",
)
@click.option(
    "--rbac",
    "rbac_inputs",
    multiple=True,
    metavar="PATH",
    help="Manifests holding the cluster's Roles, ClusterRoles and bindings, for the detections that judge "
    "roles and bindings (repeatable; default: the release's built-in roles only).",
)
@click.option(
    "--usage-baseline",
    type=OutputFile("usage baseline"),
    help="First-seen baseline (KF-AUDIT-024): read when it exists, then written back with what this log "
    "shows; created when it does not.",
)
@click.option(
    "--learn-for",
    metavar="DURATION",
    help="Learn the first DURATION of the log (30m, 12h, 7d) into the usage baseline instead of judging it "
    "(KF-AUDIT-024).",
)
@click.option(
    "-j", "--jobs", type=int, default=0, help="Worker processes (default: one per CPU; 1 disables parallelism)."
)
@store_option(target=True, record=True)
@click.option("--color/--no-color", default=None, help="Colour the table (default: only on a terminal).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary lines on stderr.")
def analyse(
    paths: tuple[str, ...],
    outputs: tuple[str, ...],
    output_file: str | None,
    show_suppressed: bool,
    select: tuple[str, ...],
    skip: tuple[str, ...],
    fail_on: str | None,
    allow_incomplete: bool,
    max_event_size: str,
    k8s_version: str | None,
    config_path: str | None,
    no_config: bool,
    baseline: str | None,
    write_baseline: str | None,
    policy_file: str | None,
    rbac_inputs: tuple[str, ...],
    usage_baseline: str | None,
    learn_for: str | None,
    jobs: int,
    store: str | None,
    store_target: str | None,
    color: bool | None,
    quiet: bool,
) -> None:
    from kubefort.audit.analyzer import AuditSettings
    from kubefort.config import Config
    from kubefort.drivers import audit as driver
    from kubefort.engine.selection import AUDIT_INPUT_CHECKS, SelectionError, select_checks

    reg = builtin_registry()
    config: Config | None = load_command_config(config_path, no_config, reg, next((p for p in paths if p != "-"), None))
    try:
        check_ids = select_checks(
            reg,
            split_ids(select),
            split_ids(skip),
            config=config,
            family=lambda m: m.target == "audit",
            family_hint="kubefort audit runs the KF-AUDIT checks (scan runs the others)",
            inputs=lambda m: m.id in AUDIT_INPUT_CHECKS,
        )
    except SelectionError as exc:
        raise click.UsageError(check_suggestion(reg, [*split_ids(select), *split_ids(skip)]) or str(exc)) from None
    if write_baseline and (outputs or output_file):
        raise click.UsageError("--write-baseline writes the baseline and no report: drop -o/--output-file")
    limit = parse_size(max_event_size, "--max-event-size")
    threshold = parse_fail_on(fail_on, config)
    targets = parse_outputs(outputs, output_file)
    base_fps = read_baseline(baseline)
    record = store_request(store, "audit", lambda _result: _audit_target(paths), store_target)
    sources = _sources(paths)
    side = _side_inputs(reg, policy_file, rbac_inputs, dict(config.options) if config else {})
    services = _services(reg, k8s_version, side.rbac_objects)
    usage = load_usage_baseline(usage_baseline, learn_for)
    if usage is not None:
        services.baseline = usage
    settings = AuditSettings(
        check_ids, options=dict(config.options) if config else {}, severity=config.severity if config else {}
    )
    with _display(sources, quiet=quiet) as progress:
        result = driver.analyse(
            sources,
            settings,
            registry=reg,
            services=services,
            config=config,
            baseline=base_fps,
            jobs=jobs or None,
            max_event_size=limit,
            progress=progress,
            extra_outcomes=side.outcomes,
            extra_checks=side.checks + sorted({o.check_id for o in side.outcomes} - set(side.checks)),
            extra_passed=side.passed,
        )
        if config is not None:
            result.extras["config"] = config.path
        if side.coverage is not None:
            result.extras["audit"]["coverage"] = side.coverage
        if usage is not None and usage_baseline is not None:
            _save_usage(usage, usage_baseline)
            result.extras["audit"]["baseline"] = usage.summary()
        nothing = _nothing_read(paths, result)
        if write_baseline:
            _write_baseline(result, write_baseline, allow_incomplete=allow_incomplete, quiet=quiet, nothing=nothing)
        report_and_exit(
            result,
            reg,
            targets,
            include_passed=False,  # audit passes are counted (per check and request), never listed
            show_suppressed=show_suppressed,
            color=color,
            threshold=threshold,
            allow_incomplete=allow_incomplete,
            quiet=quiet,
            progress=progress,
            nothing_evaluated=nothing,
            store=record,
        )


def _audit_target(paths: tuple[str, ...]) -> Any:
    from kubefort.history.target import for_audit

    return for_audit(paths)


audit = AuditGroup("audit", help=AUDIT_HELP, lazy_commands=SUBCOMMANDS, analyse=analyse, epilog=EXIT_CODES_HELP)


def _sources(paths: tuple[str, ...]) -> list[Any]:
    """The files to read, checked before anything is read: a PATH that cannot be read is exit 2."""
    from kubefort.audit.read import discover

    if list(paths).count("-") > 1:
        raise click.UsageError("'-' (stdin) can be given once")
    try:
        return discover(paths)
    except OSError as exc:
        raise FileError(f"cannot read {exc.filename or ''}: {os_reason(exc)}") from None


def _side_inputs(reg: Any, policy_file: str | None, rbac_inputs: tuple[str, ...], options: dict[str, Any]) -> Any:
    """The audit Policy and RBAC files given besides the log (kubefort.audit.side_inputs)."""
    from kubefort.audit.side_inputs import SideInputs, read_policy, read_rbac
    from kubefort.loaders.manifests import UsageError

    side = SideInputs()
    try:
        if policy_file:
            read_policy(policy_file, reg, options, side)
        if rbac_inputs:
            read_rbac(rbac_inputs, reg, side)
    except UsageError as exc:  # a --rbac PATH that does not exist
        raise FileError(str(exc)) from None
    except OSError as exc:
        raise FileError(f"cannot read {exc.filename or ''}: {os_reason(exc)}") from None
    return side


def load_usage_baseline(path: str | None, learn_for: str | None) -> Any:
    """The first-seen usage baseline: the stored one (when the file exists), learning for `learn_for`."""
    from kubefort.audit.baseline import BaselineError, UsageBaseline, parse_duration

    if path is None and learn_for is None:
        return None
    try:
        window = parse_duration(learn_for) if learn_for else None
    except (BaselineError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--learn-for") from None
    if path is None or not Path(path).exists():
        return UsageBaseline(learn_for=window)
    try:
        return UsageBaseline.load(path, learn_for=window)
    except BaselineError as exc:
        raise FileError(f"invalid usage baseline: {exc}") from None
    except OSError as exc:
        raise FileError(f"cannot read usage baseline {path}: {os_reason(exc)}") from None


def _save_usage(usage: Any, path: str) -> None:
    try:
        usage.save(path)
    except OSError as exc:
        raise FileError(f"cannot write usage baseline {path}: {os_reason(exc)}") from None


def _services(reg: Any, k8s_version: str | None, rbac_objects: list[dict[str, Any]] | None = None) -> Any:
    from kubefort.audit.services import default_services

    try:
        return default_services(reg, k8s_version, rbac_objects)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--kubernetes-version") from None


def _nothing_read(paths: tuple[str, ...], result: Any) -> str | None:
    """Why nothing was evaluated (no event at all), or None."""
    if sum(i.objects for i in result.inputs):
        return None
    names = ", ".join("stdin" if p == "-" else p for p in paths)
    files = len(result.inputs)
    detail = "no audit log file" if not files else f"{files} file{'s' if files != 1 else ''} read"
    return f"no audit events found in {names} ({detail}): nothing was evaluated"


def _write_baseline(result: Any, path: str, *, allow_incomplete: bool, quiet: bool, nothing: str | None) -> None:
    """`--write-baseline`: write it, say so in one line, exit 0 (3 when incomplete, 2 on a file error)."""
    from kubefort import baseline as baseline_mod
    from kubefort.verdict import baseline_verdict
    from kubefort.wording import plural

    try:
        n = baseline_mod.write(path, result)
    except OSError as exc:
        raise FileError(f"cannot write baseline {path}: {os_reason(exc)}") from None
    click.echo(f"wrote {plural(n, 'finding')} to {path}")
    v = baseline_verdict(result, allow_incomplete=allow_incomplete, nothing_evaluated=nothing)
    if v.summary and not quiet:
        click.echo(v.summary, err=True)
    sys.exit(v.code)


@contextmanager
def _display(sources: list[Any], *, quiet: bool) -> Iterator[Any]:
    """A progress callback drawing on stderr when it is a terminal and the logs are large
    (cli/progress.py, counting events); None otherwise."""
    from kubefort.cli.progress import LARGE_BYTES, Display

    if quiet or not sys.stderr.isatty() or sum(s.size for s in sources) < LARGE_BYTES:
        yield None
        return

    class EventsDisplay(Display):
        def __call__(self, ev: Any) -> None:
            super().__call__(ev)
            task = self.tasks.get(ev.phase)
            if ev.phase == "inputs" and task is not None and not self.stopped:
                text = f"{ev.done:,}/{ev.total:,} files, {ev.objects:,} events"
                if ev.bytes_total:
                    text += f", {ev.bytes_done / 1e6:,.1f}/{ev.bytes_total / 1e6:,.1f} MB"
                self.progress.update(task, detail=text)

    display = EventsDisplay(sys.stderr)
    try:
        yield display
    finally:
        display.stop()
