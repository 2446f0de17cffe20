"""NetworkPolicies from an intent: the least policies that allow exactly the given connections.

`generate_policies` writes a default deny per namespace plus, per workload, the ingress and
egress rules the intended connections need, selecting each workload with a selector that
matches it and no other workload of its namespace (`exact_selector`). `intent_mismatches`
verifies the result with the engine (`kubefort netpol generate` prints nothing it has not
verified). `parse_allow` reads one connection as written on the command line
(`SRC:DST[:PORT/PROTO]`).

`as_cilium` writes the same policies as CiliumNetworkPolicies (`netpol generate --kind cilium`),
which the engine verifies the same way (it enforces Cilium's semantics): a default deny is a
CNP selecting every endpoint with one empty rule per direction (an entry turns default deny on,
an empty rule allows nothing); pod peers become `fromEndpoints`/`toEndpoints` (another
namespace's pods with `k8s:io.kubernetes.pod.namespace`), address ranges `fromCIDRSet`/
`toCIDRSet`, ports `toPorts` (with `endPort` for a range).

`as_calico` writes them as Calico NetworkPolicies (projectcalico.org/v3, `--kind calico`), also
verified with the engine's Calico semantics: a default deny is a policy selecting `all()` with
both types and no rule (the end of the default tier denies); each rule is `action: Allow` with
the peer as a selector in Calico's language (`app == 'web' && !has(track)`, plus a
`namespaceSelector` on `kubernetes.io/metadata.name` for another namespace) or `nets`, and one
rule per protocol with its `ports` (`lo:hi` for a range).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubefort.kube.netpol import (
    ALL_PORTS,
    NAME_LABEL,
    NO_PORTS,
    PROTOCOLS,
    Analysis,
    Cluster,
    External,
    PortSet,
    Workload,
    format_ports,
    parse_port,
    port_set,
    ports_union,
)
from kubefort.model import Resource, ResourceId, Source

__all__ = [
    "Endpoint",
    "GenerateError",
    "Intent",
    "as_calico",
    "as_cilium",
    "exact_selector",
    "generate_policies",
    "intent_mismatches",
    "parse_allow",
]

# a workload (its index in Cluster.workloads) or an external peer
Endpoint = int | External
# one intended connection: source, destination, ports
Intent = tuple[Endpoint, Endpoint, PortSet]


class GenerateError(Exception):
    """The intent cannot be expressed with NetworkPolicies (the message says why)."""


def exact_selector(c: Cluster, w: Workload) -> dict[str, Any]:
    """A label selector matching w and no other workload of its namespace (GenerateError if none can)."""
    others = [
        o
        for o in c.workloads
        if o is not w
        and o.namespace == w.namespace
        and not o.host_network  # no selector matches the node
        and w.labels.items() <= o.labels.items()
    ]
    absent: list[str] = []
    for o in others:
        extra = sorted(set(o.labels) - set(w.labels))
        if not extra:
            raise GenerateError(
                f"{w.key} and {o.key} carry the same pod labels ({w.labels or 'none'}): no policy can tell them apart"
            )
        if not set(extra) & set(absent):
            absent.append(extra[0])
    sel: dict[str, Any] = {}
    if w.labels:
        sel["matchLabels"] = dict(sorted(w.labels.items()))
    if absent:
        sel["matchExpressions"] = [{"key": k, "operator": "DoesNotExist"} for k in absent]
    return sel


def _node(c: Cluster, e: Endpoint) -> bool:
    return isinstance(e, int) and c.workloads[e].host_network


def host_network_warnings(c: Cluster, intents: Sequence[Intent]) -> list[str]:
    """One warning per hostNetwork workload of the intents: its traffic is the node's, which
    NetworkPolicy does not govern (a pod always reaches, and is reached from, its own node)."""
    ends = sorted({e for s, d, _ in intents for e in (s, d) if _node(c, e)}, key=str)
    return [
        f"{c.workloads[i].key} uses the host network: NetworkPolicy does not govern its traffic, so its "
        "connections are left out of the generated policies and of their check"
        for i in ends
        if isinstance(i, int)
    ]


def unlabelled_warnings(c: Cluster, intents: Sequence[Intent]) -> list[str]:
    """One warning per workload of the intents whose pods carry no labels: its policies can only
    select it as "none of the other workloads' labels", so any other unlabelled pod that later
    runs in the namespace is selected (and allowed) too."""
    ends = sorted({e for s, d, _ in intents for e in (s, d) if isinstance(e, int) and not _node(c, e)})
    return [
        f"{c.workloads[i].key} has no pod labels: its policies select it by the absence of the other "
        "workloads' labels, so any other unlabelled pod in its namespace gets the same access; "
        "give its pod template a label"
        for i in ends
        if not c.workloads[i].labels
    ]


def _peer(c: Cluster, here: str, e: Endpoint) -> dict[str, Any]:
    if isinstance(e, External):
        return {"ipBlock": {"cidr": e.cidr}}
    w = c.workloads[e]
    peer: dict[str, Any] = {"podSelector": exact_selector(c, w)}
    if w.namespace != here:
        peer = {"namespaceSelector": {"matchLabels": {NAME_LABEL: w.namespace}}, **peer}
    return peer


def _ports_field(ps: PortSet) -> list[dict[str, Any]] | None:
    if ps == ALL_PORTS:
        return None
    out: list[dict[str, Any]] = []
    for proto, ranges in zip(PROTOCOLS, ps, strict=False):
        for lo, hi in ranges:
            p: dict[str, Any] = {"protocol": proto, "port": lo}
            if hi != lo:
                p["endPort"] = hi
            out.append(p)
    return out


def generate_policies(c: Cluster, intents: Sequence[Intent]) -> list[dict[str, Any]]:
    """A default deny per namespace plus, per workload, the least ingress and egress rules for `intents`."""
    merged: dict[tuple[Endpoint, Endpoint], PortSet] = {}
    for s, d, ps in intents:
        if isinstance(s, External) and isinstance(d, External):
            raise GenerateError(f"{s.name} -> {d.name}: both ends are external; NetworkPolicy cannot express it")
        if not (_node(c, s) or _node(c, d)):  # NetworkPolicy does not govern traffic with the node
            merged[(s, d)] = ports_union(merged.get((s, d), NO_PORTS), ps)
    docs: list[dict[str, Any]] = []
    for ns in sorted({w.namespace for w in c.workloads if not w.host_network}):
        docs.append(_np(ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    for direction, key, peer_key in (("ingress", 1, "from"), ("egress", 0, "to")):
        for i, w in enumerate(c.workloads):
            by_ports: dict[PortSet, list[dict[str, Any]]] = {}  # peers sharing ports share a rule
            for pair, ps in sorted(merged.items(), key=lambda kv: str(kv[0])):
                if pair[key] == i:
                    by_ports.setdefault(ps, []).append(_peer(c, w.namespace, pair[1 - key]))
            rules = []
            for ps, peers in by_ports.items():
                rule: dict[str, Any] = {peer_key: peers}
                if _ports_field(ps) is not None:
                    rule["ports"] = _ports_field(ps)
                rules.append(rule)
            if rules:
                name = f"allow-{'to' if direction == 'ingress' else 'from'}-{w.kind.lower()}-{w.name}".replace("#", "-")
                docs.append(
                    _np(
                        w.namespace,
                        name,
                        {
                            "podSelector": exact_selector(c, w),
                            "policyTypes": [direction.capitalize()],
                            direction: rules,
                        },
                    )
                )
    return docs


def _np(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "kubefort"}},
        "spec": spec,
    }


CILIUM_NS = "k8s:io.kubernetes.pod.namespace"


def _cilium_peers(peers: list[dict[str, Any]], here: str, direction: str) -> dict[str, Any]:
    """NetworkPolicy peers (as generate_policies writes them) as a Cilium rule's L3 members."""
    side = "from" if direction == "ingress" else "to"
    endpoints, cidrs = [], []
    for peer in peers:
        if "ipBlock" in peer:
            cidrs.append({"cidr": peer["ipBlock"]["cidr"]})
            continue
        found = peer["podSelector"]
        ns = peer.get("namespaceSelector", {}).get("matchLabels", {}).get(NAME_LABEL, here)
        sel: dict[str, Any] = {"matchLabels": {**found.get("matchLabels", {}), CILIUM_NS: ns}}
        if found.get("matchExpressions"):
            sel["matchExpressions"] = [dict(e) for e in found["matchExpressions"]]
        endpoints.append(sel)
    out: dict[str, Any] = {}
    if endpoints:
        out[f"{side}Endpoints"] = endpoints
    if cidrs:
        out[f"{side}CIDRSet"] = cidrs
    return out


def _cilium_rules(np_spec: dict[str, Any], direction: str, here: str) -> list[dict[str, Any]]:
    rules = []
    for rule in np_spec.get(direction) or []:
        peers = rule.get("from" if direction == "ingress" else "to") or []
        by_members = _cilium_peers(peers, here, direction)
        # one Cilium rule holds one kind of L3 member: pods and address ranges in rules of their own
        for key, members in by_members.items():
            out: dict[str, Any] = {key: members}
            if rule.get("ports"):
                ports = []
                for p in rule["ports"]:
                    q: dict[str, Any] = {"port": str(p["port"]), "protocol": p["protocol"]}
                    if "endPort" in p:
                        q["endPort"] = p["endPort"]
                    ports.append(q)
                out["toPorts"] = [{"ports": ports}]
            rules.append(out)
    return rules


def _cilium_spec(spec: dict[str, Any], here: str) -> dict[str, Any]:
    cnp: dict[str, Any] = {"endpointSelector": spec["podSelector"]}
    for direction in ("ingress", "egress"):
        if direction.capitalize() in spec.get("policyTypes", ()):
            # a direction with no rule is a default deny: an empty rule turns it on and allows nothing
            cnp[direction] = _cilium_rules(spec, direction, here) or [{}]
    return cnp


def _translated(docs: list[dict[str, Any]], api_version: str, kind: str, spec_of: Any) -> list[dict[str, Any]]:
    """Each generated NetworkPolicy as another kind: the same metadata, `spec_of(spec, namespace)`."""
    return [
        {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": dict(d["metadata"]),
            "spec": spec_of(d["spec"], d["metadata"]["namespace"]),
        }
        for d in docs
    ]


def as_cilium(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """generate_policies' NetworkPolicies as CiliumNetworkPolicies with the same effect."""
    return _translated(docs, "cilium.io/v2", "CiliumNetworkPolicy", _cilium_spec)


def _calico_selector(sel: dict[str, Any]) -> str:
    """A label selector (matchLabels and DoesNotExist, as exact_selector writes it) in Calico's language."""
    terms = [f"{k} == '{v}'" for k, v in sel.get("matchLabels", {}).items()]
    terms += [f"!has({e['key']})" for e in sel.get("matchExpressions", ())]
    return " && ".join(terms) or "all()"


def _calico_entity(peer: dict[str, Any], here: str) -> dict[str, Any]:
    if "ipBlock" in peer:
        return {"nets": [peer["ipBlock"]["cidr"]]}
    out = {"selector": _calico_selector(peer["podSelector"])}
    ns = peer.get("namespaceSelector", {}).get("matchLabels", {}).get(NAME_LABEL, here)
    if ns != here:
        out["namespaceSelector"] = f"{NAME_LABEL} == '{ns}'"
    return out


def _calico_rules(np_spec: dict[str, Any], direction: str, here: str) -> list[dict[str, Any]]:
    peer_side, port_side = ("source", "destination") if direction == "ingress" else ("destination", "destination")
    rules = []
    for rule in np_spec.get(direction) or []:
        by_proto: dict[str | None, list[int | str]] = {}
        for p in rule.get("ports") or []:
            by_proto.setdefault(p["protocol"], []).append(
                f"{p['port']}:{p['endPort']}" if "endPort" in p else p["port"]
            )
        for peer in rule.get("from" if direction == "ingress" else "to") or []:
            for proto, ports in by_proto.items() or [(None, [])]:
                out: dict[str, Any] = {"action": "Allow"}
                if proto is not None:
                    out["protocol"] = proto
                out[peer_side] = _calico_entity(peer, here)
                if ports:
                    out.setdefault(port_side, {})["ports"] = ports
                rules.append(out)
    return rules


def _calico_spec(spec: dict[str, Any], here: str) -> dict[str, Any]:
    types = list(spec.get("policyTypes", ()))
    cal: dict[str, Any] = {"selector": _calico_selector(spec["podSelector"]), "types": types}
    for direction in ("ingress", "egress"):
        if direction.capitalize() in types:
            cal[direction] = _calico_rules(spec, direction, here)
    return cal


def as_calico(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """generate_policies' NetworkPolicies as Calico NetworkPolicies with the same effect."""
    return _translated(docs, "projectcalico.org/v3", "NetworkPolicy", _calico_spec)


def with_generated(c: Cluster, docs: list[dict[str, Any]], externals: Sequence[External] | None = None) -> Cluster:
    """The workloads of `c` with the generated policies `docs` as the only policies (what a
    re-check evaluates), with `externals` (default: c's) as the external peers."""
    res = list({id(w.resource): w.resource for w in c.workloads if w.resource is not None}.values())
    res += [
        Resource(
            ResourceId(d["apiVersion"], d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]),
            d,
            Source("<generated>"),
        )
        for d in docs
    ]
    return Cluster.from_resources(res, c.externals if externals is None else externals)


def intent_mismatches(c: Cluster, docs: list[dict[str, Any]], intents: Sequence[Intent]) -> list[str]:
    """Pairs whose allowed ports under `docs` differ from the intent (an external range counts when it overlaps)."""
    check = with_generated(c, docs)
    m = Analysis(check).matrix()
    want: dict[tuple[str, str], PortSet] = {}
    ends = list(range(len(check.workloads))) + list(check.externals)
    for s, d, ps in intents:
        for s2 in ends:
            for d2 in ends:
                if _covers(c, check, s, s2) and _covers(c, check, d, d2):
                    k = (m.name(s2), m.name(d2))
                    want[k] = ports_union(want.get(k, NO_PORTS), ps)
    got = {(m.name(s), m.name(d)): ps for s, d, ps in m.connections()}
    nodes = {w.key for w in check.workloads if w.host_network}  # traffic NetworkPolicy does not govern
    want = {k: v for k, v in want.items() if not set(k) & nodes}
    got = {k: v for k, v in got.items() if not set(k) & nodes}
    return [
        f"{s} -> {d}: intended {format_ports(want.get((s, d), NO_PORTS))}, generated policies allow {format_ports(got.get((s, d), NO_PORTS))}"
        for s, d in sorted(set(want) | set(got))
        if want.get((s, d), NO_PORTS) != got.get((s, d), NO_PORTS)
    ] + [str(p) for p in check.problems]


def _covers(c: Cluster, check: Cluster, intent_end: Endpoint, end: Endpoint) -> bool:
    """Does an intended endpoint (of c) stand for an endpoint of the verification cluster?"""
    if isinstance(intent_end, int) or isinstance(end, int):
        return isinstance(intent_end, int) and isinstance(end, int) and c.name(intent_end) == check.name(end)
    (a, b), (x, y) = intent_end.range, end.range
    return a <= y and x <= b


def parse_allow(c: Cluster, spec: str) -> Intent:
    """SRC:DST[:PORT[/PROTO][,PORT/PROTO...]] -> (src, dst, ports). Raises ValueError (the message
    names what is wrong)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"{spec!r} is not SRC:DST[:PORT/PROTO] (name IPv6 peers with --external)")
    ps = ALL_PORTS
    if len(parts) == 3:
        ps = NO_PORTS
        for item in parts[2].split(","):
            n, proto = parse_port(item)
            ps = ports_union(ps, port_set(proto, n, n))
    return _endpoint(c, parts[0]), _endpoint(c, parts[1]), ps


def _endpoint(c: Cluster, text: str) -> Endpoint:
    try:
        return c.find(text)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
