"""Cilium network policy (kubefort.kube.netpol.cilium and tests/cilium_reference.py): parsing of
the upstream documentation examples, every validation error with its path, Cilium's label
sources and namespace rules, the reference evaluator's verdicts, and properties of the
composition (deny precedence, additivity).

The YAML fixtures marked "upstream" are examples/policies/ of cilium/cilium v1.20.2 (Apache-2.0),
as the Layer 3 / Layer 4 / Deny policy pages show them; the expected values are what the Go code
of that release computes (file named per test).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cilium_reference import CiliumReference
from kubefort.kube.netpol.cidr import cidr_range
from kubefort.kube.netpol.cilium import (
    CCNP,
    CNP,
    CiliumPeer,
    CiliumPort,
    CiliumRule,
    entity_labels,
    identity_label,
    identity_labels,
    normalize_key,
)
from kubefort.kube.netpol.cilium_parse import parse_cilium_policy, parse_port_text
from kubefort.kube.netpol.model import PolicyError, Workload
from kubefort.kube.netpol.ports import ALL_PORTS, NO_PORTS, port_set, ports_contain, ports_union
from kubefort.kube.selectors import Selector
from kubefort.model import Resource, ResourceId, Source

# -- upstream examples (cilium/cilium v1.20.2 examples/policies, Apache-2.0) -------------------
L3 = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l3-rule"
spec:
  endpointSelector:
    matchLabels:
      role: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        role: frontend
"""
WORLD = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "from-world-to-role-public"
spec:
  endpointSelector:
    matchLabels:
      role: public
  ingress:
    - fromEntities:
      - world
"""
NODES = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "to-dev-from-nodes-in-cluster"
spec:
  endpointSelector:
    matchLabels:
      env: dev
  ingress:
    - fromEntities:
      - host
      - remote-node
"""
CIDR = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "cidr-rule"
spec:
  endpointSelector:
    matchLabels:
      app: myService
  egress:
  - toCIDR:
    - 20.1.1.1/32
  - toCIDRSet:
    - cidr: 10.0.0.0/8
      except:
      - 10.96.0.0/12
"""
PORT_RANGE = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l4-port-range-rule"
spec:
  endpointSelector:
    matchLabels:
      app: myService
  egress:
    - toPorts:
      - ports:
        - port: "80"
          endPort: 444
          protocol: TCP
"""
L3_L4 = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l4-rule"
spec:
  endpointSelector:
    matchLabels:
      role: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        role: frontend
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
"""
EGRESS_DENY = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "deny-egress-example"
spec:
  endpointSelector:
    matchLabels:
      role: frontend
  egress:
  - toEntities:
    - all
  egressDeny:
  - toEndpoints:
    - matchLabels:
        role: backend
"""
EGRESS_DEFAULT_DENY = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "deny-all-egress"
spec:
  endpointSelector:
    matchLabels:
      role: restricted
  egress:
  - {}
"""
FROM_WORLD_DENY = """
apiVersion: "cilium.io/v2"
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: "external-lockdown"
spec:
  endpointSelector: {}
  ingressDeny:
  - fromEntities:
    - "world"
  ingress:
  - fromEntities:
    - "all"
"""
ICMP = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "icmp-rule"
spec:
  endpointSelector:
    matchLabels:
      app: myService
  egress:
  - icmps:
    - fields:
      - type: 8
        family: IPv4
      - type: EchoRequest
        family: IPv6
"""
FQDN = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "to-fqdn"
spec:
  endpointSelector:
    matchLabels:
      app: test-app
  egress:
    - toEndpoints:
      - matchLabels:
          "k8s:io.kubernetes.pod.namespace": kube-system
          "k8s:k8s-app": kube-dns
      toPorts:
        - ports:
           - port: "53"
             protocol: ANY
          rules:
            dns:
              - matchPattern: "*"
    - toFQDNs:
        - matchName: "my-remote-service.com"
"""
L7 = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "rule1"
spec:
  description: "Allow HTTP GET /public from env=prod to app=service"
  endpointSelector:
    matchLabels:
      app: service
  ingress:
  - fromEndpoints:
    - matchLabels:
        env: prod
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
      rules:
        http:
        - method: "GET"
          path: "/public"
"""
SERVICE = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "service-rule"
spec:
  endpointSelector:
    matchLabels:
      id: app2
  egress:
  - toServices:
    - k8sService:
        serviceName: myservice
        namespace: default
    - k8sServiceSelector:
        selector:
          matchLabels:
            env: staging
        namespace: another-namespace
"""
NS_LABELS = """
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "alliance-only"
spec:
  endpointSelector:
    matchLabels:
      name: rebel-base
  ingress:
  - fromEndpoints:
    - matchLabels:
        io.cilium.k8s.namespace.labels.faction: "alliance"
  egress:
  - toEndpoints:
    - matchLabels:
        io.cilium.k8s.namespace.labels.faction: "alliance"
"""
WILDCARD_CCNP = """
apiVersion: "cilium.io/v2"
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: "wildcard-from-endpoints"
spec:
  description: "Policy for ingress allow to kube-dns from all Cilium managed endpoints in the cluster"
  endpointSelector:
    matchLabels:
      k8s:io.kubernetes.pod.namespace: kube-system
      k8s-app: kube-dns
  ingress:
  - fromEndpoints:
    - {}
    toPorts:
    - ports:
      - port: "53"
        protocol: UDP
"""
HOST = """
apiVersion: "cilium.io/v2"
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: "lock-down-ingress-worker-node"
spec:
  description: "Allow a minimum set of required ports on ingress of worker nodes"
  nodeSelector:
    matchLabels:
      type: ingress-worker
  ingress:
  - fromEntities:
    - remote-node
    - health
  - toPorts:
    - ports:
      - port: "22"
        protocol: TCP
"""


def obj(text: str, namespace: str | None = "shop") -> dict[str, Any]:
    o: dict[str, Any] = yaml.safe_load(text)
    if o["kind"] == CNP and namespace is not None:
        o["metadata"]["namespace"] = namespace
    return o


def res(o: dict[str, Any]) -> Resource:
    meta = o.get("metadata") or {}
    return Resource(ResourceId(o["apiVersion"], o["kind"], meta.get("namespace"), meta.get("name", "")), o, Source("t"))


def parse(o: dict[str, Any] | str) -> Any:
    return parse_cilium_policy(res(obj(o) if isinstance(o, str) else o))


def sel(labels: dict[str, str], exprs: tuple[Any, ...] = ()) -> Selector:
    return Selector(tuple(sorted(labels.items())), exprs)


NS = "k8s:io.kubernetes.pod.namespace"


def peers(rule: CiliumRule) -> tuple[CiliumPeer, ...]:
    assert rule.peers is not None
    return rule.peers


# -- parsing: the upstream examples -------------------------------------------------------------
def test_l3_label_based() -> None:
    p = parse(L3)
    assert (p.kind, p.namespace, p.name, p.key) == (CNP, "shop", "l3-rule", "CiliumNetworkPolicy/shop/l3-rule")
    (s,) = p.specs
    assert s.index is None and s.path == ("spec",)
    assert s.subject == sel({"any:role": "backend", NS: "shop"})
    (r,) = s.ingress
    assert (r.direction, r.deny, r.field, r.index, r.path) == ("ingress", False, "ingress", 0, ("spec", "ingress", 0))
    assert r.peers is not None and [x.kind for x in r.peers] == ["endpoints"]
    assert r.peers[0].selector == sel({"any:role": "frontend", NS: "shop"})
    assert r.ports == () and r.static_ports() == ALL_PORTS and r.effective
    assert (s.default_deny("ingress"), s.default_deny("egress")) == (True, False)
    assert s.egress == s.ingress_deny == s.egress_deny == ()


def test_entities() -> None:
    (s,) = parse(WORLD).specs
    assert [(x.kind, x.name) for x in peers(s.ingress[0])] == [("entity", "world")]
    (s,) = parse(NODES).specs
    got = peers(s.ingress[0])
    assert [x.name for x in got] == ["host", "remote-node"]
    assert got[0].matches_entity("host") and not got[0].matches_entity("remote-node")
    assert not got[0].matches_entity("pod") and not got[0].matches_entity("world")


def test_entity_semantics() -> None:
    def ent(name: str) -> Any:
        o = obj(WORLD)
        o["spec"]["ingress"][0]["fromEntities"] = [name]
        return (peers(parse(o).specs[0].ingress[0]))[0]

    assert [e for e in ("pod", "world", "host", "kube-apiserver") if ent("all").matches_entity(e)] == [
        "pod",
        "world",
        "host",
        "kube-apiserver",
    ]
    assert [e for e in ("pod", "world", "host", "health") if ent("cluster").matches_entity(e)] == [
        "pod",
        "host",
        "health",
    ]
    assert [e for e in ("pod", "world", "host") if ent("world").matches_entity(e)] == ["world"]
    assert [e for e in ("pod", "world", "host") if ent("none").matches_entity(e)] == []


def test_cidr_and_cidrset_with_except() -> None:
    (s,) = parse(CIDR).specs
    a, b = s.egress
    (pa,) = peers(a)
    assert (pa.kind, pa.cidr, pa.block) == ("cidr", "20.1.1.1/32", ((0x14010101, 0x14010101),))
    (pb,) = peers(b)
    assert (pb.cidr, pb.excepts) == ("10.0.0.0/8", ("10.96.0.0/12",))
    assert pb.block == ((0x0A000000, 0x0A5FFFFF), (0x0A700000, 0x0AFFFFFF))
    assert pb.overlaps(0x0A010203, 0x0A010203) and not pb.overlaps(0x0A600001, 0x0A600001)
    assert pb.resolved and not pb.matches_labels({"any:app": "x"})


def test_l4_port_range_without_l3() -> None:
    (s,) = parse(PORT_RANGE).specs
    (r,) = s.egress
    assert r.peers is None and r.l3_any and r.effective
    assert r.ports[0].ports == (CiliumPort(80, 444, None, "TCP"),)
    assert r.static_ports() == port_set("TCP", 80, 444)


def test_l3_l4_combined() -> None:
    (r,) = parse(L3_L4).specs[0].ingress
    assert r.static_ports() == port_set("TCP", 80, 80) and not r.l3_any


def test_named_and_any_protocol_ports() -> None:
    o = obj(L3_L4)
    o["spec"]["ingress"][0]["toPorts"][0]["ports"] = [
        {"port": "HTTP"},
        {"port": "53"},
        {"port": "0", "protocol": "UDP"},
    ]
    (r,) = parse(o).specs[0].ingress
    assert r.ports[0].ports[0] == CiliumPort(0, 0, "http", "ANY")  # IANA names are lower-cased
    assert r.named_ports() == (("http", "TCP"), ("http", "UDP"), ("http", "SCTP"))
    assert r.static_ports() == ports_union(
        ports_union(port_set("TCP", 53, 53), port_set("SCTP", 53, 53)), port_set("UDP", 1, 65535)
    )
    w = Workload("shop", "Pod", "b", {}, (("http", "TCP", 8080), ("metrics", "TCP", 9090)))
    assert r.ports_for(w) == ports_union(r.static_ports(), port_set("TCP", 8080, 8080))
    assert r.ports_for(None) == r.static_ports()


def test_deny_policy() -> None:
    (s,) = parse(EGRESS_DENY).specs
    (d,) = s.egress_deny
    assert (d.deny, d.field, d.path) == (True, "egressDeny", ("spec", "egressDeny", 0))
    assert (peers(d))[0].selector == sel({"any:role": "backend", NS: "shop"})
    assert s.default_deny("egress") and not s.default_deny("ingress")


def test_egress_default_deny_empty_rule() -> None:
    (s,) = parse(EGRESS_DEFAULT_DENY).specs
    (r,) = s.egress
    assert r.peers is None and r.ports == () and not r.effective  # isolates, allows nothing
    assert s.default_deny("egress")


def test_ccnp_and_its_peers() -> None:
    p = parse(FROM_WORLD_DENY)
    assert (p.kind, p.namespace, p.key) == (CCNP, None, "CiliumClusterwideNetworkPolicy/external-lockdown")
    (s,) = p.specs
    assert s.subject == Selector()  # not restricted to a namespace
    assert [x.name for x in peers(s.ingress_deny[0])] == ["world"]
    (s,) = parse(WILDCARD_CCNP).specs
    assert s.subject == sel({NS: "kube-system", "any:k8s-app": "kube-dns"})
    assert (peers(s.ingress[0]))[0].selector == Selector((), ((NS, "Exists", ()),))


def test_cnp_subject_namespace_is_forced() -> None:
    o = obj(L3)
    o["spec"]["endpointSelector"]["matchLabels"][NS] = "elsewhere"
    assert parse(o).specs[0].subject == sel({"any:role": "backend", NS: "shop"})
    o = obj(L3)
    o["spec"]["endpointSelector"]["matchLabels"]["io.kubernetes.pod.namespace"] = "elsewhere"
    want = sel({"any:role": "backend", "any:io.kubernetes.pod.namespace": "elsewhere", NS: "shop"})
    assert parse(o).specs[0].subject == want  # selects nothing: upstream only replaces the k8s: key
    o = obj(L3, namespace=None)
    assert parse(o).namespace == "default"


def test_peer_namespace_rules() -> None:
    o = obj(L3)
    o["spec"]["ingress"][0]["fromEndpoints"] = [
        {"matchLabels": {NS: "other", "role": "x"}},
        {"matchExpressions": [{"key": "io.kubernetes.pod.namespace", "operator": "In", "values": ["a", "b"]}]},
        {"matchLabels": {"reserved:host": ""}},
    ]
    got = peers(parse(o).specs[0].ingress[0])
    assert got[0].selector == sel({NS: "other", "any:role": "x"})
    assert got[1].selector == Selector((), (("any:io.kubernetes.pod.namespace", "In", ("a", "b")),))
    assert got[2].selector == sel({"reserved:host": ""})
    (s,) = parse(NS_LABELS).specs
    assert (peers(s.ingress[0]))[0].selector == sel({"any:io.cilium.k8s.namespace.labels.faction": "alliance"})


def test_specs_list_and_spec_together() -> None:
    o = obj(L3)
    o["specs"] = [yaml.safe_load(L3_L4)["spec"], yaml.safe_load(EGRESS_DEFAULT_DENY)["spec"]]
    p = parse(o)
    assert [s.index for s in p.specs] == [None, 0, 1]
    assert [s.path for s in p.specs] == [("spec",), ("specs", 0), ("specs", 1)]
    o2 = obj(L3)
    o2["specs"] = o2.pop("spec") and []
    assert parse(o2).specs == ()  # `specs: []` alone is a valid policy with no rules


def test_enable_default_deny() -> None:
    o = obj(EGRESS_DENY)
    o["spec"]["enableDefaultDeny"] = {"egress": False}
    (s,) = parse(o).specs
    assert not s.default_deny("egress") and (s.default_deny_ingress, s.default_deny_egress) == (True, False)
    o["spec"]["enableDefaultDeny"] = {"ingress": False, "egress": True}
    assert parse(o).specs[0].default_deny("egress")


def test_icmp_l7_fqdn_service_auth_recorded() -> None:
    (r,) = parse(ICMP).specs[0].egress
    assert r.ports[0].icmp == (("IPv4", "8"), ("IPv6", "EchoRequest"))
    assert r.static_ports() == NO_PORTS and r.l3_any
    (r,) = parse(L7).specs[0].ingress
    assert r.l7 == (("http", 1),) and r.static_ports() == port_set("TCP", 80, 80)
    s = parse(FQDN).specs[0]
    assert s.egress[0].l7 == (("dns", 1),)
    assert s.egress[0].static_ports() == ports_union(
        ports_union(port_set("TCP", 53, 53), port_set("UDP", 53, 53)), port_set("SCTP", 53, 53)
    )
    (f,) = peers(s.egress[1])
    assert (f.kind, f.name, f.resolved) == ("fqdn", "my-remote-service.com", False)
    a, b = peers(parse(SERVICE).specs[0].egress[0])
    assert (a.kind, a.name, a.namespace) == ("service", "myservice", "default")
    assert (b.selector, b.namespace) == (sel({"any:env": "staging"}), "another-namespace")
    o = obj(L3)
    o["spec"]["ingress"][0]["authentication"] = {"mode": "required"}
    assert parse(o).specs[0].ingress[0].auth == "required"


def test_host_policy_is_recorded_and_selects_no_pod() -> None:
    (s,) = parse(HOST).specs
    assert s.subject is None and s.node == sel({"any:type": "ingress-worker"})
    assert not s.selects({"any:type": "ingress-worker"})
    assert s.ingress[1].l3_any


def test_empty_l3_list_matches_nothing() -> None:
    o = obj(L3_L4)
    o["spec"]["ingress"][0]["fromEndpoints"] = []
    (r,) = parse(o).specs[0].ingress
    assert r.peers == () and not r.effective


@pytest.mark.parametrize(
    ("text", "want"),
    [("80", (80, None)), ("0", (0, None)), ("010", (8, None)), ("1_0", (10, None)), ("HTTP-alt", (0, "http-alt"))],
)
def test_port_text_as_go_parses_it(text: str, want: tuple[int, str | None]) -> None:
    assert parse_port_text(text) == want


@pytest.mark.parametrize("text", ["08", "65536", "1__0", "_1", ""])
def test_port_text_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_port_text(text)


# -- validation errors, each with its path -------------------------------------------------------
def _set(o: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    o = copy.deepcopy(o)
    cur: Any = o
    for k in path[:-1]:
        cur = cur[k]
    if value is _DEL:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return o


_DEL = object()
I0: tuple[Any, ...] = ("spec", "ingress", 0)
P0: tuple[Any, ...] = (*I0, "toPorts", 0, "ports", 0)
E0: tuple[Any, ...] = ("spec", "egress", 1, "toCIDRSet", 0)

ERRORS: list[tuple[str, str, tuple[Any, ...], Any, tuple[Any, ...], str]] = [
    ("api-version", L3, ("apiVersion",), "cilium.io/v1", ("apiVersion",), "cilium.io/v2"),
    ("empty", L3, ("spec",), _DEL, ("spec",), "empty policy"),
    ("spec-type", L3, ("spec",), [], ("spec",), "expected a rule"),
    ("specs-type", L3, ("specs",), {}, ("specs",), "expected a list"),
    ("specs-item", L3, ("specs",), [3], ("specs", 0), "expected a rule"),
    ("no-section", L3, ("spec", "ingress"), _DEL, ("spec",), "at least one of ingress"),
    ("no-subject", L3, ("spec", "endpointSelector"), _DEL, ("spec",), "one of endpointSelector or nodeSelector"),
    ("two-subjects", L3, ("spec", "nodeSelector"), {}, ("spec",), "cannot have both"),
    ("two-l3", L3, (*I0, "fromCIDR"), ["10.0.0.0/8"], I0, "combines fromEndpoints and fromCIDR"),
    ("requires", L3, (*I0, "fromRequires"), [{"matchLabels": {"a": "b"}}], (*I0, "fromRequires"), "removed"),
    ("nodes", PORT_RANGE, ("spec", "egress", 0, "toNodes"), [{}], ("spec", "egress", 0, "toNodes"), "enable-node-selector-labels"),
    ("entity", WORLD, (*I0, "fromEntities", 0), "world-ipv4", (*I0, "fromEntities", 0), "one of all"),
    ("entity-type", WORLD, (*I0, "fromEntities", 0), 3, (*I0, "fromEntities", 0), "one of all"),
    ("bare-ip", CIDR, ("spec", "egress", 0, "toCIDR", 0), "20.1.1.1", ("spec", "egress", 0, "toCIDR", 0), "CIDR"),
    ("cidr-empty", CIDR, ("spec", "egress", 0, "toCIDR", 0), "", ("spec", "egress", 0, "toCIDR", 0), "must be"),
    ("cidr-bits", CIDR, ("spec", "egress", 0, "toCIDR", 0), "1.2.3.4/33", ("spec", "egress", 0, "toCIDR", 0), "CIDR"),
    ("except-out", CIDR, (*E0, "except", 0), "11.0.0.0/16", (*E0, "except", 0), "not contained"),
    ("except-wide", CIDR, (*E0, "except", 0), "0.0.0.0/0", (*E0, "except", 0), "not contained"),
    ("except-family", CIDR, (*E0, "except", 0), "::/64", (*E0, "except", 0), "not contained"),
    ("cidr-and-ref", CIDR, (*E0, "cidrGroupRef"), "g", E0, "exactly one of cidr"),
    ("port-empty", L3_L4, (*P0, "port"), "", (*P0, "port"), "port must be specified"),
    ("port-big", L3_L4, (*P0, "port"), "99999", (*P0, "port"), "unable to parse port"),
    ("port-type", L3_L4, (*P0, "port"), 80, (*P0, "port"), "expected a string"),
    ("proto-case", L3_L4, (*P0, "protocol"), "tcp", (*P0, "protocol"), "one of TCP"),
    ("proto-icmp", L3_L4, (*P0, "protocol"), "ICMP", (*P0, "protocol"), "one of TCP"),
    ("gre-port", L3_L4, (*P0, "protocol"), "GRE", (*P0, "port"), "must be empty or 0 for GRE"),
    ("endport", L3_L4, (*P0, "endPort"), -1, (*P0, "endPort"), "0-65535"),
    ("ports-41", L3_L4, (*I0, "toPorts", 0, "ports"), [{"port": "1"}] * 41, (*I0, "toPorts", 0, "ports"), "at most 40"),
    ("icmp-and-ports", L3_L4, (*I0, "icmps"), [{"fields": [{"type": 8}]}], I0, "icmps together with toPorts"),
    ("icmp-type", ICMP, ("spec", "egress", 0, "icmps", 0, "fields", 0, "type"), 300, ("spec", "egress", 0, "icmps", 0, "fields", 0), "0-255"),
    ("dns-ingress", L3_L4, (*I0, "toPorts", 0, "rules"), {"dns": [{"matchName": "a"}]}, (*I0, "toPorts", 0, "rules", "dns"), "ingress"),
    ("http-udp", L7, (*P0, "protocol"), "UDP", (*I0, "toPorts", 0, "rules"), "other than TCP"),
    ("l7-port0", L7, (*P0, "port"), "0", (*I0, "toPorts", 0, "rules"), "port 0"),
    ("kafka", L3_L4, (*I0, "toPorts", 0, "rules"), {"kafka": [{}]}, (*I0, "toPorts", 0, "rules", "kafka"), "removed"),
    ("listener-ingress", L3_L4, (*I0, "toPorts", 0, "listener"), {"name": "l", "envoyConfig": {"name": "c"}}, (*I0, "toPorts", 0, "listener"), "on ingress"),
    ("server-name", L3_L4, (*I0, "toPorts", 0, "serverNames"), [""], (*I0, "toPorts", 0, "serverNames"), "empty server name"),
    ("key-colons", L3, ("spec", "endpointSelector", "matchLabels"), {"a:b:c": "x"}, ("spec", "endpointSelector", "matchLabels", "a:b:c"), "':' once"),
    ("key-source", L3, ("spec", "endpointSelector", "matchLabels"), {"k-8:a": "x"}, ("spec", "endpointSelector", "matchLabels", "k-8:a"), "not alphanumeric"),
    ("key-dollar", L3, ("spec", "endpointSelector", "matchLabels"), {"$host": ""}, ("spec", "endpointSelector", "matchLabels", "$host"), "not a valid label key"),
    ("value", L3, ("spec", "endpointSelector", "matchLabels", "role"), "bad value!", ("spec", "endpointSelector", "matchLabels", "role"), "label value"),
    ("twice", L3, ("spec", "endpointSelector", "matchLabels", "any:role"), "other", ("spec", "endpointSelector", "matchLabels", "role"), "twice"),
    ("operator", L3, (*I0, "fromEndpoints", 0), {"matchExpressions": [{"key": "a", "operator": "Is"}]}, (*I0, "fromEndpoints", 0, "matchExpressions", 0), "operator"),
    ("expr-value", L3, (*I0, "fromEndpoints", 0), {"matchExpressions": [{"key": "a", "operator": "In", "values": ["x y"]}]}, (*I0, "fromEndpoints", 0, "matchExpressions", 0), "label values"),
    ("default-deny", L3, ("spec", "enableDefaultDeny"), {"ingress": "yes"}, ("spec", "enableDefaultDeny", "ingress"), "boolean"),
    ("auth", L3, (*I0, "authentication"), {"mode": "mtls"}, (*I0, "authentication"), "one of disabled"),
    ("fqdn-both", FQDN, ("spec", "egress", 1, "toFQDNs", 0, "matchPattern"), "*", ("spec", "egress", 1, "toFQDNs", 0), "exactly one"),
    ("fqdn-name", FQDN, ("spec", "egress", 1, "toFQDNs", 0, "matchName"), "a b", ("spec", "egress", 1, "toFQDNs", 0, "matchName"), "DNS name"),
    ("service", SERVICE, ("spec", "egress", 0, "toServices", 0), {}, ("spec", "egress", 0, "toServices", 0), "needs k8sService"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fixture", "where", "value", "path", "msg"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_validation_errors(fixture: str, where: tuple[Any, ...], value: Any, path: tuple[Any, ...], msg: str) -> None:
    bad = _set(obj(fixture), where, value)
    with pytest.raises(PolicyError) as exc:
        parse(bad)
    assert exc.value.path == path, exc.value.reason
    assert msg in exc.value.reason


def test_validation_errors_subjects() -> None:
    o = obj(L3)
    o["spec"]["nodeSelector"] = o["spec"].pop("endpointSelector")
    with pytest.raises(PolicyError) as exc:
        parse(o)  # Parse, after Sanitize: a CNP cannot be a host policy
    assert exc.value.path == ("spec", "nodeSelector") and "CiliumNetworkPolicy" in exc.value.reason
    o = _set(obj(FROM_WORLD_DENY), ("spec", "nodeSelector"), {})
    with pytest.raises(PolicyError) as exc:
        parse(o)
    assert exc.value.path == ("spec",) and "cannot have both" in exc.value.reason
    o = _set(obj(HOST), ("spec", "ingress", 1, "toPorts", 0, "rules"), {"http": [{}]})
    with pytest.raises(PolicyError) as exc:
        parse(o)
    assert exc.value.path == ("spec", "ingress", 1, "toPorts", 0, "rules", "http") and "host policy" in exc.value.reason


# -- labels ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "want"),
    [
        ("app", "any:app"),
        ("k8s:app", "k8s:app"),
        ("any:app", "any:app"),
        ("$host", "reserved:host"),
        ("a.io/b", "any:a.io/b"),
    ],
)
def test_normalize_key(key: str, want: str) -> None:
    assert normalize_key(key) == want


@pytest.mark.parametrize(
    ("key", "kept"),
    [
        ("app", True),
        ("app.kubernetes.io/name", True),
        ("pod-template-hash", False),
        ("controller-revision-hash", False),
        ("kubernetes.io/arch", False),
        ("io.kubernetes.pod.namespace", True),
        ("io.kubernetes.container.name", False),
        ("statefulset.kubernetes.io/pod-name", False),
        ("failure-domain.beta.kubernetes.io/zone", False),
        ("topology.kubernetes.io/zone", False),
        ("io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name", True),
        ("my.kubernetes.io/x", True),  # the ignore patterns only match at the start
    ],
)
def test_identity_label_filter(key: str, kept: bool) -> None:
    assert identity_label(key) is kept


def test_identity_labels() -> None:
    got = identity_labels(
        {"app": "web", "pod-template-hash": "abc", "io.cilium.k8s.policy.serviceaccount": "forged"},
        "shop",
        {"team": "a", "kubernetes.io/metadata.name": "shop"},
        service_account="web-sa",
    )
    want = {
        "app": "web",
        "io.cilium.k8s.namespace.labels.team": "a",
        "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name": "shop",
        "io.kubernetes.pod.namespace": "shop",
        "io.cilium.k8s.policy.serviceaccount": "web-sa",
        "io.cilium.k8s.policy.cluster": "default",
    }
    assert got == {f"{s}:{k}": v for k, v in want.items() for s in ("k8s", "any")}
    assert "k8s:io.cilium.k8s.policy.serviceaccount" not in identity_labels({}, "x", {}, service_account=None)


def test_selector_sources() -> None:
    pod = identity_labels({"app": "web"}, "shop", {})
    o = obj(L3)

    def subject(labels: dict[str, str]) -> Any:
        return parse(_set(o, ("spec", "endpointSelector", "matchLabels"), labels)).specs[0]

    assert subject({"app": "web"}).selects(pod)
    assert subject({"k8s:app": "web"}).selects(pod)
    assert subject({"any:app": "web"}).selects(pod)
    assert not subject({"container:app": "web"}).selects(pod)  # another source
    assert not subject({"reserved:host": ""}).selects(pod)
    assert subject({"io.cilium.k8s.policy.serviceaccount": "default"}).selects(pod)
    assert not subject({"pod-template-hash": "x"}).selects(identity_labels({"pod-template-hash": "x"}, "shop", {}))


# -- the reference evaluator ----------------------------------------------------------------------
NAMESPACES = {"shop": {"team": "a"}, "other": {"team": "b"}}
PODS: list[dict[str, Any]] = [
    {"namespace": "shop", "labels": {"role": "frontend"}, "ports": []},
    {"namespace": "shop", "labels": {"role": "backend"}, "ports": [("http", "TCP", 8080)]},
    {"namespace": "other", "labels": {"role": "frontend"}, "ports": []},
    {"namespace": "shop", "labels": {"app": "db"}, "serviceAccount": "db-sa", "ports": []},
]
FRONT, BACK, OTHER, DB = ("pod", 0), ("pod", 1), ("pod", 2), ("pod", 3)
WEB, HOSTE = ("ip", "203.0.113.9"), ("entity", "host")


def ref(*objs: dict[str, Any] | str, policies: Any = None, services: Any = None) -> CiliumReference:
    raw = [obj(o) if isinstance(o, str) else o for o in objs]
    for o in raw:
        parse_cilium_policy(res(o))  # every object the scenarios use is valid
    return CiliumReference(NAMESPACES, PODS, raw, policies, services)


def test_no_policy_everything_open() -> None:
    r = ref()
    assert all(r.allowed(a, b, 80, "TCP") for a in (FRONT, BACK, WEB, HOSTE) for b in (FRONT, BACK, WEB))


def test_default_deny_by_selection_per_direction() -> None:
    r = ref(L3)
    assert r.allowed(FRONT, BACK, 9999, "UDP")  # L3-only: every port and protocol
    assert not r.allowed(OTHER, BACK, 80, "TCP")  # fromEndpoints of a CNP: its namespace only
    assert not r.allowed(DB, BACK, 80, "TCP") and not r.allowed(WEB, BACK, 80, "TCP")
    assert r.allowed(BACK, FRONT, 80, "TCP") and r.allowed(BACK, WEB, 443, "TCP")  # egress not isolated
    assert r.allowed(HOSTE, BACK, 80, "TCP")  # allow-localhost


def test_egress_default_deny() -> None:
    o = _set(obj(EGRESS_DEFAULT_DENY), ("spec", "endpointSelector", "matchLabels"), {"role": "frontend"})
    r = ref(o)
    assert not r.allowed(FRONT, BACK, 80, "TCP") and not r.allowed(FRONT, WEB, 80, "TCP")
    assert r.allowed(BACK, FRONT, 80, "TCP")


def test_cnp_namespace_restriction_vs_ccnp() -> None:
    ccnp = obj(L3)
    ccnp["kind"] = CCNP
    del ccnp["metadata"]["namespace"]
    r = ref(ccnp)
    assert r.allowed(OTHER, BACK, 80, "TCP") and r.allowed(FRONT, BACK, 80, "TCP")
    assert not r.allowed(DB, BACK, 80, "TCP") and not r.allowed(WEB, BACK, 80, "TCP")
    explicit = _set(obj(L3), (*I0, "fromEndpoints", 0, "matchLabels", NS), "other")
    r = ref(explicit)
    assert r.allowed(OTHER, BACK, 80, "TCP") and not r.allowed(FRONT, BACK, 80, "TCP")
    by_ns_label = _set(obj(L3), (*I0, "fromEndpoints", 0, "matchLabels"), {"io.cilium.k8s.namespace.labels.team": "b"})
    r = ref(by_ns_label)
    assert r.allowed(OTHER, BACK, 80, "TCP") and not r.allowed(FRONT, BACK, 80, "TCP")
    # a CNP in another namespace never selects shop's pods
    assert ref(obj(L3, namespace="other")).allowed(DB, BACK, 80, "TCP")


def test_deny_precedence() -> None:
    r = ref(EGRESS_DENY)
    assert not r.allowed(FRONT, BACK, 80, "TCP")
    assert r.allowed(FRONT, DB, 80, "TCP") and r.allowed(FRONT, WEB, 443, "TCP") and r.allowed(FRONT, HOSTE, 1, "UDP")
    # the deny.rst table, second column: allow L3 + 80 + 81, deny 80
    allow = _set(
        obj(L3_L4), (*I0, "toPorts", 0, "ports"), [{"port": "80", "protocol": "TCP"}, {"port": "81", "protocol": "TCP"}]
    )
    deny = _set(obj(L3_L4), ("spec",), {"endpointSelector": {"matchLabels": {"role": "backend"}}, "ingressDeny": [
        {"fromEndpoints": [{"matchLabels": {"role": "frontend"}}], "toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}]}
    ]})  # fmt: skip
    deny["metadata"]["name"] = "deny-80"
    r = ref(allow, deny)
    assert r.allowed(FRONT, BACK, 81, "TCP") and not r.allowed(FRONT, BACK, 80, "TCP")
    # deny from world in a CCNP beats allow-all
    r = ref(FROM_WORLD_DENY)
    assert not r.allowed(WEB, BACK, 80, "TCP") and r.allowed(FRONT, BACK, 80, "TCP") and r.allowed(HOSTE, DB, 1, "TCP")


def test_enable_default_deny_false() -> None:
    o = _set(obj(EGRESS_DENY), ("spec", "enableDefaultDeny"), {"egress": False})
    o = _set(o, ("spec", "egress"), _DEL)
    r = ref(o)
    assert not r.allowed(FRONT, BACK, 80, "TCP") and r.allowed(FRONT, DB, 80, "TCP") and r.allowed(FRONT, WEB, 1, "UDP")
    # another rule that enables default deny puts the pod back in default deny
    r = ref(o, _set(obj(EGRESS_DEFAULT_DENY), ("spec", "endpointSelector", "matchLabels"), {"role": "frontend"}))
    assert not r.allowed(FRONT, DB, 80, "TCP")


def test_entities_world_cluster_all() -> None:
    def to(entity: str) -> CiliumReference:
        return ref(_set(obj(WORLD), (*I0, "fromEntities"), [entity]) | {"spec": {
            "endpointSelector": {"matchLabels": {"role": "backend"}}, "ingress": [{"fromEntities": [entity]}]}})  # fmt: skip

    r = to("world")
    assert r.allowed(WEB, BACK, 80, "TCP") and r.allowed(("range", "0.0.0.0/0"), BACK, 80, "TCP")
    assert not r.allowed(FRONT, BACK, 80, "TCP")
    r = to("cluster")
    assert (
        not r.allowed(WEB, BACK, 80, "TCP") and r.allowed(FRONT, BACK, 80, "TCP") and r.allowed(OTHER, BACK, 80, "TCP")
    )
    assert r.allowed(("entity", "remote-node"), BACK, 80, "TCP")
    r = to("all")
    assert r.allowed(WEB, BACK, 80, "TCP") and r.allowed(OTHER, BACK, 80, "TCP")
    r = to("remote-node")
    assert r.allowed(("entity", "remote-node"), BACK, 80, "TCP") and not r.allowed(
        ("entity", "health"), BACK, 80, "TCP"
    )


def test_cidr_except() -> None:
    o = _set(obj(CIDR), ("spec", "endpointSelector", "matchLabels"), {"role": "frontend"})
    r = ref(o)
    assert r.allowed(FRONT, ("ip", "10.1.2.3"), 80, "TCP") and r.allowed(FRONT, ("ip", "20.1.1.1"), 80, "TCP")
    assert not r.allowed(FRONT, ("ip", "10.96.0.1"), 80, "TCP") and not r.allowed(FRONT, ("ip", "20.1.1.2"), 80, "TCP")
    assert not r.allowed(FRONT, BACK, 80, "TCP")  # CIDRs never match pods
    assert r.allowed(FRONT, ("range", "10.0.0.0/8"), 80, "TCP")
    assert not r.allowed(FRONT, ("range", "10.96.0.0/12"), 80, "TCP")


def test_named_ports_any_protocol_and_l4_only() -> None:
    named = _set(obj(L3_L4), P0, {"port": "http"})
    r = ref(named)
    assert r.allowed(FRONT, BACK, 8080, "TCP") and not r.allowed(FRONT, BACK, 80, "TCP")
    assert not r.allowed(FRONT, BACK, 8080, "UDP")
    egress = {"apiVersion": "cilium.io/v2", "kind": CNP, "metadata": {"name": "e", "namespace": "shop"}, "spec": {
        "endpointSelector": {"matchLabels": {"role": "frontend"}},
        "egress": [{"toEndpoints": [{}], "toPorts": [{"ports": [{"port": "http"}]}]}]}}  # fmt: skip
    r = ref(egress)
    assert r.allowed(FRONT, BACK, 8080, "TCP") and not r.allowed(FRONT, DB, 8080, "TCP")
    anyp = _set(obj(L3_L4), P0, {"port": "53"})
    r = ref(anyp)
    assert all(r.allowed(FRONT, BACK, 53, p) for p in ("TCP", "UDP", "SCTP")) and not r.allowed(FRONT, BACK, 54, "UDP")
    r = ref(_set(obj(PORT_RANGE), ("spec", "endpointSelector", "matchLabels"), {"role": "frontend"}))
    assert r.allowed(FRONT, WEB, 444, "TCP") and r.allowed(FRONT, BACK, 80, "TCP")  # no L3: every peer
    assert not r.allowed(FRONT, WEB, 445, "TCP") and not r.allowed(FRONT, WEB, 80, "UDP")


def test_icmp_only_rule_allows_no_tcp() -> None:
    r = ref(_set(obj(ICMP), ("spec", "endpointSelector", "matchLabels"), {"role": "frontend"}))
    assert not r.allowed(FRONT, WEB, 80, "TCP") and not r.allowed(FRONT, BACK, 53, "UDP")


def test_empty_l3_list_allows_nothing() -> None:
    r = ref(_set(obj(L3_L4), (*I0, "fromEndpoints"), []))
    assert not r.allowed(FRONT, BACK, 80, "TCP") and not r.allowed(WEB, BACK, 80, "TCP")


def test_to_services() -> None:
    o = {"apiVersion": "cilium.io/v2", "kind": CNP, "metadata": {"name": "s", "namespace": "shop"}, "spec": {
        "endpointSelector": {"matchLabels": {"role": "frontend"}},
        "egress": [{"toServices": [{"k8sService": {"serviceName": "db"}}], "toPorts": [{"ports": [{"port": "5432"}]}]}]}}  # fmt: skip
    svc = [{"namespace": "shop", "name": "db", "labels": {}, "selector": {"app": "db"}}]
    r = ref(o, services=svc)
    assert r.allowed(FRONT, DB, 5432, "TCP") and not r.allowed(FRONT, BACK, 5432, "TCP")
    assert not r.allowed(FRONT, DB, 80, "TCP")
    # no Service matches: the rule's L3 stays empty and its ports apply to every peer (code reading
    # of policy/k8s/service.go and policy/utils/parserules.go)
    r = ref(o, services=[])
    assert r.allowed(FRONT, BACK, 5432, "TCP") and r.allowed(FRONT, WEB, 5432, "TCP")


NP_FROM_FRONT_80: dict[str, Any] = {"namespace": "shop", "spec": {
    "podSelector": {"matchLabels": {"role": "backend"}},
    "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}], "ports": [{"port": 80}]}]}}  # fmt: skip


def test_mixed_with_kubernetes_networkpolicy() -> None:
    r = ref(policies=[NP_FROM_FRONT_80])
    assert (
        r.allowed(FRONT, BACK, 80, "TCP")
        and not r.allowed(FRONT, BACK, 81, "TCP")
        and not r.allowed(DB, BACK, 80, "TCP")
    )
    extra = _set(obj(L3_L4), P0, {"port": "9000", "protocol": "TCP"})
    r = ref(extra, policies=[NP_FROM_FRONT_80])
    assert (
        r.allowed(FRONT, BACK, 80, "TCP")
        and r.allowed(FRONT, BACK, 9000, "TCP")
        and not r.allowed(FRONT, BACK, 81, "TCP")
    )
    deny = _set(obj(L3_L4), ("spec",), {"endpointSelector": {"matchLabels": {"role": "backend"}}, "ingressDeny": [
        {"fromEndpoints": [{"matchLabels": {"role": "frontend"}}], "toPorts": [{"ports": [{"port": "80"}]}]}]})  # fmt: skip
    r = ref(deny, policies=[NP_FROM_FRONT_80])
    assert not r.allowed(FRONT, BACK, 80, "TCP")
    # Cilium honours ingress rules of a NetworkPolicy whose policyTypes omit Ingress
    eg_only = copy.deepcopy(NP_FROM_FRONT_80)
    eg_only["spec"]["policyTypes"] = ["Egress"]
    r = ref(policies=[eg_only])
    assert not r.allowed(DB, BACK, 80, "TCP") and r.allowed(FRONT, BACK, 80, "TCP")
    assert not r.allowed(BACK, DB, 80, "TCP")  # and egress is isolated with no rule


# -- properties -----------------------------------------------------------------------------------
LABEL_SETS = [{"role": "frontend"}, {"role": "backend"}, {}, {"app": "db"}]
PEER_CHOICES: list[dict[str, Any]] = [
    {"fromEndpoints": [{"matchLabels": {"role": "frontend"}}]},
    {"fromEndpoints": [{}]},
    {"fromEndpoints": [{"matchLabels": {NS: "other"}}]},
    {"fromEntities": ["world"]},
    {"fromEntities": ["cluster"]},
    {"fromEntities": ["all"]},
    {"fromCIDRSet": [{"cidr": "203.0.113.0/24", "except": ["203.0.113.128/25"]}]},
    {},
]
PEER = st.sampled_from(PEER_CHOICES)
PORTS = st.sampled_from(
    [
        None,
        [{"ports": [{"port": "80", "protocol": "TCP"}]}],
        [{"ports": [{"port": "http"}]}],
        [{"ports": [{"port": "0", "protocol": "UDP"}]}],
    ]
)


@st.composite
def ingress_rule(draw: st.DrawFn) -> dict[str, Any]:
    rule = dict(draw(PEER))
    ports = draw(PORTS)
    if ports is not None:
        rule["toPorts"] = ports
    return rule


@st.composite
def policy(draw: st.DrawFn, i: int = 0) -> dict[str, Any]:
    kind = draw(st.sampled_from([CNP, CCNP]))
    meta: dict[str, Any] = {"name": f"p{i}"}
    if kind == CNP:
        meta["namespace"] = draw(st.sampled_from(["shop", "other"]))
    spec: dict[str, Any] = {"endpointSelector": {"matchLabels": draw(st.sampled_from(LABEL_SETS))}}
    spec["ingress"] = draw(st.lists(ingress_rule(), min_size=1, max_size=2))
    if draw(st.booleans()):
        spec["ingressDeny"] = [draw(ingress_rule())]
    return {"apiVersion": "cilium.io/v2", "kind": kind, "metadata": meta, "spec": spec}


QUESTIONS = [
    (s, d, p, pr)
    for s in (FRONT, OTHER, DB, WEB)
    for d in (BACK, FRONT)
    for p, pr in ((80, "TCP"), (8080, "TCP"), (53, "UDP"))
]


def verdicts(objs: list[dict[str, Any]]) -> list[bool]:
    r = CiliumReference(NAMESPACES, PODS, objs)
    return [r.allowed(*q) for q in QUESTIONS]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(policy(), max_size=3), policy(9), st.integers(0, 2))
def test_adding_a_deny_rule_never_allows(pols: list[dict[str, Any]], extra: dict[str, Any], where: int) -> None:
    for p in [*pols, extra]:
        parse_cilium_policy(res(p))  # the generator only makes valid policies
    before = verdicts(pols)
    after_pols = copy.deepcopy(pols)
    if after_pols and where < len(after_pols):
        after_pols[where]["spec"].setdefault("ingressDeny", []).append(extra["spec"]["ingress"][0])
    else:
        extra["spec"]["ingressDeny"] = extra["spec"].pop("ingress")[:1]
        after_pols.append(extra)
    after = verdicts(after_pols)
    assert all(a <= b for a, b in zip(after, before, strict=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(policy(), min_size=1, max_size=3), ingress_rule(), st.integers(0, 2))
def test_adding_an_allow_rule_never_denies(pols: list[dict[str, Any]], rule: dict[str, Any], where: int) -> None:
    """Appended to a rule that already has ingress entries (so no pod changes default-deny state)."""
    before = verdicts(pols)
    after_pols = copy.deepcopy(pols)
    after_pols[where % len(after_pols)]["spec"]["ingress"].append(rule)
    after = verdicts(after_pols)
    assert all(b <= a for a, b in zip(after, before, strict=True))


@settings(max_examples=60, deadline=None)
@given(policy(), st.sampled_from(range(len(PODS))))
def test_model_subjects_agree_with_reference(pol: dict[str, Any], i: int) -> None:
    """The parsed subject selects exactly the pods the reference's subject rule selects."""
    (spec,) = parse_cilium_policy(res(pol)).specs
    pod = PODS[i]
    labels = identity_labels(
        pod["labels"],
        pod["namespace"],
        {**NAMESPACES[pod["namespace"]], "kubernetes.io/metadata.name": pod["namespace"]},
        pod.get("serviceAccount", "default"),
    )
    r = CiliumReference(NAMESPACES, PODS, [pol])
    assert spec.selects(labels) == bool(r.cilium_entries("ingress", ("pod", i), WEB, ("pod", i), 1, "TCP"))
    assert labels == r.labels_of(("pod", i))


# -- the model against the reference ------------------------------------------------------------
def _model_labels(ep: tuple[str, Any]) -> tuple[dict[str, str], str]:
    """An endpoint's labels and entity name for the model's matchers."""
    if ep[0] == "pod":
        pod = PODS[ep[1]]
        ns = {**NAMESPACES[pod["namespace"]], "kubernetes.io/metadata.name": pod["namespace"]}
        return identity_labels(pod["labels"], pod["namespace"], ns, pod.get("serviceAccount", "default")), "pod"
    if ep[0] == "ip":
        return entity_labels("world"), "world"
    return entity_labels(ep[1]), ep[1]


def _workload(ep: tuple[str, Any]) -> Workload | None:
    if ep[0] != "pod":
        return None
    pod = PODS[ep[1]]
    return Workload(pod["namespace"], "Pod", str(ep[1]), pod["labels"], tuple(pod["ports"]))


def _rule_matches(rule: CiliumRule, peer: tuple[str, Any], dst: tuple[str, Any], port: int, proto: str) -> bool:
    if rule.peers is None:
        l3 = bool(rule.ports)
    else:
        labels, entity = _model_labels(peer)
        addr = cidr_range(peer[1] + ("/32" if ":" not in peer[1] else "/128")) if peer[0] == "ip" else None
        l3 = any(
            p.matches_labels(labels)
            or p.matches_entity(entity)
            or (p.kind == "cidr" and addr is not None and p.overlaps(*addr))
            for p in rule.peers
        )
    return l3 and ports_contain(rule.ports_for(_workload(dst)), port, proto)


def model_side(
    pols: list[Any],
    direction: str,
    pod_ep: tuple[str, Any],
    peer: tuple[str, Any],
    dst: tuple[str, Any],
    port: int,
    proto: str,
) -> bool:
    if pod_ep[0] != "pod":
        return True
    labels, _ = _model_labels(pod_ep)
    specs = [s for p in pols for s in p.specs if s.selects(labels) and s.affects(direction)]
    if not specs:
        return True
    if any(_rule_matches(r, peer, dst, port, proto) for s in specs for r in s.denies(direction)):
        return False
    if not any(s.default_deny(direction) for s in specs):
        return True
    if direction == "ingress" and peer == HOSTE:
        return True
    return any(_rule_matches(r, peer, dst, port, proto) for s in specs for r in s.allows(direction))


EGRESS_PEERS: list[dict[str, Any]] = [
    {"toEndpoints": [{"matchLabels": {"role": "backend"}}]},
    {"toEndpoints": [{"matchLabels": {"io.cilium.k8s.namespace.labels.team": "b"}}]},
    {"toEntities": ["world"]},
    {"toEntities": ["host"]},
    {"toEntities": ["cluster"]},
    {"toCIDR": ["203.0.113.0/25"]},
    {"toEndpoints": []},
    {},
]
ANY_PORTS = st.sampled_from(
    [
        None,
        [{"ports": [{"port": "http"}, {"port": "53"}]}],
        [{"ports": [{"port": "80", "endPort": 8080, "protocol": "TCP"}]}],
    ]
)


@st.composite
def full_policy(draw: st.DrawFn, i: int) -> dict[str, Any]:
    pol = draw(policy(i))
    spec = pol["spec"]
    for key, choices in (("egress", EGRESS_PEERS), ("egressDeny", EGRESS_PEERS)):
        if draw(st.booleans()):
            rule = dict(draw(st.sampled_from(choices)))
            ports = draw(ANY_PORTS)
            if ports is not None:
                rule["toPorts"] = ports
            spec[key] = [rule]
    for d in ("ingress", "egress"):
        flag = draw(st.sampled_from([None, True, False]))
        if flag is not None:
            spec.setdefault("enableDefaultDeny", {})[d] = flag
    return pol


QUESTIONS2 = [
    (s, d, p, pr)
    for s in (FRONT, OTHER, DB, WEB, HOSTE)
    for d in (BACK, FRONT, WEB, HOSTE)
    for p, pr in ((80, "TCP"), (8080, "TCP"), (53, "UDP"), (53, "SCTP"))
    if s != d
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(0, 99), min_size=1, max_size=3, unique=True).flatmap(
        lambda ids: st.tuples(*(full_policy(i) for i in ids))
    )
)
def test_model_agrees_with_reference(pols: tuple[dict[str, Any], ...]) -> None:
    """Evaluating the parsed model (subjects, default deny, peers, ports) gives the reference's verdicts."""
    parsed = [parse_cilium_policy(res(p)) for p in pols]
    r = CiliumReference(NAMESPACES, PODS, list(pols))
    for s, d, port, proto in QUESTIONS2:
        want = r.allowed(s, d, port, proto)
        got = model_side(parsed, "egress", s, d, d, port, proto) and model_side(parsed, "ingress", d, s, d, port, proto)
        assert got == want, (s, d, port, proto)
