"""KF-NET-008 selectors matching no workload and KF-NET-009 named ports no destination declares."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.network.common import NEEDS, OWASP, Model, model
from kubefort.kube.netpol import Policy, bit_indexes
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, Resource, Severity, Violation
from kubefort.registry import Mappings, check
from kubefort.wording import plural


def _namespace_workloads(m: Model, pol: Policy) -> int:
    if not m.a.ns_bits.get(pol.namespace, 0):
        raise NotApplicable()
    return m.a.ns_bits[pol.namespace]


@check(
    id="KF-NET-008",
    name="dangling-networkpolicy",
    title="NetworkPolicy selector matches no workload",
    verified="NetworkPolicy selector matches a workload",
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

    ## Not applicable when
    The object is a custom resource of another API group that reuses the kind's name
    (Calico's `projectcalico.org/v3` NetworkPolicy, for example). A NetworkPolicy sent as a
    version the API server does not serve is not evaluated (KF-INPUT-005 reports it). A
    policy in a namespace without workloads in the scan has nothing to match and gets no
    outcome.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/
    """
    m = model(index, ctx)
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
    verified="Every port the NetworkPolicy names is declared by a target container",
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

    ## Not applicable when
    The object is a custom resource of another API group that reuses the kind's name
    (Calico's `projectcalico.org/v3` NetworkPolicy, for example). A NetworkPolicy sent as a
    version the API server does not serve is not evaluated (KF-INPUT-005 reports it).

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicyport
    """
    m = model(index, ctx)
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
                    f"{plural(len(ws), 'destination workload')} declares",
                    r.path,
                )
