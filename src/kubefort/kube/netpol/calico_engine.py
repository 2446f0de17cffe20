"""The fast engine's profiles for a cluster that holds Calico policies: Calico NetworkPolicy,
GlobalNetworkPolicy and Tier objects (`calico.py`: the model and each field's meaning), with
Kubernetes NetworkPolicies and the AdminNetworkPolicy tiers as Calico runs them.

Felix's evaluation (projectcalico/calico commit 87c15906: `felix/rules/endpoints.go`,
`felix/calc/policy_sorter.go`, `felix/calc/event_sequencer.go`; read, quoted nowhere), per pod
and direction:

* the *tiers* holding a policy that selects the pod and governs the direction (its `types`), in
  tier order (order, +Inf when absent, then name; a tier without a Tier object sorts after all
  others and its default action is Deny); within a tier the policies by order (+Inf when
  absent), then "name/namespace/kind";
* the first rule that matches decides: Allow accepts the direction, Deny drops, Pass skips the
  rest of the tier, Log goes on; a tier whose rules decided nothing ends in its defaultAction
  (Deny, or Pass: on to the next tier);
* after the tiers, the namespace profile allows: a pod no policy selects in a direction is open.

doNotTrack and preDNAT policies never reach a pod (`CalicoPolicy.applies_to_pods`). A Kubernetes
NetworkPolicy is a policy of kind KubernetesNetworkPolicy in tier `default` with order 1000
(`libcalico-go/.../conversion/conversion.go`): Allow rules only, read with the NetworkPolicy
model except that an `ipBlock` of 0.0.0.0/0 also holds every pod (a pod's address is in it).
AdminNetworkPolicy and BaselineAdminNetworkPolicy are Calico's `kube-admin` (order 1,000) and
`kube-baseline` (order 10,000,000) tiers, both with defaultAction Pass (`calico.BUILTIN_TIERS`):
they are evaluated at those places with the Network Policy API's first-match rules (`tiers.py`).

Matching a rule: the IP versions it applies to (`ipVersion`, and a nets/notNets list with no CIDR
of a version drops the rule for it: `felix/rules/policy.go` FilterRuleToIPVersion); protocol /
notProtocol over TCP, UDP and SCTP (an `icmp` match never holds for them; `http` is not matched
at L4); the source and destination entity rules: the effective positive selector (pods only),
notSelector (an outside address never matches it), nets / notNets (a pod is in no CIDR but a /0
of the packet's version; pods talk IPv4), destination ports / notPorts, a named port resolving
on the destination pod's container ports of that name and protocol. Peers are bits as in
`Analysis`: workloads, and pieces of the external ranges (every CIDR of every policy cuts them).

Not modelled, refused per policy with a problem (`unsupported`): source ports (the client's
choice: the answer would no longer split into an egress and an ingress side), `services`
matches (they need the Service's EndpointSlices), and Calico policies placed in the
kube-admin / kube-baseline tiers of a scan holding AdminNetworkPolicy objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefort.kube.netpol import calico_selector as cs
from kubefort.kube.netpol import tiers
from kubefort.kube.netpol.calico import (
    BUILTIN_TIERS,
    DEFAULT_TIER,
    KUBE_ADMIN_TIER,
    KUBE_BASELINE_TIER,
    LABEL_NAMESPACE,
    LABEL_ORCHESTRATOR,
    LABEL_SERVICE_ACCOUNT,
    NAME_LABEL,
    NS_PREFIX,
    SA_PREFIX,
    CalicoPolicy,
    CalicoPort,
    CalicoRule,
    CalicoTier,
    EntityRule,
)
from kubefort.kube.netpol.cidr import V6, cidr_prefix, cidr_range
from kubefort.kube.netpol.model import Peer, Policy, Rule, Workload
from kubefort.kube.netpol.ports import ALL_PORTS, NO_PORTS, PortSet, port_set, ports_minus, ports_union

if TYPE_CHECKING:
    from kubefort.kube.netpol.analysis import Analysis

PORT_PROTOCOLS = {6: "TCP", 17: "UDP", 132: "SCTP"}
KNP_ORDER = 1000.0
ADMIN_TIERS = {"Admin": KUBE_ADMIN_TIER, "Baseline": KUBE_BASELINE_TIER}
Rep = int | tuple[int, int]  # a workload index or an address piece


def calico_labels(
    labels: dict[str, str], namespace: str, ns_labels: dict[str, str], sa: str, sa_labels: dict[str, str]
) -> dict[str, str]:
    """A pod's labels as Felix sees them: the inherited profile labels `pcns.<k>` of its namespace
    and `pcsa.<k>` of its service account (each with `projectcalico.org/name`), under its own,
    then projectcalico.org/namespace, /orchestrator=k8s and /serviceaccount (names shorter than
    63) (`conversion.go` NamespaceToProfile, ServiceAccountToProfile; `label_inheritance_index.go`)."""
    out = {NS_PREFIX + k: v for k, v in ns_labels.items()}
    out[NS_PREFIX + NAME_LABEL] = namespace
    out.update({SA_PREFIX + k: v for k, v in sa_labels.items()})
    out[SA_PREFIX + NAME_LABEL] = sa
    out.update(labels)
    out[LABEL_NAMESPACE], out[LABEL_ORCHESTRATOR] = namespace, "k8s"
    if len(sa) < 63:
        out[LABEL_SERVICE_ACCOUNT] = sa
    return out


def unsupported(pol: CalicoPolicy, has_admin: bool) -> str | None:
    """Why the engine cannot judge `pol` exactly (None: it can)."""
    if has_admin and pol.tier in (KUBE_ADMIN_TIER, KUBE_BASELINE_TIER):
        return f"a Calico policy in tier {pol.tier}, beside AdminNetworkPolicy objects, is not modelled"
    for r in (*pol.ingress, *pol.egress):
        where = f"spec.{r.direction}[{r.index}]"
        if r.source.ports or r.source.not_ports:
            return f"{where}: source ports are not modelled (the client chooses them)"
        if r.source.service is not None or r.destination.service is not None:
            return f"{where}: services matches are not modelled (they need the Service's EndpointSlices)"
    return None


# -- tiers and the policies in them -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Entry:
    """One policy of the layer: a Calico policy, or a Kubernetes NetworkPolicy (`k8s`: its index)."""

    key: str
    tier: str
    sort: tuple[float, str]
    calico: CalicoPolicy | None = None
    k8s: int | None = None


def entries(c: Any) -> list[Entry]:
    """Every policy that may decide pod traffic, in evaluation order (tier, then policy)."""
    out = [Entry(p.key, p.tier, p.sort_key, calico=p) for p in c.calico if p.applies_to_pods]
    out += [
        Entry(
            f"NetworkPolicy/{p.key}",
            DEFAULT_TIER,
            (KNP_ORDER, f"{p.name}/{p.namespace}/KubernetesNetworkPolicy"),
            k8s=i,
        )
        for i, p in enumerate(c.policies)
    ]
    return sorted(out, key=lambda e: (tier_key(c, e.tier), e.sort))


def tier_key(c: Any, name: str) -> tuple[int, float, str]:
    t: CalicoTier | None = c.calico_tiers.get(name)
    if t is not None:
        return 0, math.inf if t.order is None else t.order, name
    if name in BUILTIN_TIERS:
        return 0, BUILTIN_TIERS[name][0], name
    return 1, math.inf, name


def default_action(c: Any, name: str) -> str:
    t: CalicoTier | None = c.calico_tiers.get(name)
    if t is not None:
        return t.default_action
    return BUILTIN_TIERS[name][1] if name in BUILTIN_TIERS else "Deny"


def governs(c: Any, e: Entry, direction: str) -> bool:
    return e.calico.governs(direction) if e.calico is not None else c.policies[e.k8s].affects(direction)


def rules_of(c: Any, e: Entry, direction: str) -> list[tuple[str, CalicoRule | Rule]]:
    """(action, rule) of an entry in one direction, in order (Log rules left out: they decide nothing)."""
    if e.calico is not None:
        return [(r.action, r) for r in e.calico.rules(direction) if r.action != "Log"]
    return [("Allow", r) for r in c.policies[e.k8s].rules(direction)]


def plan(c: Any, found: list[Entry], admin: list[Any]) -> list[tuple[str, list[Entry], list[Any]]]:
    """(tier, its entries, its cluster-wide policies) in tier order, for the selecting `found`
    (in evaluation order) and `admin` (c.admin items or indexes, with the policy in `.tier`)."""
    by: dict[str, tuple[list[Entry], list[Any]]] = {}
    for e in found:
        by.setdefault(e.tier, ([], []))[0].append(e)
    for x in admin:
        pol = c.admin[x] if isinstance(x, int) else x
        by.setdefault(ADMIN_TIERS[pol.tier], ([], []))[1].append(x)
    return [(t, *by[t]) for t in sorted(by, key=lambda t: tier_key(c, t))]


# -- what one rule matches ----------------------------------------------------------------------
def versions(rule: CalicoRule) -> tuple[int, ...]:
    """The IP versions the rule is rendered for (FilterRuleToIPVersion)."""
    lists = [x for er in (rule.source, rule.destination) for x in (er.nets, er.not_nets) if x]
    return tuple(
        v for v in (4, 6) if rule.ip_version in (None, v) and all(any(cidr_prefix(n)[0] == v for n in x) for x in lists)
    )


def protocols(rule: CalicoRule) -> tuple[str, ...]:
    if rule.icmp is not None:
        return ()
    return tuple(
        name for num, name in PORT_PROTOCOLS.items() if rule.protocol in (None, num) and rule.not_protocol != num
    )


def pod_in_nets(er: EntityRule, version: int) -> bool:
    """nets / notNets for a pod (an address of `version` in no CIDR but a /0 of that version)."""
    catch = [cidr_prefix(n) == (version, 0) for n in er.nets]
    return (not er.nets or any(catch)) and not any(cidr_prefix(n) == (version, 0) for n in er.not_nets)


def piece_in_nets(er: EntityRule, piece: tuple[int, int]) -> bool:
    """nets / notNets for an address piece (wholly inside or outside every CIDR); never a positive selector."""
    if er.selector is not None:
        return False
    hits = [cidr_range(n) for n in er.nets]
    if er.nets and not any(lo <= piece[0] and piece[1] <= hi for lo, hi in hits):
        return False
    return not any(lo <= piece[1] and piece[0] <= hi for lo, hi in map(cidr_range, er.not_nets))


def piece_version(piece: tuple[int, int]) -> int:
    return 6 if piece[0] >= V6 else 4


def dest_ports(rule: CalicoRule, dst: Workload | None) -> PortSet:
    """The destination ports / notPorts of a rule towards `dst` (None: an outside address, where
    port names never resolve), within the rule's protocols."""
    protos = protocols(rule)

    def of(ports: tuple[CalicoPort, ...]) -> PortSet:
        ps = NO_PORTS
        for p in ports:
            for proto in protos:
                if p.name is None:
                    ps = ports_union(ps, port_set(proto, max(p.lo, 1), p.hi))
                for n in dst.resolve(p.name, proto) if dst is not None and p.name is not None else ():
                    ps = ports_union(ps, port_set(proto, n, n))
        return ps

    base = NO_PORTS
    if rule.destination.ports:
        base = of(rule.destination.ports)
    else:
        for proto in protos:
            base = ports_union(base, port_set(proto))
    return ports_minus(base, of(rule.destination.not_ports))


def sides(rule: CalicoRule) -> tuple[EntityRule, EntityRule]:
    """(the subject's side, the peer's side) of a rule: ingress subjects are destinations."""
    return (rule.destination, rule.source) if rule.direction == "ingress" else (rule.source, rule.destination)


def catch_all(pol: Policy, peer: Peer) -> bool:
    """Does a NetworkPolicy ipBlock hold pods as Calico reads it (cidr 0.0.0.0/0, no such except)?"""
    if peer.cidr is None or cidr_prefix(peer.cidr) != (4, 0):
        return False
    node: Any = pol.resource.obj if pol.resource is not None else {}
    for step in peer.path:
        ok = isinstance(node, dict) or (isinstance(node, list) and isinstance(step, int))
        node = node[step] if ok else None
    excepts = ((node or {}).get("ipBlock") or {}).get("except") or [] if isinstance(node, dict) else []
    return not any(isinstance(x, str) and cidr_prefix(x) == (4, 0) for x in excepts)


# -- the layer ----------------------------------------------------------------------------------
class CalicoLayer:
    """Calico labels as bitsets over workloads; per-pod profiles of one direction."""

    def __init__(self, a: Analysis) -> None:
        self.a = a
        c = self.c = a.c
        self.values: dict[str, dict[str, int]] = {}  # label -> value -> workloads holding it
        for i, w in enumerate(c.workloads):
            if w.host_network:  # the node's address: no workload endpoint, no selector matches it
                continue
            for k, v in c.calico_labels(w).items():
                per = self.values.setdefault(k, {})
                per[v] = per.get(v, 0) | 1 << i
        self._sel: dict[cs.Node, int] = {}
        self._match: dict[Any, tiers.Match] = {}
        self.entries = entries(c)
        self.subject_bits = [
            self.node_bits(e.calico.selects) if e.calico is not None else a.selected[e.k8s or 0] for e in self.entries
        ]

    # -- selectors ------------------------------------------------------------------------------
    def node_bits(self, node: cs.Node) -> int:
        """The workloads whose Calico labels match a selector."""
        b = self._sel.get(node)
        if b is None:
            b = self._sel[node] = self._eval(node)
        return b

    def _eval(self, node: cs.Node) -> int:
        everyone = self.a.pods
        if isinstance(node, cs.Not):
            return everyone & ~self.node_bits(node.operand)
        if isinstance(node, (cs.And, cs.Or)):
            parts = [self.node_bits(o) for o in node.operands]
            b = parts[0]
            for p in parts[1:]:
                b = b & p if isinstance(node, cs.And) else b | p
            return b
        if isinstance(node, (cs.All, cs.Global)):
            return everyone
        label = getattr(node, "label", "")
        b = 0  # the workloads holding `label` with a value the node accepts; absent label: below
        for v, bits in self.values.get(label, {}).items():
            if node.matches({label: v}):
                b |= bits
        if node.matches({}):  # != and not in also match where the label is absent
            held = 0
            for bits in self.values.get(label, {}).values():
                held |= bits
            b |= everyone & ~held
        return b

    def entity_pods(self, er: EntityRule, version: int = 4) -> int:
        """The workloads an entity rule matches (as pods talking `version`)."""
        if not pod_in_nets(er, version):
            return 0
        b = self.node_bits(er.selector) if er.selector is not None else self.a.all
        return b & ~self.node_bits(er.not_selector) if er.not_selector is not None else b

    # -- rules ----------------------------------------------------------------------------------
    def match(self, direction: str, w: int, e: Entry, rule: CalicoRule | Rule) -> tiers.Match:
        """(peer bits, ports) a rule of `e` matches for subject `w`, memoised."""
        a = self.a
        if isinstance(rule, Rule):
            pi = e.k8s if e.k8s is not None else -1
            m = tiers.np_match(a, direction, w, pi, rule)
            if rule.peers is not None and any(catch_all(self.c.policies[pi], q) for q in rule.peers):
                static, named = rule.static_ports(), bool(rule.named_ports())

                def resolve(dst: Workload) -> PortSet:
                    return self.c.rule_ports_for(rule, dst)

                m = m + tiers.match_ports(a, direction, w, a.all, 0, static, named, resolve, ("np", rule.ports))
            return m
        own, peer = sides(rule)
        vs = [v for v in versions(rule) if self.entity_pods(own, v) >> w & 1]
        key = (id(rule), tuple(vs), a.sig_of[w] if direction == "ingress" else 0)
        got = self._match.get(key)
        if got is None:
            wbits = self.entity_pods(peer) if 4 in vs else 0
            pbits = 0
            for k, piece in enumerate(a.pieces):
                if piece_version(piece) in vs and piece_in_nets(peer, piece):
                    pbits |= 1 << (a.n + k)
            named = any(p.name for p in (*rule.destination.ports, *rule.destination.not_ports))
            cache = ("calico", rule.destination.ports, rule.destination.not_ports, protocols(rule))
            got = self._match[key] = tiers.match_ports(
                a, direction, w, wbits, pbits, dest_ports(rule, None), named, lambda d: dest_ports(rule, d), cache
            )
        return got

    def self_key(self, direction: str, w: int, found: list[int]) -> tuple[bool, ...]:
        """Which subject-side entity rules of the selecting entries hold for `w`."""
        out: list[bool] = []
        for ei in found:
            e = self.entries[ei]
            for r in e.calico.rules(direction) if e.calico is not None else ():
                own = sides(r)[0]
                if own.selector is not None or own.not_selector is not None:
                    out.append(bool(self.entity_pods(own, 4) >> w & 1) or bool(self.entity_pods(own, 6) >> w & 1))
        return tuple(out)

    # -- profiles -------------------------------------------------------------------------------
    def parts(
        self, direction: str, w: int, steps: list[tuple[str, list[Entry], list[Any]]]
    ) -> list[tuple[int, PortSet]]:
        """Disjoint (peer bits, allowed ports) for pod `w`, tier by tier."""
        a = self.a
        state: list[tiers.Part] = [(a.full, NO_PORTS, NO_PORTS, NO_PORTS)]
        for tier, ents, admin in steps:
            if admin:
                state = tiers.run_tier(a, direction, w, admin, state, a.conflicts)
            for e in ents:
                for action, rule in rules_of(self.c, e, direction):
                    state = tiers.first_match(state, self.match(direction, w, e, rule), action)
            deny_rest = not admin and default_action(self.c, tier) != "Pass"
            new = []
            for b, dec, al, de in state:  # end of tier: what passed is undecided again
                de = ports_union(de, ports_minus(ALL_PORTS, dec)) if deny_rest else de
                new.append((b, ports_union(al, de), al, de))
            state = tiers.merged(new)
        out: dict[PortSet, int] = {}
        for b, _, _, de in state:
            ps = ports_minus(ALL_PORTS, de)
            out[ps] = out.get(ps, 0) | b
        return [(b, ps) for ps, b in out.items() if ps != NO_PORTS]

    def profiles(self, direction: str) -> list[tuple[tuple[Any, ...], bool, list[tuple[int, PortSet]]]]:
        """Per workload: (profile key, has a selecting policy, parts), parts computed once per key."""
        a, c = self.a, self.c
        found: list[list[int]] = [[] for _ in range(a.n)]
        for i, (e, bits) in enumerate(zip(self.entries, self.subject_bits, strict=True)):
            if bits and governs(c, e, direction):
                for w in tiers_bits(bits):
                    found[w].append(i)
        by_admin: list[list[int]] = [[] for _ in range(a.n)]
        for ai, pol in enumerate(c.admin):
            if pol.rules(direction):
                for w in tiers_bits(a.admin_selected[ai]):
                    by_admin[w].append(ai)
        cache: dict[tuple[Any, ...], list[tuple[int, PortSet]]] = {}
        out = []
        for w in range(a.n):
            sig = a.sig_of[w] if direction == "ingress" else 0
            key = (tuple(found[w]), tuple(by_admin[w]), sig, self.self_key(direction, w, found[w]))
            parts = cache.get(key)
            if parts is None:
                steps = plan(c, [self.entries[i] for i in found[w]], by_admin[w])
                parts = cache[key] = self.parts(direction, w, steps)
            has = bool(found[w]) or tiers.tier_isolated(c, direction, [], by_admin[w])
            out.append((key, has, parts))
        return out


def tiers_bits(b: int) -> list[int]:
    from kubefort.kube.netpol.analysis import bit_indexes  # analysis imports this module

    return bit_indexes(b)


# -- direct evaluation (explain) ----------------------------------------------------------------
def selecting(c: Any, direction: str, w: Workload) -> list[Entry]:
    """The entries selecting `w` and governing `direction`, in evaluation order."""
    labels = c.calico_labels(w)
    out: list[Entry] = []
    if w.host_network:  # the node: host endpoints are not modelled
        return out
    for e in entries(c):
        if not governs(c, e, direction):
            continue
        if e.calico.selects.matches(labels) if e.calico is not None else c.selected_by(c.policies[e.k8s], w):
            out.append(e)
    return out


def rule_ports(c: Any, e: Entry, rule: CalicoRule | Rule, w: Workload, rep: Rep, dst: Workload | None) -> PortSet:
    """The ports a rule of `e` matches between its subject `w` and the peer `rep` (the per-pair
    form of `CalicoLayer.match`)."""
    if isinstance(rule, Rule):
        pol = c.policies[e.k8s]
        if rule.peers is None:
            hit = True
        elif isinstance(rep, tuple):
            hit = any(
                q.cidr is not None and any(lo <= rep[1] and rep[0] <= hi for lo, hi in q.block) for q in rule.peers
            )
        else:
            peer_w = c.workloads[rep]
            hit = any(c.peer_matches_workload(pol, q, peer_w) or catch_all(pol, q) for q in rule.peers)
        return c.rule_ports_for(rule, dst) if hit else NO_PORTS
    own, peer = sides(rule)
    version = piece_version(rep) if isinstance(rep, tuple) else 4
    if version not in versions(rule) or not _pod_matches(own, c.calico_labels(w), version):
        return NO_PORTS
    if isinstance(rep, tuple):
        hit = piece_in_nets(peer, rep)
    elif c.workloads[rep].host_network:  # the node's address: selectors never match it
        hit = pod_in_nets(peer, 4) and peer.selector is None
    else:
        hit = _pod_matches(peer, c.calico_labels(c.workloads[rep]), 4)
    return dest_ports(rule, dst) if hit else NO_PORTS


def _pod_matches(er: EntityRule, labels: dict[str, str], version: int) -> bool:
    return (
        pod_in_nets(er, version)
        and (er.selector is None or er.selector.matches(labels))
        and (er.not_selector is None or not er.not_selector.matches(labels))
    )
