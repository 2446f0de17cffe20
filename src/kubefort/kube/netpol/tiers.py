"""The fast engine's profiles when cluster-wide tiers exist (AdminNetworkPolicy, NetworkPolicy,
BaselineAdminNetworkPolicy / ClusterNetworkPolicy tiers), per direction of one pod:

1. **Admin tier**: policies by priority (then name), rules in order; the first rule matching a
   (peer, port) decides it: Allow (allowed, NetworkPolicy not consulted), Deny (denied), Pass
   (the rest of the tier is skipped).
2. **NetworkPolicy**, for what the Admin tier passed or did not match: when a NetworkPolicy
   isolates the pod in that direction, allowed iff one of its rules allows.
3. **Baseline tier**, when no NetworkPolicy isolates it: the first matching rule decides (Deny:
   denied; Allow or Pass: allowed); no match: allowed.

Peers are bits: one per workload (as in `Analysis`) and, above them, one per *piece* of each
external range (`Cluster.pieces`: every address block holds a piece wholly or not at all), so
first-match over address blocks is exact and an external range is allowed on a port when some
piece of it is. A rule's match is a list of (peer bits, ports); the decisions of a profile are
disjoint parts (bits, decided, allow, deny) refined rule by rule.

Policies of one tier with the same priority are unordered by the API: each one's decisions are
computed on their own from the same state and compared; where two decide a (peer, port) with
different actions, a `Conflict` is recorded, and the engine applies them by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING, Any

from kubefort.kube.netpol.admin import AdminPolicy, AdminRule
from kubefort.kube.netpol.model import Rule, Workload
from kubefort.kube.netpol.ports import (
    ALL_PORTS,
    NO_PORTS,
    PortSet,
    format_ports,
    ports_inter,
    ports_minus,
    ports_union,
)
from kubefort.kube.selectors import Selector

if TYPE_CHECKING:
    from kubefort.kube.netpol.analysis import Analysis

Part = tuple[int, PortSet, PortSet, PortSet]  # peer bits, ports decided, allowed, denied
Match = list[tuple[int, PortSet]]  # (peer bits, ports) a rule matches


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two policies of one tier and priority deciding the same traffic with different actions."""

    first: str  # the policy applied first (by name)
    second: str
    tier: str
    priority: int
    direction: str
    subject: int  # a workload whose traffic it concerns
    peer: int  # a peer bit (a workload index, or n + piece index)
    ports: PortSet

    def key(self) -> tuple[str, str, str]:
        return self.first, self.second, self.direction

    def message(self, a: Analysis) -> str:
        """What a platform engineer reads: both policies, one connection they disagree on."""
        w = a.c.workloads[self.subject]
        if self.peer < a.n:
            peer = a.c.workloads[self.peer].key
        else:
            peer = f"addresses of {a.c.externals[a.piece_ext[self.peer - a.n]].name}"
        way = f"from {peer} to {w.key}" if self.direction == "ingress" else f"from {w.key} to {peer}"
        return (
            f"{self.first} and {self.second} have the same priority {self.priority} in the {self.tier} tier and "
            f"decide the same {self.direction} traffic differently ({way}, {format_ports(self.ports)}): the API "
            f"leaves their order undefined; kubefort applies {self.first} first (by name)"
        )


def piece_bits(a: Analysis, block: Sequence[tuple[int, int]]) -> int:
    """The piece bits of an address block."""
    out = 0
    for k, (lo, hi) in enumerate(a.pieces):
        if any(blo <= hi and lo <= bhi for blo, bhi in block):
            out |= 1 << (a.n + k)
    return out


def _classes(a: Analysis, key: Any, resolve: Callable[[Workload], PortSet]) -> list[tuple[int, PortSet]]:
    """Workloads grouped by what a rule's ports (named ones included) resolve to on them."""
    out = a.named_cache.get(key)
    if out is None:
        groups: dict[PortSet, int] = {}
        for sb, rep in zip(a.sig_bits, a.sig_rep, strict=False):
            ps = resolve(a.c.workloads[rep])
            groups[ps] = groups.get(ps, 0) | sb
        out = a.named_cache[key] = [(b, ps) for ps, b in groups.items()]
    return out


def match_ports(
    a: Analysis, direction: str, w: int, wbits: int, pbits: int, static: PortSet, named: bool, resolve: Any, key: Any
) -> Match:
    """(bits, ports) of a rule whose peers are `wbits` (workloads) and `pbits` (pieces)."""
    if direction == "ingress":  # ports resolve on the subject itself, whoever the peer is
        ps = resolve(a.c.workloads[w])
        return [(wbits | pbits, ps)] if ps != NO_PORTS and (wbits | pbits) else []
    out: Match = [(pbits, static)] if pbits and static != NO_PORTS else []
    if not named:
        return out + ([(wbits, static)] if wbits and static != NO_PORTS else [])
    for sb, ps in _classes(a, key, resolve):
        if wbits & sb and ps != NO_PORTS:
            out.append((wbits & sb, ps))
    return out


def np_match(a: Analysis, direction: str, w: int, pi: int, rule: Rule) -> Match:
    pol = a.c.policies[pi]
    wbits, _ = a.peer_bits(pol, rule)
    if rule.peers is None:
        pbits = a.all_pieces
    else:
        pbits = 0
        for peer in rule.peers:
            if peer.cidr is not None:
                pbits |= piece_bits(a, peer.block)
    return match_ports(
        a,
        direction,
        w,
        wbits,
        pbits,
        rule.static_ports(),
        bool(rule.named_ports()),
        lambda dst: a.c.rule_ports_for(rule, dst),
        ("np", rule.ports),
    )


def admin_match(a: Analysis, direction: str, w: int, rule: AdminRule) -> Match:
    wbits = pbits = 0
    for peer in rule.peers:
        if peer.kind == "namespaces":
            wbits |= a.nsel_bits(peer.ns or Selector())
        elif peer.kind == "pods":
            wbits |= a.nsel_bits(peer.ns or Selector()) & a.sel_bits(peer.pod or Selector())
        elif peer.kind == "networks":
            pbits |= piece_bits(a, peer.block)
            if peer.all_ipv4:  # 0.0.0.0/0 holds every pod and node address (kubefort models them as IPv4)
                wbits = a.all
        elif peer.kind == "nodes" and peer.pod is not None and peer.pod.empty:
            wbits |= a.host  # every node: the hostNetwork workloads (node labels are not known)
        # domainNames: no endpoint kubefort models
    return match_ports(
        a,
        direction,
        w,
        wbits,
        pbits,
        rule.static_ports(),
        bool(rule.named_ports()),
        rule.ports_for,
        ("anp", rule.ports),
    )


def first_match(state: list[Part], match: Match, action: str) -> list[Part]:
    """Refine `state` by one rule: what it matches and nothing earlier decided gets its action."""
    for m, ps in match:
        new: list[Part] = []
        for b, dec, al, de in state:
            i = b & m
            fresh = ports_minus(ps, dec) if i else NO_PORTS
            if fresh == NO_PORTS:
                new.append((b, dec, al, de))
                continue
            new.append(
                (
                    i,
                    ports_union(dec, fresh),
                    ports_union(al, fresh) if action == "Allow" else al,
                    ports_union(de, fresh) if action == "Deny" else de,
                )
            )
            if i != b:
                new.append((b ^ i, dec, al, de))
        state = new
    return state


def merged(state: list[Part]) -> list[Part]:
    by: dict[tuple[PortSet, PortSet, PortSet], int] = {}
    for b, dec, al, de in state:
        by[(dec, al, de)] = by.get((dec, al, de), 0) | b
    return [(b, *k) for k, b in by.items()]


def _fresh(base: list[Part], parts: list[Part]) -> list[tuple[int, PortSet, PortSet, PortSet]]:
    """The decisions `parts` add to `base` (which they refine): (bits, allowed, denied, passed)."""
    out = []
    for b, d, al, de in parts:
        dec0 = next(x for bb, x, _, _ in base if bb & b)
        new = ports_minus(d, dec0)
        if new != NO_PORTS:
            a_new, d_new = ports_minus(al, dec0), ports_minus(de, dec0)
            out.append((b, a_new, d_new, ports_minus(ports_minus(new, a_new), d_new)))
    return out


def _conflict(
    x: list[tuple[int, PortSet, PortSet, PortSet]], y: list[tuple[int, PortSet, PortSet, PortSet]]
) -> tuple[int, PortSet] | None:
    """A (peer bit, ports) that x and y (fresh decisions on one base) decide with different actions."""
    for bx, ax, nx, px in x:
        for by_, ay, ny, py in y:
            i = bx & by_
            if not i or (ax, nx, px) == (ay, ny, py):
                continue
            bad = ports_union(
                ports_union(ports_inter(ax, ports_union(ny, py)), ports_inter(nx, ports_union(ay, py))),
                ports_inter(px, ports_union(ay, ny)),
            )
            if bad != NO_PORTS:
                return (i & -i).bit_length() - 1, bad
    return None


def run_tier(
    a: Analysis, direction: str, w: int, pols: list[int], state: list[Part], conflicts: list[Conflict]
) -> list[Part]:
    """Apply the policies `pols` (indexes into `c.admin`, in evaluation order) of one tier."""
    c = a.c

    def run(state: list[Part], ai: int) -> list[Part]:
        for rule in c.admin[ai].rules(direction):
            state = first_match(state, a.admin_rule_match(direction, w, ai, rule), rule.action)
        return merged(state)

    for (_, prio), grp in groupby(pols, key=lambda ai: (c.admin[ai].tier, c.admin[ai].priority)):
        members = list(grp)
        # several actions among the group's rules: the order of its policies may matter
        if len(members) > 1 and len({r.action for ai in members for r in c.admin[ai].rules(direction)}) > 1:
            results = [_fresh(state, run(state, ai)) for ai in members]
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    hit = _conflict(results[x], results[y])
                    if hit is not None:
                        first, second = c.admin[members[x]], c.admin[members[y]]
                        conflicts.append(
                            Conflict(first.key, second.key, first.tier, prio, direction, w, hit[0], hit[1])
                        )
        for ai in members:
            state = run(state, ai)
    return state


def tier_parts(
    a: Analysis, direction: str, w: int, np_pis: list[int], admin_pis: list[int], conflicts: list[Conflict]
) -> list[tuple[int, PortSet]]:
    """Disjoint (peer bits, allowed ports) over workloads and pieces for one pod and direction."""
    c = a.c
    fresh: list[Part] = [(a.full, NO_PORTS, NO_PORTS, NO_PORTS)]
    admin = run_tier(a, direction, w, [i for i in admin_pis if c.admin[i].tier == "Admin"], fresh, conflicts)
    if np_pis:  # NetworkPolicy isolates the pod: allowed iff a rule allows (additive)
        # traffic with the pod's own node is always allowed (the hostNetwork workloads stand for it)
        parts: list[tuple[int, PortSet]] = [(a.full & ~a.host, NO_PORTS)] + ([(a.host, ALL_PORTS)] if a.host else [])
        for pi in np_pis:
            for rule in c.policies[pi].rules(direction):
                for m, ps in np_match(a, direction, w, pi, rule):
                    new = []
                    for b, have in parts:
                        i = b & m
                        if i:
                            new.append((i, ports_union(have, ps)))
                            if i != b:
                                new.append((b ^ i, have))
                        else:
                            new.append((b, have))
                    parts = new
        lower = parts
    else:  # the Baseline tier: its Deny denies; Allow, Pass and no match allow
        # it sees only what the Admin tier left (passed or unmatched): start from the Admin decisions
        start = [(b, ports_union(al, de), al, de) for b, _, al, de in admin]
        base = run_tier(a, direction, w, [i for i in admin_pis if c.admin[i].tier == "Baseline"], start, conflicts)
        return _parts((b, ports_minus(ALL_PORTS, de)) for b, _, _, de in base)
    return _parts(
        (ba & bl, ports_union(al, ports_minus(low, de))) for ba, _, al, de in admin for bl, low in lower if ba & bl
    )


def _parts(parts: Iterable[tuple[int, PortSet]]) -> list[tuple[int, PortSet]]:
    """Parts with equal ports merged; the empty port set left out."""
    out: dict[PortSet, int] = {}
    for b, ps in parts:
        out[ps] = out.get(ps, 0) | b
    return [(b, ps) for ps, b in out.items() if ps != NO_PORTS]


def tier_isolated(c: Any, direction: str, np_pis: list[int], admin_pis: list[int]) -> bool:
    """Isolated in a direction: a NetworkPolicy isolates it, or a cluster-wide policy selecting it
    has a Deny rule for that direction."""
    return bool(np_pis) or any(r.action == "Deny" for ai in admin_pis for r in c.admin[ai].rules(direction))


def admin_selected(a: Analysis, pol: AdminPolicy) -> int:
    """Workloads a cluster-wide policy's subject selects."""
    return a.nsel_bits(pol.ns) & (a.sel_bits(pol.pod) if pol.pod is not None else a.all)
