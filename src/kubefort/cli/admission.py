"""`kubefort admission`: enforce kubefort's checks when objects are created.

`serve` is the validating admission webhook, `install` prints its ValidatingWebhookConfiguration,
`vap` generates ValidatingAdmissionPolicies (kubefort.cli.admission_vap). Each is imported only
when it runs: `kubefort admission vap` loads neither uvicorn nor the kubernetes client.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from kubefort.cli import LazyGroup
from kubefort.cli.common import builtin_registry, load_command_config, split_ids
from kubefort.cli.params import FileError, InputFile, check_suggestion

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "vap": (
        "kubefort.cli.admission_vap:vap",
        "Generate ValidatingAdmissionPolicies (CEL) for the checks CEL can express exactly.",
    ),
}
LEVEL_HELP = "critical, high, medium, low, info or off"


@click.group(name="admission", cls=LazyGroup, lazy_commands=SUBCOMMANDS)
def admission() -> None:
    """Admission control: a validating webhook (serve, install) and ValidatingAdmissionPolicies (vap).

    The webhook runs the same checks, configuration and exceptions as `kubefort scan` on every
    object the API server is about to store, and denies, warns or records the failures by
    severity, per check and per namespace (labels kubefort.io/enforce, kubefort.io/warn,
    kubefort.io/audit). docs/admission.md walks through installing and operating it.
    """


def _levels(enforce: str | None, warn: str | None, audit: str | None) -> dict[Any, Any]:
    from kubefort.admission.policy import PolicyError, parse_level

    out: dict[Any, Any] = {}
    for mode, value in (("enforce", enforce), ("warn", warn), ("audit", audit)):
        if value is None:
            continue
        try:
            out[mode] = parse_level(value)
        except PolicyError as exc:
            raise click.BadParameter(str(exc), param_hint=f"--{mode}") from None
    return out


def _select(reg: Any, config: Any, select: tuple[str, ...], skip: tuple[str, ...], *, cache: bool) -> tuple[str, ...]:
    from kubefort.admission.build import admission_checks
    from kubefort.engine.selection import SelectionError

    try:
        return admission_checks(reg, config, split_ids(select), split_ids(skip), cache=cache)
    except SelectionError as exc:
        raise click.UsageError(check_suggestion(reg, [*split_ids(select), *split_ids(skip)]) or str(exc)) from None


@admission.command(name="serve")
@click.option(
    "--tls-cert-file",
    required=True,
    type=InputFile("certificate"),
    help="Server certificate (PEM); reloaded when it changes.",
)
@click.option(
    "--tls-private-key-file",
    required=True,
    type=InputFile("private key"),
    help="Its private key (PEM); reloaded with it.",
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104 - the API server reaches the webhook over the network; TLS protects it
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8443, show_default=True, help="HTTPS port (0: any free port)."
)
@click.option(
    "--config",
    "config_path",
    type=InputFile("config"),
    help="`.kubefort.yaml` (default: the nearest one from the current directory up).",
)
@click.option("--no-config", is_flag=True, help="Use no `.kubefort.yaml`.")
@click.option(
    "--checks",
    "select",
    multiple=True,
    metavar="IDS",
    help="Only these checks (IDs, names or prefixes; comma-separated or repeated).",
)
@click.option("--skip-checks", "skip", multiple=True, metavar="IDS", help="Leave these checks out.")
@click.option(
    "--enforce", metavar="LEVEL", help=f"Deny failures at or above LEVEL ({LEVEL_HELP}); default: config, else high."
)
@click.option("--warn", metavar="LEVEL", help="Warn about failures at or above LEVEL; default: config, else medium.")
@click.option(
    "--audit", metavar="LEVEL", help="Record failures at or above LEVEL in the audit log; default: config, else low."
)
@click.option(
    "--no-cluster-cache",
    is_flag=True,
    help="Do not watch the cluster: namespace labels come from --namespace-labels (tests, benches).",
)
@click.option(
    "--namespace-labels",
    multiple=True,
    metavar="NS:LABEL=VALUE,...",
    help="With --no-cluster-cache: a namespace's labels (repeatable), e.g. shop:kubefort.io/enforce=critical.",
)
@click.option(
    "--kubeconfig",
    type=InputFile("kubeconfig"),
    help="Kubeconfig for the cache (default: in-cluster, then KUBECONFIG or ~/.kube/config).",
)
@click.option("--context", "kube_context", help="Kubeconfig context.")
# an UPDATE's review carries the object and the old object; the API server takes objects of up to
# 3 MiB (--max-request-bytes): 8 MiB admits every review it sends
@click.option(
    "--max-body-size",
    type=click.IntRange(1024),
    default=8 * 1024 * 1024,
    show_default=True,
    help="Largest request body accepted (bytes).",
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the port (about one per core for high request rates).",
)
def serve(
    tls_cert_file: str,
    tls_private_key_file: str,
    host: str,
    port: int,
    config_path: str | None,
    no_config: bool,
    select: tuple[str, ...],
    skip: tuple[str, ...],
    enforce: str | None,
    warn: str | None,
    audit: str | None,
    no_cluster_cache: bool,
    namespace_labels: tuple[str, ...],
    kubeconfig: str | None,
    kube_context: str | None,
    max_body_size: int,
    log_level: str,
    workers: int,
) -> None:
    """Serve AdmissionReviews on https://HOST:PORT/validate (and /healthz, /readyz, /metrics).

    Every CREATE and UPDATE the webhook configuration sends (`kubefort admission install`) is
    judged by the per-object checks, plus KF-PSA-007 and KF-WL-001 from the cluster cache, with the
    config's selection, options, severities and exceptions and the kubefort.io/ignore annotations:
    the findings `kubefort scan` would report for the same object. Each failure is then denied,
    warned or audited according to its severity, the namespace's kubefort.io/<mode> labels and
    the config's `admission:` section. /readyz answers 200 once the namespace cache has synced.

    With --workers N, N processes share the port (each with its own cache of the cluster), and
    /metrics adds up all of them whichever answers.
    """
    from kubefort.admission.build import build_judge
    from kubefort.admission.cache import StaticNamespaces, WatchCache, parse_namespace_labels
    from kubefort.admission.metrics import AdmissionMetrics, use_multiprocess
    from kubefort.admission.server import AdmissionApp, bind, run, run_workers
    from kubefort.admission.tls import ReloadEvents, ReloadingCertificate, TLSError

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if namespace_labels and not no_cluster_cache:
        raise click.UsageError("--namespace-labels needs --no-cluster-cache (with a cluster, labels come from it)")
    if no_cluster_cache and (kubeconfig or kube_context):
        raise click.UsageError("--kubeconfig and --context are for the cluster cache: drop --no-cluster-cache")
    try:
        static_labels = parse_namespace_labels(list(namespace_labels))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--namespace-labels") from None
    reg = builtin_registry()
    config = load_command_config(config_path, no_config, reg)
    levels = _levels(enforce, warn, audit)
    check_ids = _select(reg, config, select, skip, cache=not no_cluster_cache)
    judge = build_judge(reg, config, check_ids, levels, context=not no_cluster_cache)
    metrics_dir = tempfile.mkdtemp(prefix="kubefort-admission-metrics-") if workers > 1 else None
    if metrics_dir is not None:
        use_multiprocess(metrics_dir)  # before the first metric is made
    metrics = AdmissionMetrics()
    try:
        cert = ReloadingCertificate(
            tls_cert_file,
            tls_private_key_file,
            ReloadEvents(
                loaded=lambda expiry, reload: metrics.certificate_loaded(expiry, reload=reload),
                failed=lambda: metrics.errors.labels("tls-reload").inc(),
            ),
        )
    except TLSError as exc:
        raise FileError(str(exc)) from None

    def make_app() -> AdmissionApp:
        """The app of one server process: its cache's watches are threads, which a fork would
        not carry, so each worker makes its own."""
        cache: Any
        if no_cluster_cache:
            cache = StaticNamespaces(static_labels)
            metrics.cache_synced.set(1)
        else:
            cache = _watch_cache(kubeconfig, kube_context, judge, metrics, WatchCache)
        return AdmissionApp(judge, cache, metrics, max_body_size)

    if workers == 1:
        app = make_app()  # credentials are checked before the port is taken
    elif not no_cluster_cache:
        _cluster(kubeconfig, kube_context)  # a bad kubeconfig is one message here, not one per worker
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise FileError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    where = sock.getsockname()
    logging.getLogger("kubefort.admission").info(
        "serving on https://%s:%s/validate: %d checks, %s (%s)",
        where[0],
        where[1],
        len(check_ids),
        judge.settings.levels.describe(),
        "namespace labels from --namespace-labels" if no_cluster_cache else "namespace cache from the cluster",
    )
    if workers == 1:
        run(app, cert, sock)
        return
    metrics.worker_gone(os.getpid())  # the parent serves nothing: its live gauges (cache synced) do not count
    try:
        ok = run_workers(workers, lambda: run(make_app(), cert, sock), on_exit=metrics.worker_gone)
    finally:
        shutil.rmtree(str(metrics_dir), ignore_errors=True)
    if not ok:
        raise click.ClickException("the workers kept failing as they started (see the log above)")


def _cluster(kubeconfig: str | None, kube_context: str | None) -> Any:
    from kubefort.cluster.client import Cluster, ClusterError

    try:
        return Cluster(kubeconfig, kube_context)
    except ClusterError as exc:
        raise FileError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - kubernetes' kubeconfig loader raises YAML, key and type errors on a malformed file
        raise FileError(f"cannot load cluster credentials: {exc}") from None


def _watch_cache(kubeconfig: str | None, kube_context: str | None, judge: Any, metrics: Any, cls: Any) -> Any:
    from kubernetes import client

    cluster = _cluster(kubeconfig, kube_context)
    accounts = judge.context is not None and judge.context.needs_accounts
    rbac = judge.context is not None and judge.context.needs_rbac
    cache = cls(
        client.ApiClient(cluster.cfg),
        accounts=accounts,
        rbac=rbac,
        on_error=lambda what: metrics.errors.labels(what).inc(),
        on_synced=lambda: metrics.cache_synced.set(1),
    )
    cache.start()
    return cache


@admission.command(name="install")
@click.option("--service", metavar="NAME", help="The webhook's Service (with --namespace).")
@click.option("--namespace", "-n", metavar="NS", help="The namespace kubefort runs in (excluded from the webhook).")
@click.option("--port", type=click.IntRange(1, 65535), default=443, show_default=True, help="The Service's port.")
@click.option("--url", help="Or the webhook's URL (https://..., a webhook outside the cluster).")
@click.option("--ca-bundle", type=InputFile("CA bundle"), help="PEM of the CA that signed the server certificate.")
@click.option(
    "--inject-ca-from", metavar="NS/CERTIFICATE", help="Let cert-manager fill caBundle from this Certificate."
)
@click.option(
    "--failure-policy",
    type=click.Choice(["scoped", "Fail", "Ignore"]),
    default="scoped",
    show_default=True,
    help="scoped: Fail in namespaces labelled kubefort.io/enforce, Ignore elsewhere.",
)
@click.option(
    "--timeout",
    "timeout_seconds",
    type=click.IntRange(1, 30),
    default=5,
    show_default=True,
    help="timeoutSeconds (the API server allows 1-30).",
)
@click.option(
    "--exclude-namespace",
    multiple=True,
    metavar="NS",
    help="More namespaces never sent (kube-system and --namespace always are).",
)
@click.option(
    "--resource",
    "resources",
    multiple=True,
    metavar="GROUP/RESOURCE[:cluster]",
    help="A custom resource with pod templates to judge too, e.g. argoproj.io/workflows.",
)
@click.option("--name", default="kubefort", show_default=True, help="The configuration's name.")
@click.option(
    "--config",
    "config_path",
    type=InputFile("config"),
    help="`.kubefort.yaml` whose check selection decides the rules.",
)
@click.option("--no-config", is_flag=True, help="Use no `.kubefort.yaml`.")
@click.option(
    "--checks", "select", multiple=True, metavar="IDS", help="As for serve: the rules cover what these checks judge."
)
@click.option("--skip-checks", "skip", multiple=True, metavar="IDS")
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def install(
    service: str | None,
    namespace: str | None,
    port: int,
    url: str | None,
    ca_bundle: str | None,
    inject_ca_from: str | None,
    failure_policy: str,
    timeout_seconds: int,
    exclude_namespace: tuple[str, ...],
    resources: tuple[str, ...],
    name: str,
    config_path: str | None,
    no_config: bool,
    select: tuple[str, ...],
    skip: tuple[str, ...],
    fmt: str,
) -> None:
    """Print the ValidatingWebhookConfiguration for `kubefort admission serve`.

    \b
      kubefort admission install --service kubefort-webhook -n kubefort --ca-bundle ca.crt | kubectl apply -f -
      kubefort admission install --url https://10.0.0.5:8443 --ca-bundle ca.crt

    Rules cover the resources the selected checks judge (CREATE, UPDATE); kube-system and
    kubefort's namespace are never sent; failurePolicy is Fail only where a namespace asked for
    enforcement (docs/admission.md explains the choice).
    """
    import json

    import yaml

    from kubefort.admission import install as inst

    if (service is None) == (url is None):
        raise click.UsageError("give --service NAME (with --namespace) or --url URL")
    if service is not None and not namespace:
        raise click.UsageError("--service needs --namespace: the namespace the Service is in")
    if url is not None and not url.startswith("https://"):
        raise click.BadParameter("the API server calls webhooks over HTTPS only", param_hint="--url")
    annotations = {}
    if inject_ca_from:
        if "/" not in inject_ca_from:
            raise click.BadParameter("expected NAMESPACE/CERTIFICATE", param_hint="--inject-ca-from")
        annotations["cert-manager.io/inject-ca-from"] = inject_ca_from
    try:
        extra = [inst.parse_resource(r) for r in resources]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--resource") from None
    ca = Path(ca_bundle).read_bytes() if ca_bundle else None
    reg = builtin_registry()
    config = load_command_config(config_path, no_config, reg)
    check_ids = _select(reg, config, select, skip, cache=True)
    rules = inst.rules_for(sorted(inst.judged_kinds(reg, check_ids)), extra)
    excluded = ["kube-system", *exclude_namespace, *([namespace] if namespace else [])]
    obj = inst.webhook_configuration(
        rules,
        client=inst.client_config(
            service=(namespace, service, port) if service and namespace else None, url=url, ca_bundle=ca
        ),
        name=name,
        failure_policy=failure_policy,
        timeout=timeout_seconds,
        exclude_namespaces=excluded,
        annotations=annotations,
    )
    if fmt == "json":
        click.echo(json.dumps(obj, indent=2))
    else:
        click.echo(yaml.safe_dump(obj, sort_keys=False), nl=False)
