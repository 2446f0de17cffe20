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
        self, namespaces: dict[str, dict[str, str]], pods: list[dict[str, Any]], policies: list[dict[str, Any]]
    ) -> None:
        self.namespaces = namespaces
        self.pods = pods
        self.policies = policies
        self._cuts: dict[str, list[str]] = {}

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
        if kind != "pod":
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
        if dst[0] != "pod":
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
        if pod_ep[0] != "pod":
            return True  # no policy applies to an address outside the cluster
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
            return True
        for pol in selecting:
            for rule in pol["spec"].get(direction) or []:
                rule = rule or {}
                peers = rule.get(peer_field) or []
                ports = rule.get("ports") or []
                peer_ok = not peers or any(self.peer_matches(pr, peer_ep, pol["namespace"]) for pr in peers)
                port_ok = not ports or any(self.port_matches(p, dst, port, proto) for p in ports)
                if peer_ok and port_ok:
                    return True
        return False

    def allowed(self, src: tuple[str, Any], dst: tuple[str, Any], port: int, proto: str) -> bool:
        if src[0] == "range":
            return any(self.allowed(("ip", ip), dst, port, proto) for ip in self._candidates(src[1]))
        if dst[0] == "range":
            return any(self.allowed(src, ("ip", ip), port, proto) for ip in self._candidates(dst[1]))
        if src[0] != "pod" and dst[0] != "pod":
            return False
        return self.direction_allows("egress", src, dst, dst, port, proto) and self.direction_allows(
            "ingress", dst, src, dst, port, proto
        )

    def _candidates(self, cidr: str) -> list[str]:
        """One address of every piece the policies' CIDRs cut the range into: enough for "some address"."""
        if cidr not in self._cuts:
            self._cuts[cidr] = self._cut(cidr)
        return self._cuts[cidr]

    def _cut(self, cidr: str) -> list[str]:
        rng = ipaddress.ip_network(cidr, strict=False)
        points = {int(rng.network_address)}
        for pol in self.policies:
            for direction, field in (("ingress", "from"), ("egress", "to")):
                for rule in pol["spec"].get(direction) or []:
                    for peer in (rule or {}).get(field) or []:
                        if "ipBlock" not in peer:
                            continue
                        for text in [peer["ipBlock"]["cidr"]] + list(peer["ipBlock"].get("except") or []):
                            net = ipaddress.ip_network(text, strict=False)
                            if net.version != rng.version:
                                continue
                            for x in (int(net.network_address), int(net.broadcast_address) + 1):
                                if int(rng.network_address) <= x <= int(rng.broadcast_address):
                                    points.add(x)
        cls = ipaddress.IPv4Address if rng.version == 4 else ipaddress.IPv6Address
        return [str(cls(x)) for x in sorted(points)]
