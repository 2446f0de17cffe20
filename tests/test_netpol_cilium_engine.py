"""The fast engine with Cilium policies (kubefort.kube.netpol.cilium_engine): its verdicts equal
tests/cilium_reference.py's for generated clusters mixing NetworkPolicy, CiliumNetworkPolicy and
CiliumClusterwideNetworkPolicy (deny rules, entities, CIDRs, port ranges, named ports,
enableDefaultDeny false, toServices), plus fixed cases from the Cilium documentation examples
(layer3.rst, layer4.rst, deny.rst: the fixtures of test_netpol_cilium.py) and the engine's
integration (kinds, explain, checks, cluster-wide tiers around the Cilium layer).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_netpol_cilium as docs
from cilium_reference import CiliumReference
from kubefort.kube.netpol import Analysis, Cluster, External, explain_side
from kubefort.kube.netpol.kinds import UNMODELLED, unmodelled
from kubefort.kube.netpol.ports import NO_PORTS, ports_contain
from kubefort.model import Resource, ResourceId, Source

CNP, CCNP = "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"
NAMESPACES = {"shop": {"team": "a"}, "other": {"team": "b", "tier.beta.kubernetes.io/x": "y"}}
PODS: list[dict[str, Any]] = [
    {"namespace": "shop", "labels": {"role": "frontend"}, "ports": []},
    {"namespace": "shop", "labels": {"role": "backend"}, "ports": [("http", "TCP", 8080), ("dns", "UDP", 53)]},
    {"namespace": "other", "labels": {"role": "frontend"}, "ports": [("http", "TCP", 9090)]},
    {"namespace": "shop", "labels": {"app": "db", "pod-template-hash": "abc"}, "serviceAccount": "db-sa", "ports": []},
    {"namespace": "other", "labels": {"app": "db"}, "ports": []},
    # hostNetwork pods: the node's identity (reserved:host / remote-node), whatever their labels
    {"namespace": "shop", "labels": {"role": "frontend"}, "ports": [("http", "TCP", 8080)], "host": True},
    {"namespace": "other", "labels": {"app": "db"}, "ports": [], "host": True},
]
EXTERNALS = [
    External("web", "203.0.113.9/32"),
    External("inner", "203.0.113.200/32"),
    External("ten", "10.1.2.3/32"),
    External("internet", "0.0.0.0/0"),
    External("net10", "10.0.0.0/8"),
]
SERVICES = [
    {"namespace": "shop", "name": "db", "labels": {"tier": "data"}, "selector": {"app": "db"}},
    {"namespace": "other", "name": "api", "labels": {"tier": "web"}, "selector": {"role": "frontend"}},
    {"namespace": "shop", "name": "ext", "labels": {"tier": "data"}, "selector": None},
]


def res(o: dict[str, Any]) -> Resource:
    meta = o.get("metadata") or {}
    return Resource(ResourceId(o["apiVersion"], o["kind"], meta.get("namespace"), meta.get("name", "")), o, Source("t"))


def objects(
    cilium: list[dict[str, Any]], nps: list[dict[str, Any]], services: list[dict[str, Any]] | None = None
) -> list[Resource]:
    out = [
        res({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": labels}})
        for n, labels in NAMESPACES.items()
    ]
    for i, p in enumerate(PODS):
        spec: dict[str, Any] = {
            "containers": [
                {
                    "name": "c",
                    "image": "x",
                    "ports": [{"name": n, "protocol": pr, "containerPort": num} for n, pr, num in p["ports"]],
                }
            ]
        }
        if "serviceAccount" in p:
            spec["serviceAccountName"] = p["serviceAccount"]
        if p.get("host"):
            spec["hostNetwork"] = True
        meta = {"name": f"p{i}", "namespace": p["namespace"], "labels": p["labels"]}
        out.append(res({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}))
    for i, np in enumerate(nps):
        meta = {"name": f"np{i}", "namespace": np["namespace"]}
        out.append(
            res({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": np["spec"]})
        )
    for s in services or []:
        svc: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": s["name"], "namespace": s["namespace"], "labels": s["labels"]},
            "spec": {},
        }
        if s["selector"]:
            svc["spec"]["selector"] = s["selector"]
        out.append(res(svc))
    return out + [res(o) for o in cilium]


def build(
    cilium: list[dict[str, Any]], nps: list[dict[str, Any]] | None = None, services: Any = None
) -> tuple[Analysis, CiliumReference]:
    c = Cluster.from_resources(objects(cilium, nps or [], services), EXTERNALS)
    assert not c.problems, c.problems
    return Analysis(c), CiliumReference(NAMESPACES, PODS, cilium, nps or [], services or [])


def ref_ep(e: int | External) -> tuple[str, Any]:
    if isinstance(e, int):
        return ("pod", e)
    if e.cidr.endswith("/32"):
        return ("ip", e.cidr[:-3])
    return ("range", e.cidr)


PORTS = [(80, "TCP"), (81, "TCP"), (8080, "TCP"), (9090, "TCP"), (53, "UDP"), (53, "SCTP"), (444, "TCP"), (5432, "TCP")]


def compare(a: Analysis, r: CiliumReference) -> None:
    """Every (src, dst, port) of the cluster: engine (query and matrix) against the reference."""
    eps: list[int | External] = [*range(len(PODS)), *EXTERNALS]
    m = a.matrix()
    for s in eps:
        for d in eps:
            if isinstance(s, External) and isinstance(d, External):
                continue
            got, cell = a.ports(s, d), m.ports(s, d)
            assert got == cell, (s, d)
            for port, proto in PORTS:
                want = r.allowed(ref_ep(s), ref_ep(d), port, proto)
                assert ports_contain(got, port, proto) == want, (s, d, port, proto)
                ex = explain_side(a.c, "egress", s, d).ports if isinstance(s, int) else None
                if ex is not None and isinstance(d, int):
                    both = ports_contain(ex, port, proto) and ports_contain(
                        explain_side(a.c, "ingress", d, s).ports, port, proto
                    )
                    assert both == want, ("explain", s, d, port, proto)


def cnp(name: str, spec: dict[str, Any], ns: str | None = "shop") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns is not None:
        meta["namespace"] = ns
    return {"apiVersion": "cilium.io/v2", "kind": CNP if ns is not None else CCNP, "metadata": meta, "spec": spec}


def allowed(a: Analysis, s: int | External, d: int | External, port: int, proto: str = "TCP") -> bool:
    return ports_contain(a.ports(s, d), port, proto)


FRONT, BACK, OTHER, DB, ODB = 0, 1, 2, 3, 4
WEB, INNER, TEN, INTERNET, NET10 = EXTERNALS


# -- the documentation examples as data --------------------------------------------------------
def test_layer3_label_based() -> None:
    a, r = build([docs.obj(docs.L3)])
    assert allowed(a, FRONT, BACK, 80) and allowed(a, FRONT, BACK, 9999, "UDP")
    assert not allowed(a, OTHER, BACK, 80) and not allowed(a, DB, BACK, 80) and not allowed(a, WEB, BACK, 80)
    assert allowed(a, BACK, OTHER, 80) and allowed(a, BACK, WEB, 443)
    compare(a, r)


def test_layer3_entities_and_cidrs() -> None:
    world = docs._set(docs.obj(docs.WORLD), ("spec", "endpointSelector", "matchLabels"), {"role": "backend"})
    a, r = build([world])
    assert allowed(a, WEB, BACK, 80) and allowed(a, INTERNET, BACK, 1) and not allowed(a, FRONT, BACK, 80)
    compare(a, r)
    cidr = docs._set(docs.obj(docs.CIDR), ("spec", "endpointSelector", "matchLabels"), {"role": "frontend"})
    a, r = build([cidr])
    assert allowed(a, FRONT, TEN, 80) and allowed(a, FRONT, NET10, 80) and not allowed(a, FRONT, WEB, 80)
    assert not allowed(a, FRONT, BACK, 80) and allowed(a, FRONT, INTERNET, 80)  # 0.0.0.0/0 holds 10/8
    compare(a, r)


def test_layer4_ports_ranges_named() -> None:
    a, r = build([docs.obj(docs.L3_L4)])
    assert a.ports(FRONT, BACK) == a.ports(FRONT, BACK) and allowed(a, FRONT, BACK, 80)
    assert not allowed(a, FRONT, BACK, 81) and not allowed(a, FRONT, BACK, 80, "UDP")
    compare(a, r)
    rng = docs._set(docs.obj(docs.PORT_RANGE), ("spec", "endpointSelector", "matchLabels"), {"role": "frontend"})
    a, r = build([rng])
    assert allowed(a, FRONT, WEB, 444) and not allowed(a, FRONT, WEB, 445) and allowed(a, FRONT, BACK, 80)
    compare(a, r)
    named = docs._set(docs.obj(docs.L3_L4), docs.P0, {"port": "http"})
    a, r = build([named])
    assert allowed(a, FRONT, BACK, 8080) and not allowed(a, FRONT, BACK, 80)
    compare(a, r)


def test_deny_examples() -> None:
    a, r = build([docs.obj(docs.EGRESS_DENY)])
    assert not allowed(a, FRONT, BACK, 80) and allowed(a, FRONT, DB, 80) and allowed(a, FRONT, WEB, 443)
    compare(a, r)
    a, r = build([docs.obj(docs.FROM_WORLD_DENY)])
    assert not allowed(a, WEB, BACK, 80) and not allowed(a, INTERNET, DB, 80) and allowed(a, FRONT, BACK, 80)
    compare(a, r)
    no_dd = docs._set(docs.obj(docs.EGRESS_DENY), ("spec", "enableDefaultDeny"), {"egress": False})
    no_dd["spec"].pop("egress")
    a, r = build([no_dd])
    assert not allowed(a, FRONT, BACK, 80) and allowed(a, FRONT, DB, 80) and allowed(a, FRONT, WEB, 1, "UDP")
    compare(a, r)


def test_mixed_with_networkpolicy_and_services() -> None:
    np = {"namespace": "shop", "spec": {"podSelector": {"matchLabels": {"role": "backend"}},
          "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}], "ports": [{"port": 80}]}]}}  # fmt: skip
    extra = docs._set(docs.obj(docs.L3_L4), docs.P0, {"port": "9000", "protocol": "TCP"})
    a, r = build([extra], [np])
    assert allowed(a, FRONT, BACK, 80) and allowed(a, FRONT, BACK, 9000) and not allowed(a, FRONT, BACK, 81)
    compare(a, r)
    svc = cnp("s", {"endpointSelector": {"matchLabels": {"role": "frontend"}},
                    "egress": [{"toServices": [{"k8sService": {"serviceName": "db"}}], "toPorts": [{"ports": [{"port": "5432"}]}]}]})  # fmt: skip
    a, r = build([svc], services=SERVICES)
    assert allowed(a, FRONT, DB, 5432) and not allowed(a, FRONT, BACK, 5432) and not allowed(a, FRONT, ODB, 5432)
    compare(a, r)
    a, r = build([svc])  # no Service matches: the ports apply to every peer
    assert allowed(a, FRONT, BACK, 5432) and allowed(a, FRONT, WEB, 5432) and not allowed(a, FRONT, WEB, 80)
    compare(a, r)


def test_identity_label_filter_applies_to_networkpolicy() -> None:
    """Cilium drops pod-template-hash from identities: a NetworkPolicy selecting on it selects nothing."""
    np = {"namespace": "shop", "spec": {"podSelector": {"matchLabels": {"pod-template-hash": "abc"}}, "ingress": []}}
    a, r = build([cnp("x", {"endpointSelector": {"matchLabels": {"role": "nobody"}}, "ingress": [{}]})], [np])
    assert allowed(a, FRONT, DB, 80)
    compare(a, r)


# -- the engine against the reference ----------------------------------------------------------
SUBJECTS = [
    {"role": "frontend"},
    {"role": "backend"},
    {},
    {"app": "db"},
    {"io.cilium.k8s.policy.serviceaccount": "db-sa"},
]
NS_KEY = "io.kubernetes.pod.namespace"


def peers(pre: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {f"{pre}Endpoints": [{"matchLabels": {"role": "frontend"}}]},
        {f"{pre}Endpoints": [{}]},
        {f"{pre}Endpoints": [{"matchLabels": {NS_KEY: "other"}}]},
        {f"{pre}Endpoints": [{"matchLabels": {"io.cilium.k8s.namespace.labels.team": "b"}}]},
        {f"{pre}Endpoints": [{"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["backend"]}]}]},
        {f"{pre}Endpoints": [{"matchLabels": {"reserved:world": ""}}]},
        {f"{pre}Entities": ["world"]},
        {f"{pre}Entities": ["cluster"]},
        {f"{pre}Entities": ["all"]},
        {f"{pre}Entities": ["host"]},
        {f"{pre}CIDR": ["203.0.113.0/25"]},
        {f"{pre}CIDRSet": [{"cidr": "203.0.113.0/24", "except": ["203.0.113.128/25"]}]},
        {f"{pre}CIDRSet": [{"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}]},
        {f"{pre}Endpoints": []},
        {},
    ]
    if pre == "to":
        out += [
            {"toServices": [{"k8sService": {"serviceName": "db"}}]},
            {"toServices": [{"k8sServiceSelector": {"selector": {"matchLabels": {"tier": "web"}}}}]},
            {"toServices": [{"k8sService": {"serviceName": "ext", "namespace": "shop"}}]},
        ]
    return out


PORT_CHOICES = [
    None,
    [{"ports": [{"port": "80", "protocol": "TCP"}]}],
    [{"ports": [{"port": "http"}, {"port": "53", "protocol": "UDP"}]}],
    [{"ports": [{"port": "80", "endPort": 8080, "protocol": "TCP"}]}],
    [{"ports": [{"port": "0", "protocol": "UDP"}]}],
    [{"ports": [{"port": "dns", "protocol": "ANY"}]}],
    [{"ports": [{"port": "5432"}]}],
]


@st.composite
def cilium_rule(draw: st.DrawFn, pre: str) -> dict[str, Any]:
    rule = dict(draw(st.sampled_from(peers(pre))))
    ports = draw(st.sampled_from(PORT_CHOICES))
    if ports is not None:
        rule["toPorts"] = ports
    return rule


@st.composite
def cilium_spec(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"endpointSelector": {"matchLabels": draw(st.sampled_from(SUBJECTS))}}
    for key, pre in (("ingress", "from"), ("ingressDeny", "from"), ("egress", "to"), ("egressDeny", "to")):
        if draw(st.integers(0, 2)) == 0:
            continue
        spec[key] = draw(st.lists(cilium_rule(pre), min_size=1, max_size=2))
    if not any(k in spec for k in ("ingress", "ingressDeny", "egress", "egressDeny")):
        spec["ingress"] = [draw(cilium_rule("from"))]
    for d in ("ingress", "egress"):
        flag = draw(st.sampled_from([None, None, True, False]))
        if flag is not None:
            spec.setdefault("enableDefaultDeny", {})[d] = flag
    return spec


@st.composite
def cilium_policy(draw: st.DrawFn, i: int) -> dict[str, Any]:
    ns = draw(st.sampled_from(["shop", "other", None]))
    specs = draw(st.lists(cilium_spec(), min_size=1, max_size=2))
    pol = cnp(f"c{i}", specs[0], ns)
    if len(specs) > 1:
        pol["specs"] = specs[1:]
    return pol


NP_PEERS: list[dict[str, Any]] = [
    {"podSelector": {"matchLabels": {"role": "frontend"}}},
    {"namespaceSelector": {}},
    {"namespaceSelector": {"matchLabels": {"team": "b"}}, "podSelector": {"matchLabels": {"app": "db"}}},
    {"podSelector": {"matchLabels": {"pod-template-hash": "abc"}}},
    {"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.0/28"]}},
    {"ipBlock": {"cidr": "0.0.0.0/0"}},
]
NP_PORTS = [None, [{"port": 80}], [{"port": "http"}], [{"protocol": "UDP", "port": 53}], [{"port": 80, "endPort": 90}]]


@st.composite
def network_policy(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": draw(st.sampled_from(SUBJECTS[:4]))}}
    for d, key in (("ingress", "from"), ("egress", "to")):
        if draw(st.booleans()):
            rules = []
            for _ in range(draw(st.integers(0, 2))):
                rule: dict[str, Any] = {}
                ps = draw(st.lists(st.sampled_from(NP_PEERS), max_size=2))
                if ps:
                    rule[key] = ps
                ports = draw(st.sampled_from(NP_PORTS))
                if ports is not None:
                    rule["ports"] = ports
                rules.append(rule)
            spec[d] = rules
    types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types is not None:
        spec["policyTypes"] = types
    return {"namespace": draw(st.sampled_from(["shop", "other"])), "spec": spec}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(0, 99), max_size=3, unique=True).flatmap(
        lambda ids: st.tuples(*(cilium_policy(i) for i in ids))
    ),
    st.lists(network_policy(), max_size=2),
    st.booleans(),
)
def test_engine_agrees_with_reference(
    cilium: tuple[dict[str, Any], ...], nps: list[dict[str, Any]], svcs: bool
) -> None:
    pols = list(cilium) or [cnp("none", {"endpointSelector": {"matchLabels": {"role": "nobody"}}, "ingress": [{}]})]
    a, r = build(copy.deepcopy(pols), nps, SERVICES if svcs else None)
    compare(a, r)


# -- integration -------------------------------------------------------------------------------
def test_cilium_kinds_are_modelled() -> None:
    assert ("cilium.io", CNP) not in UNMODELLED and ("cilium.io", CCNP) not in UNMODELLED
    assert unmodelled(ResourceId("cilium.io/v2", CNP, "shop", "x")) is None
    c = Cluster.from_resources(objects([docs.obj(docs.L3)], []))
    assert not c.unmodelled and len(c.cilium) == 1 and not c.unmodelled_for("shop")


def test_explain_names_the_deciding_rule() -> None:
    deny = cnp("deny-80", {"endpointSelector": {"matchLabels": {"role": "backend"}}, "ingressDeny": [
        {"fromEndpoints": [{"matchLabels": {"role": "frontend"}}], "toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}]}]})  # fmt: skip
    allow = docs._set(
        docs.obj(docs.L3_L4),
        (*docs.I0, "toPorts", 0, "ports"),
        [{"port": "80", "protocol": "TCP"}, {"port": "81", "protocol": "TCP"}],
    )
    a, r = build([allow, deny])
    side = explain_side(a.c, "ingress", BACK, FRONT)
    assert side.isolating == ["CiliumNetworkPolicy/shop/l4-rule", "CiliumNetworkPolicy/shop/deny-80"]
    assert [(p, i) for p, i, _ in side.allowing] == [("CiliumNetworkPolicy/shop/l4-rule", 0)]
    denied = [(x.policy, x.rule, x.action) for x in side.decisions]
    assert denied == [("CiliumNetworkPolicy/shop/deny-80", "ingressDeny[0]", "Deny")]
    assert ports_contain(side.ports, 81, "TCP") and not ports_contain(side.ports, 80, "TCP")
    compare(a, r)


def test_invalid_cilium_policy_is_a_problem() -> None:
    bad = cnp("bad", {"endpointSelector": {}})
    c = Cluster.from_resources(objects([bad], []))
    assert [p.resource.name for p in c.problems if p.resource] == ["bad"]
    assert c.invalid_namespaces == {"shop"} and not c.invalid_admin
    c = Cluster.from_resources(objects([cnp("bad", {"endpointSelector": {}}, None)], []))
    assert [str(p.resource.name) for p in c.invalid_admin if p.resource] == ["bad"]


def test_admin_tier_around_the_cilium_layer() -> None:
    anp = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy", "metadata": {"name": "a"},
           "spec": {"priority": 1, "subject": {"namespaces": {}}, "ingress": [
               {"action": "Allow", "from": [{"namespaces": {"matchLabels": {"team": "b"}}}], "ports": [{"portNumber": {"port": 81, "protocol": "TCP"}}]},
               {"action": "Deny", "from": [{"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "frontend"}}}}],
                "ports": [{"portNumber": {"port": 80, "protocol": "TCP"}}]}]}}  # fmt: skip
    banp = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "BaselineAdminNetworkPolicy", "metadata": {"name": "default"},
            "spec": {"subject": {"namespaces": {}}, "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}}  # fmt: skip
    l3 = docs.obj(docs.L3)  # backend: ingress from shop's frontends only
    c = Cluster.from_resources([*objects([l3], []), res(anp), res(banp)], EXTERNALS)
    assert not c.problems, c.problems
    a = Analysis(c)
    assert not allowed(a, FRONT, BACK, 80) and allowed(a, FRONT, BACK, 82)  # Admin Deny, then the Cilium layer
    assert allowed(a, OTHER, BACK, 81) and not allowed(a, OTHER, BACK, 82)  # Admin Allow; the layer denies the rest
    assert not allowed(a, DB, FRONT, 82) and allowed(a, OTHER, FRONT, 81)  # no Cilium entries: Baseline Deny
    assert allowed(a, WEB, FRONT, 82)  # Baseline selects no external peer: allowed
    m = a.matrix()
    for s in range(len(PODS)):
        for d in range(len(PODS)):
            side_ports = [explain_side(c, "egress", s, d).ports, explain_side(c, "ingress", d, s).ports]
            assert m.ports(s, d) == a.ports(s, d)
            for port, proto in PORTS:
                assert allowed(a, s, d, port, proto) == all(ports_contain(x, port, proto) for x in side_ports), (
                    s,
                    d,
                    port,
                )


@pytest.mark.parametrize(("query", "some"), [("203.0.113.0/24", False), ("10.1.0.0/16", False), ("10.0.0.0/8", True)])
def test_a_query_cidr_outside_the_externals(query: str, some: bool) -> None:
    a, r = build([cnp("c", {"endpointSelector": {}, "egress": [{"toCIDRSet": [{"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}]}],
                             "egressDeny": [{"toCIDR": ["203.0.113.0/25"]}]})])  # fmt: skip
    e = External(query, query)
    for port, proto in PORTS:
        want = r.allowed(("pod", FRONT), ("range", query), port, proto)
        assert ports_contain(a.ports(FRONT, e), port, proto) == want
    assert (a.ports(FRONT, e) != NO_PORTS) == some


def test_the_cli_says_a_cilium_deny_rule_decided(tmp_path: Path) -> None:
    import yaml
    from click.testing import CliRunner

    from kubefort.cli import cli

    def deploy(name: str, role: str) -> dict[str, Any]:
        tpl = {"metadata": {"labels": {"role": role}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        spec = {"selector": {"matchLabels": {"role": role}}, "template": tpl}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": spec,
        }

    deny = cnp("no-web", {"endpointSelector": {"matchLabels": {"role": "api"}}, "ingressDeny": [
        {"fromEndpoints": [{"matchLabels": {"role": "web"}}], "toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}]}]})  # fmt: skip
    (tmp_path / "app.yaml").write_text(yaml.safe_dump_all([deploy("web", "web"), deploy("api", "api"), deny]))
    res = CliRunner().invoke(cli, ["netpol", "explain", "shop/web", "shop/api", str(tmp_path), "--port", "80/TCP"])
    assert res.output.splitlines()[2:5] == [
        "  ingress of shop/Deployment/api: isolated by CiliumNetworkPolicy/shop/no-web; Cilium deny rules match: "
        "allowed on none",
        "    denied by CiliumNetworkPolicy/shop/no-web ingressDeny[0] (Deny): TCP/80",
        "  result: denied",
    ], res.output


def _app(tmp_path: Path) -> Path:
    import yaml

    def deploy(name: str, labels: dict[str, str], ns: str = "shop") -> dict[str, Any]:
        tpl = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        spec = {"selector": {"matchLabels": labels}, "template": tpl}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": spec,
        }

    docs_ = [
        deploy("web", {"app": "web"}),
        deploy("api", {"app": "api"}),
        deploy("api-canary", {"app": "api", "track": "canary"}),  # the api's selector must exclude it
        deploy("db", {"app": "db"}, "data"),
    ]
    (tmp_path / "app.yaml").write_text(yaml.safe_dump_all(docs_))
    return tmp_path


def test_generate_writes_cilium_policies_the_engine_verifies(tmp_path: Path) -> None:
    import yaml
    from click.testing import CliRunner

    from kubefort.cli import cli

    app = _app(tmp_path)
    allows = ["shop/web:shop/api:8080/TCP", "shop/api:data/db:5432/TCP", "shop/web:internet:443/TCP"]
    res = CliRunner().invoke(
        cli, ["netpol", "generate", str(app), "--kind", "cilium", *[f"--allow={a}" for a in allows]]
    )
    assert res.exit_code == 0, res.output
    docs_ = [d for d in yaml.safe_load_all(res.stdout) if d]
    assert res.stdout.startswith("# generated by kubefort netpol generate: 6 CiliumNetworkPolicies for 3 connections")
    assert {d["kind"] for d in docs_} == {"CiliumNetworkPolicy"}
    deny = next(d for d in docs_ if d["metadata"] == {**d["metadata"], "name": "default-deny", "namespace": "shop"})
    assert deny["spec"] == {"endpointSelector": {}, "ingress": [{}], "egress": [{}]}
    (app / "generated.yaml").write_text(res.stdout)
    # the matrix of the workloads with the generated policies is exactly the intent
    res = CliRunner().invoke(cli, ["netpol", "matrix", str(app), "-o", "json"])
    doc = json.loads(res.stdout)
    got = {(c["source"], c["destination"]): c["ports"] for c in doc["connections"]}
    assert set(got) == {
        ("shop/Deployment/web", "shop/Deployment/api"),
        ("shop/Deployment/api", "data/Deployment/db"),
        ("shop/Deployment/web", "internet"),
        ("shop/Deployment/web", "cloud-metadata"),  # inside 0.0.0.0/0, as a NetworkPolicy ipBlock would allow
    }  # the canary, which shares the api's labels, gets nothing
    assert all(len(ps) == 1 for ps in got.values()), got  # one port each
    assert len(doc["policies"]) == 6 and all(p.startswith("CiliumNetworkPolicy/") for p in doc["policies"])
