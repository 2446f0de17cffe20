"""The fast engine: selector matches as bitsets over workloads, per-pod profiles, the NumPy matrix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.netpol import tiers
from kubefort.kube.netpol.admin import AdminRule
from kubefort.kube.netpol.calico_engine import CalicoLayer
from kubefort.kube.netpol.cilium_engine import CiliumLayer
from kubefort.kube.netpol.cluster import Cluster
from kubefort.kube.netpol.model import External, Policy, Rule
from kubefort.kube.netpol.ports import (
    ALL_PORTS,
    NO_PORTS,
    PortSet,
    ports_contain,
    ports_inter,
    ports_minus,
    ports_union,
)
from kubefort.kube.selectors import Selector


def bit_indexes(b: int) -> list[int]:
    """Indexes of the set bits of b."""
    s = bin(b)[:1:-1]
    out, i = [], s.find("1")
    while i >= 0:
        out.append(i)
        i = s.find("1", i + 1)
    return out


@dataclass(slots=True)
class _Profile:
    """The ingress (or egress) behaviour shared by every pod with the same selecting policies."""

    members: list[int] = field(default_factory=list)
    isolated: bool = False
    parts: list[tuple[int, PortSet]] = field(default_factory=list)  # disjoint peer bitsets -> ports
    ext: list[PortSet] = field(default_factory=list)  # per external peer


def selector_bits(sel: Selector, everyone: int, by_label: dict[Any, int], by_key: dict[str, int]) -> int:
    """The workloads (bits of `everyone`) a label selector matches, from the bits of the workloads
    holding each (key, value) (`by_label`) and each key (`by_key`)."""
    b = everyone
    for kv in sel.labels:
        b &= by_label.get(kv, 0)
    for k, op, vals in sel.exprs:
        if op in ("In", "NotIn"):
            m = 0
            for v in vals:
                m |= by_label.get((k, v), 0)
            b &= m if op == "In" else everyone & ~m
        else:
            m = by_key.get(k, 0)
            b &= m if op == "Exists" else everyone & ~m
    return b


class Analysis:
    """Selector matches as bitsets over workloads; per-pod ingress and egress profiles."""

    def __init__(self, cluster: Cluster) -> None:
        self.c = c = cluster
        ws = c.workloads
        self.n = n = len(ws)
        self.all = (1 << n) - 1
        self.lv: dict[tuple[str, str], int] = {}
        self.keys: dict[str, int] = {}
        self.ns_bits: dict[str, int] = {}
        # hostNetwork workloads: the node's identity. No selector matches them (neither pod nor
        # namespace selectors: they are left out of these bitsets), no policy selects them
        self.host = 0
        for i, w in enumerate(ws):
            bit = 1 << i
            if w.host_network:
                self.host |= bit
                continue
            self.ns_bits[w.namespace] = self.ns_bits.get(w.namespace, 0) | bit
            for kv in w.labels.items():
                self.lv[kv] = self.lv.get(kv, 0) | bit
                self.keys[kv[0]] = self.keys.get(kv[0], 0) | bit
        self.pods = self.all & ~self.host  # what an empty selector matches
        self._sel: dict[Selector, int] = {}
        self._nsel: dict[Selector, int] = {}
        self._named: dict[Any, list[tuple[int, PortSet]]] = {}
        self.ext_ranges = [e.range for e in c.externals]
        self.selected = [self.sel_bits(p.selector) & self.ns_bits.get(p.namespace, 0) for p in c.policies]
        # port signature classes: the named container ports of a pod decide how named rule ports resolve
        self.sig_of: list[int] = []
        sigs: dict[tuple[tuple[str, str, int], ...], int] = {}
        self.sig_bits: list[int] = []
        self.sig_rep: list[int] = []
        for i, w in enumerate(ws):
            s = sigs.setdefault(w.ports, len(sigs))
            if s == len(self.sig_bits):
                self.sig_bits.append(0)
                self.sig_rep.append(i)
            self.sig_bits[s] |= 1 << i
            self.sig_of.append(s)
        # cluster-wide tiers (tiers.py): peers are workloads plus pieces of the external ranges
        self.conflicts: list[tiers.Conflict] = []
        self.pieces: list[tuple[int, int]] = []
        self.piece_ext: list[int] = []
        if c.admin or c.cilium or c.calico or c.calico_tiers:
            for i, (lo, hi) in enumerate(self.ext_ranges):
                for piece in c.pieces(lo, hi):
                    self.pieces.append(piece)
                    self.piece_ext.append(i)
        self.full = (1 << (n + len(self.pieces))) - 1
        self.all_pieces = self.full ^ self.all
        self.named_cache: dict[Any, list[tuple[int, PortSet]]] = {}
        self._admin_match: dict[Any, list[tuple[int, PortSet]]] = {}
        self.admin_selected = [tiers.admin_selected(self, a) for a in c.admin]
        # Cilium policies: every pod's profiles come from the Cilium layer (cilium_engine.py)
        self.cilium = CiliumLayer(self) if c.cilium else None
        # Calico policies or tiers: every pod's profiles come from the Calico layer (calico_engine.py)
        self.calico = CalicoLayer(self) if c.calico or c.calico_tiers else None
        self.profiles = {d: self._profiles(d) for d in ("ingress", "egress")}
        if self.conflicts:  # one per pair of policies and direction, first found
            seen: dict[tuple[str, str, str], tiers.Conflict] = {}
            for x in self.conflicts:
                seen.setdefault(x.key(), x)
            self.conflicts = list(seen.values())

    # -- selectors ------------------------------------------------------------------------
    def sel_bits(self, sel: Selector) -> int:
        """Workloads (in any namespace) whose labels match sel."""
        b = self._sel.get(sel)
        if b is None:
            b = self._sel[sel] = selector_bits(sel, self.pods, self.lv, self.keys)
        return b

    def nsel_bits(self, sel: Selector) -> int:
        b = self._nsel.get(sel)
        if b is None:
            b = 0
            for name, labels in self.c.namespaces.items():
                if sel.matches(labels):
                    b |= self.ns_bits.get(name, 0)
            self._nsel[sel] = b
        return b

    def peer_bits(self, pol: Policy, rule: Rule) -> tuple[int, list[bool]]:
        """Workloads and external peers a rule's from/to matches."""
        if rule.peers is None:
            return self.all, [True] * len(self.ext_ranges)
        b, ext = 0, [False] * len(self.ext_ranges)
        for peer in rule.peers:
            if peer.cidr is not None:
                for i, (lo, hi) in enumerate(self.ext_ranges):
                    ext[i] = ext[i] or any(blo <= hi and lo <= bhi for blo, bhi in peer.block)
            elif peer.ns is None:
                b |= self.sel_bits(peer.pod or Selector()) & self.ns_bits.get(pol.namespace, 0)
            else:
                b |= self.nsel_bits(peer.ns) & (self.sel_bits(peer.pod) if peer.pod is not None else self.all)
        return b, ext

    # -- profiles -------------------------------------------------------------------------
    def _profiles(self, direction: str) -> tuple[list[_Profile], list[int]]:
        c = self.c
        layer = self.cilium or self.calico
        if layer is not None:
            return self._layer_profiles(direction, layer)
        pols = [i for i, p in enumerate(c.policies) if p.affects(direction)]
        by_pod: list[list[int]] = [[] for _ in range(self.n)]
        for pi in pols:
            for w in bit_indexes(self.selected[pi]):
                by_pod[w].append(pi)
        index: dict[tuple[Any, ...], int] = {}
        profiles: list[_Profile] = []
        of: list[int] = []
        if c.admin:
            return self._tier_profiles(direction, by_pod)
        rules = {pi: [(r, *self.peer_bits(c.policies[pi], r)) for r in c.policies[pi].rules(direction)] for pi in pols}
        for w in range(self.n):
            # ingress: named ports resolve on the selected pod itself, so its port signature is part of the key
            key = (tuple(by_pod[w]), self.sig_of[w] if direction == "ingress" else 0)
            k = index.get(key)
            if k is None:
                k = index[key] = len(profiles)
                profiles.append(
                    self._profile([x for pi in by_pod[w] for x in rules[pi]], direction, w, bool(by_pod[w]))
                )
            profiles[k].members.append(w)
            of.append(k)
        return profiles, of

    def _tier_profiles(self, direction: str, by_pod: list[list[int]]) -> tuple[list[_Profile], list[int]]:
        """Profiles with the cluster-wide tiers (tiers.py): keyed also by the selecting tier policies."""
        by_admin: list[list[int]] = [[] for _ in range(self.n)]
        members: dict[int, list[int]] = {}  # many policies share a subject: its members listed once
        for ai, a in enumerate(self.c.admin):
            if a.rules(direction):
                bits = self.admin_selected[ai]
                if bits not in members:
                    members[bits] = bit_indexes(bits)
                for w in members[bits]:
                    by_admin[w].append(ai)
        index: dict[tuple[Any, ...], int] = {}
        profiles: list[_Profile] = []
        of: list[int] = []
        for w in range(self.n):
            key = (tuple(by_pod[w]), tuple(by_admin[w]), self.sig_of[w] if direction == "ingress" else 0)
            k = index.get(key)
            if k is None:
                k = index[key] = len(profiles)
                parts = tiers.tier_parts(self, direction, w, by_pod[w], by_admin[w], self.conflicts)
                isolated = tiers.tier_isolated(self.c, direction, by_pod[w], by_admin[w])
                profiles.append(self._piece_profile(parts, isolated))
            profiles[k].members.append(w)
            of.append(k)
        return profiles, of

    def _layer_profiles(self, direction: str, layer: CiliumLayer | CalicoLayer) -> tuple[list[_Profile], list[int]]:
        """Profiles from the Cilium or Calico layer: one per distinct profile key."""
        index: dict[tuple[Any, ...], int] = {}
        profiles: list[_Profile] = []
        of: list[int] = []
        for w, (key, has, parts) in enumerate(layer.profiles(direction)):
            k = index.get(key)
            if k is None:
                k = index[key] = len(profiles)
                if direction == "ingress" and self.host and self.calico is not None:  # the node reaches its pods
                    parts = [(b & ~self.host, ps) for b, ps in parts if b & ~self.host] + [(self.host, ALL_PORTS)]
                profiles.append(self._piece_profile(parts, has))
            profiles[k].members.append(w)
            of.append(k)
        return profiles, of

    def _piece_profile(self, parts: list[tuple[int, PortSet]], isolated: bool) -> _Profile:
        """A profile from disjoint (workload and piece bits, ports): an external peer's ports are
        the union over its pieces."""
        ext = [NO_PORTS] * len(self.ext_ranges)
        wparts = []
        for b, ps in parts:
            if b & self.all:
                wparts.append((b & self.all, ps))
            for j in bit_indexes(b >> self.n):
                e = self.piece_ext[j]
                ext[e] = ports_union(ext[e], ps)
        return _Profile(isolated=isolated, parts=wparts, ext=ext)

    def admin_rule_match(self, direction: str, w: int, ai: int, rule: AdminRule) -> list[tuple[int, PortSet]]:
        """What a cluster-wide policy's rule matches, memoised (ingress ports resolve on the subject)."""
        key = (ai, direction, rule.index, self.sig_of[w] if direction == "ingress" else 0)
        out = self._admin_match.get(key)
        if out is None:
            out = self._admin_match[key] = tiers.admin_match(self, direction, w, rule)
        return out

    def _profile(self, rules: list[tuple[Rule, int, list[bool]]], direction: str, w: int, isolated: bool) -> _Profile:
        nx = len(self.ext_ranges)
        if not isolated:
            return _Profile(isolated=False, parts=[(self.all, ALL_PORTS)] if self.n else [], ext=[ALL_PORTS] * nx)
        contrib: list[tuple[int, PortSet]] = []
        ext = [NO_PORTS] * nx
        for rule, bits, xs in rules:
            static, named = rule.static_ports(), rule.named_ports()
            if direction == "ingress" or not named:
                ps = self.c.rule_ports_for(rule, self.c.workloads[w]) if direction == "ingress" else static
                if bits and ps != NO_PORTS:
                    contrib.append((bits, ps))
            else:  # egress named ports resolve on each destination: split the peers by port signature
                for sb, ps in self._named_classes(rule):
                    sub = bits & sb
                    if sub and ps != NO_PORTS:
                        contrib.append((sub, ps))
            ext_ps = static if direction == "egress" else self.c.rule_ports_for(rule, self.c.workloads[w])
            ext = [ports_union(e, ext_ps) if x else e for e, x in zip(ext, xs, strict=False)]
        if self.host:  # traffic with the pod's own node is always allowed (the API's NetworkPolicy docs)
            contrib.append((self.host, ALL_PORTS))
        parts: list[tuple[int, PortSet]] = [(self.all, NO_PORTS)]
        for m, ps in contrib:
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
        merged: dict[PortSet, int] = {}
        for b, ps in parts:
            if ps != NO_PORTS and b:
                merged[ps] = merged.get(ps, 0) | b
        return _Profile(isolated=True, parts=[(b, ps) for ps, b in merged.items()], ext=ext)

    def _named_classes(self, rule: Rule) -> list[tuple[int, PortSet]]:
        """Workloads grouped by what the rule's ports (named ones included) resolve to on them."""
        key = rule.ports
        out = self._named.get(key)
        if out is None:
            groups: dict[PortSet, int] = {}
            for sb, rep in zip(self.sig_bits, self.sig_rep, strict=False):
                ps = self.c.rule_ports_for(rule, self.c.workloads[rep])
                groups[ps] = groups.get(ps, 0) | sb
            out = self._named[key] = [(b, ps) for ps, b in groups.items()]
        return out

    def profile(self, direction: str, w: int) -> _Profile:
        profiles, of = self.profiles[direction]
        return profiles[of[w]]

    def isolated(self, w: int, direction: str) -> bool:
        return self.profile(direction, w).isolated

    # -- queries --------------------------------------------------------------------------
    def ports(self, src: int | External, dst: int | External) -> PortSet:
        """Every (port, protocol) on which src may open a connection to dst."""
        ing = self._side("ingress", dst, src) if isinstance(dst, int) else ALL_PORTS
        if ing == NO_PORTS:
            return NO_PORTS
        eg = self._side("egress", src, dst) if isinstance(src, int) else ALL_PORTS
        if isinstance(src, External) and isinstance(dst, External):
            return NO_PORTS
        return ports_inter(ing, eg)

    def _side(self, direction: str, w: int, peer: int | External) -> PortSet:
        prof = self.profile(direction, w)
        if isinstance(peer, External):
            try:
                return prof.ext[self.c.externals.index(peer)]
            except ValueError:
                return self._ext_ports(direction, w, peer)
        for b, ps in prof.parts:
            if b >> peer & 1:
                return ps
        return NO_PORTS

    def _ext_ports(self, direction: str, w: int, e: External) -> PortSet:
        """An external peer that is not one of the cluster's (a CIDR given in a query)."""
        if self.c.admin or self.c.cilium or self.calico is not None:
            from kubefort.kube.netpol.explain import explain_side

            return explain_side(self.c, direction, w, e).ports
        if not self.isolated(w, direction):
            return ALL_PORTS
        lo, hi = e.range
        out = NO_PORTS
        for pi, p in enumerate(self.c.policies):
            if p.affects(direction) and self.selected[pi] >> w & 1:
                for r in p.rules(direction):
                    if r.peers is None or any(
                        pr.cidr is not None and any(a <= hi and lo <= b for a, b in pr.block) for pr in r.peers
                    ):
                        out = ports_union(
                            out,
                            r.static_ports()
                            if direction == "egress"
                            else self.c.rule_ports_for(r, self.c.workloads[w]),
                        )
        return out

    def allowed(self, src: int | External, dst: int | External, port: int, proto: str) -> bool:
        return ports_contain(self.ports(src, dst), port, proto)

    def matrix(self, block: int = 1024, full_lut_max: int = 1 << 16) -> Matrix:
        """Every ordered pair's allowed ports, as a dense table (NumPy, in blocks of source rows).

        cells[src, dst] = T[ingress id of (dst, src), egress id of (src, dst)], where T holds the
        intersections of the distinct port sets of each side (all of them when there are at most
        full_lut_max combinations, else only those that occur)."""
        import numpy as np

        n = self.n
        nbytes = max(1, (n + 7) // 8)

        def mask(b: int) -> Any:
            return np.unpackbits(
                np.frombuffer(b.to_bytes(nbytes, "little"), np.uint8), count=n, bitorder="little"
            ).astype(bool)

        def side(direction: str) -> tuple[Any, list[PortSet]]:
            # rows: the pod whose policies apply; columns: its peers
            table: dict[PortSet, int] = {NO_PORTS: 0}
            out = np.zeros((n, n), dtype=np.uint16 if n else np.uint8)
            for prof in self.profiles[direction][0]:
                row = np.zeros(n, dtype=out.dtype)
                for b, ps in prof.parts:
                    k = table.setdefault(ps, len(table))
                    if k > 65535:
                        raise OverflowError("more than 65,535 distinct port sets")
                    if b == self.all:
                        row[:] = k
                    else:
                        row[mask(b)] = k
                out[prof.members] = row
            return out, list(table)

        ing, in_sets = side("ingress")  # [dst, src]
        eg, eg_sets = side("egress")  # [src, dst]
        k_eg = len(eg_sets)
        size = len(in_sets) * k_eg
        ing_t = np.ascontiguousarray(ing.T)  # [src, dst]
        cells = np.empty((n, n), dtype=np.int32)
        portsets: dict[PortSet, int] = {NO_PORTS: 0}
        lut = np.zeros(size, dtype=np.int32)
        if size <= full_lut_max:  # few distinct port sets (the usual case): every intersection up front, one pass
            codes: Any = range(size)
        else:  # many: intersect only the combinations that occur
            used = np.zeros(size, dtype=bool)
            for lo in range(0, n, block):
                used[np.unique(ing_t[lo : lo + block].astype(np.int64) * k_eg + eg[lo : lo + block])] = True
            codes = np.flatnonzero(used).tolist()
        for code in codes:
            ps = ports_inter(in_sets[code // k_eg], eg_sets[code % k_eg])
            lut[code] = portsets.setdefault(ps, len(portsets))
        for lo in range(0, n, block):
            cells[lo : lo + block] = lut[
                ing_t[lo : lo + block].astype(np.int64 if size >= 1 << 31 else np.int32) * k_eg + eg[lo : lo + block]
            ]
        pin, pout = self.profiles["ingress"], self.profiles["egress"]
        ext_in = [pin[0][pin[1][d]].ext for d in range(n)]
        ext_out = [pout[0][pout[1][s]].ext for s in range(n)]
        return Matrix(self.c, cells, list(portsets), ext_in, ext_out)


@dataclass(slots=True)
class Matrix:
    """Allowed ports of every ordered pair of endpoints: cells[src, dst] indexes portsets."""

    cluster: Cluster
    cells: Any  # numpy int32 [n, n]
    portsets: list[PortSet]
    ext_in: list[list[PortSet]]  # [dst workload][external] : from the external peer to the workload
    ext_out: list[list[PortSet]]  # [src workload][external]

    def ports(self, src: int | External, dst: int | External) -> PortSet:
        xs = self.cluster.externals
        if isinstance(src, int) and isinstance(dst, int):
            return self.portsets[int(self.cells[src, dst])]
        if isinstance(src, int) and isinstance(dst, External):
            return self.ext_out[src][xs.index(dst)]
        if isinstance(src, External) and isinstance(dst, int):
            return self.ext_in[dst][xs.index(src)]
        return NO_PORTS

    def name(self, e: int | External) -> str:
        return self.cluster.name(e)

    def connections(self) -> Iterator[tuple[int | External, int | External, PortSet]]:
        """Every allowed (src, dst, ports), sources in order, workloads before external peers."""
        import numpy as np

        xs = self.cluster.externals
        rows, cols = np.nonzero(self.cells)
        by_src: dict[int, list[tuple[int, PortSet]]] = {}
        for s, d, k in zip(rows.tolist(), cols.tolist(), self.cells[rows, cols].tolist(), strict=False):
            by_src.setdefault(s, []).append((d, self.portsets[k]))
        for s in range(len(self.cluster.workloads)):
            for dw, ps in by_src.get(s, []):
                yield s, dw, ps
            for e, ps in zip(xs, self.ext_out[s], strict=False):
                if ps != NO_PORTS:
                    yield s, e, ps
        for j, e in enumerate(xs):
            for d in range(len(self.cluster.workloads)):
                if self.ext_in[d][j] != NO_PORTS:
                    yield e, d, self.ext_in[d][j]

    def as_dict(self) -> dict[str, dict[str, PortSet]]:
        """{src name: {dst name: ports}} for allowed pairs."""
        out: dict[str, dict[str, PortSet]] = {}
        for s, d, ps in self.connections():
            out.setdefault(self.name(s), {})[self.name(d)] = ps
        return out


def diff(old: Matrix, new: Matrix) -> list[tuple[str, str, PortSet, PortSet]]:
    """(src, dst, gained, lost) for every pair whose allowed ports differ, by endpoint name."""
    a, b = old.as_dict(), new.as_dict()
    out = []
    for src in sorted(set(a) | set(b)):
        ra, rb = a.get(src, {}), b.get(src, {})
        for dst in sorted(set(ra) | set(rb)):
            pa, pb = ra.get(dst, NO_PORTS), rb.get(dst, NO_PORTS)
            if pa != pb:
                out.append((src, dst, ports_minus(pb, pa), ports_minus(pa, pb)))
    return out
