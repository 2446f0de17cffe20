"""Explain: which policies and rules decide one pair, per direction (evaluated directly on the model)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubefort.kube.netpol.cluster import Cluster
from kubefort.kube.netpol.model import External
from kubefort.kube.netpol.ports import ALL_PORTS, NO_PORTS, PortSet, ports_union


@dataclass(slots=True)
class Side:
    direction: str
    applies: bool  # False: the pod of this side is an external peer (no policy applies there)
    isolating: list[str] = field(default_factory=list)  # policies of this type selecting the pod
    allowing: list[tuple[str, int, PortSet]] = field(default_factory=list)  # (policy, rule index, ports)
    ports: PortSet = ALL_PORTS


def explain_side(c: Cluster, direction: str, pod: int | External, peer: int | External) -> Side:
    """Why `direction` traffic of `pod` with `peer` is allowed: the policies and rules involved."""
    if isinstance(pod, External):
        return Side(direction, False)
    w = c.workloads[pod]
    side = Side(direction, True, ports=NO_PORTS)
    dst = w if direction == "ingress" else (c.workloads[peer] if isinstance(peer, int) else None)
    for p in c.policies_in(w.namespace):
        if not (p.affects(direction) and c.selected_by(p, w)):
            continue
        side.isolating.append(p.key)
        for r in p.rules(direction):
            if r.peers is None:
                hit = True
            elif isinstance(peer, External):
                lo, hi = peer.range
                hit = any(pr.cidr is not None and any(a <= hi and lo <= b for a, b in pr.block) for pr in r.peers)
            else:
                hit = any(c.peer_matches_workload(p, pr, c.workloads[peer]) for pr in r.peers)
            ps = c.rule_ports_for(r, dst) if hit else NO_PORTS
            if ps != NO_PORTS:
                side.allowing.append((p.key, r.index, ps))
                side.ports = ports_union(side.ports, ps)
    if not side.isolating:
        side.ports = ALL_PORTS
    return side
