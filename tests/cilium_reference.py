"""A slow, literal Cilium policy evaluator: "may SRC open a connection to DST on PORT/PROTOCOL?"
with CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and Kubernetes NetworkPolicy composed as
the Cilium agent composes them.

It reads the raw objects with no precomputation and no code shared with
`kubefort.kube.netpol.cilium` (label selectors are matched by `kubefort.kube.selectors`, the one
definition of their semantics, over labels spelled `source:key`). Every rule below names the
upstream file it comes from (cilium/cilium v1.20.2, Apache-2.0; the agent's defaults assumed).

Inputs are plain data:
  namespaces: {name: {label: value}}        (kubernetes.io/metadata.name is added here)
  pods:       [{"namespace", "labels", "serviceAccount", "ports": [(name, protocol, number)]}]
  cilium:     [CNP / CCNP objects as written: {"kind", "metadata", "spec" and/or "specs"}] (valid)
  policies:   [{"namespace", "spec"}]       Kubernetes NetworkPolicies (valid)
  services:   [{"namespace", "name", "labels", "selector"}]   for toServices
Endpoints: ("pod", index); ("ip", "203.0.113.9") and ("range", "0.0.0.0/0") outside the cluster
(a range: allowed when one address of it is); ("entity", "host" | "remote-node" |
"kube-apiserver" | "health" | "ingress" | "init" | "unmanaged").

The rules:
  - identities (k8s/utils/utils.go SanitizePodLabels, labelsfilter/filter.go): a pod's labels
    come from source k8s: its labels (minus io.cilium.k8s*, minus those the default filter
    drops), io.kubernetes.pod.namespace, io.cilium.k8s.policy.serviceaccount,
    io.cilium.k8s.policy.cluster and io.cilium.k8s.namespace.labels.<key> per namespace label;
    an entity carries reserved:<name>; an external address is the world identity;
  - selector keys (labels.go parseSource, selector.go Sanitize): `src:key` matches labels of that
    source, a bare key is `any:key` and matches any source;
  - subjects (utils.go ParseToCiliumRule, repository.go): a CNP's endpointSelector gets its
    namespace (k8s:io.kubernetes.pod.namespace), a CCNP's is as written; a nodeSelector rule
    applies to nodes only; only pods are subjects here (hosts have no host policy here: open);
  - peers (utils.go getEndpointSelector): a CNP endpoint peer gets the policy's namespace unless
    it names io.kubernetes.pod.namespace or a namespace label; a CCNP one requires some namespace;
    a peer naming a reserved: label is as written; entities (entity.go): all = everything,
    cluster / cluster-mesh = pods and the cluster entities, world = external addresses, others
    themselves; CIDRs (fromCIDR, fromCIDRSet minus except) = external addresses only;
    toServices = the pods the selector of each matching Service selects (namespace "" = any;
    selector-less Services: their backends' addresses, unknown); toFQDNs, groups, CIDR groups:
    nothing known;
  - a rule (policy/utils/parserules.go, policy/rule.go mergeL4Filter): an L3 field given as an
    empty list matches nothing; no L3 field: every peer when the rule has toPorts or icmps,
    nothing otherwise; no toPorts/icmps: every port; ports: number (0 = all), endPort range,
    names resolved on the destination pod, protocol ANY/absent = TCP, UDP, SCTP; icmps match
    no TCP/UDP/SCTP traffic; L7 rules and authentication do not change L3/L4 reachability;
  - Kubernetes NetworkPolicy (k8s/network_policy.go ParseNetworkPolicy): one allow entry per
    peer (or a wildcard when from/to is empty), with the rule's ports; ingress isolated when it
    has ingress rules, or policyTypes has Ingress or lacks Egress; egress when it has egress
    rules or policyTypes has Egress (ingress rules count even when policyTypes omits Ingress);
    namespaceSelector keys go under io.cilium.k8s.namespace.labels. ({} = every namespace);
    podSelector alone = the policy's namespace; ipBlock = external addresses;
  - composition per direction (repository.go computePolicyEnforcementAndRules, deny.rst): the
    pod's entries are those of every selecting rule of that direction (CNP of its namespace,
    CCNP, NetworkPolicy); none: open; a matching deny entry denies; otherwise, if some entry
    enables default deny (enableDefaultDeny.<dir>, default true; NetworkPolicy always), a
    matching allow entry is needed, except ingress from the local host (allow-localhost:
    `auto` becomes `always` with Kubernetes, daemon/cmd/daemon.go);
    if none enables it, allowed. Both directions must allow.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kubefort.kube.selectors import selector_matches

CLUSTER_ENTITIES = {"host", "remote-node", "kube-apiserver", "health", "ingress", "init", "unmanaged"}
_IGNORED = [
    r"io\.kubernetes",
    r"kubernetes\.io",
    r"statefulset\.kubernetes\.io/pod-name",
    r"apps\.kubernetes\.io/pod-index",
    r"batch\.kubernetes\.io/job-completion-index",
    r"batch\.kubernetes\.io/controller-uid",
    r".*beta\.kubernetes\.io",
    r"k8s\.io",
    "pod-template-generation",
    "pod-template-hash",
    "controller-revision-hash",
    "controller-uid",
    "annotation.*",
    "etcd_node",
    r"topology\.kubernetes\.io",
]
_INCLUDED = [
    r"io\.kubernetes\.pod\.namespace",
    r"io\.cilium\.k8s\.namespace\.labels",
    r"app\.kubernetes\.io",
    r"io\.cilium\.k8s\.policy\.cluster",
    r"io\.cilium\.k8s\.policy\.serviceaccount",
]
_NAME = re.compile(r"^([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$")


def _kept(key: str) -> bool:
    ignore = [m.end() for p in _IGNORED if (m := re.match(p, key))]
    include = [m.end() for p in _INCLUDED if (m := re.match(p, key))]
    return not ignore or max(include, default=0) > min(ignore)


def _key(key: str) -> str:
    if key.startswith("$"):
        return "reserved:" + key[1:]
    return key if ":" in key else "any:" + key


def _norm(sel: dict[str, Any] | None) -> dict[str, Any]:
    """A selector with every key as `source:key`."""
    sel = sel or {}
    return {
        "matchLabels": {_key(k): v for k, v in (sel.get("matchLabels") or {}).items()},
        "matchExpressions": [dict(e, key=_key(e["key"])) for e in sel.get("matchExpressions") or []],
    }


def _keys(sel: dict[str, Any]) -> list[str]:
    return list(sel["matchLabels"]) + [e["key"] for e in sel["matchExpressions"]]


def _labels(pairs: dict[tuple[str, str], str]) -> dict[str, str]:
    """(source, key) -> value, spelled `source:key` and `any:key` for selector matching."""
    out = {}
    for (src, k), v in pairs.items():
        out[f"{src}:{k}"] = v
        out[f"any:{k}"] = v
    return out


def _port_number(text: str) -> int:
    return int(text, 8) if len(text) > 1 and text.startswith("0") else int(text)


class CiliumReference:
    def __init__(
        self,
        namespaces: dict[str, dict[str, str]],
        pods: list[dict[str, Any]],
        cilium: list[dict[str, Any]],
        policies: list[dict[str, Any]] | None = None,
        services: list[dict[str, Any]] | None = None,
        cluster: str = "default",
    ) -> None:
        self.namespaces = namespaces
        self.pods = pods
        self.cilium = cilium
        self.policies = policies or []
        self.services = services or []
        self.cluster = cluster
        self._cuts: dict[str, list[str]] = {}

    # -- identities --------------------------------------------------------------------------
    def ns_labels(self, name: str) -> dict[str, str]:
        return {**self.namespaces.get(name, {}), "kubernetes.io/metadata.name": name}

    def labels_of(self, ep: tuple[str, Any]) -> dict[str, str]:
        kind, value = ep
        if kind == "entity":
            return _labels({("reserved", value): ""})
        if kind != "pod":
            return _labels({("reserved", "world"): ""})
        pod = self.pods[value]
        lbls = {k: v for k, v in pod["labels"].items() if not k.startswith("io.cilium.k8s")}
        for k, v in self.ns_labels(pod["namespace"]).items():
            lbls["io.cilium.k8s.namespace.labels." + k] = v
        lbls["io.kubernetes.pod.namespace"] = pod["namespace"]
        sa = pod.get("serviceAccount", "default")
        if sa:
            lbls["io.cilium.k8s.policy.serviceaccount"] = sa
        else:
            lbls.pop("io.cilium.k8s.policy.serviceaccount", None)
        lbls["io.cilium.k8s.policy.cluster"] = self.cluster
        return _labels({("k8s", k): v for k, v in lbls.items() if _kept(k)})

    # -- peers -------------------------------------------------------------------------------
    def endpoint_peer(self, sel: dict[str, Any], policy_ns: str | None, subject_init: bool) -> dict[str, Any]:
        es = _norm(sel)
        keys = _keys(es)
        if any(k.startswith("reserved:") for k in keys):
            return es
        if "k8s:io.kubernetes.pod.namespace" in keys or "any:io.kubernetes.pod.namespace" in keys:
            return es
        if policy_ns is None:
            if not subject_init:
                es["matchExpressions"].append({"key": "k8s:io.kubernetes.pod.namespace", "operator": "Exists"})
        elif not any(
            k.startswith(("k8s:io.cilium.k8s.namespace.labels.", "any:io.cilium.k8s.namespace.labels.")) for k in keys
        ):
            es["matchLabels"]["k8s:io.kubernetes.pod.namespace"] = policy_ns
        return es

    @staticmethod
    def in_cidr(ep: tuple[str, Any], cidr: str, excepts: list[str]) -> bool:
        if ep[0] != "ip":
            return False
        addr = ipaddress.ip_address(ep[1])
        net = ipaddress.ip_network(cidr, strict=False)
        if addr.version != net.version or addr not in net:
            return False
        return all(
            not (
                addr.version == ipaddress.ip_network(e, strict=False).version
                and addr in ipaddress.ip_network(e, strict=False)
            )
            for e in excepts
        )

    @staticmethod
    def entity_matches(entity: str, ep: tuple[str, Any]) -> bool:
        kind, value = ep
        if entity == "all":
            return True
        if entity in ("cluster", "cluster-mesh"):
            return kind in {"pod", "entity"}
        if entity == "world":
            return kind == "ip"
        if entity in ("world-ipv4", "world-ipv6"):
            return kind == "ip" and ipaddress.ip_address(value).version == (4 if entity == "world-ipv4" else 6)
        return kind == "entity" and value == entity

    def service_selectors(self, svc_refs: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
        """policy/k8s/service.go processRule: one generated selector per matching Service with a
        selector; None (unknown backend addresses) per matching selector-less Service."""
        out: list[dict[str, Any] | None] = []
        for ref in svc_refs:
            for svc in self.services:
                if "k8sServiceSelector" in ref:
                    s = ref["k8sServiceSelector"]
                    ok = s.get("namespace", "") in ("", svc["namespace"]) and selector_matches(
                        s["selector"], svc.get("labels", {})
                    )
                else:
                    s = ref["k8sService"]
                    ok = s.get("namespace", "") in ("", svc["namespace"]) and s.get("serviceName") == svc["name"]
                if not ok:
                    continue
                if svc.get("selector"):
                    ml = {"k8s:" + k: v for k, v in svc["selector"].items()}
                    ml["k8s:io.kubernetes.pod.namespace"] = svc["namespace"]
                    out.append({"matchLabels": ml, "matchExpressions": []})
                else:
                    out.append(None)
        return out

    # -- one Cilium rule (an IngressRule, IngressDenyRule, EgressRule or EgressDenyRule) --------
    def item_matches(
        self,
        item: dict[str, Any],
        direction: str,
        policy_ns: str | None,
        subject_init: bool,
        peer: tuple[str, Any],
        dst: tuple[str, Any],
        port: int,
        proto: str,
    ) -> bool:
        pre = "from" if direction == "ingress" else "to"
        l3_checks: list[bool] = []
        for field in ("Endpoints", "Entities", "CIDR", "CIDRSet", "Nodes"):
            if item.get(pre + field) is not None and item[pre + field] == []:
                return False  # an empty list given: selects nothing
        for sel in item.get(pre + "Endpoints") or []:
            l3_checks.append(selector_matches(self.endpoint_peer(sel, policy_ns, subject_init), self.labels_of(peer)))
        for ent in item.get(pre + "Entities") or []:
            l3_checks.append(self.entity_matches(ent, peer))
        for cidr in item.get(pre + "CIDR") or []:
            l3_checks.append(self.in_cidr(peer, cidr, []))
        for cs in item.get(pre + "CIDRSet") or []:
            l3_checks.append("cidr" in cs and self.in_cidr(peer, cs["cidr"], cs.get("except") or []))
        for sel2 in self.service_selectors(item.get("toServices") or []) if pre == "to" else []:
            l3_checks.append(sel2 is not None and selector_matches(sel2, self.labels_of(peer)))
        for _ in (item.get("toFQDNs") or []) + (item.get(pre + "Groups") or []):
            l3_checks.append(False)
        l4 = (item.get("toPorts") or []) + (item.get("icmps") or [])
        if not l3_checks:
            if not l4:
                return False
        elif not any(l3_checks):
            return False
        if not l4:
            return True
        return any(
            self.cilium_port(p, dst, port, proto) for pr in item.get("toPorts") or [] for p in pr.get("ports") or []
        )

    def cilium_port(self, p: dict[str, Any], dst: tuple[str, Any], port: int, proto: str) -> bool:
        want = p.get("protocol") or "ANY"
        if want not in ("ANY", proto):
            return False
        text = p["port"]
        if _NAME.match(text) and len(text) <= 15:
            return dst[0] == "pod" and any(
                n.lower() == text.lower() and pr == proto and num == port for n, pr, num in self.pods[dst[1]]["ports"]
            )
        lo = _port_number(text)
        if lo == 0:
            return True
        hi = p.get("endPort") or 0
        return lo <= port <= max(lo, hi)

    # -- entries of one pod and direction ------------------------------------------------------
    def cilium_entries(
        self,
        direction: str,
        pod_ep: tuple[str, Any],
        peer: tuple[str, Any],
        dst: tuple[str, Any],
        port: int,
        proto: str,
    ) -> list[tuple[bool, bool, bool]]:
        """(deny, default deny, matches) for each rule entry of that direction selecting the pod."""
        pod = self.pods[pod_ep[1]]
        labels = self.labels_of(pod_ep)
        out = []
        for obj in self.cilium:
            cnp = obj["kind"] == "CiliumNetworkPolicy"
            ns = (obj["metadata"].get("namespace") or "default") if cnp else None
            if cnp and ns != pod["namespace"]:
                continue
            specs = ([obj["spec"]] if obj.get("spec") is not None else []) + list(obj.get("specs") or [])
            for rule in specs:
                if rule.get("endpointSelector") is None:
                    continue  # a node (host) policy
                subject = _norm(rule["endpointSelector"])
                if cnp:
                    subject["matchLabels"]["k8s:io.kubernetes.pod.namespace"] = ns
                if not selector_matches(subject, labels):
                    continue
                init = "reserved:init" in _keys(subject)
                dd = (rule.get("enableDefaultDeny") or {}).get(direction)
                dd = True if dd is None else dd
                for deny, key in ((False, direction), (True, direction + "Deny")):
                    for item in rule.get(key) or []:
                        m = self.item_matches(item or {}, direction, ns, init, peer, dst, port, proto)
                        out.append((deny, dd, m))
        return out

    def np_entries(
        self,
        direction: str,
        pod_ep: tuple[str, Any],
        peer: tuple[str, Any],
        dst: tuple[str, Any],
        port: int,
        proto: str,
    ) -> list[tuple[bool, bool, bool]]:
        pod = self.pods[pod_ep[1]]
        labels = self.labels_of(pod_ep)
        out = []
        for pol in self.policies:
            spec = pol["spec"]
            sel = {
                "matchLabels": {
                    "k8s:" + k: v for k, v in (spec.get("podSelector") or {}).get("matchLabels", {}).items()
                },
                "matchExpressions": [
                    dict(e, key="k8s:" + e["key"])
                    for e in (spec.get("podSelector") or {}).get("matchExpressions") or []
                ],
            }
            if pol["namespace"] != pod["namespace"] or not selector_matches(sel, labels):
                continue
            types = spec.get("policyTypes") or []
            rules = spec.get(direction) or []
            field = "from" if direction == "ingress" else "to"
            entries = 0
            for rule in rules:
                rule = rule or {}
                ports = rule.get("ports") or []
                port_ok = not ports or any(self.np_port(p, dst, port, proto) for p in ports)
                for pr in rule.get(field) or [None]:
                    out.append((False, True, port_ok and (pr is None or self.np_peer(pr, pol["namespace"], peer))))
                    entries += 1
            if entries == 0:
                if direction == "ingress" and ("Ingress" in types or "Egress" not in types):
                    out.append((False, True, False))
                if direction == "egress" and "Egress" in types:
                    out.append((False, True, False))
        return out

    def np_peer(self, pr: dict[str, Any], ns: str, peer: tuple[str, Any]) -> bool:
        if "ipBlock" in pr:
            return self.in_cidr(peer, pr["ipBlock"]["cidr"], pr["ipBlock"].get("except") or [])
        pod_sel = pr.get("podSelector") or {}
        sel: dict[str, Any] = {
            "matchLabels": {"k8s:" + k: v for k, v in (pod_sel.get("matchLabels") or {}).items()},
            "matchExpressions": [dict(e, key="k8s:" + e["key"]) for e in pod_sel.get("matchExpressions") or []],
        }
        if "namespaceSelector" in pr:
            nsel = pr["namespaceSelector"] or {}
            pre = "k8s:io.cilium.k8s.namespace.labels."
            sel["matchLabels"].update({pre + k: v for k, v in (nsel.get("matchLabels") or {}).items()})
            sel["matchExpressions"] += [dict(e, key=pre + e["key"]) for e in nsel.get("matchExpressions") or []]
            if not nsel.get("matchLabels") and not nsel.get("matchExpressions"):
                sel["matchExpressions"].append({"key": "k8s:io.kubernetes.pod.namespace", "operator": "Exists"})
        else:
            sel["matchLabels"]["k8s:io.kubernetes.pod.namespace"] = ns
        return selector_matches(sel, self.labels_of(peer))

    def np_port(self, p: dict[str, Any], dst: tuple[str, Any], port: int, proto: str) -> bool:
        if p.get("protocol", "TCP") != proto:
            return False
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, int):
            return bool(want <= port <= p.get("endPort", want))
        return dst[0] == "pod" and any(
            n == want and pr == proto and num == port for n, pr, num in self.pods[dst[1]]["ports"]
        )

    # -- the verdict ---------------------------------------------------------------------------
    def side(
        self,
        direction: str,
        pod_ep: tuple[str, Any],
        peer: tuple[str, Any],
        dst: tuple[str, Any],
        port: int,
        proto: str,
    ) -> bool:
        if pod_ep[0] != "pod":
            return True  # externals, and entities (no host policy here): nothing to enforce
        entries = self.cilium_entries(direction, pod_ep, peer, dst, port, proto)
        entries += self.np_entries(direction, pod_ep, peer, dst, port, proto)
        if not entries:
            return True
        if any(deny and m for deny, _, m in entries):
            return False
        if not any(dd for _, dd, _ in entries):
            return True
        if direction == "ingress" and peer == ("entity", "host"):
            return True  # allow-localhost: the local host always reaches its pods
        return any(m for deny, _, m in entries if not deny)

    def allowed(self, src: tuple[str, Any], dst: tuple[str, Any], port: int, proto: str) -> bool:
        # a hostNetwork pod ("host": True) has its node's identity: reserved:host on its own node,
        # reserved:remote-node elsewhere (may connect: either); no policy applies to it (no host firewall)
        nodes = (("entity", "host"), ("entity", "remote-node"))
        if src[0] == "pod" and self.pods[src[1]].get("host"):
            if dst[0] != "pod" or self.pods[dst[1]].get("host"):
                return True
            return any(self.allowed(e, dst, port, proto) for e in nodes)
        if dst[0] == "pod" and self.pods[dst[1]].get("host"):
            return any(self.allowed(src, e, port, proto) for e in nodes)
        if src[0] == "range":
            return any(self.allowed(("ip", ip), dst, port, proto) for ip in self._candidates(src[1]))
        if dst[0] == "range":
            return any(self.allowed(src, ("ip", ip), port, proto) for ip in self._candidates(dst[1]))
        return self.side("egress", src, dst, dst, port, proto) and self.side("ingress", dst, src, dst, port, proto)

    def _candidates(self, cidr: str) -> list[str]:
        """One address of every piece the policies' CIDRs cut the range into."""
        if cidr not in self._cuts:
            rng = ipaddress.ip_network(cidr, strict=False)
            points = {int(rng.network_address)}
            for text in self._cidr_texts():
                net = ipaddress.ip_network(text, strict=False)
                if net.version != rng.version:
                    continue
                for x in (int(net.network_address), int(net.broadcast_address) + 1):
                    if int(rng.network_address) <= x <= int(rng.broadcast_address):
                        points.add(x)
            cls = ipaddress.IPv4Address if rng.version == 4 else ipaddress.IPv6Address
            self._cuts[cidr] = [str(cls(x)) for x in sorted(points)]
        return self._cuts[cidr]

    def _cidr_texts(self) -> list[str]:
        out: list[str] = []
        for obj in self.cilium:
            for rule in ([obj["spec"]] if obj.get("spec") else []) + list(obj.get("specs") or []):
                for key in ("ingress", "ingressDeny", "egress", "egressDeny"):
                    for item in rule.get(key) or []:
                        for f in ("fromCIDR", "toCIDR"):
                            out += item.get(f) or []
                        for f in ("fromCIDRSet", "toCIDRSet"):
                            for cs in item.get(f) or []:
                                out += ([cs["cidr"]] if "cidr" in cs else []) + list(cs.get("except") or [])
        for pol in self.policies:
            for key, field in (("ingress", "from"), ("egress", "to")):
                for rule in pol["spec"].get(key) or []:
                    for pr in (rule or {}).get(field) or []:
                        if "ipBlock" in pr:
                            out += [pr["ipBlock"]["cidr"]] + list(pr["ipBlock"].get("except") or [])
        return out
