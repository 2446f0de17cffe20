"""KF-NET-001, 002 namespace default deny; KF-NET-003 workloads no policy selects; KF-NET-010
NodePort / LoadBalancer Services exposing workloads without ingress isolation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubefort.checks.network.common import NEEDS, NSA, OWASP, labels_path, model
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, Resource, Severity, Violation
from kubefort.registry import Mappings, check


def _default_deny(res: Resource, index: ClusterIndex, ctx: CheckContext[None], direction: str) -> Iterator[Violation]:
    m = model(index, ctx)
    ns = res.id.name
    m.check_namespace(ns)
    deny = [p for p in m.c.policies if p.namespace == ns and p.affects(direction) and p.selector.empty]
    if not deny:
        yield Violation(
            f"no NetworkPolicy in namespace {ns!r} selects every pod for {direction}: pods that no other "
            f"policy selects have unrestricted {direction}",
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

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation
    """
    m = model(index, ctx)
    for w in m.workloads(res):
        if not (m.a.isolated(w, "ingress") or m.a.isolated(w, "egress")):
            wl = m.c.workloads[w]
            labels = ",".join(f"{k}={v}" for k, v in sorted(wl.labels.items())) or "no labels"
            yield Violation(
                f"no NetworkPolicy in {wl.namespace!r} selects pods of {wl.kind}/{wl.name} ({labels}): "
                "all ingress and egress allowed",
                labels_path(res),
            )


@check(
    id="KF-NET-010",
    name="exposed-service-without-ingress-policy",
    title="NodePort or LoadBalancer Service exposes workloads without ingress isolation",
    severity=Severity.HIGH,
    target="cluster",
    kinds=("Service",),
    needs=NEEDS,
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
    For Services of type NodePort or LoadBalancer whose `selector` matches workloads in the
    scan (same namespace), fails when some of those workloads are not isolated for ingress.
    Other Service types, Services without a selector, Services matching no scanned workload
    and Services of namespaces out of scope (no Namespace object or NetworkPolicy in the
    scan) get no outcome.

    ## Why is this bad?
    The Service opens the pods to clients outside the cluster; without ingress isolation the
    pods also accept every other port and every pod in the cluster.

    ## Example
    ```yaml
    kind: Service
    spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 443}]}
    ```

    ## How to fix
    Add a NetworkPolicy selecting `app: web` that allows the service port from the load
    balancer's source ranges (and nothing else).

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types
    """
    raw = res.obj.get("spec")
    spec: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if (
        spec.get("type") not in ("NodePort", "LoadBalancer")
        or not isinstance(spec.get("selector"), dict)
        or not spec["selector"]
    ):
        raise NotApplicable()
    m = model(index, ctx)
    ns = res.id.namespace or "default"
    if ns not in m.scoped:
        raise NotApplicable()
    sel = spec["selector"]
    hits = [i for i in m.in_ns.get(ns, []) if all(m.c.workloads[i].labels.get(k) == v for k, v in sel.items())]
    if not hits:
        raise NotApplicable()
    m.check_namespace(ns)
    open_ = [m.c.workloads[i] for i in hits if not m.a.isolated(i, "ingress")]
    if open_:
        yield Violation(
            f"{spec['type']} Service exposes {', '.join(f'{w.kind}/{w.name}' for w in open_)}, which no ingress "
            "NetworkPolicy selects",
            ("spec", "type"),
        )
