"""Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), exactly, over the objects of a scan.

Endpoints are workloads (every pod-bearing object; its pod template labels stand in for its pods)
and external peers (named address ranges: `internet` 0.0.0.0/0, `cloud-metadata`
169.254.169.254/32, and user CIDRs). A connection (src, dst, port, protocol) is allowed when the
source's egress and the destination's ingress both allow it:

* a direction is open for a pod that no policy of that type selects (isolation per direction);
* policies are additive: any rule of any policy selecting the pod may allow the traffic;
* `policyTypes` defaults to Ingress, plus Egress when `egress` has at least one rule;
* `from`/`to` absent or empty matches every peer; `ports` absent or empty matches every port;
  `ingress: []` (or absent) allows nothing; `ingress: [{}]` allows everything;
* a peer with `podSelector` only selects pods of the policy's namespace; with `namespaceSelector`
  only, every pod of the matching namespaces; with both, the matching pods of those namespaces;
* `ipBlock` (minus `except`) matches external peers only (pod IPs are unknown before runtime);
* a named port resolves on the destination pod: a container port of that name and protocol;
* `endPort` makes a range; protocols TCP (default), UDP and SCTP;
* namespace labels are those of the Namespace objects in the scan plus the automatic
  `kubernetes.io/metadata.name`; a namespace that is referenced but not defined has only that label.

An external peer is an address range: a port counts as allowed to or from it when at least one
address of the range is allowed on it.

Two evaluators share this model: `Analysis` (fast: selector matches as bitsets over workloads,
rule sets grouped into per-pod profiles, the dense matrix filled with NumPy) and the test suite's
`tests/netpol_reference.py` (slow, written straight from the API reference), which a property
test holds equal. Label selectors are parsed and defined by `kubefort.kube.selectors`; the
bitset evaluation here (`Analysis.sel_bits`) computes the same matches for many workloads at once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from kubefort.kube.pods import api_group, find_pods, type_name
from kubefort.kube.selectors import Selector, parse_selector
from kubefort.model import NotEvaluated, Path_, Resource, ResourceId, format_path

PROTOCOLS = ("TCP", "UDP", "SCTP")
NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_NAMESPACE = "default"
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})

# --------------------------------------------------------------------------------------------
# port sets: one tuple of inclusive ranges per protocol, in PROTOCOLS order (hashable, canonical)
Ranges = tuple[tuple[int, int], ...]
PortSet = tuple[Ranges, Ranges, Ranges]
FULL: Ranges = ((1, 65535),)
ALL_PORTS: PortSet = (FULL, FULL, FULL)
NO_PORTS: PortSet = ((), (), ())


def _merge(rs: Iterable[tuple[int, int]]) -> Ranges:
    out: list[list[int]] = []
    for lo, hi in sorted(rs):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def _inter(a: Ranges, b: Ranges) -> Ranges:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _minus(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in a:
        for blo, bhi in b:
            if bhi < lo or blo > hi:
                continue
            if blo > lo:
                out.append((lo, blo - 1))
            lo = bhi + 1
            if lo > hi:
                break
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


@lru_cache(maxsize=1 << 16)
def ports_union(a: PortSet, b: PortSet) -> PortSet:
    """a ∪ b."""
    if a == NO_PORTS or b == ALL_PORTS:
        return b
    if b == NO_PORTS or a == ALL_PORTS:
        return a
    return (_merge(a[0] + b[0]), _merge(a[1] + b[1]), _merge(a[2] + b[2]))


@lru_cache(maxsize=1 << 16)
def ports_inter(a: PortSet, b: PortSet) -> PortSet:
    """a ∩ b."""
    if a == ALL_PORTS:
        return b
    if b == ALL_PORTS:
        return a
    return (_inter(a[0], b[0]), _inter(a[1], b[1]), _inter(a[2], b[2]))


def ports_minus(a: PortSet, b: PortSet) -> PortSet:
    """a \\ b."""
    return (_minus(a[0], b[0]), _minus(a[1], b[1]), _minus(a[2], b[2]))


def port_set(proto: str, lo: int = 1, hi: int = 65535) -> PortSet:
    """The ports lo..hi of one protocol."""
    i = PROTOCOLS.index(proto)
    return tuple(((lo, hi),) if k == i else () for k in range(3))  # type: ignore[return-value]


def ports_contain(ps: PortSet, port: int, proto: str) -> bool:
    return any(lo <= port <= hi for lo, hi in ps[PROTOCOLS.index(proto)])


def ports_json(ps: PortSet) -> dict[str, list[str]]:
    """{"TCP": ["80", "8000-8080"], ...}; a whole protocol is ["1-65535"]."""
    return {
        p: [f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in r] for p, r in zip(PROTOCOLS, ps, strict=False) if r
    }


def format_ports(ps: PortSet) -> str:
    """ "all", "none" or e.g. "TCP/80,443 UDP/53" ("TCP/*" for every TCP port)."""
    if ps == ALL_PORTS:
        return "all"
    if ps == NO_PORTS:
        return "none"
    return " ".join(
        f"{p}/" + ("*" if r == FULL else ",".join(v))
        for (p, v), r in zip(ports_json(ps).items(), (x for x in ps if x), strict=False)
    )


def parse_port(text: str) -> tuple[int, str]:
    """ "80", "80/TCP", "53/udp" -> (80, "TCP"), (53, "UDP"). Raises ValueError."""
    num, _, proto = text.partition("/")
    proto = (proto or "TCP").upper()
    if proto not in PROTOCOLS or not num.isdigit() or not 1 <= int(num) <= 65535:
        raise ValueError(f"{text!r} is not PORT[/TCP|UDP|SCTP] with PORT in 1-65535")
    return int(num), proto


# --------------------------------------------------------------------------------------------
# address sets: IPv4 as 0..2**32-1, IPv6 above V6 (so that one integer line holds both)
V6 = 1 << 32


def cidr_range(text: str) -> tuple[int, int]:
    """First and last address of a CIDR (host bits allowed, as the API server's sloppy parser does)."""
    net = ipaddress.ip_network(text.strip(), strict=False)
    base = V6 if net.version == 6 else 0
    return base + int(net.network_address), base + int(net.broadcast_address)


def _prefix(text: str) -> tuple[int, int]:
    net = ipaddress.ip_network(text.strip(), strict=False)
    return net.version, net.prefixlen


@dataclass(frozen=True, slots=True)
class External:
    """An endpoint outside the cluster: a named address range."""

    name: str
    cidr: str

    @property
    def range(self) -> tuple[int, int]:
        return cidr_range(self.cidr)


DEFAULT_EXTERNALS = (External("internet", "0.0.0.0/0"), External("cloud-metadata", "169.254.169.254/32"))


# --------------------------------------------------------------------------------------------
# the model: what the policies, namespaces and workloads of a scan say
class PolicyError(NotEvaluated):
    """An object the API server would reject (or that kubefort cannot read)."""


@dataclass(frozen=True, slots=True)
class Peer:
    pod: Selector | None = None  # podSelector (None: not given)
    ns: Selector | None = None  # namespaceSelector (None: not given)
    cidr: str | None = None
    block: tuple[tuple[int, int], ...] = ()  # ipBlock cidr minus except, as address ranges
    path: Path_ = ()


@dataclass(frozen=True, slots=True)
class PortRule:
    protocol: str = "TCP"
    port: int | str | None = None  # None: every port of the protocol
    end_port: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    direction: str  # "ingress" | "egress"
    index: int
    peers: tuple[Peer, ...] | None  # None: `from`/`to` absent or empty (every peer)
    ports: tuple[PortRule, ...] | None  # None: `ports` absent or empty (every port)
    path: Path_ = ()

    def static_ports(self) -> PortSet:
        """The ports given by number (or by protocol alone); named ports resolve per destination."""
        if self.ports is None:
            return ALL_PORTS
        out = NO_PORTS
        for p in self.ports:
            if p.port is None:
                out = ports_union(out, port_set(p.protocol))
            elif isinstance(p.port, int):
                out = ports_union(out, port_set(p.protocol, p.port, p.end_port or p.port))
        return out

    def named_ports(self) -> tuple[tuple[str, str], ...]:
        return tuple((p.port, p.protocol) for p in self.ports or () if isinstance(p.port, str))


@dataclass(slots=True)
class Policy:
    namespace: str
    name: str
    selector: Selector
    types: frozenset[str]
    ingress: tuple[Rule, ...]
    egress: tuple[Rule, ...]
    resource: Resource | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: str) -> tuple[Rule, ...]:
        return self.ingress if direction == "ingress" else self.egress

    def affects(self, direction: str) -> bool:
        return ("Ingress" if direction == "ingress" else "Egress") in self.types


@dataclass(slots=True)
class Workload:
    namespace: str
    kind: str
    name: str
    labels: dict[str, str]
    ports: tuple[tuple[str, str, int], ...] = ()  # named container ports: (name, protocol, number)
    resource: Resource | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"

    def resolve(self, name: str, proto: str) -> tuple[int, ...]:
        """Numbers of this pod's container ports called `name` with protocol `proto`."""
        return tuple(n for pn, pp, n in self.ports if pn == name and pp == proto)


@dataclass(slots=True)
class Problem:
    resource: ResourceId | None
    message: str
    path: Path_ = ()
    obj: Resource | None = field(default=None, compare=False, repr=False)  # the object itself (ids repeat across files)

    def __str__(self) -> str:
        return f"{self.resource}: {self.message}"


_SVC_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")


def _need(cond: bool, msg: str, path: Path_) -> None:
    if not cond:
        raise PolicyError(f"{format_path(path)} {msg}", path)


def _str_map(v: Any, path: Path_) -> dict[str, str]:
    if v is None:
        return {}
    _need(isinstance(v, dict), f"is {type_name(v)}, expected a mapping", path)
    for k, x in v.items():
        _need(isinstance(k, str) and isinstance(x, str), f"has {k!r}: {x!r}; keys and values must be strings", path)
    return dict(v)


def _parse_peer(v: Any, path: Path_) -> Peer:
    _need(isinstance(v, dict), f"is {type_name(v)}, expected a peer", path)
    pod, ns, ipb = v.get("podSelector"), v.get("namespaceSelector"), v.get("ipBlock")
    if ipb is not None:
        _need(pod is None and ns is None, "sets ipBlock together with a selector; the API server rejects it", path)
        p = path + ("ipBlock",)
        _need(isinstance(ipb, dict) and isinstance(ipb.get("cidr"), str), "needs cidr", p)
        try:
            block: Ranges = (cidr_range(ipb["cidr"]),)
            version, plen = _prefix(ipb["cidr"])
            for i, ex in enumerate(ipb.get("except") or []):
                _need(isinstance(ex, str), "is not a string", p + ("except", i))
                lo, hi = cidr_range(ex)
                ev, elen = _prefix(ex)
                _need(
                    ev == version and block[0][0] <= lo and hi <= block[0][1] and elen > plen,
                    "must be a strict subset of cidr",
                    p + ("except", i),
                )
                block = _minus(block, ((lo, hi),))
        except ValueError as exc:
            raise PolicyError(f"{format_path(p)}: {exc}", p) from None
        return Peer(cidr=ipb["cidr"], block=block, path=path)
    _need(pod is not None or ns is not None, "is empty; a peer needs podSelector, namespaceSelector or ipBlock", path)
    return Peer(
        parse_selector(pod, path + ("podSelector",)) if pod is not None else None,
        parse_selector(ns, path + ("namespaceSelector",)) if ns is not None else None,
        path=path,
    )


def _parse_port(v: Any, path: Path_) -> PortRule:
    _need(isinstance(v, dict), f"is {type_name(v)}, expected a port", path)
    proto = v.get("protocol", "TCP") or "TCP"
    _need(proto in PROTOCOLS, f"has protocol {proto!r}; TCP, UDP or SCTP", path)
    port, end = v.get("port"), v.get("endPort")
    if isinstance(port, int) and not isinstance(port, bool):
        _need(1 <= port <= 65535, f"has port {port}; 1-65535", path)
    elif port is not None:
        _need(
            isinstance(port, str) and bool(_SVC_NAME.match(port)) and "--" not in port,
            f"has port {port!r}; a number or an IANA service name",
            path,
        )
    if end is not None:
        _need(isinstance(end, int) and not isinstance(end, bool), "endPort is not an integer", path)
        _need(isinstance(port, int), "sets endPort without a numeric port", path)
        _need(port <= end <= 65535, f"has endPort {end} below port {port} or above 65535", path)
    return PortRule(proto, port, end)


def _parse_rules(spec: dict[str, Any], direction: str) -> tuple[Rule, ...]:
    raw = spec.get(direction)
    path: Path_ = ("spec", direction)
    if raw is None:
        return ()
    _need(isinstance(raw, list), f"is {type_name(raw)}, expected a list", path)
    peer_key = "from" if direction == "ingress" else "to"
    out = []
    for i, r in enumerate(raw):
        r = r if r is not None else {}
        _need(isinstance(r, dict), "is not a mapping", path + (i,))
        peers, ports = r.get(peer_key) or [], r.get("ports") or []
        _need(isinstance(peers, list) and isinstance(ports, list), f"{peer_key} and ports must be lists", path + (i,))
        out.append(
            Rule(
                direction,
                i,
                tuple(_parse_peer(p, path + (i, peer_key, j)) for j, p in enumerate(peers)) or None,
                tuple(_parse_port(p, path + (i, "ports", j)) for j, p in enumerate(ports)) or None,
                path + (i,),
            )
        )
    return tuple(out)


def parse_policy(res: Resource) -> Policy:
    """A NetworkPolicy with the API server's defaults applied. Raises PolicyError when invalid."""
    spec = res.obj.get("spec")
    if not isinstance(spec, dict):
        raise PolicyError("spec is missing or not a mapping", ("spec",))
    types = spec.get("policyTypes") or []
    _need(
        isinstance(types, list) and all(t in ("Ingress", "Egress") for t in types),
        "may hold only Ingress and Egress",
        ("spec", "policyTypes"),
    )
    egress = _parse_rules(spec, "egress")
    if not types:  # SetDefaults_NetworkPolicy
        types = ["Ingress"] + (["Egress"] if egress else [])
    return Policy(
        res.id.namespace or DEFAULT_NAMESPACE,
        res.id.name,
        parse_selector(spec.get("podSelector"), ("spec", "podSelector")),
        frozenset(types),
        _parse_rules(spec, "ingress"),
        egress,
        res,
    )


def _workloads(res: Resource, extra_paths: Any = None) -> list[Workload]:
    out = []
    pods = find_pods(res, extra_paths)
    for i, pod in enumerate(pods):
        meta = pod.meta.data if pod.meta is not None else {}
        labels = _str_map(meta.get("labels"), (pod.meta.path if pod.meta is not None else ()) + ("labels",))
        ports = []
        for _j, c in enumerate(pod.spec.list("containers")):
            cports = c.get("ports") if isinstance(c, dict) else None
            for _k, p in enumerate(cports if isinstance(cports, list) else []):
                num, proto = (
                    (p.get("containerPort"), p.get("protocol") or "TCP") if isinstance(p, dict) else (None, None)
                )
                # a port that is not a number (a template placeholder in a CRD) can never match: ignored
                if (
                    isinstance(p.get("name") if isinstance(p, dict) else None, str)
                    and isinstance(num, int)
                    and proto in PROTOCOLS
                ):
                    ports.append((p["name"], proto, num))
        name = res.id.name if len(pods) == 1 else f"{res.id.name}#{i}"
        out.append(Workload(res.id.namespace or DEFAULT_NAMESPACE, res.id.kind, name, labels, tuple(ports), res))
    return out


class Cluster:
    """Workloads, namespaces and policies of a scan, with the problems met reading them."""

    def __init__(
        self,
        workloads: Sequence[Workload],
        policies: Sequence[Policy],
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
        externals: Sequence[External] = DEFAULT_EXTERNALS,
        problems: Sequence[Problem] = (),
    ) -> None:
        self.workloads = list(workloads)
        self.policies = list(policies)
        self.externals = list(externals)
        self.problems = list(problems)
        self.defined_namespaces = set(namespace_labels or {})
        names = self.defined_namespaces | {w.namespace for w in self.workloads} | {p.namespace for p in self.policies}
        # the API server sets kubernetes.io/metadata.name on every namespace, over any value given
        self.namespaces: dict[str, dict[str, str]] = {
            n: {**(namespace_labels or {}).get(n, {}), NAME_LABEL: n} for n in sorted(names)
        }
        self.by_key = {w.key: i for i, w in enumerate(self.workloads)}
        self.invalid_namespaces = {
            p.resource.namespace or DEFAULT_NAMESPACE
            for p in self.problems
            if p.resource is not None and p.resource.kind == "NetworkPolicy"
        }

    @classmethod
    def from_resources(
        cls,
        resources: Iterable[Resource],
        externals: Sequence[External] = DEFAULT_EXTERNALS,
        pod_template_paths: Any = None,
    ) -> Cluster:
        workloads: list[Workload] = []
        policies: list[Policy] = []
        ns_labels: dict[str, dict[str, str]] = {}
        problems: list[Problem] = []
        seen: set[str] = set()
        for r in resources:
            try:
                if r.id.kind == "Namespace" and r.id.api_version == "v1":
                    meta = r.obj.get("metadata")
                    ns_labels[r.id.name] = _str_map(
                        meta.get("labels") if isinstance(meta, dict) else None, ("metadata", "labels")
                    )
                elif r.id.kind == "NetworkPolicy" and api_group(r.id.api_version) in (
                    "networking.k8s.io",
                    "extensions",
                ):
                    policies.append(parse_policy(r))
                else:
                    for w in _workloads(r, pod_template_paths):
                        n, base = 2, w.name
                        while w.key in seen:
                            w.name, n = f"{base}#{n}", n + 1
                        seen.add(w.key)
                        workloads.append(w)
            except NotEvaluated as exc:
                problems.append(Problem(r.id, exc.reason, exc.path, r))
        return cls(workloads, policies, ns_labels, externals, problems)

    def selected_by(self, pol: Policy, w: Workload) -> bool:
        return w.namespace == pol.namespace and pol.selector.matches(w.labels)

    def peer_matches_workload(self, pol: Policy, peer: Peer, w: Workload) -> bool:
        if peer.cidr is not None:
            return False
        if peer.ns is None and w.namespace != pol.namespace:
            return False
        if peer.ns is not None and not peer.ns.matches(self.namespaces.get(w.namespace, {NAME_LABEL: w.namespace})):
            return False
        return peer.pod is None or peer.pod.matches(w.labels)

    def rule_ports_for(self, rule: Rule, dst: Workload | None) -> PortSet:
        """The ports a rule allows towards `dst` (None: an external peer, where names never resolve)."""
        ps = rule.static_ports()
        for name, proto in rule.named_ports():
            for n in dst.resolve(name, proto) if dst is not None else ():
                ps = ports_union(ps, port_set(proto, n, n))
        return ps

    def name(self, e: int | External) -> str:
        """An endpoint's display name: `ns/kind/name` or the external peer's name."""
        return self.workloads[e].key if isinstance(e, int) else e.name

    def find(self, text: str) -> int | External:
        """An endpoint by name: `ns/kind/name`, `ns/name`, an external peer's name, or a CIDR. Raises KeyError."""
        for e in self.externals:
            if e.name == text:
                return e
        try:
            cidr_range(text)
            return External(text, text)
        except ValueError:
            pass
        parts = text.split("/")
        if len(parts) == 3:
            cand = [
                i
                for i, w in enumerate(self.workloads)
                if w.namespace == parts[0] and w.kind.lower() == parts[1].lower() and w.name == parts[2]
            ]
        elif len(parts) == 2:
            cand = [i for i, w in enumerate(self.workloads) if w.namespace == parts[0] and w.name == parts[1]]
        else:
            cand = [i for i, w in enumerate(self.workloads) if w.name == text]
        if len(cand) == 1:
            return cand[0]
        if cand:
            raise KeyError(f"{text!r} is ambiguous: " + ", ".join(self.workloads[i].key for i in cand))
        raise KeyError(
            f"no workload or external peer {text!r} (workloads are ns/kind/name or ns/name; externals: "
            + ", ".join(e.name for e in self.externals)
            + ", or a CIDR)"
        )


def bit_indexes(b: int) -> list[int]:
    """Indexes of the set bits of b."""
    s = bin(b)[:1:-1]
    out, i = [], s.find("1")
    while i >= 0:
        out.append(i)
        i = s.find("1", i + 1)
    return out


# --------------------------------------------------------------------------------------------
# the fast engine
@dataclass(slots=True)
class _Profile:
    """The ingress (or egress) behaviour shared by every pod with the same selecting policies."""

    members: list[int] = field(default_factory=list)
    isolated: bool = False
    parts: list[tuple[int, PortSet]] = field(default_factory=list)  # disjoint peer bitsets -> ports
    ext: list[PortSet] = field(default_factory=list)  # per external peer


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
        for i, w in enumerate(ws):
            bit = 1 << i
            self.ns_bits[w.namespace] = self.ns_bits.get(w.namespace, 0) | bit
            for kv in w.labels.items():
                self.lv[kv] = self.lv.get(kv, 0) | bit
                self.keys[kv[0]] = self.keys.get(kv[0], 0) | bit
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
        self.profiles = {d: self._profiles(d) for d in ("ingress", "egress")}

    # -- selectors ------------------------------------------------------------------------
    def sel_bits(self, sel: Selector) -> int:
        """Workloads (in any namespace) whose labels match sel."""
        b = self._sel.get(sel)
        if b is None:
            b = self.all
            for kv in sel.labels:
                b &= self.lv.get(kv, 0)
            for k, op, vals in sel.exprs:
                if op in ("In", "NotIn"):
                    m = 0
                    for v in vals:
                        m |= self.lv.get((k, v), 0)
                    b &= m if op == "In" else self.all & ~m
                else:
                    m = self.keys.get(k, 0)
                    b &= m if op == "Exists" else self.all & ~m
            self._sel[sel] = b
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
        pols = [i for i, p in enumerate(c.policies) if p.affects(direction)]
        by_pod: list[list[int]] = [[] for _ in range(self.n)]
        for pi in pols:
            for w in bit_indexes(self.selected[pi]):
                by_pod[w].append(pi)
        rules = {pi: [(r, *self.peer_bits(c.policies[pi], r)) for r in c.policies[pi].rules(direction)] for pi in pols}
        index: dict[tuple[Any, ...], int] = {}
        profiles: list[_Profile] = []
        of: list[int] = []
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


# --------------------------------------------------------------------------------------------
# explain: which policies and rules decide one pair, per direction (evaluated directly on the model)
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
    for p in c.policies:
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
