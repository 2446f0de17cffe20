"""Reading Ingresses, Gateway API routes and Istio VirtualServices: the Services they send traffic
to, the gateways they are bound to, Gateway API listeners and ReferenceGrants (the rules are in
the package docstring, kube/exposure/__init__.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from kubefort.kube.pods import Fields, api_group, need
from kubefort.kube.selectors import Selector, parse_selector
from kubefort.model import NotEvaluated, Path_, Resource, format_path

GATEWAY_API = "gateway.networking.k8s.io"
ISTIO = "networking.istio.io"
NETWORKING = "networking.k8s.io"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute")
DEFAULT_NAMESPACE = "default"
# `<service>.<namespace>.svc.<cluster domain>`: the cluster domain is configurable, so any suffix
_SVC_HOST = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc\.[^*]+$")
# protocols whose listener takes HTTPRoutes and GRPCRoutes when `allowedRoutes.kinds` is not set
_HTTP_PROTOCOLS = ("HTTP", "HTTPS")


def namespace_of(res: Resource) -> str:
    """The namespace an object lives in (namespaced objects without one land in `default`)."""
    return res.id.namespace or DEFAULT_NAMESPACE


def group_of(res: Resource) -> str:
    return api_group(res.id.api_version)


def is_ingress(res: Resource) -> bool:
    return res.id.kind == "Ingress" and res.id.api_version == f"{NETWORKING}/v1"


def is_gateway_route(res: Resource) -> bool:
    return res.id.kind in ROUTE_KINDS and group_of(res) == GATEWAY_API


def is_virtual_service(res: Resource) -> bool:
    return res.id.kind == "VirtualService" and group_of(res) == ISTIO


def is_route(res: Resource) -> bool:
    """An object this module reads Service references from."""
    return is_ingress(res) or is_gateway_route(res) or is_virtual_service(res)


def label(res: Resource) -> str:
    """`Kind namespace/name`, as messages name an object."""
    return f"{res.id.kind} {namespace_of(res)}/{res.id.name}"


# ------------------------------------------------------------------------------------------------
# typed access
# ------------------------------------------------------------------------------------------------
def items(f: Fields, key: str) -> Iterator[tuple[int, Fields]]:
    """The mappings of the list at `key` (absent: none), each with its path; NotEvaluated on wrong types."""
    for i, v in enumerate(f.list(key)):
        p = f.at(key, i)
        yield i, Fields(need(v, dict, "a mapping", p), p)


def _name(f: Fields, key: str = "name") -> str:
    v = f.str(key)
    if not v:
        raise NotEvaluated(f"{format_path(f.at(key))} is missing; the API server rejects it", f.at(key))
    return v


def spec_of(res: Resource) -> Fields:
    return Fields(Fields(res.obj, ()).mapping("spec"), ("spec",))


# ------------------------------------------------------------------------------------------------
# references
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ServiceRef:
    """A route's reference to a Service: its namespace and name, the port it names (a number, a
    port name for Ingress `port.name`, or None), and where it is written in the route."""

    namespace: str
    name: str
    port: int | str | None
    path: Path_


@dataclass(frozen=True, slots=True)
class ParentRef:
    """A route's reference to a gateway: Gateway API (`group` gateway.networking.k8s.io, with
    `section`/`port` when set) or Istio (`group` networking.istio.io)."""

    group: str
    namespace: str
    name: str
    section: str | None
    port: int | None
    path: Path_

    @property
    def label(self) -> str:
        return f"Gateway {self.namespace}/{self.name}"


@dataclass(slots=True)
class Route:
    """An Ingress, HTTPRoute, GRPCRoute or VirtualService: the Services it sends traffic to and the
    gateways it is bound to. `plaintext_rules` (Gateway API) are the rules that do not redirect to
    HTTPS; `hosts` (Ingress) are its rule hosts."""

    resource: Resource
    namespace: str
    services: list[ServiceRef] = field(default_factory=list)
    parents: list[ParentRef] = field(default_factory=list)
    plaintext_rules: list[int] = field(default_factory=list)
    hostnames: tuple[str, ...] = ()  # Gateway API `spec.hostnames` (empty: every hostname)

    @property
    def label(self) -> str:
        return label(self.resource)


def _ingress_backend(b: Fields, ns: str) -> ServiceRef | None:
    svc = b.get("service")
    if svc is None:
        return None  # a `resource` backend (an object of another API), not a Service
    s = Fields(need(svc, dict, "a mapping", b.at("service")), b.at("service"))
    port = Fields(s.mapping("port"), s.at("port"))
    number, pname = port.int("number"), port.str("name")
    return ServiceRef(ns, _name(s), number if number is not None else pname, s.at("name"))


def parse_ingress(res: Resource) -> Route:
    spec = spec_of(res)
    ns = namespace_of(res)
    route = Route(res, ns)
    if spec.get("defaultBackend") is not None:
        ref = _ingress_backend(Fields(spec.mapping("defaultBackend"), spec.at("defaultBackend")), ns)
        if ref is not None:
            route.services.append(ref)
    for _i, rule in items(spec, "rules"):
        http = Fields(rule.mapping("http"), rule.at("http"))
        for _j, p in items(http, "paths"):
            ref = _ingress_backend(Fields(p.mapping("backend"), p.at("backend")), ns)
            if ref is not None:
                route.services.append(ref)
    return route


def _backend_ref(b: Fields, ns: str) -> ServiceRef | None:
    """A Gateway API BackendObjectReference, when it names a core Service."""
    if (b.str("group") or "", b.str("kind") or "Service") != ("", "Service"):
        return None
    return ServiceRef(b.str("namespace") or ns, _name(b), b.int("port"), b.at("name"))


def _mirrors(filters: Fields, ns: str) -> Iterator[ServiceRef]:
    for _k, flt in items(filters, "filters"):
        mirror = flt.get("requestMirror")
        if mirror is not None:
            m = Fields(need(mirror, dict, "a mapping", flt.at("requestMirror")), flt.at("requestMirror"))
            ref = _backend_ref(Fields(m.mapping("backendRef"), m.at("backendRef")), ns)
            if ref is not None:
                yield ref


def _redirects_to_https(rule: Fields) -> bool:
    for _k, flt in items(rule, "filters"):
        if flt.str("type") == "RequestRedirect" and flt.str("requestRedirect", "scheme") == "https":
            return True
    return False


def parse_gateway_route(res: Resource) -> Route:
    spec = spec_of(res)
    ns = namespace_of(res)
    route = Route(res, ns)
    route.hostnames = tuple(h.lower() for h in spec.str_list("hostnames"))
    for _i, p in items(spec, "parentRefs"):
        if (p.str("group") or GATEWAY_API, p.str("kind") or "Gateway") == (GATEWAY_API, "Gateway"):
            section = p.str("sectionName")
            route.parents.append(
                ParentRef(GATEWAY_API, p.str("namespace") or ns, _name(p), section, p.int("port"), p.path)
            )
    for i, rule in items(spec, "rules"):
        for _j, b in items(rule, "backendRefs"):
            ref = _backend_ref(b, ns)
            if ref is not None:
                route.services.append(ref)
            route.services.extend(_mirrors(b, ns))
        route.services.extend(_mirrors(rule, ns))
        if not _redirects_to_https(rule):
            route.plaintext_rules.append(i)
    return route


def istio_gateway(name: str, ns: str) -> tuple[str, str] | None:
    """(namespace, name) of a VirtualService `gateways` entry (None for `mesh`), as Istio's
    resolveGatewayName reads it."""
    if name == "mesh":
        return None
    if "/" in name:
        gw_ns, _, gw = name.partition("/")
        return (ns if gw_ns == "." else gw_ns), gw
    if "." in name:  # the legacy `name.namespace[.svc.cluster.local]` form
        gw, _, rest = name.partition(".")
        return rest.partition(".")[0], gw
    return ns, name


def istio_service(host: str, ns: str) -> tuple[str, str] | None:
    """(namespace, name) of the Kubernetes Service an Istio destination host names, or None when it
    names none (a ServiceEntry host, an external name, a wildcard)."""
    if not host or "*" in host:
        return None
    if "." not in host:
        return ns, host
    m = _SVC_HOST.match(host)
    return (m.group(3), m.group(1)) if m else None


def _istio_destination(d: Fields, ns: str) -> ServiceRef | None:
    host = d.str("host")
    svc = istio_service(host or "", ns)
    if svc is None:
        return None
    return ServiceRef(svc[0], svc[1], d.int("port", "number"), d.at("host"))


def parse_virtual_service(res: Resource) -> Route:
    spec = spec_of(res)
    ns = namespace_of(res)
    route = Route(res, ns)
    for i, g in enumerate(spec.str_list("gateways")):
        gw = istio_gateway(g, ns)
        if gw is not None:
            route.parents.append(ParentRef(ISTIO, gw[0], gw[1], None, None, spec.at("gateways", i)))
    for key in ("http", "tcp", "tls"):
        for _i, r in items(spec, key):
            dests = [Fields(d.mapping("destination"), d.at("destination")) for _j, d in items(r, "route")]
            if key == "http":
                if r.get("mirror") is not None:
                    dests.append(Fields(r.mapping("mirror"), r.at("mirror")))
                dests += [Fields(m.mapping("destination"), m.at("destination")) for _j, m in items(r, "mirrors")]
            for d in dests:
                ref = _istio_destination(d, ns)
                if ref is not None:
                    route.services.append(ref)
    return route


def parse_route(res: Resource) -> Route:
    if is_ingress(res):
        return parse_ingress(res)
    if is_gateway_route(res):
        return parse_gateway_route(res)
    return parse_virtual_service(res)


# ------------------------------------------------------------------------------------------------
# Gateway API listeners
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Listener:
    name: str
    port: int | None
    protocol: str
    namespaces_from: str  # Same (the default), All or Selector
    selector: Selector | None
    kinds: tuple[tuple[str, str], ...] | None  # allowedRoutes.kinds as (group, kind); None: the protocol's
    path: Path_
    hostname: str | None = None  # None: every hostname

    def shares_hostname(self, route: Sequence[str]) -> bool:
        """Gateway API hostname intersection: a route attaches to the listener only when either
        leaves hostnames open or at least one route hostname intersects the listener's."""
        if self.hostname is None or not route:
            return True
        return any(hostnames_intersect(self.hostname, h) for h in route)

    def takes(self, kind: str) -> bool:
        if self.kinds is None:
            return self.protocol in _HTTP_PROTOCOLS and kind in ROUTE_KINDS
        return (GATEWAY_API, kind) in self.kinds


def parse_listeners(res: Resource) -> list[Listener]:
    out = []
    for _i, li in items(spec_of(res), "listeners"):
        allowed = Fields(li.mapping("allowedRoutes"), li.at("allowedRoutes"))
        nss = Fields(allowed.mapping("namespaces"), allowed.at("namespaces"))
        frm = nss.str("from") or "Same"
        if frm not in ("Same", "All", "Selector"):
            raise NotEvaluated(f"{format_path(nss.at('from'))} is {frm!r}: Same, All or Selector", nss.at("from"))
        sel = None
        if frm == "Selector":
            if nss.get("selector") is None:
                raise NotEvaluated(
                    f"{format_path(nss.at('selector'))} is required with from: Selector", nss.at("selector")
                )
            sel = parse_selector(nss.get("selector"), nss.at("selector"))
        kinds: tuple[tuple[str, str], ...] | None = None
        if allowed.get("kinds") is not None:
            kinds = tuple((k.str("group") or GATEWAY_API, _name(k, "kind")) for _j, k in items(allowed, "kinds"))
        host = li.str("hostname")
        out.append(
            Listener(
                _name(li),
                li.int("port"),
                li.str("protocol") or "",
                frm,
                sel,
                kinds or None,
                li.path,
                host.lower() if host else None,
            )
        )
    return out


def _covers(wildcard: str, host: str) -> bool:
    """`*.example.com` covers `a.example.com`, `a.b.example.com` and `*.a.example.com` (a suffix match
    on whole labels), never `example.com` itself."""
    return host.endswith(wildcard[1:])


def hostnames_intersect(a: str, b: str) -> bool:
    """Do two Gateway API hostnames (precise, or with a leading `*.` label) match a common host?
    (gateway-api.sigs.k8s.io/concepts/hostnames: hostname intersection)."""
    if a == b:
        return True
    wild_a, wild_b = a.startswith("*."), b.startswith("*.")
    if wild_a and _covers(a, b):
        return True
    return wild_b and _covers(b, a)


def grants_backend(grants: Iterable[Resource], route: Route, ref: ServiceRef) -> bool | None:
    """Does a ReferenceGrant of the Service's namespace allow the route to use it? (None: a grant
    there is malformed and the answer depends on it)."""
    kind = route.resource.id.kind
    malformed = False
    for g in grants:
        try:
            spec = spec_of(g)
            froms = [(f.str("group") or "", _name(f, "kind"), _name(f, "namespace")) for _i, f in items(spec, "from")]
            tos = [(t.str("group") or "", _name(t, "kind"), t.str("name")) for _i, t in items(spec, "to")]
        except NotEvaluated:
            malformed = True
            continue
        if (GATEWAY_API, kind, route.namespace) in froms and any(
            grp == "" and k == "Service" and (n is None or n == ref.name) for grp, k, n in tos
        ):
            return True
    return None if malformed else False
