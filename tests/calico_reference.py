"""A slow, spec-literal evaluator of Calico policy (with Kubernetes NetworkPolicy as Calico runs it).

It answers one question at a time, "may SRC open a connection to DST on PORT/PROTOCOL?", from
the raw objects, with no precomputation and no code shared with `kubefort.kube.netpol.calico`
(only the selector language, `calico_selector`, the one definition of its syntax; the reference
evaluates the parsed expressions with its own evaluator below, applying the context rules for
`all()` / `global()` that upstream applies by rewriting the selector text).

Upstream (projectcalico/calico, Apache-2.0, commit 87c15906, Aug 2026, v3.32+), file by file:
  felix/rules/endpoints.go (endpointIptablesChain): per direction, tiers in order; for each tier
    holding a policy for the endpoint in that direction, the policies in order; a rule action
    Allow returns "accepted" (allowed for this direction), Deny drops, Pass skips the rest of the
    tier, Log logs and goes on; a policy with no matching rule hands over to the next policy; at
    the end of a tier nothing passed -> drop unless the tier's defaultAction is Pass; after the
    tiers, the profiles: the namespace profile `kns.<ns>` allows everything (NamespaceToProfile),
    so an endpoint no policy selects in a direction is allowed in it;
  felix/calc/policy_sorter.go: tiers by (order, +Inf when absent; then name), tiers without a Tier
    object after all others (Valid false) with an empty default action (= Deny); policies by
    (order, +Inf when absent; then the string "name/namespace/kind");
  felix/calc/event_sequencer.go: doNotTrack and preDNAT policies go to host endpoints' untracked /
    pre-DNAT chains only: never to a pod; applyOnForward changes nothing for pods;
  api/pkg/defaults/networkpolicy.go: types absent -> Ingress; Egress if egress rules but no
    ingress rules; both if both (projectcalico.org/v3); felix/calc/policy_sorter.go
    ExtractPolicyMetadata: none at all (crd.projectcalico.org/v1 written directly) -> both;
  libcalico-go/.../updateprocessors/networkpolicyprocessor.go, globalnetworkpolicyprocessor.go:
    a NetworkPolicy selects `(selector) && projectcalico.org/namespace == '<ns>'`, plus its
    serviceAccountSelector over `pcsa.` labels; a GlobalNetworkPolicy its selector, plus
    namespaceSelector over `pcns.` labels (all() there: any endpoint in a namespace) and
    serviceAccountSelector over `pcsa.` labels (all(): any endpoint with a service account);
  .../updateprocessors/rules.go (GetEntityRuleSelector, parseServiceAccounts): a rule's source or
    destination matches an endpoint when every given part matches: selector; serviceAccounts
    (names -> `projectcalico.org/serviceaccount in {...}`, selector over `pcsa.` labels, AND'ed;
    a name holding a quote makes upstream drop the whole service-account match); namespace
    (namespaceSelector over `pcns.` labels, all() = any namespace, global() = no namespace, i.e. no
    pod; else in a NetworkPolicy the policy's own namespace, as soon as selector, notSelector or
    serviceAccounts is given); any such positive part matches pods only; notSelector: not
    matching (an address outside the cluster never matches it); nets: the address in one;
    notNets: in none; ports: the port in one range, or a named port: an endpoint matching the
    positive selector with a container port of that name whose number is the port and whose
    protocol is the packet's (and the rule's, when given) (felix/calc/rule_scanner.go); notPorts:
    in none of them; services: the endpoints (and, as a destination, the ports) of the Service;
  felix/rules/policy.go (FilterRuleToIPVersion): a rule with ipVersion, or with a nets/notNets
    list holding no CIDR of the packet's IP version, does not match that version; protocol and
    notProtocol by number; ICMP matches only ICMP packets (never asked here); http is ignored at
    L4 (Felix's dataplanes do not match it);
  libcalico-go/lib/backend/k8s/conversion/conversion.go (K8sNetworkPolicyToCalico): a Kubernetes
    NetworkPolicy is a policy of kind KubernetesNetworkPolicy named as itself (v3.31 and earlier:
    "knp.default.<name>"), tier default, order 1000, selecting
    `projectcalico.org/orchestrator == 'k8s' && <podSelector>`; each rule becomes Allow rules,
    one per protocol of its ports and per peer: ipBlock -> nets (cidr) and notNets (except); else
    the peer's podSelector (with the orchestrator term) and namespaceSelector (`{}` -> all());
    a port without a number: every port of its protocol; no ports: every protocol and port;
  conversion.go NamespaceToProfile / ServiceAccountToProfile, workload_endpoint_default.go,
  felix/labelindex/label_inheritance_index.go: a pod's labels are its own, plus
  projectcalico.org/namespace, projectcalico.org/orchestrator=k8s, projectcalico.org/serviceaccount
  (when its name is shorter than 63), over the inherited profile labels `pcns.<k>` of its
  namespace (with `pcns.projectcalico.org/name` = the namespace) and `pcsa.<k>` of its service
  account (with `pcsa.projectcalico.org/name`); the pod's own labels win.

Inputs, as netpol_reference.py plus Calico's:
  namespaces:       {name: {label: value}}   (kubernetes.io/metadata.name is added)
  pods:             [{"namespace", "labels", "serviceAccount" (default "default"),
                      "ports": [(name, protocol, number)]}]
  calico:           raw Calico objects (NetworkPolicy, GlobalNetworkPolicy, Tier; either group)
  k8s:              [{"namespace", "name", "spec"}]  Kubernetes NetworkPolicies
  service_accounts: {(namespace, name): labels}  (a pod's account exists; unknown labels: none)
  services:         {(namespace, name): {"pods": [index], "ports": [(protocol, number)]}}
Endpoints: ("pod", index), ("ip", "203.0.113.9"), ("range", "0.0.0.0/0") (allowed when some
address of the range is). A pod has an address kubefort cannot know, of the packet's IP version
(the outside address's; IPv4 between pods): it is in no CIDR but a /0 of that version. The source port of a connection is the client's choice: it is allowed when some
source port is allowed in both directions.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from kubefort.kube.netpol import calico_selector as cs

PROTO = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58, "SCTP": 132, "UDPLite": 136}
NS_LABEL, SA_LABEL, ORCH_LABEL = (
    "projectcalico.org/namespace",
    "projectcalico.org/serviceaccount",
    "projectcalico.org/orchestrator",
)
BUILTIN = {"default": (1_000_000.0, "Deny"), "kube-admin": (1_000.0, "Pass"), "kube-baseline": (10_000_000.0, "Pass")}


def ev(node: cs.Node, labels: dict[str, str], all_means: str | None = None, global_means: bool = True) -> bool:
    """Evaluate a parsed selector. `all_means`: the label all() stands for after upstream's text
    rewrite (None: everything); `global_means`: what global() evaluates to (True, or False where
    it was rewritten to "no namespace" for a pod)."""
    if isinstance(node, cs.All):
        return all_means is None or all_means in labels
    if isinstance(node, cs.Global):
        return global_means
    if isinstance(node, cs.Has):
        return node.label in labels
    if isinstance(node, cs.Label):
        if node.label not in labels:
            return node.op == "!="
        v = labels[node.label]
        return {
            "==": v == node.value,
            "!=": v != node.value,
            "contains": node.value in v,
            "starts with": v[: len(node.value)] == node.value,
            "ends with": len(v) >= len(node.value) and v[len(v) - len(node.value) :] == node.value,
        }[node.op]
    if isinstance(node, cs.In):
        return node.label in labels and labels[node.label] in node.values
    if isinstance(node, cs.NotIn):
        return node.label not in labels or labels[node.label] not in node.values
    if isinstance(node, cs.Not):
        return not ev(node.operand, labels, all_means, global_means)
    if isinstance(node, cs.And):
        return all(ev(o, labels, all_means, global_means) for o in node.operands)
    assert isinstance(node, cs.Or)
    return any(ev(o, labels, all_means, global_means) for o in node.operands)


def prefixed(text: str, prefix: str, labels: dict[str, str], all_means: str | None, global_means: bool = True) -> bool:
    """A selector written over a namespace's (service account's) labels, matched against the
    endpoint's inherited `prefix`-ed copies of them."""
    return ev(cs.prefix_labels(cs.parse_calico_selector(text), prefix), labels, all_means, global_means)


def k8s_selector(sel: dict[str, Any] | None, pod: bool) -> str:
    """k8sSelectorToCalico."""
    parts = [f"{ORCH_LABEL} == 'k8s'"] if pod else []
    if sel is None:
        return " && ".join(parts)
    if not pod and not sel.get("matchLabels") and not sel.get("matchExpressions"):
        return "all()"
    for k in sorted(sel.get("matchLabels") or {}):
        parts.append(f"{k} == '{sel['matchLabels'][k]}'")
    for e in sel.get("matchExpressions") or []:
        vals = "', '".join(e.get("values") or [])
        parts.append(
            {
                "In": f"{e['key']} in {{ '{vals}' }}",
                "NotIn": f"{e['key']} not in {{ '{vals}' }}",
                "Exists": f"has({e['key']})",
                "DoesNotExist": f"! has({e['key']})",
            }[e["operator"]]
        )
    return " && ".join(parts)


def k8s_rules(rule: dict[str, Any], ingress: bool) -> list[dict[str, Any]]:
    """k8sRuleToCalico: one Allow rule per protocol group and per peer."""
    peers = rule.get("from" if ingress else "to") or [None]
    groups: dict[str, list[Any] | None] = {}
    for p in rule.get("ports") or [None]:
        if p is None:
            groups = {"": None}
            break
        proto = p.get("protocol") or "TCP"
        if p.get("port") is None:
            groups[proto] = None
            continue
        port = p["port"] if p.get("endPort") is None else f"{p['port']}:{p['endPort']}"
        if proto not in groups or groups[proto]:
            groups[proto] = (groups.get(proto) or []) + [port]
    out = []
    for proto in sorted(groups):
        for peer in peers:
            ent: dict[str, Any] = {}
            if peer is not None and peer.get("ipBlock") is not None:
                ent["nets"] = [str(ipaddress.ip_network(peer["ipBlock"]["cidr"], strict=False))]
                ent["notNets"] = [
                    str(ipaddress.ip_network(x, strict=False)) for x in peer["ipBlock"].get("except") or []
                ]
            elif peer is not None:
                ent["selector"] = k8s_selector(peer.get("podSelector"), True)
                if peer.get("namespaceSelector") is not None:
                    ent["namespaceSelector"] = k8s_selector(peer["namespaceSelector"], False)
            r: dict[str, Any] = {"action": "Allow"}
            if proto:
                r["protocol"] = proto
            ports = {"ports": groups[proto]} if groups[proto] else {}
            if ingress:
                r["source"], r["destination"] = ent, ports
            else:
                r["destination"] = {**ent, **ports}
            out.append(r)
    return out


class CalicoReference:
    def __init__(
        self,
        namespaces: dict[str, dict[str, str]],
        pods: list[dict[str, Any]],
        calico: list[dict[str, Any]],
        k8s: list[dict[str, Any]] | None = None,
        service_accounts: dict[tuple[str, str], dict[str, str]] | None = None,
        services: dict[tuple[str, str], dict[str, Any]] | None = None,
    ) -> None:
        self.namespaces, self.pods = namespaces, pods
        self.service_accounts = service_accounts or {}
        self.services = services or {}
        self.tiers = {o["metadata"]["name"]: o.get("spec") or {} for o in calico if o["kind"] == "Tier"}
        self.policies = [self._calico(o) for o in calico if o["kind"] != "Tier"]
        self.policies += [self._k8s(p) for p in k8s or []]

    # -- reading ------------------------------------------------------------------------------
    def _calico(self, o: dict[str, Any]) -> dict[str, Any]:
        spec = o.get("spec") or {}
        crd = o["apiVersion"].startswith("crd.")
        tier = spec.get("tier") or "default"
        name = o["metadata"]["name"]
        if crd and tier == "default" and name.startswith("default."):
            name = name[len("default.") :]
        types = spec.get("types")
        if not types:
            ing, eg = bool(spec.get("ingress")), bool(spec.get("egress"))
            types = ["Ingress", "Egress"] if crd or (ing and eg) else (["Egress"] if eg else ["Ingress"])
        gnp = o["kind"] == "GlobalNetworkPolicy"
        return {
            "kind": o["kind"],
            "namespace": None if gnp else o["metadata"].get("namespace") or "default",
            "name": name,
            "tier": tier,
            "order": spec.get("order"),
            "selector": spec.get("selector") or "",
            "nsSelector": spec.get("namespaceSelector") or "",
            "saSelector": spec.get("serviceAccountSelector") or "",
            "types": set(types),
            "ingress": spec.get("ingress") or [],
            "egress": spec.get("egress") or [],
            "pods_only_skip": bool(spec.get("doNotTrack") or spec.get("preDNAT")),
        }

    def _k8s(self, p: dict[str, Any]) -> dict[str, Any]:
        spec = p["spec"]
        types = spec.get("policyTypes") or (["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
        return {
            "kind": "KubernetesNetworkPolicy",
            "namespace": p["namespace"],
            "name": p["name"],
            "tier": "default",
            "order": 1000.0,
            "selector": k8s_selector(spec.get("podSelector") or {}, True),
            "nsSelector": "",
            "saSelector": "",
            "types": set(types),
            "ingress": [x for r in spec.get("ingress") or [] for x in k8s_rules(r or {}, True)],
            "egress": [x for r in spec.get("egress") or [] for x in k8s_rules(r or {}, False)],
            "pods_only_skip": False,
        }

    def labels(self, i: int) -> dict[str, str]:
        pod = self.pods[i]
        ns, sa = pod["namespace"], pod.get("serviceAccount") or "default"
        out = {f"pcns.{k}": v for k, v in self.namespaces.get(ns, {}).items()}
        out["pcns.kubernetes.io/metadata.name"] = ns
        out["pcns.projectcalico.org/name"] = ns
        out.update({f"pcsa.{k}": v for k, v in self.service_accounts.get((ns, sa), {}).items()})
        out["pcsa.projectcalico.org/name"] = sa
        out.update(pod["labels"])
        out[NS_LABEL], out[ORCH_LABEL] = ns, "k8s"
        if len(sa) < 63:
            out[SA_LABEL] = sa
        return out

    # -- selection ----------------------------------------------------------------------------
    def selects(self, pol: dict[str, Any], i: int) -> bool:
        lab, ns = self.labels(i), self.pods[i]["namespace"]
        sel = cs.parse_calico_selector(pol["selector"])
        if pol["namespace"] is not None:
            return (
                ns == pol["namespace"]
                and ev(sel, lab)
                and (not pol["saSelector"] or prefixed(pol["saSelector"], "pcsa.", lab, None))
            )
        # the GNP text rewrites: all() -> has(namespace label) once namespaceSelector is appended,
        # then the remaining all() -> has(serviceaccount label) once serviceAccountSelector is
        # (an empty selector adds no text, so nothing of it is rewritten)
        sel_all = NS_LABEL if pol["nsSelector"] else (SA_LABEL if pol["saSelector"] else None)
        return (
            (not pol["selector"] or ev(sel, lab, sel_all))
            and (not pol["nsSelector"] or prefixed(pol["nsSelector"], "pcns.", lab, NS_LABEL))
            and (not pol["saSelector"] or prefixed(pol["saSelector"], "pcsa.", lab, SA_LABEL))
        )

    def entity_matches(
        self,
        ent: dict[str, Any],
        ep: tuple[str, Any],
        port: int,
        proto: int,
        rule_proto: int | None,
        pol_ns: str | None,
        version: int,
    ) -> bool:
        pod = ep[1] if ep[0] == "pod" else None
        lab = self.labels(pod) if pod is not None else {}
        # positive selector parts
        sa = ent.get("serviceAccounts")
        sa_names = list((sa or {}).get("names") or [])
        sa_sel = (sa or {}).get("selector") or ""
        if any("'" in n for n in sa_names):
            sa_names, sa_sel = [], ""  # upstream fails to parse its own text and drops the match
        sel, not_sel, ns_sel = (
            ent.get("selector") or "",
            ent.get("notSelector") or "",
            ent.get("namespaceSelector") or "",
        )
        parts: list[bool] = []
        if sa_names:
            parts.append(lab.get(SA_LABEL) in sa_names if SA_LABEL in lab else False)
        if sa_sel:
            parts.append(prefixed(sa_sel, "pcsa.", lab, None))
        if sel:
            parts.append(ev(cs.parse_calico_selector(sel), lab))
        if ns_sel:
            parts.append(prefixed(ns_sel, "pcns.", lab, NS_LABEL, global_means=NS_LABEL not in lab))
        elif pol_ns is not None and (sa_names or sa_sel or sel or not_sel):
            parts.append(lab.get(NS_LABEL) == pol_ns)
        if parts and (pod is None or not all(parts)):
            return False
        if not_sel and pod is not None and ev(cs.parse_calico_selector(not_sel), lab):
            return False
        if ent.get("nets") and not any(self.in_net(ep, n, version) for n in ent["nets"]):
            return False
        if any(self.in_net(ep, n, version) for n in ent.get("notNets") or []):
            return False
        if ent.get("ports") and not any(self.port_matches(p, ep, port, proto, rule_proto) for p in ent["ports"]):
            return False
        return not any(self.port_matches(p, ep, port, proto, rule_proto) for p in ent.get("notPorts") or [])

    def in_net(self, ep: tuple[str, Any], cidr: str, version: int) -> bool:
        net = ipaddress.ip_network(cidr, strict=False)
        if ep[0] in ("pod", "node"):
            return net.version == version and net.prefixlen == 0
        addr = ipaddress.ip_address(ep[1])
        return addr.version == net.version and addr in net

    def port_matches(self, p: Any, ep: tuple[str, Any], port: int, proto: int, rule_proto: int | None) -> bool:
        if isinstance(p, int):
            return p == port
        if p.isdigit():
            return int(p) == port
        if ":" in p:
            lo, hi = p.split(":")
            return int(lo) <= port <= int(hi)
        if ep[0] != "pod":
            return False
        return any(
            n == p and num == port and PROTO[pr] == proto and rule_proto in (None, proto)
            for n, pr, num in self.pods[ep[1]]["ports"]
        )

    @staticmethod
    def ip_version(src: tuple[str, Any], dst: tuple[str, Any]) -> int:
        """The packet's IP version: the outside address's, else 4 (pods are IPv4 to each other)."""
        for ep in (src, dst):
            if ep[0] == "ip":
                return ipaddress.ip_address(ep[1]).version
        return 4

    def rule_matches(
        self,
        rule: dict[str, Any],
        pol: dict[str, Any],
        src: tuple[str, Any],
        dst: tuple[str, Any],
        sport: int,
        port: int,
        proto: int,
    ) -> bool:
        version = self.ip_version(src, dst)
        if rule.get("ipVersion") not in (None, version):
            return False
        for side in ("source", "destination"):
            for key in ("nets", "notNets"):
                nets = (rule.get(side) or {}).get(key) or []
                if nets and all(ipaddress.ip_network(n, strict=False).version != version for n in nets):
                    return False  # FilterRuleToIPVersion drops the rule for this IP version
        rp = self.proto_number(rule.get("protocol"))
        if rp is not None and rp != proto:
            return False
        np_ = self.proto_number(rule.get("notProtocol"))
        if np_ is not None and np_ == proto:
            return False
        if rule.get("icmp") is not None:
            return False  # ICMP fields: only ICMP packets
        for side, ep, p in (("source", src, sport), ("destination", dst, port)):
            ent = rule.get(side) or {}
            svc = ent.get("services")
            if svc is not None:
                s = self.services.get((svc.get("namespace") or pol["namespace"] or "", svc["name"]))
                if s is None or ep[0] != "pod" or ep[1] not in s["pods"]:
                    return False
                if side == "destination" and not any(PROTO[pr] == proto and n == port for pr, n in s["ports"]):
                    return False
            if not self.entity_matches(ent, ep, p, proto, rp, pol["namespace"], version):
                return False
        return True

    @staticmethod
    def proto_number(p: Any) -> int | None:
        if p is None:
            return None
        if isinstance(p, int):
            return p
        return int(p) if p.isdigit() else PROTO[p]

    # -- tiers --------------------------------------------------------------------------------
    def tier_key(self, name: str) -> tuple[int, float, str]:
        if name in self.tiers:
            order = self.tiers[name].get("order")
            return 0, math.inf if order is None else float(order), name
        if name in BUILTIN:
            return 0, BUILTIN[name][0], name
        return 1, math.inf, name  # no Tier object: Felix sorts it last

    def default_action(self, name: str) -> str:
        if name in self.tiers:
            return str(self.tiers[name].get("defaultAction") or "Deny")
        return BUILTIN[name][1] if name in BUILTIN else "Deny"

    def direction_allows(
        self, direction: str, pod: int, src: tuple[str, Any], dst: tuple[str, Any], sport: int, port: int, proto: int
    ) -> bool:
        ptype = "Ingress" if direction == "ingress" else "Egress"
        pols = [p for p in self.policies if not p["pods_only_skip"] and ptype in p["types"] and self.selects(p, pod)]
        for tier in sorted({p["tier"] for p in pols}, key=self.tier_key):
            in_tier = sorted(
                (p for p in pols if p["tier"] == tier),
                key=lambda p: (
                    math.inf if p["order"] is None else float(p["order"]),
                    f"{p['name']}/{p['namespace'] or ''}/{p['kind']}",
                ),
            )
            verdict = None
            for pol in in_tier:
                for rule in pol[direction]:
                    if self.rule_matches(rule, pol, src, dst, sport, port, proto) and rule["action"] != "Log":
                        verdict = rule["action"]
                        break
                if verdict is not None:
                    break
            if verdict == "Allow":
                return True
            if verdict == "Deny":
                return False
            if verdict is None and self.default_action(tier) != "Pass":
                return False  # end of tier: nothing passed the packet
        return True  # the namespace profile allows

    # -- the question -------------------------------------------------------------------------
    def allowed(self, src: tuple[str, Any], dst: tuple[str, Any], port: int, proto: str) -> bool:
        # a hostNetwork pod ("host": True) is its node's address: no workload endpoint (no policy
        # applies to it, no selector matches it), in no CIDR but a /0; the node reaches its own pods
        if src[0] == "pod" and self.pods[src[1]].get("host"):
            return True
        if dst[0] == "pod" and self.pods[dst[1]].get("host"):
            if src[0] != "pod":
                return True
            dst = ("node", dst[1])
        if src[0] == "range":
            return any(self.allowed(("ip", ip), dst, port, proto) for ip in self._candidates(src[1]))
        if dst[0] == "range":
            return any(self.allowed(src, ("ip", ip), port, proto) for ip in self._candidates(dst[1]))
        if src[0] != "pod" and dst[0] != "pod":
            return False
        num = PROTO[proto]
        for sport in self._source_ports(src):
            egress = src[0] != "pod" or self.direction_allows("egress", src[1], src, dst, sport, port, num)
            if egress and (dst[0] != "pod" or self.direction_allows("ingress", dst[1], src, dst, sport, port, num)):
                return True
        return False

    def _rules(self) -> list[dict[str, Any]]:
        return [r for p in self.policies for d in ("ingress", "egress") for r in p[d]]

    def _source_ports(self, src: tuple[str, Any]) -> list[int]:
        """One port of every piece the rules' source ports cut 1-65535 into."""
        points = {1}
        for r in self._rules():
            for p in ((r.get("source") or {}).get("ports") or []) + ((r.get("source") or {}).get("notPorts") or []):
                text = str(p)
                if text.isdigit():
                    lo = hi = int(text)
                elif ":" in text:
                    lo, hi = (int(x) for x in text.split(":"))
                else:
                    nums = [n for name, _, n in self.pods[src[1]]["ports"] if name == text] if src[0] == "pod" else []
                    for n in nums:
                        points |= {n, n + 1}
                    continue
                points |= {lo, hi + 1}
        return sorted(x for x in points if 1 <= x <= 65535)

    def _candidates(self, cidr: str) -> list[str]:
        rng = ipaddress.ip_network(cidr, strict=False)
        points = {int(rng.network_address)}
        for r in self._rules():
            for side in ("source", "destination"):
                for key in ("nets", "notNets"):
                    for text in (r.get(side) or {}).get(key) or []:
                        net = ipaddress.ip_network(text, strict=False)
                        if net.version != rng.version:
                            continue
                        for x in (int(net.network_address), int(net.broadcast_address) + 1):
                            if int(rng.network_address) <= x <= int(rng.broadcast_address):
                                points.add(x)
        cls = ipaddress.IPv4Address if rng.version == 4 else ipaddress.IPv6Address
        return [str(cls(x)) for x in sorted(points)]
