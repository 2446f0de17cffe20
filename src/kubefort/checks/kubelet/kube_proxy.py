"""KF-KUBELET 024: kube-proxy (CIS 4.3): its metrics endpoint."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from kubefort.checks.kubelet.common import NSA_NODE
from kubefort.checks.node_common import node_meta
from kubefort.kube.flags import is_node_object
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Resource, Severity, Violation
from kubefort.registry import check


def _address(value: Any, path: Any) -> str | None:
    """metricsBindAddress as kube-proxy decodes its config (null is unset); NotEvaluated for a wrong type."""
    if value is not None and not isinstance(value, str):
        raise NotEvaluated("metricsBindAddress is not a string; kube-proxy refuses the file", path)
    return value


def _metrics_address(res: Resource) -> tuple[str | None, Any, str]:
    if res.id.kind == "KubeProxyConfiguration" and res.id.api_version.startswith("kubeproxy.config.k8s.io/"):
        return (
            _address(res.obj.get("metricsBindAddress"), ("metricsBindAddress",)),
            ("metricsBindAddress",),
            "metricsBindAddress",
        )
    if is_node_object(res, "NodeComponent") and res.obj.get("component") == "kube-proxy":
        from kubefort.kube.flags import component_view

        view = component_view(res, "kube-proxy")
        if view.last("config") is not None:  # kube-proxy ignores most flags when a config file is given
            cfg = res.obj.get("config")
            if not isinstance(cfg, dict):
                raise NotEvaluated(
                    str(res.obj.get("configError") or "kube-proxy's --config file is not part of the input"),
                    view.at(view.last("config")),
                )
            where = ("config", "metricsBindAddress")
            return _address(cfg.get("metricsBindAddress"), where), where, "metricsBindAddress"
        value, p = view.string("metrics-bind-address")
        return value, p, "--metrics-bind-address"
    raise NotApplicable()


def is_loopback(addr: str) -> bool:
    host = addr
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        if "/" in host:
            net = ipaddress.ip_network(host, strict=False)
            loopback = ipaddress.ip_network("127.0.0.0/8" if net.version == 4 else "::1/128")
            return net.version == loopback.version and net.subnet_of(loopback)  # type: ignore[arg-type]
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@check(
    id="KF-KUBELET-024",
    name="kube-proxy-metrics-exposed",
    title="kube-proxy serves metrics beyond loopback",
    verified="kube-proxy serves metrics on loopback only",
    severity=Severity.LOW,
    target="object",
    kinds=("NodeComponent", "KubeProxyConfiguration"),
    remediation="Set metricsBindAddress to 127.0.0.1:10249 (or leave it empty for that default) and scrape through a local agent.",
    **node_meta(
        cis=("4.3.1",),
        peers={"kubescape": ("C-0291",)},
        nsa=NSA_NODE,
        owasp=("K07", "K09"),
        what="Flags a kube-proxy whose `metricsBindAddress` (`--metrics-bind-address` when it runs without `--config`) is not a "
        "loopback address. Empty or unset means 127.0.0.1:10249 and passes.",
        why="kube-proxy's metrics and debug endpoints reveal Services, endpoints and the node's proxy state to anything that can reach the node.",
        example="```yaml\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmetricsBindAddress: 0.0.0.0:10249\n```",
        fix="```yaml\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmetricsBindAddress: 127.0.0.1:10249\n```",
        refs=("https://kubernetes.io/docs/reference/config-api/kube-proxy-config.v1alpha1/",),
    ),
)
def kube_proxy_metrics_exposed(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    value, path, name = _metrics_address(res)
    if value and not is_loopback(value):
        yield Violation(f"{name} {value} is not a loopback address", path)
