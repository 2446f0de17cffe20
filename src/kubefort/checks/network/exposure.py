"""KF-NET-011 Ingress hosts served without TLS; KF-NET-012 Gateway listeners and servers that serve
routes over plain HTTP. What exposes what is computed once per scan by kube/exposure/."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.network.common import NSA
from kubefort.kube.exposure import (
    ATTACHED,
    CLUSTER_SOURCE,
    GATEWAY_API,
    ISTIO,
    KINDS,
    ROUTE_KINDS,
    exposures,
    group_of,
    is_ingress,
    items,
    spec_of,
)
from kubefort.kube.pods import Fields
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, NotEvaluated, Path_, Resource, Severity, Violation
from kubefort.registry import Mappings, check

MITRE_TRANSPORT = ("T1040", "T1557")  # Network Sniffing; Adversary-in-the-Middle
# annotations with which a controller attaches certificates outside spec.tls
CERT_ANNOTATIONS = (
    "alb.ingress.kubernetes.io/certificate-arn",  # AWS Load Balancer Controller
    "ingress.gcp.kubernetes.io/pre-shared-cert",  # GKE
    "networking.gke.io/managed-certificates",  # GKE managed certificates
    "appgw.ingress.kubernetes.io/appgw-ssl-certificate",  # Azure Application Gateway
)
# Istio server protocols that carry HTTP in clear text (protocol names are case-insensitive)
ISTIO_PLAINTEXT = ("HTTP", "HTTP2", "GRPC", "GRPC-WEB")


def tls_covers(host: str, tls_hosts: list[str] | None) -> bool:
    """Does one spec.tls entry cover a rule host? An entry without hosts takes the controller's
    default (wildcard) host setting; `*.example.com` covers exactly one more label, as a
    certificate does."""
    if tls_hosts is None:
        return True
    h = host.lower()
    for t in (x.lower() for x in tls_hosts):
        if t == h or (t.startswith("*.") and "." in h and not h.startswith("*.") and h.partition(".")[2] == t[2:]):
            return True
    return False


def _tls_entries(res: Resource) -> list[list[str] | None]:
    spec = spec_of(res)
    out: list[list[str] | None] = []
    for _i, t in items(spec, "tls"):
        hosts = t.str_list("hosts")
        out.append(hosts or None)
    return out


def _rule_hosts(res: Resource) -> list[tuple[str, Path_]]:
    spec = spec_of(res)
    return [(r.str("host") or "", r.at("host")) for _i, r in items(spec, "rules")]


@check(
    id="KF-NET-011",
    name="ingress-without-tls",
    title="Ingress serves a host without TLS",
    verified="Ingress serves every host over TLS",
    severity=Severity.MEDIUM,
    target="object",
    kinds=("Ingress",),
    mappings=Mappings(nsa=NSA, mitre=MITRE_TRANSPORT, kubescape=("C-0263",), polaris=("tlsSettingsMissing",)),
    remediation="Add a spec.tls entry (hosts and a certificate Secret) covering every host of the Ingress, for example issued by cert-manager.",
)
def ingress_without_tls(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    For every `networking.k8s.io/v1` Ingress, fails when a host of its `rules` is covered by no
    `spec.tls` entry. An entry covers a host it lists, or one label below a wildcard it lists
    (`*.example.com` covers `shop.example.com`); an entry without `hosts` takes the controller's
    default host setting and covers every host. A rule without `host`, and an Ingress with only a
    `defaultBackend`, need some `spec.tls` entry. An Ingress whose certificate is attached by a
    controller annotation (`alb.ingress.kubernetes.io/certificate-arn`,
    `ingress.gcp.kubernetes.io/pre-shared-cert`, `networking.gke.io/managed-certificates`,
    `appgw.ingress.kubernetes.io/appgw-ssl-certificate`) passes. Ingresses of removed API
    versions are out of scope (KF-WL-003 reports them).

    ## Why is this bad?
    Without TLS the controller serves the host over plain HTTP: credentials, session cookies
    and data cross the network in clear text and can be read or changed on the way. Most
    controllers redirect HTTP to HTTPS only for hosts that have TLS.

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    spec:
      rules:
      - host: shop.example.com
        http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
    ```

    ## How to fix
    ```yaml
    spec:
      tls:
      - hosts: [shop.example.com]
        secretName: shop-example-com-tls
    ```

    ## Not applicable when
    - only networking.k8s.io/v1 Ingresses are served by current API servers (KF-WL-003 reports
      the others).

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/ingress/#tls
    """
    if not is_ingress(res):
        raise NotApplicable("only networking.k8s.io/v1 Ingresses are served by current API servers")
    annotations = Fields(res.obj, ()).mapping("metadata", "annotations")
    if any(annotations.get(a) for a in CERT_ANNOTATIONS):
        return
    entries = _tls_entries(res)
    hosts = _rule_hosts(res) or [("", ("spec", "defaultBackend"))]
    if not entries:
        named = sorted({h for h, _ in hosts if h})
        what = f"host(s) {', '.join(named)} are" if named else "its backends are"
        yield Violation(f"the Ingress has no spec.tls: {what} served over plain HTTP", ("spec",))
        return
    for host, path in hosts:
        if host and not any(tls_covers(host, e) for e in entries):
            yield Violation(f"no spec.tls entry covers host {host!r}: it is served over plain HTTP", path)


def _istio_plaintext(res: Resource) -> Iterator[Violation]:
    for i, srv in items(spec_of(res), "servers"):
        proto = (srv.str("port", "protocol") or "").upper()
        if proto in ISTIO_PLAINTEXT and srv.bool("tls", "httpsRedirect") is not True:
            number = srv.int("port", "number")
            yield Violation(
                f"servers[{i}] serves {proto} on port {number} in clear text and does not redirect to HTTPS "
                "(tls.httpsRedirect is not true)",
                srv.at("port", "protocol"),
            )


def _gateway_api_plaintext(res: Resource, index: ClusterIndex) -> Iterator[Violation]:
    ex = exposures(index)
    listeners = ex.listeners(res)
    plain = [li for li in listeners if li.protocol == "HTTP"]
    if not plain:
        return
    attached = [(route, a) for route, a in ex.routes_of(res) if a.state == ATTACHED]
    if not ex.routes and not res.source.file.startswith(CLUSTER_SOURCE):
        raise NotEvaluated(
            f"the scan holds no {' or '.join(ROUTE_KINDS)}: what the HTTP listener(s) "
            f"{', '.join(repr(li.name) for li in plain)} serve is not known"
        )
    for li in plain:
        served = [
            f"{route.label} (rules {', '.join(str(i) for i in route.plaintext_rules)})"
            for route, a in attached
            if li in a.listeners and route.plaintext_rules
        ]
        if served:
            yield Violation(
                f"listener {li.name!r} (HTTP, port {li.port}) serves {'; '.join(served)} in clear text; "
                "only a RequestRedirect to https belongs on a plain HTTP listener",
                li.path + ("protocol",),
            )


@check(
    id="KF-NET-012",
    name="gateway-serves-plain-http",
    title="Gateway serves routes over plain HTTP",
    verified="Gateway serves no route over plain HTTP",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=("Gateway",),
    needs=KINDS,
    mappings=Mappings(nsa=NSA, mitre=MITRE_TRANSPORT),
    remediation="Serve the routes on an HTTPS listener (server) with a certificate, and keep on port 80 only a redirect to https.",
)
def gateway_serves_plain_http(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    For Gateway API Gateways (`gateway.networking.k8s.io`): fails when a listener of protocol
    `HTTP` has HTTPRoutes or GRPCRoutes attached (parentRefs, `sectionName`/`port`,
    `allowedRoutes`, as kube/exposure/ reads them) with a rule that is not a
    `RequestRedirect` to scheme `https`. A plain listener with nothing attached, or only
    redirects, passes. For Istio Gateways (`networking.istio.io`): fails when a server's
    protocol is `HTTP`, `HTTP2`, `GRPC` or `GRPC-WEB` and it does not set
    `tls.httpsRedirect: true`. TCP, UDP, TLS and HTTPS listeners are not judged.

    ## Why is this bad?
    What a plain HTTP listener serves crosses the network in clear text: credentials, cookies
    and data can be read and changed on the way (MITRE ATT&CK T1040, T1557). With the Gateway
    API, TLS lives on the Gateway's listener, not on the route: a route attached to the port 80
    listener is served without TLS whatever the HTTPS listener does.

    ## Example
    ```yaml
    kind: Gateway
    spec:
      listeners: [{name: http, protocol: HTTP, port: 80}]   # an HTTPRoute with backendRefs attaches here
    ```

    ## How to fix
    ```yaml
    spec:
      listeners:
      - {name: https, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: shop-tls}]}}
      - {name: http, protocol: HTTP, port: 80}   # only a route with a RequestRedirect filter (scheme: https)
    ```
    For Istio: `servers: [{port: {number: 80, protocol: HTTP}, tls: {httpsRedirect: true}}]`.

    ## Not evaluated when
    The Gateway is malformed, or (manifests) the scan holds no HTTPRoute or GRPCRoute at all, so
    what an HTTP listener serves is not known.

    ## Not applicable when
    - a Gateway of another API group (neither gateway.networking.k8s.io nor networking.istio.io).

    ## References
    - https://gateway-api.sigs.k8s.io/guides/http-redirect-rewrite/
    - https://istio.io/latest/docs/reference/config/networking/gateway/#ServerTLSSettings
    """
    group = group_of(res)
    if group == ISTIO:
        yield from _istio_plaintext(res)
    elif group == GATEWAY_API:
        yield from _gateway_api_plaintext(res, index)
    else:
        raise NotApplicable("a Gateway of another API group")
