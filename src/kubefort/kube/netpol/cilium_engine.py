"""The fast engine's profiles for a cluster that holds Cilium policies: CiliumNetworkPolicy,
CiliumClusterwideNetworkPolicy and Kubernetes NetworkPolicy composed as the Cilium agent composes
them (the semantics of each rule: `cilium.py`).

Composition (cilium/cilium v1.20.2 `pkg/policy/repository.go` computePolicyEnforcementAndRules,
`pkg/policy/rule.go`, Documentation/security/policy/deny.rst; read, quoted nowhere), per pod and
direction:

* the pod's *entries* are the rules of that direction (allow and deny) of every Cilium rule whose
  subject selects it (a CNP of its namespace, any CCNP) and of every NetworkPolicy selecting it;
  no entry: the direction is open;
* a matching deny entry (`ingressDeny`/`egressDeny`) denies, whatever allows;
* else, when some entry enables default deny (`enableDefaultDeny.<direction>`, true unless set
  false; a NetworkPolicy always does), the traffic needs a matching allow entry; when none does,
  it is allowed.

A NetworkPolicy is read as the agent reads it (`pkg/k8s/network_policy.go` ParseNetworkPolicy):
selectors over the pod's identity labels (`cilium.identity_labels`, so labels the identity filter
drops match nothing), `podSelector` keys from source `k8s`, `namespaceSelector` keys under
`io.cilium.k8s.namespace.labels.` (`{}`: every namespace), `podSelector` alone: the policy's
namespace; `ipBlock`: external addresses; the rules of a direction count even when `policyTypes`
omits it, and a direction listed in `policyTypes` without rules isolates it.

Peers are bits as in `Analysis`: one per workload, and above them one per *piece* of each
external range (`Cluster.pieces`, cut at every CIDR of every policy), so an external range is
allowed on a port when some piece of it is. Entities: pods are `cluster` (and `all`), external
addresses `world` (and `all`); the other entities (host, remote-node, ...) are no endpoint the
engine models. `toServices` peers stand for the pods the matching Services' selectors select.

With AdminNetworkPolicy / BaselineAdminNetworkPolicy objects too (Cilium itself implements
neither): the Admin tier decides first as the API specifies; what it passes or leaves is decided
by this Cilium layer for a pod that has entries in that direction, and by the Baseline tier for
one that has none (the layer takes the NetworkPolicy tier's place).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefort.kube.netpol import tiers
from kubefort.kube.netpol.cilium import (
    K8S_NS,
    NS_LABELS_PREFIX,
    CiliumPeer,
    CiliumRule,
    CiliumSpec,
    entity_labels,
)
from kubefort.kube.netpol.model import Peer, Policy, Rule, Workload
from kubefort.kube.netpol.ports import ALL_PORTS, NO_PORTS, PortSet, port_set, ports_minus, ports_union
from kubefort.kube.selectors import Selector

if TYPE_CHECKING:
    from kubefort.kube.netpol.analysis import Analysis

K8S_NSL = "k8s:" + NS_LABELS_PREFIX
WORLD = entity_labels("world")
# a hostNetwork pod has the identity of its node: `host` on its own node, `remote-node` elsewhere
NODE_ENTITIES = ("host", "remote-node")
NODES = tuple(entity_labels(x) for x in NODE_ENTITIES)
AnyRule = CiliumRule | Rule


@dataclass(frozen=True, slots=True)
class Service:
    """A v1 Service, as `toServices` peers need it: its labels and pod selector (None: none)."""

    namespace: str
    name: str
    labels: dict[str, str]
    selector: dict[str, str] | None


# -- NetworkPolicy as the agent reads it ------------------------------------------------------
def _k8s(sel: Selector | None, prefix: str = "k8s:") -> tuple[dict[str, str], list[Any]]:
    if sel is None:
        return {}, []
    return {prefix + k: v for k, v in sel.labels}, [(prefix + k, op, vals) for k, op, vals in sel.exprs]


def np_subject(pol: Policy) -> Selector:
    """A NetworkPolicy's podSelector with keys from source k8s (the namespace is checked apart)."""
    labels, exprs = _k8s(pol.selector)
    return Selector(tuple(sorted(labels.items())), tuple(exprs))


def np_peer_selector(pol: Policy, peer: Peer) -> Selector:
    """A NetworkPolicy peer (not an ipBlock) as the endpoint selector the agent builds for it."""
    labels, exprs = _k8s(peer.pod)
    if peer.ns is not None:
        nl, ne = _k8s(peer.ns, K8S_NSL)
        labels.update(nl)
        exprs += ne
        if peer.ns.empty:
            exprs.append((K8S_NS, "Exists", ()))
    else:
        labels[K8S_NS] = pol.namespace
    return Selector(tuple(sorted(labels.items())), tuple(exprs))


def np_affects(pol: Policy, direction: str) -> bool:
    """Has the pod entries of this direction from `pol` (ParseNetworkPolicy)?"""
    return bool(pol.rules(direction)) or pol.affects(direction)


def service_selectors(services: list[Service], peer: CiliumPeer) -> list[Selector | None]:
    """The pods a toServices peer stands for: one selector per matching Service with a selector
    (its keys from source k8s, plus the Service's namespace), None per selector-less one (backend
    addresses known only at runtime). `pkg/policy/k8s/service.go`."""
    out: list[Selector | None] = []
    for svc in services:
        if peer.namespace not in ("", None, svc.namespace):
            continue
        if peer.selector is not None:
            if not peer.selector.matches({"any:" + k: v for k, v in svc.labels.items()}):
                continue
        elif peer.name != svc.name:
            continue
        if svc.selector:
            labels = {"k8s:" + k: v for k, v in svc.selector.items()}
            labels[K8S_NS] = svc.namespace
            out.append(Selector(tuple(sorted(labels.items()))))
        else:
            out.append(None)
    return out


def cilium_ports_for(rule: CiliumRule, dst: Workload | None) -> PortSet:
    """The ports a Cilium rule matches towards `dst`; a named port resolves on the destination's
    container ports of that name (IANA names are case-insensitive) and protocol."""
    ps = rule.static_ports()
    for name, proto in rule.named_ports():
        for pn, pp, num in dst.ports if dst is not None else ():
            if pn.lower() == name and pp == proto:
                ps = ports_union(ps, port_set(proto, num, num))
    return ps


# -- the layer ---------------------------------------------------------------------------------
class CiliumLayer:
    """Identity labels as bitsets over workloads; per-pod profiles of one direction."""

    def __init__(self, a: Analysis) -> None:
        self.a = a
        c = self.c = a.c
        self.labels = [c.cilium_labels(w) for w in c.workloads]
        self.lv: dict[tuple[str, str], int] = {}
        self.keys: dict[str, int] = {}
        for i, labels in enumerate(self.labels):
            bit = 1 << i
            if a.host >> i & 1:  # a hostNetwork pod is the node (reserved:host / remote-node), not an endpoint
                continue
            for kv in labels.items():
                self.lv[kv] = self.lv.get(kv, 0) | bit
                self.keys[kv[0]] = self.keys.get(kv[0], 0) | bit
        self._sel: dict[Selector, int] = {}
        self._rule: dict[int, tuple[int, bool]] = {}  # id(rule) -> (peer bits, wildcard)
        self._named: dict[Any, list[tuple[int, PortSet]]] = {}
        self.specs: list[tuple[str, CiliumSpec]] = [(p.key, s) for p in c.cilium for s in p.specs]
        self.spec_bits = [self.sel_bits(s.subject) if s.subject is not None else 0 for _, s in self.specs]
        self.np_bits = [self.sel_bits(np_subject(p)) & self.lv.get((K8S_NS, p.namespace), 0) for p in c.policies]

    def sel_bits(self, sel: Selector) -> int:
        """Workloads whose identity labels match `sel`."""
        b = self._sel.get(sel)
        if b is None:
            from kubefort.kube.netpol.analysis import selector_bits  # analysis imports this module

            b = self._sel[sel] = selector_bits(sel, self.a.pods, self.lv, self.keys)
        return b

    # -- what one rule matches ------------------------------------------------------------------
    def peer_bits(self, pol: Policy | None, rule: AnyRule) -> int:
        """The peers (workload and piece bits) a rule's L3 part matches (`pol`: its NetworkPolicy)."""
        got = self._rule.get(id(rule))
        if got is None:
            got = self._rule[id(rule)] = self._peer_bits(pol, rule)
        return got[0]

    def _peer_bits(self, pol: Policy | None, rule: AnyRule) -> tuple[int, bool]:
        a = self.a
        if isinstance(rule, Rule):  # a NetworkPolicy rule (`pol` is its policy)
            if rule.peers is None:
                return a.full, True
            b = 0
            for q in rule.peers:
                if q.cidr is not None:
                    b |= tiers.piece_bits(a, q.block)
                elif pol is not None:
                    b |= self.sel_bits(np_peer_selector(pol, q))
            return b, False
        if rule.peers is None:  # no L3 member: every peer when the rule has ports, else none
            return (a.full, True) if rule.ports else (0, False)
        b, checks = 0, 0
        for p in rule.peers:
            if p.kind == "service":
                for sel in service_selectors(self.c.services, p):
                    checks += 1
                    b |= self.sel_bits(sel) if sel is not None else 0
                continue
            checks += 1
            if p.kind == "endpoints" and p.selector is not None:
                b |= self.sel_bits(p.selector) | (a.all_pieces if p.matches_labels(WORLD) else 0)
                b |= a.host if any(p.matches_labels(x) for x in NODES) else 0
            elif p.kind == "entity":
                b |= (a.all if p.matches_entity("pod") else 0) | (a.all_pieces if p.matches_entity("world") else 0)
                b |= a.host if any(p.matches_entity(x) for x in NODE_ENTITIES) else 0
            elif p.kind == "cidr":
                b |= tiers.piece_bits(a, p.block)
        if checks == 0 and rule.peers:  # only toServices, none matching: the L3 part stays empty
            return (a.full, True) if rule.ports else (0, False)
        return b, False

    def match(self, direction: str, w: int, pol: Policy | None, rule: AnyRule) -> list[tuple[int, PortSet]]:
        """(peer bits, ports) the rule matches for subject `w`: ingress ports resolve on `w`,
        egress ones on each destination (pieces: numbers only)."""
        a, c = self.a, self.c
        bits = self.peer_bits(pol, rule)
        if not bits:
            return []

        def resolve(dst: Workload | None) -> PortSet:
            return cilium_ports_for(rule, dst) if isinstance(rule, CiliumRule) else c.rule_ports_for(rule, dst)

        if direction == "ingress":
            ps = resolve(c.workloads[w])
            return [(bits, ps)] if ps != NO_PORTS else []
        static = rule.static_ports()
        pbits, wbits = bits & a.all_pieces, bits & a.all
        out = [(pbits, static)] if pbits and static != NO_PORTS else []
        if not rule.named_ports():
            return out + ([(wbits, static)] if wbits and static != NO_PORTS else [])
        key = (type(rule), rule.ports)
        classes = self._named.get(key)
        if classes is None:
            groups: dict[PortSet, int] = {}
            for sb, rep in zip(a.sig_bits, a.sig_rep, strict=False):
                got = resolve(c.workloads[rep])
                groups[got] = groups.get(got, 0) | sb
            classes = self._named[key] = [(b, ps) for ps, b in groups.items()]
        return out + [(wbits & sb, ps) for sb, ps in classes if wbits & sb and ps != NO_PORTS]

    # -- profiles -------------------------------------------------------------------------------
    def entries(self, direction: str, specs: list[int], nps: list[int]) -> list[tuple[Policy | None, AnyRule, bool]]:
        """(NetworkPolicy or None, rule, deny) of a pod selected by these specs and policies."""
        out: list[tuple[Policy | None, AnyRule, bool]] = []
        for si in specs:
            s = self.specs[si][1]
            out += [(None, r, False) for r in s.allows(direction)] + [(None, r, True) for r in s.denies(direction)]
        for pi in nps:
            out += [(self.c.policies[pi], r, False) for r in self.c.policies[pi].rules(direction)]
        return out

    def parts(self, direction: str, w: int, specs: list[int], nps: list[int]) -> list[tuple[int, PortSet]]:
        """Disjoint (peer bits, allowed ports) for pod `w` with entries from `specs` and `nps`."""
        a = self.a
        if not specs and not nps:
            return [(a.full, ALL_PORTS)]
        dd = bool(nps) or any(self.specs[si][1].default_deny(direction) for si in specs)
        state: list[tuple[int, PortSet, PortSet]] = [(a.full, NO_PORTS, NO_PORTS)]  # bits, allowed, denied
        for pol, rule, deny in self.entries(direction, specs, nps):
            if not deny and not dd:
                continue  # allows add nothing to a direction without default deny
            for m, ps in self.match(direction, w, pol, rule):
                new = []
                for b, al, de in state:
                    i = b & m
                    if not i:
                        new.append((b, al, de))
                        continue
                    new.append((i, al, ports_union(de, ps)) if deny else (i, ports_union(al, ps), de))
                    if i != b:
                        new.append((b ^ i, al, de))
                state = new
        out: dict[PortSet, int] = {}
        for b, al, de in state:
            b &= ~a.host
            ps = ports_minus(al if dd else ALL_PORTS, de)
            if b:
                out[ps] = out.get(ps, 0) | b
        if a.host:
            ps = self.node_ports(direction, w, specs, nps, dd)
            out[ps] = out.get(ps, 0) | a.host
        return [(b, ps) for ps, b in out.items() if ps != NO_PORTS]

    def node_ports(self, direction: str, w: int, specs: list[int], nps: list[int], dd: bool) -> PortSet:
        """The node (every hostNetwork workload): reached through either of its identities, `host`
        (its own node; ingress: allow-localhost) or `remote-node`, each with its own entries."""
        c = self.c
        dst = c.workloads[w] if direction == "ingress" else None
        out = NO_PORTS
        for entity in NODE_ENTITIES:
            al = ALL_PORTS if direction == "ingress" and entity == "host" else NO_PORTS
            de = NO_PORTS
            for pol, rule, deny in self.entries(direction, specs, nps):
                if (deny or dd) and rule_hits(c, pol, rule, entity):
                    ps = rule_ports(c, rule, dst)
                    de, al = (ports_union(de, ps), al) if deny else (de, ports_union(al, ps))
            out = ports_union(out, ports_minus(al if dd else ALL_PORTS, de))
        return out

    def selection(self, direction: str) -> tuple[list[list[int]], list[list[int]]]:
        """Per workload: the specs and the NetworkPolicies giving it entries of `direction`."""
        n = self.a.n
        by_spec: list[list[int]] = [[] for _ in range(n)]
        by_np: list[list[int]] = [[] for _ in range(n)]
        members: dict[int, list[int]] = {}
        for bits_list, flags, out in (
            (self.spec_bits, [s.affects(direction) for _, s in self.specs], by_spec),
            (self.np_bits, [np_affects(p, direction) for p in self.c.policies], by_np),
        ):
            for i, (bits, on) in enumerate(zip(bits_list, flags, strict=True)):
                if on and bits:
                    if bits not in members:
                        members[bits] = self.a_bits(bits)
                    for w in members[bits]:
                        out[w].append(i)
        return by_spec, by_np

    @staticmethod
    def a_bits(b: int) -> list[int]:
        from kubefort.kube.netpol.analysis import bit_indexes

        return bit_indexes(b)

    def profiles(self, direction: str) -> list[tuple[tuple[Any, ...], bool, list[tuple[int, PortSet]]]]:
        """Per workload: (profile key, has entries, parts), parts computed once per key."""
        a = self.a
        by_spec, by_np = self.selection(direction)
        by_admin: list[list[int]] = [[] for _ in range(a.n)]
        for ai, pol in enumerate(self.c.admin):
            if pol.rules(direction):
                for w in self.a_bits(a.admin_selected[ai]):
                    by_admin[w].append(ai)
        cache: dict[tuple[Any, ...], list[tuple[int, PortSet]]] = {}
        out = []
        for w in range(a.n):
            sig = a.sig_of[w] if direction == "ingress" else 0
            key = (tuple(by_spec[w]), tuple(by_np[w]), tuple(by_admin[w]), sig)
            parts = cache.get(key)
            if parts is None:
                if by_admin[w]:
                    parts = self.tier_parts(direction, w, by_spec[w], by_np[w], by_admin[w])
                else:
                    parts = self.parts(direction, w, by_spec[w], by_np[w])
                cache[key] = parts
            has = bool(by_spec[w] or by_np[w]) or tiers.tier_isolated(self.c, direction, [], by_admin[w])
            out.append((key, has, parts))
        return out

    def tier_parts(
        self, direction: str, w: int, specs: list[int], nps: list[int], admin: list[int]
    ) -> list[tuple[int, PortSet]]:
        """The Admin tier first, then this layer (a pod with entries) or the Baseline tier."""
        a, c = self.a, self.c
        fresh: list[tiers.Part] = [(a.full, NO_PORTS, NO_PORTS, NO_PORTS)]
        first = tiers.run_tier(a, direction, w, [i for i in admin if c.admin[i].tier == "Admin"], fresh, a.conflicts)
        if specs or nps:
            lower = self.parts(direction, w, specs, nps)
            rest = a.full
            for b, _ in lower:
                rest &= ~b
            lower.append((rest, NO_PORTS))  # complete: the peers no allow reaches
            merged = [
                (ba & bl, ports_union(al, ports_minus(low, de)))
                for ba, _, al, de in first
                for bl, low in lower
                if ba & bl
            ]
        else:
            start = [(b, ports_union(al, de), al, de) for b, _, al, de in first]
            base = tiers.run_tier(
                a, direction, w, [i for i in admin if c.admin[i].tier == "Baseline"], start, a.conflicts
            )
            merged = [(b, ports_minus(ALL_PORTS, de)) for b, _, _, de in base]
        out: dict[PortSet, int] = {}
        for b, ps in merged:  # disjoint parts (products of two partitions)
            out[ps] = out.get(ps, 0) | b
        return [(b, ps) for ps, b in out.items() if ps != NO_PORTS]


# -- direct evaluation (explain) -----------------------------------------------------------------
def rule_hits(c: Any, pol: Policy | None, rule: AnyRule, rep: int | tuple[int, int] | str) -> bool:
    """Does the rule's L3 part match the peer `rep` (a workload index, an address piece that
    every block holds wholly or not at all, or a node identity: "host", "remote-node")? The
    per-pair form of `CiliumLayer.peer_bits`."""
    piece = rep if isinstance(rep, tuple) else None
    node = isinstance(rep, str)
    labels = (
        WORLD
        if piece is not None
        else entity_labels(rep)
        if isinstance(rep, str)
        else c.cilium_labels(c.workloads[rep])
    )
    if isinstance(rule, Rule):
        if rule.peers is None:
            return True
        if node:  # NetworkPolicy peers: selectors never match the node, ipBlock never matches nodes in Cilium
            return False
        for q in rule.peers:
            if q.cidr is not None:
                if piece is not None and any(lo <= piece[1] and piece[0] <= hi for lo, hi in q.block):
                    return True
            elif pol is not None and piece is None and np_peer_selector(pol, q).matches(labels):
                return True
        return False
    if rule.peers is None:
        return bool(rule.ports)
    hit, checks = False, 0
    for p in rule.peers:
        if p.kind == "service":
            for sel in service_selectors(c.services, p):
                checks += 1
                hit = hit or (sel is not None and piece is None and sel.matches(labels))
            continue
        checks += 1
        if p.kind == "endpoints":
            hit = hit or p.matches_labels(labels)
        elif p.kind == "entity":
            hit = hit or p.matches_entity(rep if isinstance(rep, str) else "world" if piece is not None else "pod")
        elif p.kind == "cidr" and piece is not None:
            hit = hit or p.overlaps(*piece)
    if checks == 0 and rule.peers:
        return bool(rule.ports)
    return hit


def rule_ports(c: Any, rule: AnyRule, dst: Workload | None) -> PortSet:
    return cilium_ports_for(rule, dst) if isinstance(rule, CiliumRule) else c.rule_ports_for(rule, dst)


def selecting(c: Any, direction: str, w: Workload) -> list[tuple[str, bool, Policy | None, list[tuple[AnyRule, bool]]]]:
    """(name, default deny, NetworkPolicy or None, [(rule, deny)]) of every Cilium rule and
    NetworkPolicy giving `w` entries of `direction`."""
    labels = c.cilium_labels(w)
    out: list[tuple[str, bool, Policy | None, list[tuple[AnyRule, bool]]]] = []
    if w.host_network:  # the node: host policies (nodeSelector) are not modelled
        return out
    for p in c.cilium:
        for s in p.specs:
            if s.selects(labels) and s.affects(direction):
                name = p.key if s.index is None else f"{p.key} specs[{s.index}]"
                rules = [(r, False) for r in s.allows(direction)] + [(r, True) for r in s.denies(direction)]
                out.append((name, s.default_deny(direction), None, rules))
    for pol in c.policies:
        if pol.namespace == w.namespace and np_affects(pol, direction) and np_subject(pol).matches(labels):
            out.append((pol.key, True, pol, [(r, False) for r in pol.rules(direction)]))
    return out
