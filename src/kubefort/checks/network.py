"""KF-NET: NetworkPolicy coverage and reachability, computed with the exact engine in kube/netpol/.

Scope: a namespace is *in scope* when the scan holds its Namespace object or a NetworkPolicy in it.
Namespace checks run on Namespace objects only; workload checks answer only in in-scope namespaces
(so scanning one Deployment reports nothing about namespaces it does not define). A namespace
holding a NetworkPolicy the API server would reject is not evaluated. See docs/netpol.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubefort.kube.netpol import (
    NAME_LABEL,
    NO_PORTS,
    SYSTEM_NAMESPACES,
    Analysis,
    Cluster,
    External,
    Policy,
    Rule,
    bit_indexes,
    explain_side,
    format_ports,
    port_set,
    ports_minus,
    ports_union,
)
from kubefort.kube.pods import find_pods
from kubefort.kube.selectors import Selector
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, NotEvaluated, Path_, Resource, Severity, Violation
from kubefort.registry import Mappings, check

NSA = ("NSA-CISA Kubernetes Hardening Guide: Network separation and hardening",)
OWASP = ("K07",)  # OWASP Kubernetes Top 10: Missing Network Segmentation Controls
NEEDS = ("Namespace", "NetworkPolicy", "Service", "@pods")
METADATA = External("cloud-metadata", "169.254.169.254/32")
DNS = ports_union(port_set("TCP", 53, 53), port_set("UDP", 53, 53))


class _Model:
    """The engine over one scan's index, built once and shared by every KF-NET check."""

    def __init__(self, index: ClusterIndex, ctx: CheckContext[None]) -> None:
        paths = ctx.pod_template_paths
        resources = [*index.kind("Namespace"), *index.kind("NetworkPolicy"), *index.pod_bearing]
        self.c = Cluster.from_resources(resources, pod_template_paths=paths)
        self.a = Analysis(self.c)
        self.scoped = self.c.defined_namespaces | {r.id.namespace or "default" for r in index.kind("NetworkPolicy")}
        self.by_res: dict[int, list[int]] = {}
        for i, w in enumerate(self.c.workloads):
            self.by_res.setdefault(id(w.resource), []).append(i)
        self.bad = {id(p.obj): p for p in self.c.problems if p.obj is not None}
        self.in_ns: dict[str, list[int]] = {}
        for i, w in enumerate(self.c.workloads):
            self.in_ns.setdefault(w.namespace, []).append(i)

    def check_namespace(self, ns: str) -> None:
        if ns in self.c.invalid_namespaces:
            bad = [
                str(p)
                for p in self.c.problems
                if p.resource is not None
                and (p.resource.namespace or "default") == ns
                and p.resource.kind == "NetworkPolicy"
            ]
            raise NotEvaluated(f"namespace {ns!r} holds a NetworkPolicy the API server would reject: {bad[0]}")

    def workloads(self, res: Resource) -> list[int]:
        """The target's workloads in an in-scope namespace (NotApplicable / NotEvaluated otherwise)."""
        ns = res.id.namespace or "default"
        if ns not in self.scoped:
            raise NotApplicable()
        if id(res) in self.bad:
            p = self.bad[id(res)]
            raise NotEvaluated(p.message, p.path)
        self.check_namespace(ns)
        return self.by_res.get(id(res), [])

    def policy(self, res: Resource) -> Policy:
        if id(res) in self.bad:
            p = self.bad[id(res)]
            raise NotEvaluated(p.message, p.path)
        return next(p for p in self.c.policies if p.resource is res)


def _model(index: ClusterIndex, ctx: CheckContext[None]) -> _Model:
    return index.derived("netpol-model", lambda: _Model(index, ctx))


def _labels_path(res: Resource) -> Path_:
    pods = find_pods(res)
    if pods and pods[0].meta is not None:
        return pods[0].meta.path + ("labels",)
    return ("metadata",)


def _anywhere(rule: Rule) -> str | None:
    """How a rule's peers cover every address: None when they do not."""
    if rule.peers is None:
        return "every peer"
    for p in rule.peers:
        if p.cidr is not None and p.cidr.strip().endswith("/0"):
            return f"ipBlock {p.cidr}" + (" (with except)" if len(p.block) != 1 else "")
    return None


def _pods(pol: Policy) -> str:
    return f"pods {pol.selector}" if not pol.selector.empty else f"every pod of {pol.namespace!r}"


def _default_deny(res: Resource, index: ClusterIndex, ctx: CheckContext[None], direction: str) -> Iterator[Violation]:
    m = _model(index, ctx)
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
    m = _model(index, ctx)
    for w in m.workloads(res):
        if not (m.a.isolated(w, "ingress") or m.a.isolated(w, "egress")):
            wl = m.c.workloads[w]
            labels = ",".join(f"{k}={v}" for k, v in sorted(wl.labels.items())) or "no labels"
            yield Violation(
                f"no NetworkPolicy in {wl.namespace!r} selects pods of {wl.kind}/{wl.name} ({labels}): "
                "all ingress and egress allowed",
                _labels_path(res),
            )


@check(
    id="KF-NET-004",
    name="networkpolicy-allows-all-ingress",
    title="NetworkPolicy allows ingress from anywhere on every port",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=("NetworkPolicy",),
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1190",), owasp=OWASP, trivy=("KSV-0038",)),
    remediation="Name the sources (podSelector / namespaceSelector / a narrow ipBlock) and the ports the workload serves.",
)
def networkpolicy_allows_all_ingress(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags ingress rules (of policies whose `policyTypes` include Ingress) that allow every
    source on every port: no `from` (or an empty one) or an `ipBlock` of `0.0.0.0/0` / `::/0`,
    together with no `ports`. A rule from anywhere limited to ports (a public HTTPS endpoint)
    passes.

    ## Why is this bad?
    Such a rule cancels the isolation the policy creates for the pods it selects: they accept
    anything, from any pod and any address, on any port, debug and admin ports included.

    ## Example
    ```yaml
    spec: {podSelector: {matchLabels: {app: web}}, ingress: [{}]}
    ```

    ## How to fix
    ```yaml
      ingress:
      - from: [{podSelector: {matchLabels: {app: frontend}}}]
        ports: [{port: 8080}]
    ```

    ## Not evaluated when
    The policy would be rejected by the API server.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#allow-all-ingress-traffic
    """
    pol = _model(index, ctx).policy(res)
    if not pol.affects("ingress"):
        return
    for r in pol.ingress:
        how = _anywhere(r)
        if how is not None and r.ports is None:
            yield Violation(f"ingress[{r.index}] allows {how} on every port to {_pods(pol)}", r.path)


@check(
    id="KF-NET-005",
    name="networkpolicy-allows-egress-to-internet",
    title="NetworkPolicy allows egress to any address (0.0.0.0/0)",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=("NetworkPolicy",),
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1041", "T1048"), owasp=OWASP, trivy=("KSV-0038",)),
    remediation="List the destinations the workload needs (namespaces, pods, narrow ipBlocks, or an egress gateway) instead of every address.",
)
def networkpolicy_allows_egress_to_internet(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags egress rules (of policies whose `policyTypes` include Egress) whose destinations are
    every address: an `ipBlock` of `0.0.0.0/0` or `::/0`, or no `to` at all. Rules with no `to`
    that only open DNS (port 53, TCP or UDP) pass: that is the usual DNS allowance.

    ## Why is this bad?
    Egress to any address lets a compromised pod download tools, reach command-and-control
    servers and exfiltrate data; egress isolation then protects little.

    ## Example
    ```yaml
      egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]
    ```

    ## How to fix
    ```yaml
      egress: [{to: [{ipBlock: {cidr: 203.0.113.0/24}}], ports: [{port: 443}]}]   # the partner API
    ```

    ## Not evaluated when
    The policy would be rejected by the API server.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource
    """
    pol = _model(index, ctx).policy(res)
    if not pol.affects("egress"):
        return
    for r in pol.egress:
        how = _anywhere(r)
        if how is None:
            continue
        allowed = r.static_ports()
        if r.peers is None and not r.named_ports() and allowed != NO_PORTS and ports_minus(allowed, DNS) == NO_PORTS:
            continue  # DNS to any resolver
        yield Violation(
            f"egress[{r.index}] allows {how} on {format_ports(allowed) if not r.named_ports() else 'named ports'} "
            f"from {_pods(pol)}",
            r.path,
        )


@check(
    id="KF-NET-006",
    name="cloud-metadata-reachable",
    title="Workload can reach the cloud metadata endpoint 169.254.169.254",
    severity=Severity.HIGH,
    target="cluster",
    kinds=("@pods",),
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1552.005",), owasp=OWASP, kubescape=("C-0052",)),
    remediation="Isolate egress and exclude 169.254.169.254/32 from every ipBlock that covers it (except: [169.254.169.254/32]).",
)
def cloud_metadata_reachable(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Computes, with the exact policy engine, whether the workload's pods may open a connection
    to 169.254.169.254 (the instance metadata service of AWS, GCP, Azure and others): either
    their egress is not isolated, or an egress rule's `ipBlock` (or a rule without `to`)
    covers it. Only workloads of in-scope namespaces get an outcome.

    ## Why is this bad?
    The metadata endpoint hands out the node's cloud credentials. A pod that reaches it can
    act with the node's cloud identity (MITRE ATT&CK T1552.005).

    ## Example
    ```yaml
      egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]
    ```

    ## How to fix
    ```yaml
      egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]}]
    ```
    and block the endpoint at the node level too (IMDSv2 hop limit, GKE metadata concealment).

    ## Known limitations
    hostNetwork pods are not subject to NetworkPolicy and are analysed as if they were.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource
    """
    m = _model(index, ctx)
    for w in m.workloads(res):
        ports = m.a.ports(w, METADATA)
        if ports == NO_PORTS:
            continue
        side = explain_side(m.c, "egress", w, METADATA)
        why = (
            "egress is not isolated"
            if not side.isolating
            else "allowed by " + ", ".join(f"{p} egress[{i}]" for p, i, _ in side.allowing)
        )
        yield Violation(
            f"pods of {m.c.workloads[w].kind}/{m.c.workloads[w].name} can reach 169.254.169.254 on "
            f"{format_ports(ports)}: {why}",
            _labels_path(res),
        )


def _reaches_kube_system(m: _Model, w: int) -> list[str]:
    c = m.c
    wl = c.workloads[w]
    if not m.a.isolated(w, "egress"):
        return ["egress is not isolated"]
    ks_labels = c.namespaces.get("kube-system", {NAME_LABEL: "kube-system"})
    found = []
    for p in c.policies:
        if not (p.affects("egress") and c.selected_by(p, wl)):
            continue
        for r in p.egress:
            whole = r.peers is None or any(
                pr.cidr is None
                and pr.ns is not None
                and pr.ns.matches(ks_labels)
                and (pr.pod is None or pr.pod == Selector())
                for pr in r.peers
            )
            beyond_dns = r.named_ports() or ports_minus(r.static_ports(), DNS) != NO_PORTS
            if whole and beyond_dns:
                found.append(f"{p.key} egress[{r.index}] allows every pod of kube-system")
    for d in m.in_ns.get("kube-system", []):  # kube-system workloads in the scan: exact
        if len(found) >= 5:  # the message shows five
            break
        ps = ports_minus(m.a.ports(w, d), DNS)
        if ps != NO_PORTS:
            found.append(f"{c.workloads[d].kind}/{c.workloads[d].name} on {format_ports(ps)}")
    return found


@check(
    id="KF-NET-007",
    name="workload-reaches-kube-system",
    title="Application workload can reach pods in kube-system",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=("@pods",),
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1210",), owasp=OWASP),
    remediation="Isolate egress and allow kube-system only for DNS (UDP/TCP 53 to k8s-app=kube-dns), by namespaceSelector and podSelector together.",
)
def workload_reaches_kube_system(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    For workloads outside kube-system, kube-public and kube-node-lease (of in-scope
    namespaces), fails when their pods can open connections to kube-system beyond DNS
    (port 53): egress is not isolated, or an egress rule allows a whole namespace matching
    kube-system (no `to`, or a `namespaceSelector` matching it without a `podSelector`) on
    other ports, or, for kube-system workloads present in the scan, the exact matrix allows
    ports other than 53. A rule naming specific kube-system pods (`podSelector`) is taken as
    deliberate.

    ## Why is this bad?
    kube-system runs the cluster's most privileged components (DNS, CNI agents, metrics,
    controllers). Reaching them is the first step of many escalations.

    ## Example
    ```yaml
      egress: [{to: [{namespaceSelector: {}}]}]   # every namespace, kube-system included
    ```

    ## How to fix
    ```yaml
      egress:
      - to:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
          podSelector: {matchLabels: {k8s-app: kube-dns}}
        ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
    ```

    ## Known limitations
    kube-system's own ingress policies are considered only for its workloads in the scan.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/
    """
    m = _model(index, ctx)
    ws = m.workloads(res)
    if (res.id.namespace or "default") in SYSTEM_NAMESPACES:
        raise NotApplicable()
    for w in ws:
        found = _reaches_kube_system(m, w)
        if found:
            yield Violation(
                f"pods of {m.c.workloads[w].kind}/{m.c.workloads[w].name} can reach kube-system beyond DNS: "
                + "; ".join(found),
                _labels_path(res),
            )


def _namespace_workloads(m: _Model, pol: Policy) -> int:
    if not m.a.ns_bits.get(pol.namespace, 0):
        raise NotApplicable()
    return m.a.ns_bits[pol.namespace]


@check(
    id="KF-NET-008",
    name="dangling-networkpolicy",
    title="NetworkPolicy selector matches no workload",
    severity=Severity.LOW,
    target="cluster",
    kinds=("NetworkPolicy",),
    needs=NEEDS,
    mappings=Mappings(
        owasp=OWASP,
        kubescape=("C-0299",),
        kube_linter=("dangling-networkpolicy", "dangling-networkpolicypeer-podselector"),
    ),
    remediation="Fix the selector's labels (or remove the policy) so that it selects the pods it was written for.",
)
def dangling_networkpolicy(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    For policies in a namespace with workloads in the scan: fails when a non-empty
    `spec.podSelector` selects none of them, or when a peer `podSelector` without a
    `namespaceSelector` (the policy's own namespace) matches none of them. Peers with a
    `namespaceSelector` are not judged: the other namespaces may not be in the scan.

    ## Why is this bad?
    A typo in a label (`app: web` vs `app: frontend`) leaves the intended pods unprotected
    while the policy looks right in review.

    ## Example
    ```yaml
    spec: {podSelector: {matchLabels: {app: wbe}}}
    ```

    ## How to fix
    Match the pod template labels exactly (`kubefort netpol explain` shows what selects what).

    ## Not evaluated when
    The policy would be rejected by the API server.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/
    """
    m = _model(index, ctx)
    pol = m.policy(res)
    here = _namespace_workloads(m, pol)
    if not pol.selector.empty and not m.a.sel_bits(pol.selector) & here:
        yield Violation(
            f"spec.podSelector {pol.selector} selects no workload in namespace {pol.namespace!r}",
            ("spec", "podSelector"),
        )
    for r in pol.ingress + pol.egress:
        for peer in r.peers or ():
            if peer.cidr is None and peer.ns is None and peer.pod is not None and not m.a.sel_bits(peer.pod) & here:
                yield Violation(
                    f"{r.direction}[{r.index}] peer podSelector {peer.pod} matches no workload in namespace "
                    f"{pol.namespace!r}",
                    peer.path,
                )


@check(
    id="KF-NET-009",
    name="networkpolicy-named-port-unresolved",
    title="NetworkPolicy names a port no target container declares",
    severity=Severity.LOW,
    target="cluster",
    kinds=("NetworkPolicy",),
    needs=NEEDS,
    mappings=Mappings(owasp=OWASP),
    remediation="Use the containerPort name (and protocol) the destination pods declare, or the port number.",
)
def networkpolicy_named_port_unresolved(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
) -> Iterator[Violation]:
    """
    ## What it does
    A named port in a rule resolves on the destination pods: for ingress, the pods the policy
    selects; for egress, the pods the rule's peers match. Fails when a name (with its
    protocol) is declared by no container of those workloads, or when an egress rule with a
    named port has only `ipBlock` destinations (where a name never resolves).

    ## Why is this bad?
    An unresolved name opens nothing: traffic the author meant to allow is dropped, and the
    usual fix under pressure is a much wider rule.

    ## Example
    ```yaml
      ingress: [{ports: [{port: http}]}]      # the container calls it "web"
    ```

    ## How to fix
    Name the port as the container does, or use its number.

    ## Not evaluated when
    The policy would be rejected by the API server.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicyport
    """
    m = _model(index, ctx)
    pol = m.policy(res)
    here = _namespace_workloads(m, pol)
    for r in pol.rules("ingress") + pol.rules("egress"):
        if not r.named_ports() or not pol.affects(r.direction):
            continue
        if r.direction == "ingress":
            targets = m.a.sel_bits(pol.selector) & here
        else:
            targets, _ = m.a.peer_bits(pol, r)
            if not targets and r.peers and all(p.cidr is not None for p in r.peers):
                yield Violation(
                    f"egress[{r.index}] uses named ports {', '.join(n for n, _ in r.named_ports())} towards ipBlock "
                    "destinations only; a name never resolves outside the cluster",
                    r.path,
                )
                continue
        ws = [m.c.workloads[i] for i in bit_indexes(targets)]
        for name, proto in r.named_ports() if ws else ():
            if not any(w.resolve(name, proto) for w in ws):
                yield Violation(
                    f"{r.direction}[{r.index}] names port {name!r} ({proto}), which no container of the "
                    f"{len(ws)} destination workload(s) declares",
                    r.path,
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
    m = _model(index, ctx)
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
