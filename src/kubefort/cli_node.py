"""`kubefort node`: judge a node's real configuration (CIS 1.x-4.x and more) with the normal engine.

The loader (`kubefort.loaders.node`) turns what the node runs with into ordinary inputs; the
engine runs the KF-CP, KF-ETCD and KF-KUBELET checks on them; the usual reporters render the
result, with the node's discovery summary and the manual CIS controls in `extras.node`.
Registered in `cli.py` with `cli.add_command(node)`.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import click

from kubefort import __version__

from kubefort.cli_common import EXIT_OK
from kubefort.cli_common import parse_fail_on, parse_outputs, read_baseline, report_and_exit, split_ids
NODE_AREAS = ("CP", "ETCD", "KUBELET")

EXIT_CODES_HELP = """\b
Exit codes:
  0  no failed check at or above --fail-on, and every setting could be judged
  1  at least one failed check at or above --fail-on (default: high)
  2  usage error: bad option, unknown check ID, invalid config or baseline
  3  scan incomplete: a file a component uses could not be read, or a setting
     cannot be determined (k3s built-ins); --allow-incomplete turns this into 0/1
"""

# CIS 1.x-4.x controls that need a person's judgement. Never reported as passed: kubefort lists them
# with guidance and names the checks that cover their mechanical part.
MANUAL_CONTROLS: tuple[tuple[str, str, str], ...] = (
    ("1.1.9", "CNI configuration file permissions are 600 or stricter",
     "Check every file under the CNI configuration directory and /var/lib/cni/networks: the mode part is checked by KF-CP-007 for /etc/cni/net.d."),
    ("1.1.10", "CNI configuration files are owned by root:root", "As 1.1.9, for ownership."),
    ("1.1.20", "PKI certificate files are 644 or stricter", "Checked for /etc/kubernetes/pki/*.crt; review certificates kept elsewhere."),
    ("1.1.21", "PKI private key files are 600 or stricter", "Checked for /etc/kubernetes/pki/*.key; review keys kept elsewhere (HSM, external CA)."),
    ("1.2.1", "--anonymous-auth is false", "Decide whether load balancers need anonymous health checks; if so allow them for /healthz, /livez and /readyz only (AuthenticationConfiguration anonymous.conditions)."),
    ("1.2.3", "DenyServiceExternalIPs is enabled", "Enable it unless Services legitimately use externalIPs; then restrict the field with a validating admission policy."),
    ("1.2.9", "EventRateLimit is enabled", "Choose limits that fit the cluster and set them in the admission control config file."),
    ("1.2.11", "AlwaysPullImages is enabled", "Required on multi-tenant clusters; on single-tenant ones document the exception."),
    ("1.2.20", "--request-timeout is appropriate", "Keep the default (60s) unless large list or watch calls need more; no automated test exists."),
    ("1.2.27", "--encryption-provider-config is set", "Plan key storage and rotation (KMS v2 recommended)."),
    ("1.2.28", "Encryption providers are appropriately configured", "Review which resources are covered beyond Secrets and how keys are rotated."),
    ("1.2.29", "The API server uses strong cipher suites only", "Check that every client (old kubectl, load balancers, webhooks) supports the list."),
    ("1.3.1", "--terminated-pod-gc-threshold is appropriate", "Choose a threshold that fits the cluster's job churn."),
    ("2.7", "etcd uses a CA of its own", "Confirm that --trusted-ca-file is not the Kubernetes cluster CA (/etc/kubernetes/pki/ca.crt): kubeadm's etcd/ca.crt is separate."),
    ("3.1.1", "No client-certificate authentication for users", "Authenticate people with OIDC or webhook tokens; client certificates cannot be revoked. Review who holds certificates signed by the cluster CA."),
    ("3.1.2", "No service-account-token authentication for users", "Check that people do not use service-account tokens (kubeconfigs with long-lived tokens)."),
    ("3.1.3", "No bootstrap-token authentication for users", "Bootstrap tokens are for node join only; delete expired ones (kube-system Secrets of type bootstrap.kubernetes.io/token)."),
    ("3.2.1", "A minimal audit policy is created", "Also ship the audit log off the node and watch it."),
    ("3.2.2", "The audit policy covers key security concerns", "Review the policy against the cluster's threat model; KF-CP-057/058 check the common events and payload levels."),
    ("4.1.3", "kube-proxy kubeconfig permissions are 600 or stricter", "kubeadm keeps it in a ConfigMap mounted into the kube-proxy pod: review that ConfigMap's RBAC."),
    ("4.1.4", "kube-proxy kubeconfig is owned by root:root", "As 4.1.3."),
    ("4.1.7", "Client CA file permissions are 644 or stricter", "Checked for the file the kubelet names; review copies kept elsewhere."),
    ("4.1.8", "Client CA file is owned by root:root", "As 4.1.7."),
    ("4.2.4", "The read-only port is 0", "Confirm that monitoring no longer scrapes port 10255."),
    ("4.2.5", "--streaming-connection-idle-timeout is not 0", "Choose a timeout that suits interactive use (5m-4h)."),
    ("4.2.7", "--hostname-override is not set", "Some cloud providers need it: document the exception."),
    ("4.2.8", "eventRecordQPS captures events appropriately", "Choose a rate that keeps important events (the default 50 is usually fine; 0 means unlimited)."),
    ("4.2.9", "The kubelet's serving certificate is set as appropriate", "Prefer serverTLSBootstrap with an approver for kubelet-serving CSRs."),
    ("4.2.11", "RotateKubeletServerCertificate is enabled", "Also enable serverTLSBootstrap, or rotation has nothing to do."),
    ("4.2.12", "The kubelet uses strong cipher suites only", "Check that the API server and monitoring agents support the list."),
    ("4.2.13", "A pod PID limit is set", "Choose a limit that fits the heaviest legitimate workload."),
    ("4.2.14", "seccompDefault is enabled", "Test workloads under RuntimeDefault before turning it on node by node."),
)


def manual_controls(registry: Any) -> list[dict[str, Any]]:
    """The manual controls with their guidance and the checks that cover their mechanical part."""
    by_cis: dict[str, list[str]] = {}
    for m in registry:
        for c in m.mappings.cis:
            by_cis.setdefault(c, []).append(m.id)
    return [{"cis": cid, "title": title, "status": "manual", "guidance": guide, "checked_by": sorted(by_cis.get(cid, []))}
            for cid, title, guide in MANUAL_CONTROLS]




def _node_name(root: str) -> str | None:
    if os.environ.get("NODE_NAME"):
        return os.environ["NODE_NAME"]
    try:
        name = Path(root, "etc/hostname").read_text(encoding="utf-8").strip()
        if name:
            return name
    except OSError:
        pass
    return socket.gethostname() if os.path.abspath(root) == "/" else None


def scan_node(root: str, check_ids: tuple[str, ...], registry: Any, *, config: Any = None, baseline: set[str] | None = None,
              severity: dict[str, Any] | None = None, options: dict[str, Any] | None = None, proc: str | None = None) -> tuple[Any, Any]:
    """Load the node at `root`, run `check_ids` through the engine, place findings where the settings came from."""
    from kubefort import engine
    from kubefort.loaders.node import load_node
    from kubefort.model import ScanResult, Status

    t0 = time.perf_counter()
    loaded = load_node(root, proc)
    settings = engine.EngineSettings(check_ids=check_ids, severity=severity or {}, options=options or {})
    plan = engine._plan(settings, registry)
    outcomes = []
    for li in loaded.inputs:
        for o in engine.evaluate(li, plan, registry):
            if o.status is not Status.PASSED and o.resource is not None and o.resource.kind == "NodeComponent":
                where = loaded.relocate(o.resource, o.source.file if o.source else None, o.path)
                if where is not None:
                    o.location = where
            outcomes.append(o)
    unused, expired = engine.apply_exceptions(outcomes, config, baseline)
    result = ScanResult(
        tool_version=__version__,
        outcomes=outcomes,
        inputs=[li.record for li in loaded.inputs],
        resources=[(r.id, r.source) for li in loaded.inputs for r in li.resources],
        checks_run=list(check_ids),
        warnings=list(loaded.warnings),
        unused_exceptions=unused,
        expired_exceptions=expired,
        duration_s=time.perf_counter() - t0,
        extras={"node": {"name": _node_name(root), **loaded.info, "cis_manual": manual_controls(registry)}},
    )
    return result, loaded


def _dump(path: str, loaded: Any) -> int:
    """Write the NodeComponent/NodeFile objects (and loaded config documents) as one YAML stream."""
    import yaml

    docs = [r.obj for r in loaded.resources()]
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump_all(docs, fh, sort_keys=False, default_flow_style=False)
    return len(docs)


@click.command("node", epilog=EXIT_CODES_HELP)
@click.option("--root", default="/", show_default=True, type=click.Path(file_okay=False),
              help="The node's root: / on the node, or a directory that mirrors its files (/etc/kubernetes, /var/lib/kubelet, units, /proc).")
@click.option("--proc", "proc", type=click.Path(file_okay=False), metavar="DIR",
              help="Where the node's process table is (default: ROOT/proc). In a pod with hostPID: --proc /proc.")
@click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT[=FILE]",
              help="Report format: table (default), json, sarif, junit. Repeat for several; FORMAT=FILE writes to a file.")
@click.option("--include-passed", is_flag=True, help="Also list passed outcomes (json/table; junit always has them).")
@click.option("--checks", "select", multiple=True, metavar="IDS", help="Run only these checks: IDs, names or prefixes (default: KF-CP, KF-ETCD, KF-KUBELET).")
@click.option("--skip-checks", "skip", multiple=True, metavar="IDS", help="Do not run these checks.")
@click.option("--fail-on", metavar="LEVEL", help="Exit 1 when a failed check has at least this severity; 'never' to only report. Default: high.")
@click.option("--allow-incomplete", is_flag=True, help="Do not exit 3 when some settings could not be judged.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="A .kubefort.yaml with exceptions, severities and options.")
@click.option("--baseline", type=click.Path(dir_okay=False), help="Suppress findings whose fingerprints are in this baseline file.")
@click.option("--list-manual", is_flag=True, help="List the manual CIS controls (1.x-4.x) with guidance and exit.")
@click.option("--dump", "dump_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write what kubefort read (NodeComponent and NodeFile objects) to FILE as YAML; `kubefort scan FILE` re-checks it.")
@click.option("--color/--no-color", default=None, help="Colour the table (default: only on a terminal).")
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def node(root: str, proc: str | None, outputs: tuple[str, ...], include_passed: bool, select: tuple[str, ...], skip: tuple[str, ...], fail_on: str | None,
         allow_incomplete: bool, config_path: str | None, baseline: str | None, list_manual: bool, dump_path: str | None,
         color: bool | None, quiet: bool) -> None:
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
    from kubefort.checks import control_plane, etcd, kubelet  # noqa: F401  (the node areas, whatever checks/__init__ imports)

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
    if not os.path.isdir(root):
        raise click.BadParameter(f"{root!r} is not a directory", param_hint="--root")
    config: Config | None = None
    if config_path:
        if not Path(config_path).is_file():
            raise click.BadParameter(f"config file {config_path!r} does not exist", param_hint="--config")
        try:
            config = load_config(Path(config_path), reg)
        except ConfigError as exc:
            raise click.UsageError(f"invalid config: {exc}") from None
    try:
        chosen = reg.select(split_ids(select)) if select else [m for m in reg if m.area in NODE_AREAS]
        skipped = {m.id for m in reg.select(split_ids(skip))} | set(config.ignore if config else [])
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from None
    input_ids = {m.id for m in reg if m.target == "input"}
    if skipped & input_ids:
        raise click.UsageError(f"{', '.join(sorted(skipped & input_ids))} cannot be skipped: unreadable files would then pass silently")
    check_ids = tuple(sorted({m.id for m in chosen if m.id not in skipped} | input_ids))
    threshold = parse_fail_on(fail_on, config)
    base_fps = read_baseline(baseline)

    result, loaded = scan_node(root, check_ids, reg, config=config, baseline=base_fps,
                               severity=config.severity if config else None, options=dict(config.options) if config else None, proc=proc)
    for msg in result.unused_exceptions:
        result.warnings.append(f"unused exception: {msg}")
    for msg in result.expired_exceptions:
        result.warnings.append(f"expired exception: {msg}")
    if dump_path:
        n = _dump(dump_path, loaded)
        if not quiet:
            click.echo(f"kubefort: wrote {n} object(s) to {dump_path}", err=True)
    nothing = None
    if not loaded.info.get("components"):
        # nothing was evaluated: that is never a clean result
        nothing = f"no Kubernetes component found under {root}: nothing was evaluated"
    report_and_exit(result, reg, targets, include_passed=include_passed, color=color, threshold=threshold,
                    allow_incomplete=allow_incomplete, quiet=quiet, nothing_evaluated=nothing)
