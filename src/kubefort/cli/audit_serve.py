"""`kubefort audit serve`: the API server's audit webhook backend (kubefort/audit/serve*.py)."""

from __future__ import annotations

import logging
import sys
from typing import Any, BinaryIO

import click

from kubefort.cli.common import builtin_registry, load_command_config, split_ids
from kubefort.cli.params import FileError, InputFile, OutputFile, complete_check_ids, parse_size

SERVE_HELP_EPILOG = """\b
Point the API server at it with --audit-webhook-config-file, a kubeconfig whose
cluster server is https://HOST:PORT/ (with the CA of --tls-cert-file) and whose user
has a client certificate signed by --client-ca-file or the token of --token-file.
Findings are JSON lines (one JSON report result each, with its event) on --output;
GET /metrics (Prometheus) and GET /healthz serve on the same port. SIGTERM drains
the queue for --drain-timeout seconds, then exits.
"""

# the API server reaches the receiver over the network; TLS and client authentication protect it
ANY_ADDRESS = "0.0.0.0"  # noqa: S104


class FindingsOutput(OutputFile):
    """`--output`: a file the findings are appended to (checked before the receiver starts), or
    `-` for stdout."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return "-" if value == "-" else super().convert(value, param, ctx)


def _output(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdout.buffer
    try:
        return open(path, "ab")  # the receiver writes to it for its whole life
    except OSError as exc:
        raise FileError(f"cannot write findings output {path}: {exc.strerror}") from None


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The receiver's log on stderr (one per logger, however often the command runs in a process)."""


def _setup_logging() -> None:
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("kubefort audit serve: %(levelname)s: %(message)s"))
    for name, level in (("kubefort.audit.serve", logging.INFO), ("uvicorn", logging.WARNING)):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


@click.command("serve", epilog=SERVE_HELP_EPILOG)
@click.option("--tls-cert-file", required=True, type=InputFile("TLS certificate"), help="Serving certificate (PEM).")
@click.option("--tls-private-key-file", required=True, type=InputFile("TLS private key"), help="Its key (PEM).")
@click.option("--host", default=ANY_ADDRESS, show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8443, show_default=True, help="Port (0: any free one).")
@click.option(
    "--client-ca-file",
    type=InputFile("client CA file"),
    help="Accept POSTs from clients with a certificate signed by this CA (the API server's webhook client certificate).",
)
@click.option(
    "--token-file",
    type=InputFile("token file"),
    help="Accept POSTs with 'Authorization: Bearer <token>' for the token in this file. With --client-ca-file, either is enough.",
)
@click.option(
    "--output",
    "output_path",
    type=FindingsOutput("findings output"),
    default="-",
    show_default=True,
    metavar="FILE|-",
    help="Where findings go, one JSON line each (a file is appended to).",
)
@click.option(
    "--alertmanager-url",
    metavar="URL",
    help="Also send failed checks as alerts to this Alertmanager (POST URL/api/v2/alerts).",
)
@click.option(
    "--rbac",
    "rbac_inputs",
    multiple=True,
    metavar="PATH",
    help="Manifests holding the cluster's Roles, ClusterRoles and bindings, for the detections that judge "
    "roles and bindings (repeatable; read once at start).",
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
    help="Config file (default: nearest .kubefort.yaml).",
)
@click.option("--no-config", is_flag=True, help="Ignore .kubefort.yaml files.")
@click.option(
    "--checks",
    "select",
    multiple=True,
    metavar="IDS",
    shell_complete=complete_check_ids,
    help="Run only these audit checks: IDs, names or prefixes, comma-separated (default: every KF-AUDIT check).",
)
@click.option(
    "--skip-checks", "skip", multiple=True, metavar="IDS", shell_complete=complete_check_ids, help="Do not run these."
)
@click.option(
    "--queue-size",
    type=click.IntRange(1),
    default=10_000,
    show_default=True,
    help="Events waiting for analysis at most; an EventList that does not fit is dropped (counted), never refused.",
)
@click.option(
    "--max-body-size",
    default="12MiB",
    show_default=True,
    metavar="SIZE",
    help="Largest POST body; larger ones get 400 without being read.",
)
@click.option(
    "--drain-timeout",
    "drain_seconds",
    type=click.FloatRange(0),
    default=15.0,
    show_default=True,
    help="Seconds to analyse queued events after SIGTERM.",
)
@click.option(
    "--usage-baseline",
    type=OutputFile("usage baseline"),
    help="First-seen baseline (KF-AUDIT-024): read at start when it exists, written back every 5 minutes "
    "and at shutdown with what the stream showed; created when it does not exist.",
)
@click.option(
    "--learn-for",
    metavar="DURATION",
    help="Learn the first DURATION of the stream (30m, 12h, 7d) into the usage baseline instead of judging "
    "it (KF-AUDIT-024).",
)
def serve(
    tls_cert_file: str,
    tls_private_key_file: str,
    host: str,
    port: int,
    client_ca_file: str | None,
    token_file: str | None,
    output_path: str,
    alertmanager_url: str | None,
    rbac_inputs: tuple[str, ...],
    k8s_version: str | None,
    config_path: str | None,
    no_config: bool,
    select: tuple[str, ...],
    skip: tuple[str, ...],
    queue_size: int,
    max_body_size: str,
    drain_seconds: float,
    usage_baseline: str | None,
    learn_for: str | None,
) -> None:
    """Receive audit events from the API server's webhook backend and analyse them live."""
    from kubefort.audit.serve import build_receiver
    from kubefort.audit.serve_http import ServeError, ServeSettings, serve_forever
    from kubefort.config import Config
    from kubefort.engine.selection import SelectionError, select_checks

    reg = builtin_registry()
    config: Config | None = load_command_config(config_path, no_config, reg)
    try:
        ids = select_checks(
            reg,
            split_ids(select),
            split_ids(skip),
            config=config,
            family=lambda m: m.target == "audit",
            family_hint="audit serve runs the KF-AUDIT checks",
        )
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from None
    audit_ids = tuple(i for i in ids if reg.get(i).target == "audit")
    if not audit_ids:
        raise click.UsageError("no audit check selected: --checks/--skip-checks and the config leave no KF-AUDIT check")
    if alertmanager_url is not None and not alertmanager_url.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"{alertmanager_url!r} is not an http:// or https:// URL", param_hint="--alertmanager-url"
        )
    settings = ServeSettings(
        tls_cert_file,
        tls_private_key_file,
        host=host,
        port=port,
        client_ca_file=client_ca_file,
        token_file=token_file,
        max_body_size=parse_size(max_body_size, "--max-body-size", "12MiB"),
        drain_timeout=drain_seconds,
    )
    _setup_logging()
    rbac_objects = _rbac_objects(reg, rbac_inputs) if rbac_inputs else None
    from kubefort.cli.audit import load_usage_baseline  # one reader of the baseline file for both commands

    usage = load_usage_baseline(usage_baseline, learn_for)
    output = _output(output_path)
    try:
        receiver = build_receiver(
            output,
            check_ids=audit_ids,
            config=config,
            registry=reg,
            queue_size=queue_size,
            alertmanager_url=alertmanager_url,
            kubernetes_version=k8s_version,
            rbac_objects=rbac_objects,
            usage_baseline=usage,
            baseline_path=usage_baseline,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--kubernetes-version") from None
    log = logging.getLogger("kubefort.audit.serve")

    def announce(bound_host: str, bound_port: int) -> None:
        log.info(
            "listening on https://%s:%d/ (%d audit checks; findings to %s)",
            f"[{bound_host}]" if ":" in bound_host else bound_host,
            bound_port,
            len(audit_ids),
            "stdout" if output_path == "-" else output_path,
        )

    try:
        serve_forever(settings, receiver, announce=announce)
    except ServeError as exc:
        raise FileError(str(exc)) from None


def _rbac_objects(reg: Any, paths: tuple[str, ...]) -> list[dict[str, Any]]:
    """The RBAC objects under --rbac PATHs; a file that cannot be loaded is an error at start
    (a receiver must not run judging bindings against a silently partial RBAC)."""
    from kubefort.audit.side_inputs import SideInputs, read_rbac
    from kubefort.loaders.manifests import UsageError

    side = SideInputs()
    try:
        read_rbac(paths, reg, side)
    except UsageError as exc:
        raise FileError(str(exc)) from None
    if side.outcomes:
        first = side.outcomes[0]
        where = f"{first.location.file}:{first.location.line}" if first.location else "--rbac"
        raise FileError(f"cannot use --rbac input {where}: {first.message}")
    return side.rbac_objects or []
