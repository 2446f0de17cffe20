"""Talking to a cluster: credentials from the official `kubernetes` client, raw JSON requests.

The `kubernetes` package loads kubeconfig files and in-cluster service-account config and
handles every authentication method it knows (client certificates, bearer tokens and token
files, exec credential plugins such as those of EKS, GKE and AKS, OIDC). kubefort then sends
its own GET requests through the client's urllib3 pool and reads the JSON with orjson: no typed
models, so any resource type (CRDs included) is read as it is served, and fast.

Nothing in this module is imported, nor any connection made, unless a command was asked to
talk to a cluster.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict
from urllib.parse import urlencode

import orjson

USER_AGENT = "kubefort"
IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path, not a token
IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
# paths asked without credentials by the unauthenticated-access probe
PROBE_PATHS = (
    "/version",
    "/healthz",
    "/livez",
    "/readyz",
    "/api",
    "/apis",
    "/metrics",
    "/api/v1/namespaces",
    "/api/v1/pods",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
)


class ClusterError(Exception):
    """The cluster could not be reached or its credentials could not be loaded (a usage error)."""


class ProbeAnswer(TypedDict):
    """What one path answered to the unauthenticated probe (status 0: no HTTP answer at all)."""

    status: int
    body: str  # the first 200 bytes, or why there was no answer


@dataclass(slots=True)
class Response:
    status: int
    data: bytes
    reason: str = ""

    def json(self) -> object:
        """The body as parsed JSON (any JSON value: callers narrow it)."""
        return orjson.loads(self.data)

    def message(self) -> str:
        """The Status message of an error answer (or the first bytes of the body)."""
        try:
            body: object = orjson.loads(self.data)
            if isinstance(body, dict):
                message = body.get("message")
                if isinstance(message, str):
                    return message
        except orjson.JSONDecodeError:
            pass
        return self.data[:200].decode("utf-8", "replace").strip() or self.reason


class Cluster:
    """A connection: where the server is, who we are, and a thread-safe request method."""

    def __init__(
        self, kubeconfig: str | None = None, context: str | None = None, *, timeout: float = 60.0, pool_size: int = 16
    ) -> None:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        cfg = client.Configuration()
        self.in_cluster = False
        self.default_namespace: str | None = None
        try:
            if kubeconfig is None and context is None and _running_in_pod():
                # kubernetes.config's functions carry no annotations
                config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
                self.in_cluster = True
                self.name = "in-cluster"
                try:
                    with open(IN_CLUSTER_NAMESPACE, encoding="utf-8") as fh:
                        self.default_namespace = fh.read().strip() or None
                except OSError:
                    pass
            else:
                path = kubeconfig or os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]
                path = os.path.expanduser(path)
                if not os.path.isfile(path):
                    raise ClusterError(
                        f"kubeconfig {path} not found (use --kubeconfig, KUBECONFIG, or run inside a pod)"
                    )
                # the kubeconfig's contexts as parsed from YAML (kubernetes.config carries no annotations)
                contexts: list[dict[str, Any]]
                current: dict[str, Any] | None
                contexts, current = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
                chosen = context or (current or {}).get("name")
                ctx = next((c for c in contexts if c.get("name") == chosen), None)
                if ctx is None:
                    names = ", ".join(c.get("name", "?") for c in contexts) or "none"
                    raise ClusterError(f"context {chosen!r} not found in {path} (contexts: {names})")
                config.load_kube_config(  # type: ignore[no-untyped-call]  # kubernetes.config carries no annotations
                    config_file=path, context=chosen, client_configuration=cfg, persist_config=False
                )
                self.name = str(chosen)  # a context name; str() only for YAML oddities such as `name: 123`
                self.default_namespace = (ctx.get("context") or {}).get("namespace")
        except ConfigException as exc:
            raise ClusterError(f"cannot load cluster credentials: {exc}") from None
        cfg.connection_pool_maxsize = pool_size
        self.cfg = cfg
        self.server = cfg.host.rstrip("/")
        self.timeout = timeout
        self._api = client.ApiClient(cfg)
        self._pool = self._api.rest_client.pool_manager
        self._lock = threading.Lock()

    def _auth(self) -> dict[str, str]:
        # auth_settings() runs the client's refresh hook (exec plugins, expiring tokens)
        with self._lock:
            settings = self.cfg.auth_settings()
        headers: dict[str, str] = {}
        for s in settings.values():  # TypedDict values are `object` to mypy; each is a dict
            if isinstance(s, dict) and s.get("in") == "header" and s.get("value"):
                headers[s["key"]] = s["value"]
        return headers

    def get(
        self, path: str, params: Mapping[str, str | int] | None = None, accept: str = "application/json"
    ) -> Response:
        import urllib3

        url = self.server + path + ("?" + urlencode(params) if params else "")
        headers = {"Accept": accept, "User-Agent": USER_AGENT, **self._auth()}
        try:
            r = self._pool.request(
                "GET", url, headers=headers, timeout=urllib3.Timeout(connect=10, read=self.timeout), retries=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(f"cannot reach {self.server}: {_short(exc)}") from None
        return Response(r.status, r.data, r.reason or "")

    def probe_anonymous(self, paths: tuple[str, ...] = PROBE_PATHS) -> dict[str, ProbeAnswer]:
        """What each path answers without any credentials (same TLS trust, no token, no client cert)."""
        import ssl

        import urllib3

        ctx = (
            ssl.create_default_context(cafile=self.cfg.ssl_ca_cert)
            if self.cfg.ssl_ca_cert
            else ssl.create_default_context()
        )
        if not self.cfg.verify_ssl:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        pool = urllib3.PoolManager(ssl_context=ctx, num_pools=1)
        out: dict[str, ProbeAnswer] = {}
        for p in paths:
            try:
                r = pool.request(
                    "GET",
                    self.server + p,
                    headers={"User-Agent": USER_AGENT},
                    timeout=urllib3.Timeout(connect=5, read=10),
                    retries=False,
                )
                out[p] = {"status": r.status, "body": r.data[:200].decode("utf-8", "replace")}
            except urllib3.exceptions.HTTPError as exc:
                out[p] = {"status": 0, "body": _short(exc)}
        pool.clear()
        return out

    def close(self) -> None:
        self._pool.clear()


def _running_in_pod() -> bool:
    return (
        bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        and os.path.isfile(IN_CLUSTER_TOKEN)
        and not os.environ.get("KUBECONFIG")
        and not os.path.isfile(os.path.expanduser("~/.kube/config"))
    )


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    return text if len(text) < 300 else text[:300] + "..."
