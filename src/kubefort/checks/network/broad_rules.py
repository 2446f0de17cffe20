"""KF-NET-004 ingress from anywhere on every port and KF-NET-005 egress to any address."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.network.common import DNS, NEEDS, NSA, OWASP, model
from kubefort.kube.netpol import NO_PORTS, Policy, Rule, format_ports, ports_minus
from kubefort.model import CheckContext, ClusterIndex, Resource, Severity, Violation
from kubefort.registry import Mappings, check


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


@check(
    id="KF-NET-004",
    name="networkpolicy-allows-all-ingress",
    title="NetworkPolicy allows ingress from anywhere on every port",
    verified="NetworkPolicy limits ingress by source or port",
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

    ## Not applicable when
    The object is a custom resource of another API group that reuses the kind's name
    (Calico's `projectcalico.org/v3` NetworkPolicy, for example). A NetworkPolicy sent as a
    version the API server does not serve is not evaluated (KF-INPUT-005 reports it).

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#allow-all-ingress-traffic
    """
    pol = model(index, ctx).policy(res)
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
    verified="NetworkPolicy limits egress to specific addresses",
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

    ## Not applicable when
    The object is a custom resource of another API group that reuses the kind's name
    (Calico's `projectcalico.org/v3` NetworkPolicy, for example). A NetworkPolicy sent as a
    version the API server does not serve is not evaluated (KF-INPUT-005 reports it).

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource
    """
    pol = model(index, ctx).policy(res)
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
