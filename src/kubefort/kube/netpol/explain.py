"""Explain: which policies and rules decide one pair, per direction (evaluated directly on the model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.netpol import calico_engine, cilium_engine
from kubefort.kube.netpol.admin import AdminPolicy, AdminRule
from kubefort.kube.netpol.cluster import Cluster
from kubefort.kube.netpol.model import External, Workload
from kubefort.kube.netpol.ports import ALL_PORTS, NO_PORTS, PortSet, ports_inter, ports_minus, ports_union


@dataclass(frozen=True, slots=True)
class Decision:
    """Ports of one direction decided by one rule of a cluster-wide policy, a Cilium deny rule
    (tier "Cilium") or a Calico policy (its Calico tier: "calico tier <name>"), or by nothing."""

    policy: str  # "AdminNetworkPolicy/name", ..., or "" for the default (no policy decided)
    rule: str  # "ingress[0] (name)"; "" for the default
    action: str  # "Allow" | "Deny" | "Pass" | "default allow"
    tier: str  # "Admin" | "Baseline" | "Cilium" | "calico tier <name>" | ""
    ports: PortSet


@dataclass(slots=True)
class Side:
    direction: str
    applies: bool  # False: the pod of this side is an external peer (no policy applies there)
    isolating: list[str] = field(default_factory=list)  # NetworkPolicies of this type selecting the pod
    allowing: list[tuple[str, int, PortSet]] = field(default_factory=list)  # (policy, rule index, ports)
    ports: PortSet = ALL_PORTS
    decisions: list[Decision] = field(default_factory=list)  # cluster-wide tiers, in evaluation order
    conflicts: list[str] = field(default_factory=list)  # equal-priority policies deciding differently
    node: str = ""  # why node traffic (a hostNetwork workload) is allowed whatever the policies say


def explain_side(c: Cluster, direction: str, pod: int | External, peer: int | External) -> Side:
    """Why `direction` traffic of `pod` with `peer` is allowed: the policies and rules involved."""
    if isinstance(pod, External):
        return Side(direction, False)
    w = c.workloads[pod]
    if w.host_network:
        return Side(direction, True, node="the pods use the node's network: no pod policy applies to them")
    other = c.workloads[peer] if isinstance(peer, int) else None
    if direction == "ingress" and other is not None and other.host_network and not c.cilium:
        return Side(direction, True, node="traffic from the pod's own node is always allowed")
    side = Side(direction, True, ports=NO_PORTS)
    dst = w if direction == "ingress" else (c.workloads[peer] if isinstance(peer, int) else None)
    reps: list[int | tuple[int, int]] = [peer] if isinstance(peer, int) else list(c.pieces(*peer.range))
    if c.cilium:
        return _cilium(c, side, w, reps, dst)
    if c.calico or c.calico_tiers:
        return _calico(c, side, w, reps, dst)
    np_by_rep: list[PortSet] = []
    for rep in reps:  # an external range: one representative per piece, each wholly in or out of every block
        np_by_rep.append(NO_PORTS)
        for p in c.policies_in(w.namespace):
            if not (p.affects(direction) and c.selected_by(p, w)):
                continue
            if p.key not in side.isolating:
                side.isolating.append(p.key)
            for r in p.rules(direction):
                if r.peers is None:
                    hit = True
                elif isinstance(rep, tuple):
                    lo, hi = rep
                    hit = any(pr.cidr is not None and any(a <= hi and lo <= b for a, b in pr.block) for pr in r.peers)
                else:
                    hit = any(c.peer_matches_workload(p, pr, c.workloads[rep]) for pr in r.peers)
                ps = c.rule_ports_for(r, dst) if hit else NO_PORTS
                if ps != NO_PORTS:
                    np_by_rep[-1] = ports_union(np_by_rep[-1], ps)
                    if all(a[:2] != (p.key, r.index) for a in side.allowing):
                        side.allowing.append((p.key, r.index, ps))
                    else:
                        side.allowing = [
                            (k, i, ports_union(x, ps) if (k, i) == (p.key, r.index) else x) for k, i, x in side.allowing
                        ]
        if side.isolating and other is not None and other.host_network:  # egress to the node
            side.node = "traffic to the pod's own node is always allowed by NetworkPolicy"
            np_by_rep[-1] = ALL_PORTS
    if not c.admin:
        for ps in np_by_rep if side.isolating else [ALL_PORTS]:
            side.ports = ports_union(side.ports, ps)
        return side
    admin = c.admin_for(w)
    for rep, np_ports in zip(reps, np_by_rep, strict=False):
        side.ports = ports_union(side.ports, _tiers(c, side, w, admin, rep, dst, np_ports, bool(side.isolating)))
    return side


def _cilium(c: Cluster, side: Side, w: Workload, reps: list[int | tuple[int, int]], dst: Workload | None) -> Side:
    """A cluster with Cilium policies (cilium_engine.py): the rules giving the pod entries of this
    direction; `isolating` names those enabling default deny, `allowing` the allow rules that
    match (when default deny is on), `decisions` the deny rules that match; then the cluster-wide
    tiers around the Cilium layer."""
    d = side.direction
    found = cilium_engine.selecting(c, d, w)
    dd = any(x[1] for x in found)
    side.isolating = [name for name, on, _, _ in found if on]
    admin = c.admin_for(w)
    for orig in reps:
        # the node (a hostNetwork workload): through either of its identities, its own node or a remote one
        node = isinstance(orig, int) and c.workloads[orig].host_network
        lower = NO_PORTS
        for rep in cilium_engine.NODE_ENTITIES if node else (orig,):
            lower = ports_union(lower, _cilium_rep(c, side, found, dd, rep, dst))
        ps = _tiers(c, side, w, admin, orig, dst, lower, bool(found)) if admin else lower
        side.ports = ports_union(side.ports, ps)
    return side


def _cilium_rep(
    c: Cluster, side: Side, found: list[Any], dd: bool, rep: int | tuple[int, int] | str, dst: Workload | None
) -> PortSet:
    """The Cilium layer's verdict for one peer (a node identity for the node)."""
    d = side.direction
    allow, deny = NO_PORTS, NO_PORTS
    for name, _, pol, rules in found:
        for r, is_deny in rules:
            if (not is_deny and not dd) or not cilium_engine.rule_hits(c, pol, r, rep):
                continue
            ps = cilium_engine.rule_ports(c, r, dst)
            if ps == NO_PORTS:
                continue
            if is_deny:
                deny = ports_union(deny, ps)
                label = f"{d}Deny[{r.index}]"
                if all((x.policy, x.rule) != (name, label) for x in side.decisions):
                    side.decisions.append(Decision(name, label, "Deny", "Cilium", ps))
            else:
                allow = ports_union(allow, ps)
                if all(a[:2] != (name, r.index) for a in side.allowing):
                    side.allowing.append((name, r.index, ps))
    if d == "ingress" and rep == "host":
        allow, side.node = ALL_PORTS, "the local node reaches its pods unless a deny rule matches (allow-localhost)"
    return ports_minus(allow if dd else ALL_PORTS, deny) if found else ALL_PORTS


def _calico(c: Cluster, side: Side, w: Workload, reps: list[int | tuple[int, int]], dst: Workload | None) -> Side:
    """A cluster with Calico policies (calico_engine.py): tier by tier, the first rule matching
    each port decides it (Allow, Deny, Pass to the next tier); the end of a tier applies its
    default action; the namespace profile allows the rest. `isolating` names the selecting
    policies, `decisions` the rules and tier ends (Deny or Pass) that decided, in evaluation order,
    and "default allow" what the profile allowed."""
    d = side.direction
    found = calico_engine.selecting(c, d, w)
    side.isolating = [e.key for e in found]
    steps = calico_engine.plan(c, found, [p for p in c.admin_for(w) if p.rules(d)])
    for rep in reps:
        undecided, allowed = ALL_PORTS, NO_PORTS
        for tier, ents, admin in steps:
            if admin:
                al, de = _tier(c, side, w, admin, rep, dst, undecided)
                allowed, undecided = ports_union(allowed, al), ports_minus(undecided, ports_union(al, de))
                continue
            left, name = undecided, f"calico tier {tier}"
            for e in ents:
                for action, r in calico_engine.rules_of(c, e, d):
                    ps = ports_inter(calico_engine.rule_ports(c, e, r, w, rep, dst), left)
                    if ps == NO_PORTS:
                        continue
                    _note(side, Decision(e.key, f"{d}[{r.index}]", action, name, ps))
                    left = ports_minus(left, ps)
                    if action != "Pass":
                        undecided = ports_minus(undecided, ps)
                        allowed = ports_union(allowed, ps) if action == "Allow" else allowed
            action = calico_engine.default_action(c, tier)
            if left != NO_PORTS:
                _note(side, Decision("", "end of tier", action, name, left))
                undecided = ports_minus(undecided, left) if action != "Pass" else undecided
        if undecided != NO_PORTS and steps:
            _note(side, Decision("", "", "default allow", "", undecided))
        side.ports = ports_union(side.ports, ports_union(allowed, undecided))
    return side


def _note(side: Side, x: Decision) -> None:
    """Record a decision, merged with an equal one of another address piece."""
    for i, y in enumerate(side.decisions):
        if (y.policy, y.rule, y.action, y.tier) == (x.policy, x.rule, x.action, x.tier):
            side.decisions[i] = Decision(x.policy, x.rule, x.action, x.tier, ports_union(y.ports, x.ports))
            return
    side.decisions.append(x)


def _rule_ports(c: Cluster, r: AdminRule, w: Workload, rep: int | tuple[int, int], dst: Workload | None) -> PortSet:
    """The ports `r` matches between `w` and the peer `rep` (a workload index or an address piece)."""
    if isinstance(rep, tuple):
        hit = any(pr.kind == "networks" and pr.overlaps(*rep) for pr in r.peers)
    else:
        other = c.workloads[rep]
        hit = any(pr.matches_workload(other, c.ns_labels(other.namespace)) for pr in r.peers)
    return r.ports_for(dst) if hit else NO_PORTS


def _tier(
    c: Cluster,
    side: Side,
    w: Workload,
    pols: list[AdminPolicy],
    rep: int | tuple[int, int],
    dst: Workload | None,
    undecided: PortSet = ALL_PORTS,
) -> tuple[PortSet, PortSet]:
    """First match over one tier's policies on the `undecided` ports: (allowed, denied) ports; the
    rest is passed or unmatched."""
    allow, deny = NO_PORTS, NO_PORTS
    i = 0
    while i < len(pols):
        group = [p for p in pols[i:] if p.priority == pols[i].priority]
        i += len(group)
        own = [_policy(c, w, p, side.direction, rep, dst, undecided) for p in group]
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                if _disagree(own[x], own[y]):
                    side.conflicts.append(
                        f"{group[x].key} and {group[y].key} ({group[x].tier} tier, priority {group[x].priority}) "
                        f"both match this {side.direction} traffic with different actions"
                    )
        for p in group:
            for d in _policy(c, w, p, side.direction, rep, dst, undecided):
                side.decisions.append(d)
                undecided = ports_minus(undecided, d.ports)
                if d.action == "Allow":
                    allow = ports_union(allow, d.ports)
                elif d.action == "Deny":
                    deny = ports_union(deny, d.ports)
    return allow, deny


def _policy(
    c: Cluster,
    w: Workload,
    p: AdminPolicy,
    direction: str,
    rep: int | tuple[int, int],
    dst: Workload | None,
    left: PortSet,
) -> list[Decision]:
    out = []
    for r in p.rules(direction):
        ps = ports_inter(_rule_ports(c, r, w, rep, dst), left)
        if ps != NO_PORTS:
            label = f"{direction}[{r.index}]" + (f" ({r.name})" if r.name else "")
            out.append(Decision(p.key, label, r.action, p.tier, ps))
            left = ports_minus(left, ps)
    return out


def _disagree(a: list[Decision], b: list[Decision]) -> bool:
    return any(x.action != y.action and ports_inter(x.ports, y.ports) != NO_PORTS for x in a for y in b)


def _tiers(
    c: Cluster,
    side: Side,
    w: Workload,
    admin: list[AdminPolicy],
    rep: int | tuple[int, int],
    dst: Workload | None,
    np_ports: PortSet,
    lower: bool,
) -> PortSet:
    """The Admin tier, then the NetworkPolicy (or Cilium) layer when it applies (`lower`: it
    isolates the pod / gives it entries), else the Baseline tier."""
    allow, deny = _tier(c, side, w, [p for p in admin if p.tier == "Admin"], rep, dst)
    rest = ports_minus(ports_minus(ALL_PORTS, allow), deny)  # passed or unmatched: NetworkPolicy decides
    if lower:
        return ports_union(allow, ports_inter(rest, np_ports))
    base_allow, base_deny = _tier(c, side, w, [p for p in admin if p.tier == "Baseline"], rep, dst, rest)
    default = ports_minus(ports_minus(rest, base_allow), base_deny)
    if default != NO_PORTS and all(d.action != "default allow" or d.ports != default for d in side.decisions):
        side.decisions.append(Decision("", "", "default allow", "", default))
    return ports_union(allow, ports_minus(rest, base_deny))
