"""KF-NET-006 cloud metadata endpoint reachable and KF-NET-007 kube-system reachable beyond DNS."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.network.common import DNS, METADATA, NEEDS, NSA, OWASP, Model, labels_path, model
from kubefort.kube.netpol import (
    NAME_LABEL,
    NO_PORTS,
    SYSTEM_NAMESPACES,
    PortSet,
    Side,
    explain_side,
    format_ports,
    ports_inter,
    ports_minus,
)
from kubefort.kube.selectors import Selector
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, Resource, Severity, Violation
from kubefort.registry import Mappings, check


@check(
    id="KF-NET-006",
    name="cloud-metadata-reachable",
    title="Workload can reach the cloud metadata endpoint 169.254.169.254",
    verified="Workload cannot reach the cloud metadata endpoint 169.254.169.254",
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

    ## Not applicable when
    The workload's namespace is out of scope: neither its Namespace nor a NetworkPolicy of
    it is in the scan.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource
    """
    m = model(index, ctx)
    for w in m.workloads(res):
        ports = m.a.ports(w, METADATA)
        if ports == NO_PORTS:
            continue
        why = allowed_because(explain_side(m.c, "egress", w, METADATA), ports)
        yield Violation(
            f"pods of {m.c.workloads[w].kind}/{m.c.workloads[w].name} can reach 169.254.169.254 on "
            f"{format_ports(ports)}: {why}",
            labels_path(res),
        )


def allowed_because(side: Side, ports: PortSet) -> str:
    """Why a direction allows `ports`: the rules that allow them, whatever the policy kind
    (NetworkPolicy and Cilium allow rules; Allow decisions of the cluster-wide tiers and of
    Calico; a default allow), or that nothing isolates the pod in that direction."""
    if not side.isolating and not side.decisions:
        return f"{side.direction} is not isolated"
    who = [
        f"{p} {side.direction}[{i}]" for p, i, rule_ports in side.allowing if ports_inter(rule_ports, ports) != NO_PORTS
    ]
    for d in side.decisions:
        if ports_inter(d.ports, ports) == NO_PORTS:
            continue
        if d.action == "Allow":
            who.append(f"{d.policy} {d.rule}" + (f" ({d.tier})" if d.tier else ""))
        elif d.action == "default allow":
            who.append("no policy deciding them (default allow)")
    return "allowed by " + ", ".join(dict.fromkeys(who)) if who else "allowed"


def _reaches_kube_system(m: Model, w: int) -> list[str]:
    c = m.c
    wl = c.workloads[w]
    if not m.a.isolated(w, "egress"):
        return ["egress is not isolated"]
    ks_labels = c.namespaces.get("kube-system", {NAME_LABEL: "kube-system"})
    found = []
    for p in c.policies_in(wl.namespace):
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
    verified="Application workload reaches kube-system for DNS at most",
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

    ## Not applicable when
    The workload's namespace is out of scope: neither its Namespace nor a NetworkPolicy of
    it is in the scan. Workloads of the system namespaces (kube-system, kube-public, kube-
    node-lease) are out of scope too.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/
    """
    m = model(index, ctx)
    ws = m.workloads(res)
    if (res.id.namespace or "default") in SYSTEM_NAMESPACES:
        raise NotApplicable()
    for w in ws:
        found = _reaches_kube_system(m, w)
        if found:
            yield Violation(
                f"pods of {m.c.workloads[w].kind}/{m.c.workloads[w].name} can reach kube-system beyond DNS: "
                + "; ".join(found),
                labels_path(res),
            )
