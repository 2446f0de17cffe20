"""`kubefort node`: judge a node's real configuration (CIS 1.x-4.x and more) with the normal engine.

The loader (`kubefort.loaders.node`) turns what the node runs with into ordinary inputs; the
engine runs the KF-CP, KF-ETCD and KF-KUBELET checks on them; the usual reporters render the
result, with the node's discovery summary and the manual CIS controls in `extras.node`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from kubefort.cli.common import (
    EXIT_OK,
    parse_fail_on,
    parse_outputs,
    read_baseline,
    report_and_exit,
    split_ids,
    store_request,
)
from kubefort.cli.params import (
    FileError,
    InputDir,
    InputFile,
    OutputFile,
    complete_report_formats,
    os_reason,
    store_option,
)
from kubefort.kube.cis import manual_controls
from kubefort.wording import plural

NODE_AREAS = ("CP", "ETCD", "KUBELET")

EXIT_CODES_HELP = """\b
Exit codes:
  0  no failed check at or above --fail-on, and every setting could be judged
  1  at least one failed check at or above --fail-on (default: high)
  2  usage error: bad option, unknown check ID, invalid config or baseline,
     a file or directory that cannot be read or written (one line on stderr)
  3  scan incomplete: a file a component uses could not be read, or a setting
     cannot be determined (k3s built-ins); --allow-incomplete turns this into 0/1
"""


def _dump(path: str, loaded: Any) -> int:
    """Write the NodeComponent/NodeFile objects (and loaded config documents) as one YAML stream."""
    import yaml

    from kubefort.fileio import write_atomically

    docs = [r.obj for r in loaded.resources()]
    try:
        write_atomically(path, yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False))
    except OSError as exc:
        raise FileError(f"cannot write dump {path}: {os_reason(exc)}") from None
    return len(docs)


@click.command("node", epilog=EXIT_CODES_HELP)
@click.option(
    "--root",
    default="/",
    show_default=True,
    type=InputDir("node root"),
    help="The node's root: / on the node, or a directory that mirrors its files (/etc/kubernetes, /var/lib/kubelet, units, /proc).",
)
@click.option(
    "--proc",
    "proc",
    type=InputDir("process table"),
    metavar="DIR",
    help="Where the node's process table is (default: ROOT/proc). In a pod with hostPID: --proc /proc.",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FORMAT[=FILE]",
    shell_complete=complete_report_formats,
    help="Report format: table (default), json, sarif, junit. Repeat for several (at most one on stdout); FORMAT=FILE writes to a file.",
)
@click.option("--include-passed", is_flag=True, help="Also list passed outcomes (json/table; junit always has them).")
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
    help="Run only these checks: IDs, names or prefixes (default: KF-CP, KF-ETCD, KF-KUBELET).",
)
@click.option("--skip-checks", "skip", multiple=True, metavar="IDS", help="Do not run these checks.")
@click.option(
    "--fail-on",
    metavar="LEVEL",
    help="Exit 1 when a failed check has at least this severity; 'never' to only report. Default: high.",
)
@click.option("--allow-incomplete", is_flag=True, help="Do not exit 3 when some settings could not be judged.")
@click.option(
    "--config",
    "config_path",
    type=InputFile("config file"),
    help="A .kubefort.yaml with exceptions, severities and options.",
)
@click.option(
    "--baseline",
    type=InputFile("baseline"),
    help="Suppress findings whose fingerprints are in this baseline file.",
)
@click.option("--list-manual", is_flag=True, help="List the manual CIS controls (1.x-4.x) with guidance and exit.")
@click.option(
    "--dump",
    "dump_path",
    type=OutputFile("dump"),
    metavar="FILE",
    help="Also write what kubefort read (NodeComponent and NodeFile objects) to FILE as YAML; `kubefort scan FILE` re-checks it.",
)
@store_option(target=True, record=True)
@click.option("--color/--no-color", default=None, help="Colour the table (default: only on a terminal).")
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def node(
    root: str,
    proc: str | None,
    outputs: tuple[str, ...],
    include_passed: bool,
    show_suppressed: bool,
    select: tuple[str, ...],
    skip: tuple[str, ...],
    fail_on: str | None,
    allow_incomplete: bool,
    config_path: str | None,
    baseline: str | None,
    list_manual: bool,
    dump_path: str | None,
    store: str | None,
    store_target: str | None,
    color: bool | None,
    quiet: bool,
) -> None:
    """Check a node's control-plane, etcd and kubelet configuration (CIS 1.x-4.x and more).

    Reads what the components really run with: static-pod manifests and /proc command lines,
    the kubelet's systemd unit, drop-ins and environment files, its --config file (YAML or JSON)
    with flags taking precedence, and the files the flags name. Works on a live node (--root /)
    and on copied files (--root DIR). See docs/node.md.
    """
    import orjson

    from kubefort.config import Config, ConfigError, load_config
    from kubefort.registry import load_builtin_checks

    reg = load_builtin_checks()
    from kubefort.checks import control_plane, etcd, kubelet  # noqa: F401  (the node areas register their checks)

    targets = parse_outputs(outputs)
    if list_manual:
        rows = manual_controls(reg)
        if targets[0][0] == "json":
            click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        else:
            for r in rows:
                by = f"  (partly checked by {', '.join(r['checked_by'])})" if r["checked_by"] else ""
                click.echo(f"{r['cis']:<7} manual  {r['title']}{by}\n        {r['guidance']}")
        sys.exit(EXIT_OK)
    config: Config | None = None
    if config_path:
        try:
            config = load_config(Path(config_path), reg)
        except ConfigError as exc:
            raise FileError(f"invalid config: {exc}") from None
    from kubefort.engine.selection import SelectionError, select_checks

    try:
        check_ids = select_checks(
            reg,
            split_ids(select),
            split_ids(skip),
            config=config,
            default=lambda m: m.area in NODE_AREAS,
            config_select=False,
            family=lambda m: m.target != "audit",
            without=("KF-AUDIT-",),
            family_hint="the KF-AUDIT checks read audit logs (`kubefort audit`)",
        )
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from None
    threshold = parse_fail_on(fail_on, config)
    base_fps = read_baseline(baseline)
    record = store_request(store, "node", lambda _result: _node_target(root), store_target)

    from kubefort.drivers.node import scan_node

    result, loaded = scan_node(
        root,
        check_ids,
        reg,
        config=config,
        baseline=base_fps,
        severity=config.severity if config else None,
        options=dict(config.options) if config else None,
        proc=proc,
    )
    if dump_path:
        n = _dump(dump_path, loaded)
        if not quiet:
            click.echo(f"kubefort: wrote {plural(n, 'object')} to {dump_path}", err=True)
    nothing = None
    if not loaded.info.get("components"):
        # nothing was evaluated: that is never a clean result
        nothing = f"no Kubernetes component found under {root}: nothing was evaluated"
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


def _node_target(root: str) -> Any:
    from kubefort.history.target import for_node

    return for_node(root)
