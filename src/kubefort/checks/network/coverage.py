"""KF-NET-001, 002 namespace default deny; KF-NET-003 workloads no policy selects; KF-NET-010
Services exposed outside the cluster (kube/exposure/) reaching workloads without ingress isolation."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.network.common import NEEDS, NSA, OWASP, Model, labels_path, model
from kubefort.kube.exposure import KINDS as EXPOSURE_KINDS
from kubefort.kube.exposure import exposures, namespace_of, selects, service_selector
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, Resource, Severity, Violation
from kubefort.registry import Mappings, check


def _tier_default(m: Model, ns: str, direction: str, tier: str) -> dict[str, tuple[str, str]]:
    """What the first rule covering a whole part of the traffic does, per part ("pods": every pod
    of the cluster; "net": every IPv4 address, for egress), among the cluster-wide policies of
    `tier` whose subject is every pod of `ns` (a rule with `ports` covers a part of the ports only)."""
    parts = {"pods"} if direction == "ingress" else {"pods", "net"}
    decided: dict[str, tuple[str, str]] = {}
    labels = m.c.ns_labels(ns)
    for a in m.c.admin:
        if a.tier != tier or not a.ns.matches(labels) or (a.pod is not None and not a.pod.empty):
            continue
        for r in a.rules(direction):
            if r.ports is not None:
                continue
            covers: set[str] = set()
            for pr in r.peers:
                if (
                    pr.kind in ("namespaces", "pods")
                    and (pr.ns is None or pr.ns.empty)
                    and (pr.pod is None or pr.pod.empty)
                ):
                    covers.add("pods")
                if pr.kind == "networks" and pr.all_ipv4:
                    covers |= {"pods", "net"}
            for part in (covers & parts) - set(decided):
                decided[part] = (r.action, f"{a.key} {direction}[{r.index}]")
    return decided


def _default_deny(res: Resource, index: ClusterIndex, ctx: CheckContext[None], direction: str) -> Iterator[Violation]:
    m = model(index, ctx)
    ns = res.id.name
    m.check_namespace(ns)
    deny = [p for p in m.c.policies if p.namespace == ns and p.affects(direction) and p.selector.empty]
    admin = _tier_default(m, ns, direction, "Admin")
    for action, rule in sorted(set(admin.values())):
        if action == "Allow":
            yield Violation(
                f"{rule} allows all {direction} of every pod of {ns!r} before any NetworkPolicy applies, which "
                "undoes any default deny",
                ("metadata", "name"),
            )
            return
    baseline = _tier_default(m, ns, direction, "Baseline")
    parts = ["pods"] if direction == "ingress" else ["pods", "net"]
    if not deny and not all("Deny" in (admin.get(x, ("",))[0], baseline.get(x, ("",))[0]) for x in parts):
        yield Violation(
            f"no NetworkPolicy in namespace {ns!r} selects every pod for {direction}, and no cluster-wide policy "
            f"denies all its {direction}: pods that no other policy selects have unrestricted {direction}",
            ("metadata", "name"),
        )
        return
    for p in deny:
        for r in p.rules(direction):
            if r.peers is None and r.ports is None:
                yield Violation(
                    f"NetworkPolicy {p.name!r} selects every pod of {ns!r} and its {direction}[{r.index}] allows "
                    f"all {direction}, which undoes the default deny",
                    ("metadata", "name"),
                )


@check(
    id="KF-NET-001",
    name="namespace-without-default-deny-ingress",
    title="Namespace has no default-deny ingress NetworkPolicy",
    verified="Namespace has a default-deny ingress NetworkPolicy",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=("Namespace",),
    needs=NEEDS,
    posture="defaultDenyIngress",
    mappings=Mappings(
        cis=("5.3.2",), nsa=NSA, mitre=("T1210", "T1046"), owasp=OWASP, kubescape=("C-0049", "C-0054", "C-0206")
    ),
    remediation="Add a NetworkPolicy with podSelector: {} and policyTypes: [Ingress] to the namespace, then allow what each workload needs.",
)
def namespace_without_default_deny_ingress(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
) -> Iterator[Violation]:
    """
    ## What it does
    For every Namespace in the scan, looks for a NetworkPolicy there whose `podSelector` is
    empty (every pod, future pods included) and whose `policyTypes` include Ingress. Fails when
    there is none, or when such a policy also has an ingress rule allowing everything (`- {}`).

    ## Why is this bad?
    A pod that no policy selects accepts connections from every pod of the cluster. A
    namespace-wide default deny makes every new workload closed until someone allows traffic.

    ## Example
    ```yaml
    kind: Namespace
    metadata: {name: shop}   # no NetworkPolicy with podSelector: {} in shop
    ```

    ## How to fix
    ```yaml
    kind: NetworkPolicy
    metadata: {name: default-deny-ingress, namespace: shop}
    spec: {podSelector: {}, policyTypes: [Ingress]}
    ```
    `kubefort netpol generate` writes one per namespace with the rules for given connections.

    ## Not evaluated when
    The namespace holds a NetworkPolicy the API server would reject.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies
    - CIS Kubernetes Benchmark 5.3.2
    """
    return _default_deny(res, index, ctx, "ingress")


@check(
    id="KF-NET-002",
    name="namespace-without-default-deny-egress",
    title="Namespace has no default-deny egress NetworkPolicy",
    verified="Namespace has a default-deny egress NetworkPolicy",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=("Namespace",),
    needs=NEEDS,
    posture="defaultDenyEgress",
    mappings=Mappings(
        cis=("5.3.2",), nsa=NSA, mitre=("T1041", "T1210"), owasp=OWASP, kubescape=("C-0049", "C-0054", "C-0206")
    ),
    remediation="Add a NetworkPolicy with podSelector: {} and policyTypes: [Egress] to the namespace, then allow DNS and what each workload needs.",
)
def namespace_without_default_deny_egress(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
) -> Iterator[Violation]:
    """
    ## What it does
    For every Namespace in the scan, looks for a NetworkPolicy there with an empty `podSelector`
    and Egress in its `policyTypes` (given explicitly, or implied by egress rules). Fails when
    there is none, or when such a policy has an egress rule allowing everything (`- {}`).

    ## Why is this bad?
    Without egress isolation a compromised pod can reach every service in the cluster, the
    cloud metadata endpoint and the internet: lateral movement and exfiltration are open.

    ## Example
    ```yaml
    kind: NetworkPolicy
    metadata: {name: default-deny, namespace: shop}
    spec: {podSelector: {}}     # policyTypes defaults to [Ingress] only
    ```

    ## How to fix
    ```yaml
    spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
    ```
    and allow DNS (UDP and TCP 53 to kube-dns) plus each workload's real destinations.

    ## Not evaluated when
    The namespace holds a NetworkPolicy the API server would reject.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-egress-traffic
    """
    return _default_deny(res, index, ctx, "egress")


@check(
    id="KF-NET-003",
    name="non-isolated-workload",
    title="Workload is selected by no NetworkPolicy",
    verified="Workload is selected by a NetworkPolicy",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=("@pods",),
    needs=NEEDS,
    mappings=Mappings(
        nsa=NSA,
        mitre=("T1210",),
        owasp=OWASP,
        checkov=("CKV2_K8S_6",),
        kubescape=("C-0030", "C-0260"),
        kube_linter=("non-isolated-pod",),
        polaris=("missingNetworkPolicy",),
    ),
    remediation="Select the workload's pods with a NetworkPolicy (a namespace default deny does it for every pod) and allow only the traffic it needs.",
)
def non_isolated_workload(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags pod-bearing objects whose pod template no NetworkPolicy of their namespace selects,
    for ingress or for egress: their pods accept and open any connection. Only workloads of
    in-scope namespaces (Namespace object or a NetworkPolicy in the scan) get an outcome.

    ## Why is this bad?
    An unselected pod is reachable from every pod in the cluster and can reach every pod,
    so one compromised workload anywhere reaches it.

    ## Example
    ```yaml
    kind: Deployment
    metadata: {name: web, namespace: shop}
    spec: {template: {metadata: {labels: {app: web}}}}   # no policy selects app=web
    ```

    ## How to fix
    Add a namespace default deny (`podSelector: {}`) or a policy selecting `app: web`.

    A workload with `hostNetwork: true` always fails: its pods use the node's network, which no
    NetworkPolicy (nor Cilium or Calico pod policy) selects or isolates.

    ## Not applicable when
    The workload's namespace is out of scope: neither its Namespace nor a NetworkPolicy of
    it is in the scan.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation
    """
    m = model(index, ctx)
    for w in m.workloads(res):
        if not (m.a.isolated(w, "ingress") or m.a.isolated(w, "egress")):
            wl = m.c.workloads[w]
            if wl.host_network:
                yield Violation(
                    f"pods of {wl.kind}/{wl.name} use the host network (spec.hostNetwork): no NetworkPolicy can "
                    "select or isolate them; all ingress and egress allowed",
                    labels_path(res),
                )
                continue
            labels = ",".join(f"{k}={v}" for k, v in sorted(wl.labels.items())) or "no labels"
            yield Violation(
                f"no NetworkPolicy in {wl.namespace!r} selects pods of {wl.kind}/{wl.name} ({labels}): "
                "all ingress and egress allowed",
                labels_path(res),
            )


@check(
    id="KF-NET-010",
    name="exposed-service-without-ingress-policy",
    title="Service exposed outside the cluster reaches workloads without ingress isolation",
    verified="Service exposes only workloads with ingress isolation",
    severity=Severity.HIGH,
    target="cluster",
    kinds=("Service",),
    needs=tuple(dict.fromkeys(NEEDS + EXPOSURE_KINDS)),
    mappings=Mappings(
        nsa=NSA, mitre=("T1190",), owasp=OWASP, kubescape=("C-0256", "C-0266"), kube_linter=("exposed-services",)
    ),
    remediation="Select the exposed pods with an ingress NetworkPolicy that allows the Service's ports from the expected sources only.",
)
def exposed_service_without_ingress_policy(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
) -> Iterator[Violation]:
    """
    ## What it does
    For Services reachable from outside the cluster whose `selector` matches workloads in the
    scan (same namespace), fails when some of those workloads are not isolated for ingress. A
    Service is reachable from outside when it is of type NodePort or LoadBalancer, has
    `spec.externalIPs`, or is the backend of an Ingress, of a Gateway API HTTPRoute or
    GRPCRoute attached to a Gateway, or of an Istio VirtualService bound to a Gateway (the
    rules of kube/exposure/, shared by every check; a route whose Gateway is not in the
    scan counts). Services exposed in none of these ways, Services without a selector, Services
    matching no scanned workload (KF-NET-013 reports those) and Services of namespaces out of
    scope (no Namespace object or NetworkPolicy in the scan) get no outcome.

    ## Why is this bad?
    The Service opens the pods to clients outside the cluster (directly, or through the
    ingress controller or gateway); without ingress isolation the pods also accept every other
    port and every pod in the cluster.

    ## Example
    ```yaml
    kind: Service
    spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 443}]}
    ---
    kind: Ingress
    spec: {defaultBackend: {service: {name: api, port: {number: 80}}}}   # exposes Service api too
    ```

    ## How to fix
    Add a NetworkPolicy selecting `app: web` that allows the service port from the load
    balancer's source ranges, or from the ingress controller's or gateway's pods (and nothing
    else).

    ## Not evaluated when
    The namespace holds a NetworkPolicy the API server would reject, or the Service's selector
    is malformed.

    ## Not applicable when
    - not a core v1 Service;
    - not exposed outside the cluster (in none of the ways above);
    - a Service without selector: its endpoints are managed by hand;
    - namespace out of scope: neither its Namespace nor a NetworkPolicy of it is in the scan;
    - the selector matches no workload of the scan (KF-NET-013), which KF-NET-013 reports.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types
    - https://kubernetes.io/docs/concepts/services-networking/ingress/
    - https://gateway-api.sigs.k8s.io/api-types/httproute/
    """
    if res.id.api_version != "v1":
        raise NotApplicable("not a core v1 Service")
    ways = exposures(index).exposures(res)
    if not ways:
        raise NotApplicable("not exposed outside the cluster")
    sel = service_selector(res)
    if sel is None:
        raise NotApplicable("a Service without selector: its endpoints are managed by hand")
    m = model(index, ctx)
    ns = namespace_of(res)
    if ns not in m.scoped:
        raise NotApplicable("namespace out of scope: neither its Namespace nor a NetworkPolicy of it is in the scan")
    hits = [i for i in m.in_ns.get(ns, []) if selects(sel, m.c.workloads[i].labels)]
    if not hits:
        raise NotApplicable("the selector matches no workload of the scan (KF-NET-013)")
    m.check_namespace(ns)
    open_ = [m.c.workloads[i] for i in hits if not m.a.isolated(i, "ingress")]
    if open_:
        hows = " and ".join(w.how for w in ways)
        yield Violation(
            f"{hows} {'exposes' if len(ways) == 1 else 'expose'} "
            f"{', '.join(f'{w.kind}/{w.name}' for w in open_)}, which no ingress NetworkPolicy selects",
            ways[0].path,
        )
