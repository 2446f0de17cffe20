"""Cluster-wide policy tiers of the Network Policy API (`policy.networking.k8s.io`): the model and
its parsing, with the validation of the CRD schemas and their CEL rules.

Sources (kubernetes-sigs/network-policy-api): `apis/v1alpha1/adminnetworkpolicy_types.go`,
`baselineadminnetworkpolicy_types.go`, `shared_types.go` and the generated CRDs of release v0.1.7
(AdminNetworkPolicy, BaselineAdminNetworkPolicy); `apis/v1alpha2/clusternetworkpolicy_types.go`
(ClusterNetworkPolicy, which replaces both: tier Admin = ANP, tier Baseline = BANP with
priorities and Pass; action Accept = Allow); site-src/api-overview.md.

Every kind becomes an `AdminPolicy` of a tier ("Admin": evaluated before NetworkPolicy;
"Baseline": after it, for pods no NetworkPolicy isolates in that direction) with a priority (a
BANP is the Baseline tier's only policy, priority 0) and ordered rules whose action is Allow,
Deny or Pass. Null fields are absent (the API server prunes them before validating).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubefort.kube.netpol.cidr import cidr_range
from kubefort.kube.netpol.model import PolicyError, Workload, need
from kubefort.kube.netpol.ports import ALL_PORTS, NO_PORTS, PROTOCOLS, PortSet, Ranges, port_set, ports_union
from kubefort.kube.pods import api_group, type_name
from kubefort.kube.selectors import Selector, parse_selector
from kubefort.model import Path_, Resource, format_path

GROUP = "policy.networking.k8s.io"
ANP, BANP, CNP = "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"
TIERS = ("Admin", "Baseline")
IPV4_ALL = cidr_range("0.0.0.0/0")


@dataclass(frozen=True, slots=True)
class AdminPort:
    """One entry of `ports` (v1alpha1) or `protocols` (v1alpha2)."""

    protocol: str = "TCP"  # any string the CRD accepts: only TCP, UDP and SCTP match traffic kubefort models
    lo: int = 1
    hi: int = 65535
    name: str | None = None  # a named port: the destination's container ports of that name, any protocol

    def ports(self) -> PortSet:
        if self.name is not None or self.protocol not in PROTOCOLS or self.lo > self.hi:
            return NO_PORTS
        return port_set(self.protocol, self.lo, self.hi)


@dataclass(frozen=True, slots=True)
class AdminPeer:
    """One peer: exactly one of namespaces, pods (namespace AND pod selector), networks, nodes,
    domainNames. Nodes and domain names match no endpoint kubefort models (no node objects,
    no DNS): such a peer never matches a workload or an external range."""

    kind: str  # "namespaces" | "pods" | "networks" | "nodes" | "domainNames"
    ns: Selector | None = None
    pod: Selector | None = None
    networks: tuple[str, ...] = ()
    block: Ranges = ()  # the networks as address ranges
    path: Path_ = ()

    @property
    def all_ipv4(self) -> bool:
        """A networks peer holding the whole IPv4 space: it matches pod-to-pod traffic too."""
        return any(lo <= IPV4_ALL[0] and IPV4_ALL[1] <= hi for lo, hi in self.block)

    def matches_workload(self, w: Workload, ns_labels: dict[str, str]) -> bool:
        if self.kind == "networks":
            return self.all_ipv4
        if w.host_network:  # the node: every node (an empty node selector); node labels are not known
            return self.kind == "nodes" and self.pod is not None and self.pod.empty
        if self.ns is None or not self.ns.matches(ns_labels):
            return False
        return self.pod is None or self.pod.matches(w.labels)

    def overlaps(self, lo: int, hi: int) -> bool:
        return any(a <= hi and lo <= b for a, b in self.block)


@dataclass(frozen=True, slots=True)
class AdminRule:
    direction: str
    index: int
    name: str
    action: str  # "Allow" | "Deny" | "Pass" (v1alpha2 Accept is Allow)
    peers: tuple[AdminPeer, ...]
    ports: tuple[AdminPort, ...] | None  # None: every port
    path: Path_ = ()

    def static_ports(self) -> PortSet:
        if self.ports is None:
            return ALL_PORTS
        out = NO_PORTS
        for p in self.ports:
            out = ports_union(out, p.ports())
        return out

    def named_ports(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.ports or () if p.name is not None)

    def ports_for(self, dst: Workload | None) -> PortSet:
        """The ports this rule matches towards `dst` (None: an external peer, where names never resolve)."""
        ps = self.static_ports()
        for name in self.named_ports():
            for pn, proto, num in dst.ports if dst is not None else ():
                if pn == name:
                    ps = ports_union(ps, port_set(proto, num, num))
        return ps


@dataclass(slots=True)
class AdminPolicy:
    kind: str  # AdminNetworkPolicy | BaselineAdminNetworkPolicy | ClusterNetworkPolicy
    name: str
    tier: str  # "Admin" | "Baseline"
    priority: int
    ns: Selector  # subject: the namespaces
    pod: Selector | None  # subject: the pods in them (None: every pod)
    ingress: tuple[AdminRule, ...]
    egress: tuple[AdminRule, ...]
    resource: Resource | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def order(self) -> tuple[int, int, str]:
        """Evaluation order: tier, priority, then name (the API leaves equal priorities unordered:
        kubefort takes names in order and reports the ambiguity where it matters)."""
        return TIERS.index(self.tier), self.priority, self.name

    def rules(self, direction: str) -> tuple[AdminRule, ...]:
        return self.ingress if direction == "ingress" else self.egress

    def selects(self, w: Workload, ns_labels: dict[str, str]) -> bool:
        return self.ns.matches(ns_labels) and (self.pod is None or self.pod.matches(w.labels))


def is_admin_kind(api_version: str, kind: str) -> bool:
    return api_group(api_version) == GROUP and kind in (ANP, BANP, CNP)


# -- parsing ----------------------------------------------------------------------------------


def _get(v: dict[str, Any], key: str) -> Any:
    return v.get(key)  # null is absent: the API server prunes null fields of a CRD before validating


def _one_of(v: Any, allowed: tuple[str, ...], path: Path_, what: str) -> str:
    need(isinstance(v, dict), f"is {type_name(v)}, expected a mapping", path)
    present = [k for k, x in v.items() if x is not None]
    need(len(present) == 1, f"must set exactly one of {', '.join(allowed)} (has {len(present)})", path)
    field: str = present[0]
    need(field in allowed, f"sets {field!r}; {what} may be one of {', '.join(allowed)}", path)
    return field


def _list(v: Any, path: Path_, lo: int, hi: int) -> list[Any]:
    need(isinstance(v, list), f"is {type_name(v)}, expected a list", path)
    need(lo <= len(v) <= hi, f"has {len(v)} items; {lo} to {hi} allowed", path)
    return list(v)


def _int(v: Any, path: Path_, lo: int, hi: int) -> int:
    need(isinstance(v, int) and not isinstance(v, bool), f"is {type_name(v)}, expected an integer", path)
    need(lo <= v <= hi, f"is {v}; {lo} to {hi} allowed", path)
    return int(v)


def _namespaced_pod(v: Any, path: Path_, ns_required: bool) -> tuple[Selector, Selector]:
    need(isinstance(v, dict), f"is {type_name(v)}, expected a mapping", path)
    ns, pod = _get(v, "namespaceSelector"), _get(v, "podSelector")
    need(ns is not None or not ns_required, "needs namespaceSelector", path)
    need(pod is not None, "needs podSelector", path)
    return parse_selector(ns, path + ("namespaceSelector",)), parse_selector(pod, path + ("podSelector",))


def _subject(v: Any, path: Path_, v2: bool) -> tuple[Selector, Selector | None]:
    field = _one_of(v, ("namespaces", "pods"), path, "a subject")
    if field == "namespaces":
        return parse_selector(v[field], path + (field,)), None
    return _namespaced_pod(v[field], path + (field,), not v2)


def _peer(v: Any, path: Path_, direction: str, kind: str) -> AdminPeer:
    kinds: tuple[str, ...] = ("namespaces", "pods")
    if direction == "egress":
        kinds += ("networks", "nodes") if kind == BANP else ("networks", "nodes", "domainNames")
    field = _one_of(v, kinds, path, f"an {direction} peer")
    p = path + (field,)
    if field == "namespaces":
        return AdminPeer(field, ns=parse_selector(v[field], p), path=path)
    if field == "pods":
        ns, pod = _namespaced_pod(v[field], p, kind != CNP)
        return AdminPeer(field, ns=ns, pod=pod, path=path)
    if field == "nodes":
        return AdminPeer(field, pod=parse_selector(v[field], p), path=path)
    items = _list(v[field], p, 1, 25)
    need(len({str(x) for x in items}) == len(items), "repeats an item (a set)", p)
    if field == "domainNames":
        need(all(isinstance(x, str) for x in items), "must hold strings", p)
        return AdminPeer(field, networks=tuple(items), path=path)
    block: list[tuple[int, int]] = []
    for i, cidr in enumerate(items):
        need(isinstance(cidr, str) and "/" in cidr and len(cidr) <= 43, "is not a CIDR", p + (i,))
        try:
            block.append(cidr_range(cidr))
        except ValueError:
            raise PolicyError(f"{format_path(p + (i,))} is not a CIDR (isCIDR)", p + (i,)) from None
    return AdminPeer(field, networks=tuple(items), block=tuple(sorted(block)), path=path)


def _port_v1(v: Any, path: Path_) -> AdminPort:
    field = _one_of(v, ("portNumber", "namedPort", "portRange"), path, "a port")
    p, x = path + (field,), v[field]
    if field == "namedPort":
        need(isinstance(x, str), "is not a string", p)
        return AdminPort(name=x)
    need(isinstance(x, dict), f"is {type_name(x)}, expected a mapping", p)
    proto = _get(x, "protocol") or "TCP"  # defaulted to TCP
    need(isinstance(proto, str), "protocol is not a string", p)
    if field == "portNumber":
        n = _int(_get(x, "port"), p + ("port",), 1, 65535)
        return AdminPort(proto, n, n)
    # v1alpha1 does not validate start < end (its doc says so): start > end matches no port
    return AdminPort(
        proto, _int(_get(x, "start"), p + ("start",), 1, 65535), _int(_get(x, "end"), p + ("end",), 1, 65535)
    )


def _port_v2(v: Any, path: Path_) -> AdminPort:
    field = _one_of(v, ("tcp", "udp", "sctp", "destinationNamedPort"), path, "a protocol")
    p, x = path + (field,), v[field]
    if field == "destinationNamedPort":
        need(isinstance(x, str) and x != "", "is not a port name", p)
        return AdminPort(name=x)
    proto = field.upper()
    need(isinstance(x, dict) and _get(x, "destinationPort") is not None, "needs destinationPort", p)
    dp = x["destinationPort"]
    kind = _one_of(dp, ("number", "range"), p + ("destinationPort",), "a destinationPort")
    q = p + ("destinationPort", kind)
    if kind == "number":
        n = _int(dp[kind], q, 1, 65535)
        return AdminPort(proto, n, n)
    need(isinstance(dp[kind], dict), "is not a mapping", q)
    lo, hi = (
        _int(_get(dp[kind], "start"), q + ("start",), 1, 65535),
        _int(_get(dp[kind], "end"), q + ("end",), 1, 65535),
    )
    need(lo < hi, "start must be less than end", q)
    return AdminPort(proto, lo, hi)


def _rules(spec: dict[str, Any], direction: str, kind: str, v2: bool) -> tuple[AdminRule, ...]:
    path: Path_ = ("spec", direction)
    raw = _get(spec, direction)
    if raw is None:
        return ()
    limit = 25 if v2 else 100
    actions = {ANP: ("Allow", "Deny", "Pass"), BANP: ("Allow", "Deny"), CNP: ("Accept", "Deny", "Pass")}[kind]
    peer_key = "from" if direction == "ingress" else "to"
    ports_key = "protocols" if v2 else "ports"
    parse_port: Callable[[Any, Path_], AdminPort] = _port_v2 if v2 else _port_v1
    out = []
    for i, r in enumerate(_list(raw, path, 0, limit)):
        rp = path + (i,)
        need(isinstance(r, dict), f"is {type_name(r)}, expected a rule", rp)
        action, name = _get(r, "action"), _get(r, "name") or ""
        need(action in actions, f"has action {action!r}; one of {', '.join(actions)}", rp + ("action",))
        need(isinstance(name, str) and len(name) <= 100, "name must be a string of at most 100 characters", rp)
        need(_get(r, peer_key) is not None, f"needs {peer_key}", rp)
        peers = tuple(
            _peer(x, rp + (peer_key, j), direction, kind)
            for j, x in enumerate(_list(r[peer_key], rp + (peer_key,), 1, limit))
        )
        raw_ports = _get(r, ports_key)
        ports = (
            None
            if raw_ports is None
            else tuple(
                parse_port(x, rp + (ports_key, j)) for j, x in enumerate(_list(raw_ports, rp + (ports_key,), 1, limit))
            )
        )
        # CEL: "networks/nodes/domainNames peer cannot be set with namedPorts"
        need(
            not (
                any(x.kind in ("networks", "nodes", "domainNames") for x in peers) and any(x.name for x in ports or ())
            ),
            "sets a named port with a networks, nodes or domainNames peer (the CRD's validation rejects it)",
            rp,
        )
        need(
            not (any(x.kind == "domainNames" for x in peers) and action not in ("Allow", "Accept")),
            "uses domainNames in a rule whose action is not Allow (only Allow rules support them)",
            rp,
        )
        out.append(AdminRule(direction, i, name, "Allow" if action == "Accept" else action, peers, ports, rp))
    return tuple(out)


def parse_admin_policy(res: Resource) -> AdminPolicy:
    """An AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy. Raises PolicyError
    when the CRD's schema or validation rules would reject it."""
    kind = res.id.kind
    version = res.id.api_version.rpartition("/")[2]
    v2 = kind == CNP
    need(
        version == ("v1alpha2" if v2 else "v1alpha1"),
        f"has no schema kubefort knows in {res.id.api_version} ({kind} is v1alpha1; ClusterNetworkPolicy v1alpha2)",
        ("apiVersion",),
    )
    spec = res.obj.get("spec")
    if not isinstance(spec, dict):
        raise PolicyError("spec is missing or not a mapping", ("spec",))
    if kind == BANP:  # x-kubernetes-validations: self.metadata.name == 'default'
        need(
            res.id.name == "default",
            "must be 'default': a BaselineAdminNetworkPolicy is a singleton",
            ("metadata", "name"),
        )
        tier, priority = "Baseline", 0
    else:
        tier = "Admin"
        if v2:
            tier = _get(spec, "tier")
            need(tier in TIERS, f"is {tier!r}; Admin or Baseline", ("spec", "tier"))
        priority = _int(_get(spec, "priority"), ("spec", "priority"), 0, 1000)
    need(_get(spec, "subject") is not None, "needs subject", ("spec",))
    ns, pod = _subject(spec["subject"], ("spec", "subject"), v2)
    return AdminPolicy(
        kind,
        res.id.name,
        tier,
        priority,
        ns,
        pod,
        _rules(spec, "ingress", kind, v2),
        _rules(spec, "egress", kind, v2),
        res,
    )
