"""A slow, obviously correct NetworkPolicy evaluator, written straight from the API reference.

It answers one question at a time, "may SRC open a connection to DST on PORT/PROTOCOL?", by
reading the raw objects with no precomputation, no bitsets and no shared code with
`kubefort.kube.netpol`: the property test holds the fast engine to it. Label selectors are
matched by `kubefort.kube.selectors`, the one definition of their semantics, which
`tests/test_selectors.py` holds to the Kubernetes rules on its own.

Inputs are plain data:
  namespaces: {name: {label: value}}          (kubernetes.io/metadata.name is added here)
  pods:       [{"namespace", "labels", "ports": [(name, protocol, number), ...]}]
  policies:   [{"namespace", "spec"}]         spec exactly as written in the manifest (valid)
Endpoints are ("pod", index) or ("ip", "203.0.113.9"), or ("range", "0.0.0.0/0") for an external
peer given as a range: allowed when at least one address of the range is allowed.

Rules from networking.k8s.io/v1 (NetworkPolicySpec, NetworkPolicyIngressRule/EgressRule,
NetworkPolicyPeer, NetworkPolicyPort, IPBlock) and SetDefaults_NetworkPolicy:
  - a pod is isolated for ingress (egress) when some policy in its namespace selects it and has
    Ingress (Egress) in its policyTypes; otherwise that direction is allowed;
  - policyTypes empty or absent: ["Ingress"], plus "Egress" when spec.egress has rules;
  - isolated traffic is allowed when at least one rule of one selecting policy matches it;
  - a rule matches when its from/to (empty = everything) has a matching peer and its ports
    (empty = everything) has a matching port;
  - peers: ipBlock -> the address is in cidr and in no except (pods are never matched: their IPs
    are unknown); podSelector and/or namespaceSelector -> a pod, of the policy's namespace unless
    namespaceSelector is given, matching every selector given;
  - ports: protocol (default TCP) equal; port absent -> any; number -> equal, or within
    port..endPort; name -> a container port of the destination pod with that name and protocol
    and that number.

hostNetwork pods (`"host": True` in the pod's data) are the node, as the NetworkPolicy docs allow a
plugin to treat them ("traffic to/from hostNetwork pods is treated the same as all other traffic
to/from the host IP"; "traffic to and from the node where a Pod is running is always allowed"):
  - no policy selects them (their ingress and egress are open), no pod or namespace selector
    matches them, their container ports are host ports (no named port resolves on them);
  - traffic between a pod and its own node is allowed by NetworkPolicy: a pod a NetworkPolicy
    isolates still reaches, and is reached from, a hostNetwork pod (which may run on its node);
  - the cluster-wide tiers still apply: a `networks` CIDR holding every IPv4 address holds the
    node's address (unknown, like a pod's), and a `nodes` peer with an empty selector every node.

Cluster-wide tiers (policy.networking.k8s.io: AdminNetworkPolicy and BaselineAdminNetworkPolicy
v1alpha1, ClusterNetworkPolicy v1alpha2 with tier Admin/Baseline and Accept = Allow), given as
  admin:      [{"kind", "name", "spec"}]       spec exactly as written (valid)
evaluated per direction as the API types' documentation defines:
  - Admin tier first: policies whose subject selects the pod (namespaces: the namespace matches;
    pods: namespace AND pod match), by ascending priority; within one, rules in order; the
    first rule whose peers (any) and ports (absent = all) match decides: Allow -> allowed,
    Deny -> denied, Pass -> the rest of the tier is skipped;
  - then NetworkPolicy: a pod it isolates is allowed iff a rule allows (as above);
  - then, for a pod no NetworkPolicy isolates in that direction, the Baseline tier the same way
    (Deny -> denied; Allow or Pass -> allowed); nothing matched -> allowed;
  - peers: namespaces / pods as the subject; networks -> the address is in a CIDR (a pod's
    address is an unknown IPv4 address: only a /0 IPv4 CIDR holds it); nodes, domainNames -> never;
  - ports: portNumber / portRange (protocol default TCP) / tcp|udp|sctp destinationPort number or
    range; namedPort / destinationNamedPort -> a container port of the destination pod with that
    name (its own protocol) and that number;
  - equal priorities in one tier are unordered by the API: taken by name, and a pair whose
    first matching rules disagree on an asked connection is recorded in `conflicts`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kubefort.kube.selectors import selector_matches


def _policy_types(spec: dict[str, Any]) -> list[str]:
    types = spec.get("policyTypes") or []
    if not types:
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
    return types


class Reference:
    def __init__(
        self,
        namespaces: dict[str, dict[str, str]],
        pods: list[dict[str, Any]],
        policies: list[dict[str, Any]],
        admin: list[dict[str, Any]] | None = None,
    ) -> None:
        self.namespaces = namespaces
        self.pods = pods
        self.policies = policies
        self.admin = admin or []
        self._cuts: dict[str, list[str]] = {}
        # (first policy, second policy, direction): equal-priority policies of one tier whose
        # matching rules for some asked connection have different actions
        self.conflicts: set[tuple[str, str, str]] = set()

    def ns_labels(self, name: str) -> dict[str, str]:
        labels = dict(self.namespaces.get(name, {}))
        labels["kubernetes.io/metadata.name"] = name
        return labels

    def peer_matches(self, peer: dict[str, Any], endpoint: tuple[str, Any], policy_ns: str) -> bool:
        kind, value = endpoint
        if "ipBlock" in peer:
            if kind != "ip":
                return False
            addr = ipaddress.ip_address(value)
            block = peer["ipBlock"]
            cidr = ipaddress.ip_network(block["cidr"], strict=False)
            if addr.version != cidr.version or addr not in cidr:
                return False
            return all(addr not in ipaddress.ip_network(ex, strict=False) for ex in block.get("except") or [])
        if kind != "pod" or self.pods[value].get("host"):
            return False
        pod = self.pods[value]
        if "namespaceSelector" in peer:
            if not selector_matches(peer["namespaceSelector"], self.ns_labels(pod["namespace"])):
                return False
        elif pod["namespace"] != policy_ns:
            return False
        if "podSelector" in peer:
            return selector_matches(peer["podSelector"], pod["labels"])
        return True

    def port_matches(self, p: dict[str, Any], dst: tuple[str, Any], port: int, proto: str) -> bool:
        if p.get("protocol", "TCP") != proto:
            return False
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, int):
            end: int = p.get("endPort", want)
            return want <= port <= end
        if dst[0] != "pod" or self.pods[dst[1]].get("host"):
            return False
        return any(name == want and pr == proto and num == port for name, pr, num in self.pods[dst[1]]["ports"])

    def direction_allows(
        self,
        direction: str,
        pod_ep: tuple[str, Any],
        peer_ep: tuple[str, Any],
        dst: tuple[str, Any],
        port: int,
        proto: str,
    ) -> bool:
        if pod_ep[0] != "pod" or self.pods[pod_ep[1]].get("host"):
            return True  # no policy applies to an address outside the cluster, or to the node
        # the Admin tier first: its first matching rule decides; Pass goes on to NetworkPolicy
        verdict = self.tier("Admin", direction, pod_ep, peer_ep, dst, port, proto)
        if verdict in ("Allow", "Deny"):
            return verdict == "Allow"
        isolated, allowed = self.networkpolicy_allows(direction, pod_ep, peer_ep, dst, port, proto)
        if isolated:
            # the pod's own node: always allowed by NetworkPolicy
            return allowed or (peer_ep[0] == "pod" and bool(self.pods[peer_ep[1]].get("host")))
        # not isolated by NetworkPolicy: the Baseline tier; Deny denies, anything else allows
        return self.tier("Baseline", direction, pod_ep, peer_ep, dst, port, proto) != "Deny"

    def networkpolicy_allows(
        self,
        direction: str,
        pod_ep: tuple[str, Any],
        peer_ep: tuple[str, Any],
        dst: tuple[str, Any],
        port: int,
        proto: str,
    ) -> tuple[bool, bool]:
        """(isolated, allowed) by the NetworkPolicies of the pod's namespace."""
        pod = self.pods[pod_ep[1]]
        ptype = "Ingress" if direction == "ingress" else "Egress"
        peer_field = "from" if direction == "ingress" else "to"
        selecting = [
            pol
            for pol in self.policies
            if pol["namespace"] == pod["namespace"]
            and selector_matches(pol["spec"].get("podSelector"), pod["labels"])
            and ptype in _policy_types(pol["spec"])
        ]
        if not selecting:
            return False, True
        for pol in selecting:
            for rule in pol["spec"].get(direction) or []:
                rule = rule or {}
                peers = rule.get(peer_field) or []
                ports = rule.get("ports") or []
                peer_ok = not peers or any(self.peer_matches(pr, peer_ep, pol["namespace"]) for pr in peers)
                port_ok = not ports or any(self.port_matches(p, dst, port, proto) for p in ports)
                if peer_ok and port_ok:
                    return True, True
        return True, False

    # -- AdminNetworkPolicy (v1alpha1), BaselineAdminNetworkPolicy, ClusterNetworkPolicy (v1alpha2) --
    def tier(
        self,
        tier: str,
        direction: str,
        pod_ep: tuple[str, Any],
        peer_ep: tuple[str, Any],
        dst: tuple[str, Any],
        port: int,
        proto: str,
    ) -> str | None:
        """The action deciding this traffic in one tier (None: no rule matches). Policies go by
        ascending priority; equal priorities by name (the API leaves them unordered: a pair
        whose first matching rules disagree is recorded in `conflicts`)."""
        pod = self.pods[pod_ep[1]]
        pols = [p for p in self.admin if _tier_of(p) == tier and self.subject_selects(p["spec"]["subject"], pod)]
        pols.sort(key=lambda p: (p["spec"].get("priority", 0), p["name"]))
        for prio in sorted({p["spec"].get("priority", 0) for p in pols}):
            group = [p for p in pols if p["spec"].get("priority", 0) == prio]
            actions = [(p["name"], self.first_action(p, direction, peer_ep, dst, port, proto)) for p in group]
            for i, (a, x) in enumerate(actions):
                for b, y in actions[i + 1 :]:
                    if x is not None and y is not None and x != y:
                        self.conflicts.add((f"{_kind(group[i])}/{a}", f"{_kind(_named(group, b))}/{b}", direction))
            for _, action in actions:
                if action is not None:
                    return action  # Pass included: the rest of the tier is skipped
        return None

    def subject_selects(self, subject: dict[str, Any], pod: dict[str, Any]) -> bool:
        if "namespaces" in subject:
            return selector_matches(subject["namespaces"], self.ns_labels(pod["namespace"]))
        pods = subject["pods"]
        return selector_matches(pods.get("namespaceSelector") or {}, self.ns_labels(pod["namespace"])) and (
            selector_matches(pods["podSelector"], pod["labels"])
        )

    def first_action(
        self,
        pol: dict[str, Any],
        direction: str,
        peer_ep: tuple[str, Any],
        dst: tuple[str, Any],
        port: int,
        proto: str,
    ) -> str | None:
        field = "from" if direction == "ingress" else "to"
        for rule in pol["spec"].get(direction) or []:
            if not any(self.admin_peer_matches(pr, peer_ep) for pr in rule[field]):
                continue
            ports = rule.get("ports", rule.get("protocols"))
            if ports is None or any(self.admin_port_matches(p, dst, port, proto) for p in ports):
                return {"Accept": "Allow"}.get(rule["action"], rule["action"])
        return None

    def admin_peer_matches(self, peer: dict[str, Any], endpoint: tuple[str, Any]) -> bool:
        kind, value = endpoint
        if "networks" in peer:
            if kind == "pod":
                # a pod has an IPv4 address kubefort cannot know: only a CIDR holding every IPv4
                # address certainly holds it
                return any(
                    ipaddress.ip_network(n, strict=False).prefixlen == 0 and ":" not in n for n in peer["networks"]
                )
            if kind != "ip":
                return False
            addr = ipaddress.ip_address(value)
            return any(
                addr.version == net.version and addr in net
                for net in (ipaddress.ip_network(n, strict=False) for n in peer["networks"])
            )
        if kind == "pod" and self.pods[value].get("host"):  # the node: every node matches `nodes: {}`
            return (
                "nodes" in peer
                and not (peer["nodes"] or {}).get("matchLabels")
                and not (peer["nodes"] or {}).get("matchExpressions")
            )
        if kind != "pod" or ("namespaces" not in peer and "pods" not in peer):
            return False  # nodes, domainNames: no endpoint kubefort models
        pod = self.pods[value]
        if "namespaces" in peer:
            return selector_matches(peer["namespaces"], self.ns_labels(pod["namespace"]))
        return self.subject_selects({"pods": peer["pods"]}, pod)

    def admin_port_matches(self, p: dict[str, Any], dst: tuple[str, Any], port: int, proto: str) -> bool:
        name = p.get("namedPort", p.get("destinationNamedPort"))
        if name is not None:
            return (
                dst[0] == "pod"
                and not self.pods[dst[1]].get("host")
                and any(n == name and pr == proto and num == port for n, pr, num in self.pods[dst[1]]["ports"])
            )
        if "portNumber" in p:
            return p["portNumber"].get("protocol", "TCP") == proto and p["portNumber"]["port"] == port
        if "portRange" in p:
            r = p["portRange"]
            return r.get("protocol", "TCP") == proto and r["start"] <= port <= r["end"]
        ((key, value),) = p.items()  # v1alpha2: {tcp|udp|sctp: {destinationPort: {number} | {range}}}
        dp = value["destinationPort"]
        if key.upper() != proto:
            return False
        if "number" in dp:
            return bool(dp["number"] == port)
        return bool(dp["range"]["start"] <= port <= dp["range"]["end"])

    def allowed(self, src: tuple[str, Any], dst: tuple[str, Any], port: int, proto: str) -> bool:
        if src[0] == "range":
            return any(self.allowed(("ip", ip), dst, port, proto) for ip in self._candidates(src[1]))
        if dst[0] == "range":
            return any(self.allowed(src, ("ip", ip), port, proto) for ip in self._candidates(dst[1]))
        if src[0] != "pod" and dst[0] != "pod":
            return False
        egress = self.direction_allows("egress", src, dst, dst, port, proto)
        ingress = self.direction_allows("ingress", dst, src, dst, port, proto)  # both asked: conflicts of each
        return egress and ingress

    def _candidates(self, cidr: str) -> list[str]:
        """One address of every piece the policies' CIDRs cut the range into: enough for "some address"."""
        if cidr not in self._cuts:
            self._cuts[cidr] = self._cut(cidr)
        return self._cuts[cidr]

    def _cut(self, cidr: str) -> list[str]:
        rng = ipaddress.ip_network(cidr, strict=False)
        points = {int(rng.network_address)}
        for pol in self.policies + self.admin:
            for direction, field in (("ingress", "from"), ("egress", "to")):
                for rule in pol["spec"].get(direction) or []:
                    for peer in (rule or {}).get(field) or []:
                        if "networks" in peer:
                            texts = list(peer["networks"])
                        elif "ipBlock" in peer:
                            texts = [peer["ipBlock"]["cidr"]] + list(peer["ipBlock"].get("except") or [])
                        else:
                            continue
                        for text in texts:
                            net = ipaddress.ip_network(text, strict=False)
                            if net.version != rng.version:
                                continue
                            for x in (int(net.network_address), int(net.broadcast_address) + 1):
                                if int(rng.network_address) <= x <= int(rng.broadcast_address):
                                    points.add(x)
        cls = ipaddress.IPv4Address if rng.version == 4 else ipaddress.IPv6Address
        return [str(cls(x)) for x in sorted(points)]


def _tier_of(pol: dict[str, Any]) -> str:
    if pol["kind"] == "ClusterNetworkPolicy":
        return str(pol["spec"]["tier"])
    return "Admin" if pol["kind"] == "AdminNetworkPolicy" else "Baseline"


def _kind(pol: dict[str, Any]) -> str:
    return str(pol["kind"])


def _named(pols: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(p for p in pols if p["name"] == name)
