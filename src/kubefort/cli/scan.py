"""`kubefort scan`: manifests, charts, kustomizations, a live cluster or a cluster snapshot.

Argument parsing, reporter choice and exit codes only: `kubefort.drivers.manifests` and
`kubefort.cluster.scan` run the checks, `kubefort.reporters` render, `kubefort.verdict` decides
the exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

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
from kubefort.verdict import nothing_found, nothing_listed

EXIT_CODES_HELP = """\b
Exit codes:
  0  no failed check at or above --fail-on, and every target was evaluated
  1  at least one failed check at or above --fail-on (default: high)
  2  usage error: bad option, unknown check ID, invalid config or baseline,
     a file that cannot be read or written (one line on stderr)
  3  scan incomplete: some targets were not evaluated (unparsable file,
     failed render, malformed object, cluster objects that could not be
     listed), or no Kubernetes object was found at all;
     --allow-incomplete turns this into 0/1
With --write-baseline: 0 once the baseline is written (3 when incomplete).
"""


@click.command("scan", epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FORMAT[=FILE]",
    shell_complete=complete_report_formats,
    help="Report format: table (default), json, sarif, junit, prometheus. Repeat for several (at most one on stdout); FORMAT=FILE writes to a file.",
)
@click.option(
    "--output-file",
    type=OutputFile("report"),
    help="Write the (single) report to FILE instead of stdout.",
)
@click.option("--include-passed", is_flag=True, help="Also list passed outcomes (json/table; junit always has them).")
@click.option(
    "--show-suppressed",
    is_flag=True,
    help="List suppressed findings (baseline, exceptions, inline ignores) in the table; by default it only counts them. JSON, SARIF and JUnit always list them.",
)
@click.option(
    "--checks",
    "select",
    multiple=True,
    metavar="IDS",
    shell_complete=complete_check_ids,
    help="Run only these checks: IDs, names or ID prefixes (KF-POD), comma-separated.",
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
@click.option(
    "--allow-incomplete",
    is_flag=True,
    help="Do not exit 3 when some targets could not be evaluated or no Kubernetes object was found.",
)
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
@click.option(
    "--kubernetes-version",
    "k8s_version",
    default=None,
    metavar="1.N",
    help="Kubernetes release whose default RBAC roles, bindings and resource scopes the RBAC checks use (default: the cluster's or snapshot's API server version, else the newest kubefort ships).",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Contact no image registry: the signature checks (image_verification in .kubefort.yaml) are not evaluated.",
)
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files and directories matching GLOB (repeatable).")
@click.option(
    "-f",
    "--values",
    "helm_values",
    multiple=True,
    type=InputFile("values file"),
    help="Helm values file for charts (repeatable; an error when no PATH is a chart).",
)
@click.option(
    "--set",
    "helm_set",
    multiple=True,
    metavar="KEY=VAL",
    help="Helm --set value for charts (repeatable; an error when no PATH is a chart).",
)
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
    type=InputFile("kubeconfig"),
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
    type=InputFile("config file"),
    help="Config file (default: nearest .kubefort.yaml above the first PATH).",
)
@click.option("--no-config", is_flag=True, help="Ignore .kubefort.yaml files.")
@click.option(
    "--baseline",
    type=InputFile("baseline"),
    help="Suppress findings whose fingerprints are in this baseline file.",
)
@click.option(
    "--write-baseline",
    type=OutputFile("baseline"),
    help="Write the fingerprints of current findings to this file and exit 0 (no report): accept today's findings.",
)
@click.option(
    "--max-file-size", default="32MiB", show_default=True, help="Refuse (as not evaluated) files larger than this."
)
@click.option(
    "-j", "--jobs", type=int, default=0, help="Worker processes (default: one per CPU; 1 disables parallelism)."
)
@store_option(target=True, record=True)
@click.option("--color/--no-color", default=None, help="Colour the table (default: only on a terminal).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary lines on stderr.")
def scan(
    paths: tuple[str, ...],
    outputs: tuple[str, ...],
    output_file: str | None,
    include_passed: bool,
    show_suppressed: bool,
    select: tuple[str, ...],
    skip: tuple[str, ...],
    min_severity: str | None,
    fail_on: str | None,
    allow_incomplete: bool,
    pss_level: str | None,
    pss_version: str | None,
    k8s_version: str | None,
    offline: bool,
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
    store: str | None,
    store_target: str | None,
    color: bool | None,
    quiet: bool,
) -> None:
    """Scan manifests (files, directories, '-' for stdin, Helm charts, Kustomize directories),
    a live cluster (--cluster), or a cluster snapshot (kubefort cluster snapshot).

    Every check on every object ends as passed, failed, suppressed or not evaluated; the
    report says which, with file:line:column (or the object's API path) for everything that is
    not a pass.

    Each PATH, each Helm chart and each kustomization is analysed on its own by the checks
    that look across objects (NetworkPolicies, quotas, Namespace labels, RBAC): give two apps
    or two environments as two PATHs. An object defined twice within one is a warning, and the
    last definition wins.
    """
    from kubefort import engine
    from kubefort.config import Config
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
    config: Config | None = load_command_config(config_path, no_config, reg, next((p for p in paths if p != "-"), None))

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

    if k8s_version is not None:
        from kubefort.checks.rbac.common import RbacOptions, with_kubernetes_version

        try:
            options = with_kubernetes_version(
                options, k8s_version, [m.id for m in reg.iter_without(("KF-AUDIT-",)) if m.options is RbacOptions]
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--kubernetes-version") from None

    if offline:
        from dataclasses import replace

        from kubefort.images.verification import ImageVerificationOptions

        for m in reg.iter_without(("KF-AUDIT-",)):
            if isinstance(m.options, type) and issubclass(m.options, ImageVerificationOptions):
                current = options.get(m.id)
                options[m.id] = replace(current if isinstance(current, m.options) else m.options(), offline=True)

    try:
        check_ids = select_checks(
            reg,
            split_ids(select),
            split_ids(skip),
            config=config,
            min_severity=floor,
            adjust=adjust,
            family=lambda m: m.target != "audit",
            without=("KF-AUDIT-",),
            family_hint="the KF-AUDIT checks read audit logs (`kubefort audit`)",
        )
    except SelectionError as exc:
        raise click.UsageError(check_suggestion(reg, [*split_ids(select), *split_ids(skip)]) or str(exc)) from None
    if write_baseline and (outputs or output_file):
        raise click.UsageError("--write-baseline writes the baseline and no report: drop -o/--output-file")
    if (helm_values or helm_set) and (use_cluster or snapshot):
        raise click.UsageError("-f/--values and --set apply to Helm charts, not to a cluster or a snapshot")
    threshold = parse_fail_on(fail_on, config)
    targets = parse_outputs(outputs, output_file)
    base_fps = read_baseline(baseline)
    record = store_request(store, *_store_target(paths, snapshot, use_cluster), store_target)

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
        _finish(result, config)
        listed = sum(1 for rid, _ in result.resources if rid.api_version != "kubefort.io/v1alpha1")  # not ClusterInfo
        nothing = nothing_listed(f"snapshot {snapshot}" if snapshot else "the cluster", listed)
        if write_baseline:
            _write_baseline(result, write_baseline, allow_incomplete=allow_incomplete, quiet=quiet, nothing=nothing)
        report_and_exit(
            result,
            reg,
            targets,
            include_passed=include_passed,
            show_suppressed=show_suppressed,
            color=color,
            threshold=threshold,
            allow_incomplete=allow_incomplete,
            quiet=quiet,
            nothing_evaluated=nothing,
            store=record,
        )

    # --- inputs ---------------------------------------------------------------------------
    try:
        specs = discover(paths, exclude, render_dirs=not no_render)
    except UsageError as exc:  # a PATH that does not exist
        raise FileError(str(exc)) from None
    _check_chart_options(specs, helm_values, helm_set, no_render)
    stdin_data = sys.stdin.buffer.read() if any(s.kind == "stdin" for s in specs) else None
    settings = engine.EngineSettings(
        check_ids=check_ids,
        keep_passed=keep_passed,
        load=LoadOptions(
            max_file_size=parse_size(max_file_size, "--max-file-size", "32MiB"),
            helm_values=helm_values,
            helm_set=helm_set,
            namespace=namespaces[0] if namespaces else None,
        ),
        pod_template_paths=config.pod_template_paths if config else {},
        severity=config.severity if config else {},
        options=options,
        object_report=object_report,
    )
    from kubefort.cli.progress import scan_display

    with scan_display(specs, quiet=quiet, stream=sys.stderr) as progress:  # on a terminal, for large scans
        result = manifest_driver.scan(
            specs,
            settings,
            config=config,
            baseline=base_fps,
            jobs=jobs or None,
            stdin_data=stdin_data,
            progress=progress,
        )
        _finish(result, config)
        nothing = nothing_found(paths, result.inputs, len(result.resources), excluded=bool(exclude))
        if write_baseline:
            _write_baseline(
                result,
                write_baseline,
                allow_incomplete=allow_incomplete,
                quiet=quiet,
                nothing=nothing,
                progress=progress,
            )
        report_and_exit(
            result,
            reg,
            targets,
            include_passed=include_passed,
            show_suppressed=show_suppressed,
            color=color,
            threshold=threshold,
            allow_incomplete=allow_incomplete,
            quiet=quiet,
            progress=progress,
            nothing_evaluated=nothing,
            store=record,
        )


def _store_target(paths: tuple[str, ...], snapshot: str | None, use_cluster: bool) -> tuple[str, Any]:
    """The kind of scan --store records, and how its target is found (kubefort.history.target)."""

    def manifests(_result: Any) -> Any:
        from kubefort.history.target import for_manifests

        return for_manifests(paths)

    def cluster(result: Any) -> Any:
        from kubefort.history.target import for_cluster

        return for_cluster(result.extras, snapshot)

    if use_cluster or snapshot:
        return ("snapshot" if snapshot else "cluster"), cluster
    return "manifests", manifests


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


def _finish(result: Any, config: Any) -> None:
    if config is not None:
        result.extras["config"] = config.path


def _check_chart_options(specs: Any, helm_values: tuple[str, ...], helm_set: tuple[str, ...], no_render: bool) -> None:
    """-f/--values and --set only apply to Helm charts: given without one, they would be ignored
    silently, so they are a usage error."""
    if not (helm_values or helm_set) or any(s.kind == "helm" for s in specs):
        return
    why = "--no-render reads charts as plain files" if no_render else "no PATH is a directory with a Chart.yaml"
    raise click.UsageError(f"-f/--values and --set apply to Helm charts, and {why}")


def _write_baseline(
    result: Any, path: str, *, allow_incomplete: bool, quiet: bool, nothing: str | None, progress: Any = None
) -> None:
    """`--write-baseline`: write the baseline, say so in one line and exit: 0 (the findings are
    accepted, not reported), 3 when the scan was incomplete unless allow_incomplete, 2 when the
    file cannot be written. `progress` (a ProgressCallback) hears of the one file, as of reports."""
    from kubefort import baseline as baseline_mod
    from kubefort.engine.progress import ProgressEvent
    from kubefort.verdict import baseline_verdict
    from kubefort.wording import plural

    if progress is not None:
        progress(ProgressEvent("reports", 0, 1))
    try:
        n = baseline_mod.write(path, result)
    except OSError as exc:
        raise FileError(f"cannot write baseline {path}: {os_reason(exc)}") from None
    if progress is not None:
        progress(ProgressEvent("reports", 1, 1, current="baseline"))  # the display ends before stdout
    click.echo(f"wrote {plural(n, 'finding')} to {path}")
    v = baseline_verdict(result, allow_incomplete=allow_incomplete, nothing_evaluated=nothing)
    if v.summary and not quiet:
        click.echo(v.summary, err=True)
    sys.exit(v.code)
