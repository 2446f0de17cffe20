"""`Exposures`: what a scan exposes outside the cluster and through what, the attachment of
routes to their gateways, and when a reference can be judged (`unread`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kubefort.kube.exposure.routes import (
    GATEWAY_API,
    ISTIO,
    ROUTE_KINDS,
    Listener,
    ParentRef,
    Route,
    group_of,
    is_ingress,
    is_route,
    namespace_of,
    parse_listeners,
    parse_route,
)
from kubefort.kube.exposure.templates import PodTemplate, service_selector, template_labels
from kubefort.kube.pods import Fields
from kubefort.model import ClusterIndex, NotEvaluated, Path_, Resource

# every kind this package reads: checks that use it list these in their `needs`
KINDS = ("Namespace", "Service", "Ingress", *ROUTE_KINDS, "Gateway", "VirtualService", "ReferenceGrant")
NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every Namespace (1.21+)
# the Source.file prefix of objects read from a cluster or a snapshot (kubefort.engine.CLUSTER_SCHEME)
CLUSTER_SOURCE = "cluster://"


# ------------------------------------------------------------------------------------------------
# attachment of a route to its gateways
# ------------------------------------------------------------------------------------------------
ATTACHED = "attached"
REFUSED = "refused"  # the Gateway is there but no listener admits the route
MISSING = "missing"  # no such Gateway in a namespace the scan read completely
UNKNOWN = "unknown"  # the scan cannot tell (the Gateway or the namespace's labels were not read)


@dataclass(frozen=True, slots=True)
class Attachment:
    parent: ParentRef
    state: str
    reason: str
    listeners: tuple[Listener, ...] = ()  # the listeners that admit the route (ATTACHED)
    note: str = ""  # UNKNOWN: a few words for an exposure's description ("not in the scan")


@dataclass(frozen=True, slots=True)
class Exposure:
    """One way a Service is reachable from outside: `how` names it ("LoadBalancer Service",
    "Ingress shop/web", "HTTPRoute shop/web through Gateway infra/public"); `route` is the
    exposing object (None for the Service's own spec)."""

    how: str
    route: Resource | None = None
    path: Path_ = ("spec", "selector")  # in the Service: what makes it exposed (its selector for routes)


class Exposures:
    """The routes, gateways, Services and pod templates of one scan, with what exposes what.

    Built once per cluster index (`exposures(index)`); every accessor is a lookup."""

    def __init__(self, index: ClusterIndex) -> None:
        self.index = index
        self.services: dict[tuple[str, str], Resource] = {}
        for r in index.kind("Service"):
            if r.id.api_version == "v1":
                self.services[(namespace_of(r), r.id.name)] = r  # a later object of the same name replaces it
        self.service_namespaces = {ns for ns, _ in self.services}
        self.gateways: dict[tuple[str, str, str], Resource] = {}
        for r in index.kind("Gateway"):
            if group_of(r) in (GATEWAY_API, ISTIO):
                self.gateways[(group_of(r), namespace_of(r), r.id.name)] = r
        self.gateway_namespaces = {(g, ns) for g, ns, _ in self.gateways}
        self.routes: dict[int, Route] = {}
        self.problems: dict[int, NotEvaluated] = {}
        for r in [
            *index.kind("Ingress"),
            *(r for k in ROUTE_KINDS for r in index.kind(k)),
            *index.kind("VirtualService"),
        ]:
            if is_route(r):
                try:
                    self.routes[id(r)] = parse_route(r)
                except NotEvaluated as exc:
                    self.problems[id(r)] = exc
        self.grants: dict[str, list[Resource]] = {}
        for r in index.kind("ReferenceGrant"):
            if group_of(r) == GATEWAY_API:
                self.grants.setdefault(namespace_of(r), []).append(r)
        self.templates: dict[str, list[PodTemplate]] = {}
        for r in index.pod_bearing:
            self.templates.setdefault(namespace_of(r), []).extend(template_labels(r))
        # which templates of a namespace can carry a label: (ns, key, value) for their own labels,
        # (ns, key) for those their controller sets; positions in self.templates[ns], in order
        self._by_label: dict[tuple[str, str, str], list[int]] = {}
        self._by_generated: dict[tuple[str, str], list[int]] = {}
        for ns, ts in self.templates.items():
            for i, t in enumerate(ts):
                for k, v in (t.labels or {}).items():
                    self._by_label.setdefault((ns, k, v), []).append(i)
                for k in t.generated:
                    self._by_generated.setdefault((ns, k), []).append(i)
        self._listeners: dict[int, list[Listener] | NotEvaluated] = {}
        self._exposures: dict[tuple[str, str], list[Exposure]] | None = None

    # -- what the scan read --------------------------------------------------------------------
    def unread(self, referrer: Resource, what: str, namespace: str, found_any: bool) -> str | None:
        """Why a reference from `referrer` to `what` objects of `namespace` cannot be judged (None:
        it can). `found_any`: the scan holds at least one such object in that namespace."""
        if found_any:
            return None
        if referrer.source.file.startswith(CLUSTER_SOURCE):
            if self.index.namespace(namespace) is not None:
                return None
            return f"namespace {namespace!r} was not listed (it does not exist, or the scan did not cover it)"
        return f"the scan holds no {what} of namespace {namespace!r} (they may be defined in other files)"

    def services_in(self, namespace: str) -> bool:
        return namespace in self.service_namespaces

    def gateways_in(self, group: str, namespace: str) -> bool:
        return (group, namespace) in self.gateway_namespaces

    # -- routes --------------------------------------------------------------------------------
    def route(self, res: Resource) -> Route:
        """The parsed route (NotEvaluated when the API server would reject it)."""
        if id(res) in self.problems:
            exc = self.problems[id(res)]
            raise NotEvaluated(exc.reason, exc.path)
        return self.routes[id(res)]

    def listeners(self, gateway: Resource) -> list[Listener]:
        got = self._listeners.get(id(gateway))
        if got is None:
            try:
                got = parse_listeners(gateway)
            except NotEvaluated as exc:
                got = exc
            self._listeners[id(gateway)] = got
        if isinstance(got, NotEvaluated):
            raise NotEvaluated(got.reason, got.path)
        return got

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        """The labels of a Namespace of the scan, `kubernetes.io/metadata.name` included; None when
        the scan holds no such Namespace or its labels are not a map of strings (unknown, as unread)."""
        ns = self.index.namespace(namespace)
        if ns is None:
            return None
        try:
            labels = Fields(ns.obj, ()).str_map("metadata", "labels")
        except NotEvaluated:
            return None
        return {**labels, NAME_LABEL: namespace}

    def attachment(self, route: Route, parent: ParentRef) -> Attachment:
        gw = self.gateways.get((parent.group, parent.namespace, parent.name))
        if gw is None:
            why = self.unread(
                route.resource,
                f"{parent.group} Gateways",
                parent.namespace,
                self.gateways_in(parent.group, parent.namespace),
            )
            if why is None:
                return Attachment(parent, MISSING, f"{parent.label} does not exist")
            return Attachment(parent, UNKNOWN, f"{parent.label} is not in the scan: {why}", note="not in the scan")
        if parent.group == ISTIO:
            return Attachment(parent, ATTACHED, "")
        try:
            listeners = self.listeners(gw)
        except NotEvaluated as exc:
            return Attachment(parent, UNKNOWN, f"{parent.label} is malformed: {exc.reason}", note="malformed")
        return admission(route, parent, listeners, self.namespace_labels(route.namespace))

    def routes_of(self, gateway: Resource) -> list[tuple[Route, Attachment]]:
        """The routes naming this Gateway in their parents, each with its attachment."""
        key = (group_of(gateway), namespace_of(gateway), gateway.id.name)
        out = []
        for route in self.routes.values():
            for parent in route.parents:
                if (parent.group, parent.namespace, parent.name) == key:
                    out.append((route, self.attachment(route, parent)))
        return out

    # -- exposure ------------------------------------------------------------------------------
    def exposures(self, service: Resource) -> list[Exposure]:
        """Every way this Service is reachable from outside the cluster (empty: it is not)."""
        if self._exposures is None:
            self._exposures = self._collect()
        out = list(_own_exposures(service))
        return out + self._exposures.get((namespace_of(service), service.id.name), [])

    def _collect(self) -> dict[tuple[str, str], list[Exposure]]:
        found: dict[tuple[str, str], list[Exposure]] = {}
        for route in self.routes.values():
            how = _route_exposure(self, route)
            if how is None:
                continue
            for ref in route.services:
                lst = found.setdefault((ref.namespace, ref.name), [])
                if not lst or lst[-1].route is not route.resource:
                    lst.append(Exposure(how, route.resource))
        return found

    def selected(self, service: Resource) -> tuple[list[Resource], list[PodTemplate]]:
        """The pod-bearing objects of the Service's namespace whose pod template it selects, and the
        templates whose labels could not be read. Raises NotEvaluated for a malformed selector."""
        sel = service_selector(service)
        if sel is None:
            return [], []
        ns = namespace_of(service)
        templates = self.templates.get(ns, [])
        unknown = [t for t in templates if t.labels is None]

        def candidates(kv: tuple[str, str]) -> list[int]:
            return self._by_label.get((ns, *kv), []) + self._by_generated.get((ns, kv[0]), [])

        # every selected template can carry the selector's rarest label: look at those only
        hits: list[Resource] = []
        per_label: list[list[int]] = [candidates(kv) for kv in sel.items()]
        rarest: list[int] = min(per_label, key=len)
        for i in sorted(set(rarest)):
            t = templates[i]
            if t.may_select(sel) and (not hits or hits[-1] is not t.resource):
                hits.append(t.resource)
        return hits, unknown


def _own_exposures(service: Resource) -> Iterator[Exposure]:
    spec = service.obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        yield Exposure(f"{spec['type']} Service", None, ("spec", "type"))
    ips = spec.get("externalIPs")
    if isinstance(ips, list) and ips and spec.get("type") != "ExternalName":
        yield Exposure(f"spec.externalIPs ({', '.join(str(x) for x in ips[:3])})", None, ("spec", "externalIPs"))


def _route_exposure(ex: Exposures, route: Route) -> str | None:
    """How a route exposes its Services (None: it does not)."""
    if is_ingress(route.resource):
        return route.label
    through = []
    for parent in route.parents:
        a = ex.attachment(route, parent)
        if a.state == ATTACHED:
            through.append(parent.label)
        elif a.state == UNKNOWN:
            through.append(f"{parent.label} ({a.note})")
    if not through:
        return None
    return f"{route.label} through {', '.join(through)}"


def admission(
    route: Route, parent: ParentRef, listeners: Sequence[Listener], labels: dict[str, str] | None
) -> Attachment:
    """Which listeners of a Gateway API Gateway admit the route for this parentRef."""
    kind = route.resource.id.kind
    candidates = [
        li
        for li in listeners
        if (parent.section is None or li.name == parent.section) and (parent.port is None or li.port == parent.port)
    ]
    if not candidates:
        where = " ".join(
            x
            for x in (
                f"sectionName {parent.section!r}" if parent.section else "",
                f"port {parent.port}" if parent.port else "",
            )
            if x
        )
        return Attachment(parent, REFUSED, f"{parent.label} has no listener with {where or 'any name'}")
    admitted: list[Listener] = []
    unknown = False
    reasons = []
    for li in candidates:
        if not li.takes(kind):
            reasons.append(f"listener {li.name!r} ({li.protocol}) does not take {kind}s")
            continue
        if not li.shares_hostname(route.hostnames):
            reasons.append(
                f"listener {li.name!r} serves {li.hostname} only, and the route's hostnames "
                f"({', '.join(route.hostnames)}) do not match it"
            )
            continue
        if li.namespaces_from == "All" or (li.namespaces_from == "Same" and route.namespace == parent.namespace):
            admitted.append(li)
        elif li.namespaces_from == "Selector" and li.selector is not None:
            if labels is None:
                unknown = True
            elif li.selector.matches(labels):
                admitted.append(li)
            else:
                reasons.append(f"listener {li.name!r} admits namespaces matching {li.selector} only")
        else:
            reasons.append(f"listener {li.name!r} admits routes from namespace {parent.namespace!r} only")
    if admitted:
        return Attachment(parent, ATTACHED, "", tuple(admitted))
    if unknown:
        return Attachment(
            parent,
            UNKNOWN,
            f"the labels of namespace {route.namespace!r} are not in the scan ({parent.label} selects namespaces)",
            note=f"if it admits namespace {route.namespace!r}",
        )
    return Attachment(parent, REFUSED, f"{parent.label}: " + "; ".join(reasons))


def exposures(index: ClusterIndex) -> Exposures:
    """The one Exposures of a scan (built on first use, shared by every check)."""
    return index.derived("exposures", lambda: Exposures(index))
