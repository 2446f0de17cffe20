"""References that lead nowhere: KF-NET-015 route naming a missing Service, 016 route naming a
missing or refusing gateway, 017 HorizontalPodAutoscaler target missing.

A cross-object reference is judged only when the scan read the referenced kind there (see
kube/exposure/model.py `Exposures.unread`): otherwise the outcome is not evaluated, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.network.common import OWASP
from kubefort.checks.network.selectors import APPS_CONTROLLERS, WORKLOAD_OWASP
from kubefort.kube.exposure import (
    ATTACHED,
    KINDS,
    MISSING,
    REFUSED,
    ROUTE_KINDS,
    Exposures,
    Route,
    ServiceRef,
    exposures,
    grants_backend,
    group_of,
    is_gateway_route,
    is_route,
    namespace_of,
    spec_of,
)
from kubefort.kube.pods import Fields
from kubefort.model import (
    CheckContext,
    ClusterIndex,
    NotApplicable,
    NotEvaluated,
    Path_,
    Resource,
    Severity,
    Violation,
    format_path,
)
from kubefort.registry import Mappings, check

# built-in kinds with a scale subresource: (API group, kind)
SCALABLE = {("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("", "ReplicationController")}


# ------------------------------------------------------------------------------------------------
# KF-NET-015
# ------------------------------------------------------------------------------------------------
def _service_ports(svc: Resource) -> tuple[set[int], set[str]] | None:
    raw = svc.obj.get("spec")
    ports = raw.get("ports") if isinstance(raw, dict) else None
    if not isinstance(ports, list):
        return None
    numbers = {p["port"] for p in ports if isinstance(p, dict) and type(p.get("port")) is int}
    names = {p["name"] for p in ports if isinstance(p, dict) and isinstance(p.get("name"), str)}
    return numbers, names


def _port_problem(ref: ServiceRef, svc: Resource) -> str | None:
    if ref.port is None:
        return None
    known = _service_ports(svc)
    if known is None:
        return None
    numbers, names = known
    if isinstance(ref.port, int) and ref.port not in numbers:
        return f"port {ref.port}, which the Service does not define (ports: {', '.join(map(str, sorted(numbers))) or 'none'})"
    if isinstance(ref.port, str) and ref.port not in names:
        return (
            f"port {ref.port!r}, which no port of the Service is called (names: {', '.join(sorted(names)) or 'none'})"
        )
    return None


def _service_ref_problems(ex: Exposures, route: Route, ref: ServiceRef) -> tuple[str | None, str | None]:
    """(a failure, a reason it cannot be judged) for one Service reference."""
    what = f"Service {ref.namespace}/{ref.name}"
    svc = ex.services.get((ref.namespace, ref.name))
    if svc is None:
        why = ex.unread(route.resource, "Services", ref.namespace, ex.services_in(ref.namespace))
        return (
            (None, f"{what} exists: {why}")
            if why
            else (f"{format_path(ref.path)} names {what}, which does not exist", None)
        )
    port = _port_problem(ref, svc)
    if port is not None:
        return f"{format_path(ref.path)} names {what} {port}", None
    if is_gateway_route(route.resource) and ref.namespace != route.namespace:
        grants = ex.grants.get(ref.namespace, [])
        allowed = grants_backend(grants, route, ref)
        if allowed is None:
            return None, f"{what} may be used: a ReferenceGrant of namespace {ref.namespace!r} is malformed"
        if not allowed:
            why = ex.unread(route.resource, "ReferenceGrants", ref.namespace, bool(grants))
            if why is not None:
                return None, f"a ReferenceGrant allows {route.resource.id.kind}s to use {what}: {why}"
            return (
                f"{format_path(ref.path)} names {what} in another namespace, and no ReferenceGrant there allows "
                f"{route.resource.id.kind}s of namespace {route.namespace!r}: the gateway refuses it (RefNotPermitted)",
                None,
            )
    return None, None


@check(
    id="KF-NET-015",
    name="route-backend-service-missing",
    title="Ingress or route sends traffic to a Service that is not there",
    verified="Every Service the Ingress or route sends traffic to is there",
    severity=Severity.LOW,
    target="cluster",
    kinds=("Ingress", *ROUTE_KINDS, "VirtualService"),
    needs=KINDS,
    mappings=Mappings(owasp=OWASP, kubescape=("C-0298", "C-0302"), kube_linter=("dangling-ingress",)),
    remediation="Name an existing Service and one of its ports (and, across namespaces with the Gateway API, add a ReferenceGrant in the Service's namespace).",
)
def route_backend_service_missing(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Follows every Service reference of `networking.k8s.io/v1` Ingresses (`defaultBackend`,
    `rules[].http.paths[].backend.service`), Gateway API HTTPRoutes and GRPCRoutes
    (`rules[].backendRefs` of the default group and kind, `requestMirror` filters) and Istio
    VirtualServices (`http`/`tcp`/`tls` route destinations and mirrors whose host is a short name
    or `<name>.<namespace>.svc.<domain>`), and fails when the Service does not exist, does not
    have the named port (number, or name for Ingress `port.name`), or, for a Gateway API route
    naming a Service of another namespace, no ReferenceGrant of that namespace allows it.
    Backends of other kinds (an Ingress `resource` backend, a ServiceEntry host) are not judged.

    ## Why is this bad?
    The controller answers 503 (or drops the rule) for a backend it cannot resolve: the
    application is down behind a configuration that looks complete, and a later Service of that
    name, created by anyone who may create Services there, receives the traffic.

    ## Example
    ```yaml
    kind: Ingress
    spec:
      rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: shop-web, port: {number: 80}}}}]}}]
    # the Service is called web
    ```

    ## How to fix
    Name the Service and port that exist: `backend: {service: {name: web, port: {number: 80}}}`.

    ## Not evaluated when
    The route is malformed, or a referenced namespace was not read (manifests: the scan holds
    no Service, or no ReferenceGrant, of that namespace; cluster: the namespace was not
    listed) and nothing else already fails.

    ## Not applicable when
    - not an Ingress (networking.k8s.io/v1), Gateway API route or Istio VirtualService (an
      object of another API group or version with one of these kind names).

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/ingress/#the-ingress-resource
    - https://gateway-api.sigs.k8s.io/api-types/referencegrant/
    """
    if not is_route(res):
        raise NotApplicable("not an Ingress (networking.k8s.io/v1), Gateway API route or Istio VirtualService")
    ex = exposures(index)
    route = ex.route(res)
    unread: list[str] = []
    failed = False
    for ref in route.services:
        failure, why = _service_ref_problems(ex, route, ref)
        if failure is not None:
            failed = True
            yield Violation(failure, ref.path)
        elif why is not None:
            unread.append(why)
    if unread and not failed:
        raise NotEvaluated("cannot tell whether " + "; nor whether ".join(unread[:3]))


# ------------------------------------------------------------------------------------------------
# KF-NET-016
# ------------------------------------------------------------------------------------------------
@check(
    id="KF-NET-016",
    name="route-gateway-missing",
    title="Route is bound to a gateway that is missing or refuses it",
    verified="Route is bound to gateways that exist and accept it",
    severity=Severity.LOW,
    target="cluster",
    kinds=(*ROUTE_KINDS, "VirtualService"),
    needs=KINDS,
    mappings=Mappings(owasp=OWASP),
    remediation="Name an existing Gateway (namespace/name) whose listeners admit the route: allowedRoutes.namespaces and kinds, hostname, sectionName and port.",
)
def route_gateway_missing(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    For Gateway API HTTPRoutes and GRPCRoutes, follows each `parentRefs` entry of kind Gateway
    (namespace defaulting to the route's) and fails when that Gateway does not exist, or exists
    but none of its listeners admits the route: `sectionName` and `port` select listeners, each
    admits the route's kind (`allowedRoutes.kinds`, by default HTTPRoute and GRPCRoute on HTTP
    and HTTPS listeners), namespace (`allowedRoutes.namespaces.from`: `Same` by default,
    `All`, or `Selector` on the route namespace's labels) and hostnames (a listener with a
    `hostname` takes the route only when the route sets no `hostnames` or one of them
    intersects it: `*.example.com` stands for every name under example.com, wildcards
    included, never example.com itself). For Istio VirtualServices, follows
    `spec.gateways` (`ns/name`, `name` in the VirtualService's namespace) and fails when the
    Gateway does not exist. Routes bound only to the mesh (VirtualService without gateways,
    GAMMA routes whose parents are Services) are out of scope.

    ## Why is this bad?
    A route no gateway accepts is silently not served (its status says `Accepted: False`,
    which few people read): the application is unreachable, or still reachable through an old
    route that was meant to be replaced.

    ## Example
    ```yaml
    kind: HTTPRoute
    metadata: {namespace: shop}
    spec: {parentRefs: [{name: public, namespace: infra}]}
    # Gateway infra/public has listeners without allowedRoutes: they admit routes of infra only
    ```

    ## How to fix
    Allow the route's namespace on the listener (`allowedRoutes: {namespaces: {from: Selector,
    selector: {matchLabels: {kubernetes.io/metadata.name: shop}}}}`), or fix the parentRef.

    ## Not evaluated when
    The route or its Gateway is malformed, or the Gateway's namespace (or, for `Selector`, the
    route namespace's labels) was not read, and nothing else already fails.

    ## Not applicable when
    - not a Gateway API route or Istio VirtualService;
    - bound to no gateway (mesh-internal routing).

    ## References
    - https://gateway-api.sigs.k8s.io/api-types/gateway/
    - https://istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService

    ## Known limitations
    Istio hosts are not compared (a Gateway server's `hosts` with the VirtualService's): a
    VirtualService they leave unattached passes.
    """
    if not is_route(res):
        raise NotApplicable("not a Gateway API route or Istio VirtualService")
    ex = exposures(index)
    route = ex.route(res)
    if not route.parents:
        raise NotApplicable("bound to no gateway (mesh-internal routing)")
    unread: list[str] = []
    failed = False
    for parent in route.parents:
        a = ex.attachment(route, parent)
        if a.state == MISSING:
            failed = True
            yield Violation(f"{format_path(parent.path)} names {parent.label}, which does not exist", parent.path)
        elif a.state == REFUSED:
            failed = True
            yield Violation(
                f"{format_path(parent.path)}: no listener admits this {res.id.kind}: {a.reason}", parent.path
            )
        elif a.state != ATTACHED:
            unread.append(a.reason)
    if unread and not failed:
        raise NotEvaluated("cannot tell whether the route is attached: " + "; ".join(unread[:3]))


# ------------------------------------------------------------------------------------------------
# KF-NET-017
# ------------------------------------------------------------------------------------------------
def _scale_target(res: Resource) -> tuple[str, str, str, Path_]:
    """(group, kind, name, path) of an HPA's spec.scaleTargetRef."""
    spec = spec_of(res)
    ref = Fields(spec.mapping("scaleTargetRef"), spec.at("scaleTargetRef"))
    kind, name = ref.str("kind"), ref.str("name")
    if not kind or not name:
        missing = "kind" if not kind else "name"
        raise NotEvaluated(f"spec.scaleTargetRef.{missing} is missing; the API server rejects it", ref.at(missing))
    api_version = ref.str("apiVersion") or ""
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return group, kind, name, ref.path


@check(
    id="KF-NET-017",
    name="hpa-target-missing",
    title="HorizontalPodAutoscaler scales an object that is not there",
    verified="HorizontalPodAutoscaler scales an object that is there",
    severity=Severity.LOW,
    target="cluster",
    kinds=("HorizontalPodAutoscaler",),
    needs=("Namespace", "@pods", *APPS_CONTROLLERS, "ReplicationController"),
    mappings=Mappings(owasp=WORKLOAD_OWASP, kubescape=("C-0300",), kube_linter=("dangling-horizontalpodautoscaler",)),
    remediation="Point spec.scaleTargetRef (apiVersion, kind, name) at the workload to scale, in the autoscaler's namespace.",
)
def hpa_target_missing(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    For `autoscaling` HorizontalPodAutoscalers, looks up `spec.scaleTargetRef` in the
    autoscaler's namespace by API group (from `apiVersion`; the version does not matter), kind
    and name, as the HPA controller does, and fails when there is no such object. A missing or
    wrong `apiVersion` puts the kind in the wrong group (`Deployment` without `apps/v1` is looked
    for in the core group, where it does not exist). Targets of other kinds (custom resources with
    a scale subresource) are found among objects that carry a pod template.

    ## Why is this bad?
    The autoscaler does nothing (`FailedGetScale`): the workload stays at its replica count
    under load, while the manifests suggest it scales.

    ## Example
    ```yaml
    kind: HorizontalPodAutoscaler
    spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: wbe}}
    ```

    ## How to fix
    `scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}`.

    ## Not evaluated when
    The target's namespace was not read (manifests: the scan holds no object of the target's
    kind there; cluster: the namespace was not listed), or the target is a custom kind of which
    the scan holds no object with a pod template.

    ## Not applicable when
    - not an autoscaling HorizontalPodAutoscaler (another API group).

    ## References
    - https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
    """
    if group_of(res) != "autoscaling":
        raise NotApplicable("not an autoscaling HorizontalPodAutoscaler")
    group, kind, name, path = _scale_target(res)
    ns = namespace_of(res)
    same_kind = [
        r
        for r in (*index.kind(kind), *index.pod_bearing)
        if r.id.kind == kind and group_of(r) == group and namespace_of(r) == ns
    ]
    if any(r.id.name == name for r in same_kind):
        return
    served = next((g for g, k in SCALABLE if k == kind), None)
    if served is not None and group != served and group in ("", "extensions"):
        yield Violation(
            f"spec.scaleTargetRef names kind {kind} in API group {group!r}, where no API server serves it "
            f"(apiVersion missing or removed): use apiVersion {served + '/v1' if served else 'v1'}",
            path + ("apiVersion",),
        )
        return
    target = f"{kind}/{name}" + (f" of API group {group!r}" if group else "")
    if (group, kind) not in SCALABLE and not same_kind:
        raise NotEvaluated(
            f"cannot tell whether {target} exists: the scan holds no {kind} of that group with a pod template in "
            f"namespace {ns!r} (custom kinds are read only when they carry one)"
        )
    why = exposures(index).unread(res, f"{kind}s", ns, bool(same_kind))
    if why is not None:
        raise NotEvaluated(f"cannot tell whether {target} exists: {why}")
    yield Violation(f"spec.scaleTargetRef names {target}, which does not exist in namespace {ns!r}", path + ("name",))
