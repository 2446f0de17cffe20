"""What can be reached from outside the cluster, and through what; the Service, Gateway and
workload references of Ingresses, Gateway API routes and Istio VirtualServices.

One notion of "exposed" for every check (KF-NET-010, 011, 012) and one reading of the references
the reference checks judge (KF-NET-013, 015 ... 018). A Service is exposed by

* its own spec: `type: NodePort` (a port on every node), `type: LoadBalancer` (a cloud load
  balancer, and node ports), or `spec.externalIPs` (kube-proxy answers on those addresses);
* an Ingress (`networking.k8s.io/v1`) whose `defaultBackend` or `rules[].http.paths[].backend`
  names it (`service.name`, same namespace);
* a Gateway API `HTTPRoute` or `GRPCRoute` (`gateway.networking.k8s.io`) attached to a Gateway
  that names it in `rules[].backendRefs` or a `requestMirror` filter. A `parentRefs` entry is a
  Gateway when its group and kind are the defaults (`gateway.networking.k8s.io`, `Gateway`); its
  namespace defaults to the route's. The route is attached when a listener of that Gateway admits
  it: the parentRef's `sectionName` (listener name) and `port`, the listener's
  `allowedRoutes.namespaces.from` (`Same` by default, `All`, or `Selector` over the route
  namespace's labels, `kubernetes.io/metadata.name` included) and `allowedRoutes.kinds` (by default
  what the protocol carries: HTTP and HTTPS listeners take HTTPRoutes and GRPCRoutes). A parent of
  kind Service (GAMMA, routing inside the mesh) exposes nothing. A `backendRefs` entry is a Service
  when its group and kind are the defaults (`""`, `Service`); its namespace defaults to the
  route's, and another namespace's Service is only used when a ReferenceGrant there allows it;
* an Istio `VirtualService` (`networking.istio.io`) bound to an Istio Gateway: `spec.gateways`
  (default: only the reserved `mesh`, the sidecars) resolved as Istio's `resolveGatewayName`
  does (`ns/name`, `./name`, `name` in the VirtualService's namespace, the legacy `name.ns...`);
  its `http`, `tcp` and `tls` route destinations and mirrors name Services by host, a short host
  (no dot) being `<host>.<VirtualService namespace>.svc.<domain>` (Istio's
  `ResolveShortnameToFQDN`) and `<name>.<namespace>.svc.<domain>` that Service; other hosts are
  ServiceEntry or external names, not Kubernetes Services.

Hostnames are not compared (a listener's `hostname` with a route's `hostnames`, an Istio server's
`hosts` with a VirtualService's): a route counts as attached whatever its hostnames.

A workload is exposed when an exposed Service's `selector` matches its pod template labels (same
namespace). Where the scan cannot tell (a route whose Gateway is not in the scan, a `Selector`
over a namespace whose labels were not read) the route counts as exposing: the safe side.

Whether a missing object is really missing (`unread`): a cluster listing holds every object of
every namespace it listed (what could not be listed is a gap, reported by the engine through a
check's `needs`), so a reference into a listed namespace (its Namespace object was read) is
judged. Manifests hold what the user gave: a reference is judged only when the scan holds at
least one object of the referenced kind in that namespace (otherwise they are defined elsewhere,
and the check is not evaluated).

| module       | what                                                                            |
|--------------|---------------------------------------------------------------------------------|
| routes.py    | reading Ingresses, HTTPRoutes/GRPCRoutes, VirtualServices (`Route`, `ServiceRef`, `ParentRef`), Istio names, Gateway API listeners, ReferenceGrants |
| templates.py | the labels of pod templates and those controllers add (`PodTemplate`, `generated_labels`), Service selectors |
| model.py     | `Exposures` (one per scan, `exposures(index)`): attachment of routes, what exposes what, `unread` |
"""

from kubefort.kube.exposure.model import (
    ATTACHED,
    CLUSTER_SOURCE,
    KINDS,
    MISSING,
    NAME_LABEL,
    REFUSED,
    UNKNOWN,
    Attachment,
    Exposure,
    Exposures,
    admission,
    exposures,
)
from kubefort.kube.exposure.routes import (
    DEFAULT_NAMESPACE,
    GATEWAY_API,
    ISTIO,
    NETWORKING,
    ROUTE_KINDS,
    Listener,
    ParentRef,
    Route,
    ServiceRef,
    grants_backend,
    group_of,
    is_gateway_route,
    is_ingress,
    is_route,
    is_virtual_service,
    istio_gateway,
    istio_service,
    items,
    label,
    namespace_of,
    parse_gateway_route,
    parse_ingress,
    parse_listeners,
    parse_route,
    parse_virtual_service,
    spec_of,
)
from kubefort.kube.exposure.templates import (
    PodTemplate,
    describe_labels,
    generated_labels,
    selects,
    service_selector,
    template_labels,
    template_of,
)

__all__ = [
    "ATTACHED",
    "CLUSTER_SOURCE",
    "DEFAULT_NAMESPACE",
    "GATEWAY_API",
    "ISTIO",
    "KINDS",
    "MISSING",
    "NAME_LABEL",
    "NETWORKING",
    "REFUSED",
    "ROUTE_KINDS",
    "UNKNOWN",
    "Attachment",
    "Exposure",
    "Exposures",
    "Listener",
    "ParentRef",
    "PodTemplate",
    "Route",
    "ServiceRef",
    "admission",
    "describe_labels",
    "exposures",
    "generated_labels",
    "grants_backend",
    "group_of",
    "is_gateway_route",
    "is_ingress",
    "is_route",
    "is_virtual_service",
    "istio_gateway",
    "istio_service",
    "items",
    "label",
    "namespace_of",
    "parse_gateway_route",
    "parse_ingress",
    "parse_listeners",
    "parse_route",
    "parse_virtual_service",
    "selects",
    "service_selector",
    "spec_of",
    "template_labels",
    "template_of",
]
