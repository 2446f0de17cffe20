"""`kubefort scan`: manifests, charts, kustomizations, a live cluster or a cluster snapshot.

Argument parsing, reporter choice and exit codes only: `kubefort.drivers.manifests` and
`kubefort.cluster.scan` run the checks, `kubefort.reporters` render, `kubefort.verdict` decides
the exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from kubefort.cli.common import (
    builtin_registry,
    parse_fail_on,
    parse_outputs,
    read_baseline,
    report_and_exit,
    split_ids,
)

EXIT_CODES_HELP = """\b
Exit codes:
  0  no failed check at or above --fail-on, and every target was evaluated
  1  at least one failed check at or above --fail-on (default: high)
  2  usage error: bad option, unknown check ID, invalid config or baseline
  3  scan incomplete: some targets were not evaluated (unparsable file,
     failed render, malformed object, cluster objects that could not be
     listed); --allow-incomplete turns this into 0/1
"""


def _size(text: str) -> int:
    t = text.strip().upper()
    mult = 1
    for suffix, m in (
        ("KIB", 1024),
        ("MIB", 1024**2),
        ("GIB", 1024**3),
        ("KB", 1000),
        ("MB", 1000**2),
        ("GB", 1000**3),
        ("K", 1024),
        ("M", 1024**2),
        ("G", 1024**3),
    ):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], m
            break
    try:
        return int(float(t) * mult)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a size (e.g. 32MiB)") from None


@click.command("scan", epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FORMAT[=FILE]",
    help="Report format: table (default), json, sarif, junit, prometheus. Repeat for several; FORMAT=FILE writes to a file.",
)
@click.option(
    "--output-file",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the (single) report to FILE instead of stdout.",
)
@click.option("--include-passed", is_flag=True, help="Also list passed outcomes (json/table; junit always has them).")
@click.option(
    "--checks",
    "select",
    multiple=True,
    metavar="IDS",
    help="Run only these checks: IDs, names or ID prefixes (KF-POD), comma-separated.",
)
@click.option("--skip-checks", "skip", multiple=True, metavar="IDS", help="Do not run these checks.")
@click.option(
    "--severity",
    "min_severity",
    metavar="LEVEL",
    help="Run only checks of at least this severity (info|low|medium|high|critical).",
)
@click.option(
    "--fail-on",
    metavar="LEVEL",
    help="Exit 1 when a failed check has at least this severity; 'never' to only report. Default: high.",
)
@click.option("--allow-incomplete", is_flag=True, help="Do not exit 3 when some targets could not be evaluated.")
@click.option(
    "--pss",
    "pss_level",
    type=click.Choice(["baseline", "restricted"]),
    help="Judge workloads at this Pod Security level only (KF-PSS-001 or -002) and add the admission verdict to every pod-bearing object in the JSON report.",
)
@click.option(
    "--pss-version",
    default=None,
    metavar="vX.Y",
    help="Pod Security policy version for the PSS checks: latest (default) or v1.N.",
)
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files and directories matching GLOB (repeatable).")
@click.option(
    "-f", "--values", "helm_values", multiple=True, metavar="FILE", help="Helm values file for charts (repeatable)."
)
@click.option("--set", "helm_set", multiple=True, metavar="KEY=VAL", help="Helm --set value for charts (repeatable).")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="With --cluster: scan only this namespace (repeatable). For Helm charts: the release namespace.",
)
@click.option(
    "--cluster",
    "use_cluster",
    is_flag=True,
    help="Scan a live cluster (kubeconfig, or the pod's service account when run in a cluster).",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    help="With --cluster: kubeconfig file (default: $KUBECONFIG, ~/.kube/config).",
)
@click.option("--context", "kube_context", help="With --cluster: kubeconfig context (default: the current context).")
@click.option(
    "-A", "--all-namespaces", is_flag=True, help="With --cluster: scan every namespace (the default without -n)."
)
@click.option(
    "--skip-resources",
    "skip_resources",
    multiple=True,
    metavar="LIST",
    help="With --cluster: resource types not to list, e.g. secrets,configmaps or name.group (default: events).",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 10000),
    default=500,
    show_default=True,
    help="With --cluster: objects per list request.",
)
@click.option(
    "--no-anonymous-probe",
    is_flag=True,
    help="With --cluster: do not ask the API server what it answers without credentials.",
)
@click.option(
    "--scan-owned",
    is_flag=True,
    help="Cluster scans: also check ReplicaSets, Jobs and Pods that run the same containers as their controller's template (default: reported as covered by it).",
)
@click.option("--no-render", is_flag=True, help="Treat Helm chart and Kustomize directories as plain files.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Config file (default: nearest .kubefort.yaml above the first PATH).",
)
@click.option("--no-config", is_flag=True, help="Ignore .kubefort.yaml files.")
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False),
    help="Suppress findings whose fingerprints are in this baseline file.",
)
@click.option(
    "--write-baseline", type=click.Path(dir_okay=False), help="Write the fingerprints of current findings to this file."
)
@click.option(
    "--max-file-size", default="32MiB", show_default=True, help="Refuse (as not evaluated) files larger than this."
)
@click.option(
    "-j", "--jobs", type=int, default=0, help="Worker processes (default: one per CPU; 1 disables parallelism)."
)
@click.option("--color/--no-color", default=None, help="Colour the table (default: only on a terminal).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary lines on stderr.")
def scan(
    paths: tuple[str, ...],
    outputs: tuple[str, ...],
    output_file: str | None,
    include_passed: bool,
    select: tuple[str, ...],
    skip: tuple[str, ...],
    min_severity: str | None,
    fail_on: str | None,
    allow_incomplete: bool,
    pss_level: str | None,
    pss_version: str | None,
    exclude: tuple[str, ...],
    helm_values: tuple[str, ...],
    helm_set: tuple[str, ...],
    namespaces: tuple[str, ...],
    use_cluster: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    all_namespaces: bool,
    skip_resources: tuple[str, ...],
    page_size: int,
    no_anonymous_probe: bool,
    scan_owned: bool,
    no_render: bool,
    config_path: str | None,
    no_config: bool,
    baseline: str | None,
    write_baseline: str | None,
    max_file_size: str,
    jobs: int,
    color: bool | None,
    quiet: bool,
) -> None:
    """Scan manifests (files, directories, '-' for stdin, Helm charts, Kustomize directories),
    a live cluster (--cluster), or a cluster snapshot (kubefort cluster snapshot).

    Every check on every object ends as passed, failed, suppressed or not evaluated; the
    report says which, with file:line:column (or the object's API path) for everything that is
    not a pass.
    """
    from kubefort import engine
    from kubefort.config import Config, ConfigError, find_config, load_config
    from kubefort.drivers import manifests as manifest_driver
    from kubefort.engine.selection import SelectionError, select_checks
    from kubefort.loaders.manifests import LoadOptions, UsageError, discover
    from kubefort.model import Severity

    reg = builtin_registry()
    snapshot = _snapshot_input(paths)
    if use_cluster and paths:
        raise click.UsageError(
            "--cluster scans a live cluster: give no PATH with it (scan a snapshot file as a PATH instead)"
        )
    if not use_cluster and not paths:
        raise click.UsageError("give PATHs to scan, or --cluster")
    if snapshot is None and not use_cluster:
        for flag, given in (
            ("--kubeconfig", kubeconfig),
            ("--context", kube_context),
            ("-A", all_namespaces),
            ("--skip-resources", skip_resources),
        ):
            if given:
                raise click.UsageError(f"{flag} needs --cluster")
    if all_namespaces and namespaces:
        raise click.UsageError("-A and -n exclude each other")
    if not (use_cluster or snapshot) and len(namespaces) > 1:
        raise click.UsageError("Helm charts take one release namespace (-n)")
    # --- configuration -------------------------------------------------------------------
    config: Config | None = None
    try:
        if not no_config:
            cpath = Path(config_path) if config_path else find_config(next((p for p in paths if p != "-"), None))
            if config_path and not Path(config_path).is_file():
                raise click.BadParameter(f"config file {config_path!r} does not exist", param_hint="--config")
            if cpath is not None:
                config = load_config(cpath, reg)
    except ConfigError as exc:
        raise click.UsageError(f"invalid config: {exc}") from None

    floor = None
    if min_severity:
        try:
            floor = Severity.parse(min_severity)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--severity") from None
    options = dict(config.options) if config else {}
    adjust = object_report = None
    if pss_version is not None or pss_level:
        from kubefort.checks import pss

        try:
            options = pss.with_version(options, pss_version)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--pss-version") from None
        if pss_level:
            adjust = pss.select_level(pss_level, reg)
            object_report = pss.object_report(pss_level, options[pss.check_ids()[0]].version)  # type: ignore[attr-defined]

    try:
        check_ids = select_checks(
            reg, split_ids(select), split_ids(skip), config=config, min_severity=floor, adjust=adjust
        )
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from None
    threshold = parse_fail_on(fail_on, config)
    targets = parse_outputs(outputs, output_file)
    base_fps = read_baseline(baseline)

    # passes are only listed by --include-passed and JUnit; otherwise they are counted, not kept
    keep_passed = include_passed or any(fmt == "junit" for fmt, _ in targets)
    if use_cluster or snapshot:
        settings = engine.EngineSettings(
            check_ids=check_ids,
            keep_passed=keep_passed,
            pod_template_paths=config.pod_template_paths if config else {},
            severity=config.severity if config else {},
            options=options,
            object_report=object_report,
        )
        from kubefort.cli.cluster import scan_cluster

        result = scan_cluster(
            settings,
            config=config,
            baseline=base_fps,
            jobs=jobs or None,
            quiet=quiet,
            snapshot=snapshot,
            kubeconfig=kubeconfig,
            context=kube_context,
            namespaces=list(namespaces) or None,
            skip=split_ids(skip_resources),
            page_size=page_size,
            probe=not no_anonymous_probe,
            fold=not scan_owned,
        )
        _finish(result, config, write_baseline, quiet)
        report_and_exit(
            result,
            reg,
            targets,
            include_passed=include_passed,
            color=color,
            threshold=threshold,
            allow_incomplete=allow_incomplete,
            quiet=quiet,
        )

    # --- inputs ---------------------------------------------------------------------------
    try:
        specs = discover(paths, exclude, render_dirs=not no_render)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    stdin_data = sys.stdin.buffer.read() if any(s.kind == "stdin" for s in specs) else None
    settings = engine.EngineSettings(
        check_ids=check_ids,
        keep_passed=keep_passed,
        load=LoadOptions(
            max_file_size=_size(max_file_size),
            helm_values=helm_values,
            helm_set=helm_set,
            namespace=namespaces[0] if namespaces else None,
        ),
        pod_template_paths=config.pod_template_paths if config else {},
        severity=config.severity if config else {},
        options=options,
        object_report=object_report,
    )
    err_tty = sys.stderr.isatty() and not quiet
    progress: Callable[[int, int], None] | None = None
    bar = None
    if err_tty and len(specs) > 50:
        from rich.progress import Progress

        bar = Progress(transient=True, console=None)
        task = bar.add_task("scanning", total=len(specs))
        bar.start()

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done)

    try:
        result = manifest_driver.scan(
            specs,
            settings,
            config=config,
            baseline=base_fps,
            jobs=jobs or None,
            stdin_data=stdin_data,
            progress=progress,
        )
    finally:
        if bar is not None:
            bar.stop()
    _finish(result, config, write_baseline, quiet)
    report_and_exit(
        result,
        reg,
        targets,
        include_passed=include_passed,
        color=color,
        threshold=threshold,
        allow_incomplete=allow_incomplete,
        quiet=quiet,
    )


def _snapshot_input(paths: tuple[str, ...]) -> str | None:
    """The snapshot file among PATHs, if any (then it must be the only PATH)."""
    files = [p for p in paths if p != "-" and Path(p).is_file()]
    if not files:
        return None  # directories are never snapshots: the cluster modules stay unloaded
    from kubefort.cluster.source import is_snapshot

    found = [p for p in files if is_snapshot(p)]
    if found and len(paths) > 1:
        raise click.UsageError(f"{found[0]} is a cluster snapshot: scan it on its own")
    return found[0] if found else None


def _finish(result: Any, config: Any, write_baseline: str | None, quiet: bool) -> None:
    from kubefort import baseline as baseline_mod

    if config is not None:
        result.extras["config"] = config.path
    for msg in result.unused_exceptions:
        result.warnings.append(f"unused exception: {msg}")
    for msg in result.expired_exceptions:
        result.warnings.append(f"expired exception: {msg}")
    if write_baseline:
        n = baseline_mod.write(write_baseline, result)
        if not quiet:
            click.echo(f"kubefort: wrote {n} fingerprint(s) to {write_baseline}", err=True)
