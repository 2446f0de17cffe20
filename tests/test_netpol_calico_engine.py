"""The fast engine with Calico policies (kubefort.kube.netpol.calico_engine): its verdicts equal
tests/calico_reference.py's for generated clusters mixing Kubernetes NetworkPolicy, Calico
NetworkPolicy and GlobalNetworkPolicy in tiers (orders, defaultAction Deny / Pass, the four
actions, selectors, service accounts, nets / notNets, ports / notPorts, named ports, protocols),
plus fixed cases from the Calico documentation examples (the fixtures of test_netpol_calico.py)
and the engine's integration (kinds, explain, problems, composition with Cilium and the tiers).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import test_netpol_calico as docs
from calico_reference import CalicoReference
from kubefort.cli import cli
from kubefort.kube.netpol import Analysis, Cluster, External, explain_side
from kubefort.kube.netpol.kinds import UNMODELLED, unmodelled
from kubefort.kube.netpol.ports import ALL_PORTS, ports_contain, ports_inter
from kubefort.model import NotEvaluated, Resource, ResourceId, Source

NAMESPACES = {"shop": {"team": "a"}, "ops": {"team": "b"}, "dev": {}}
SA_LABELS = {("shop", "web-sa"): {"role": "api"}, ("ops", "sa2"): {"role": "db"}}
PODS: list[dict[str, Any]] = [
    {"namespace": "shop", "labels": {"app": "web"}, "serviceAccount": "web-sa", "ports": [("http", "TCP", 8080)]},
    {"namespace": "shop", "labels": {"app": "db"}, "serviceAccount": "db-sa", "ports": [("pg", "TCP", 5432)]},
    {"namespace": "ops", "labels": {"app": "mon", "tier": "x"}, "serviceAccount": "sa2", "ports": []},
    {"namespace": "dev", "labels": {"role": "database"}, "ports": [("http", "TCP", 9090), ("dns", "UDP", 53)]},
    # a hostNetwork pod: the node's address, whatever its labels (no workload endpoint)
    {"namespace": "shop", "labels": {"app": "web"}, "ports": [("http", "TCP", 8080)], "host": True},
]
EXTERNALS = [
    External("web", "203.0.113.9/32"),
    External("ten", "10.1.2.3/32"),
    External("internet", "0.0.0.0/0"),
    External("v6", "2001:db8::1/128"),
]
WEB, DB, MON, DEV = 0, 1, 2, 3
PORTS = [(80, "TCP"), (85, "TCP"), (8080, "TCP"), (5432, "TCP"), (9090, "TCP"), (53, "UDP"), (53, "TCP"), (80, "SCTP")]


def res(o: dict[str, Any]) -> Resource:
    meta = o.get("metadata") or {}
    return Resource(ResourceId(o["apiVersion"], o["kind"], meta.get("namespace"), meta.get("name", "")), o, Source("t"))


def objects(calico: list[dict[str, Any]], k8s: list[dict[str, Any]]) -> list[Resource]:
    out = [
        res({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": labels}})
        for n, labels in NAMESPACES.items()
    ]
    for (ns, name), labels in SA_LABELS.items():
        meta = {"name": name, "namespace": ns, "labels": labels}
        out.append(res({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}))
    for i, p in enumerate(PODS):
        ports = [{"name": n, "protocol": pr, "containerPort": num} for n, pr, num in p["ports"]]
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x", "ports": ports}]}
        if "serviceAccount" in p:
            spec["serviceAccountName"] = p["serviceAccount"]
        if p.get("host"):
            spec["hostNetwork"] = True
        meta = {"name": f"p{i}", "namespace": p["namespace"], "labels": p["labels"]}
        out.append(res({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}))
    for np in k8s:
        meta = {"name": np["name"], "namespace": np["namespace"]}
        out.append(
            res({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": np["spec"]})
        )
    return out + [res(o) for o in calico]


def build(calico: list[dict[str, Any]], k8s: list[dict[str, Any]] | None = None) -> tuple[Analysis, CalicoReference]:
    c = Cluster.from_resources(objects(calico, k8s or []), EXTERNALS)
    assert not c.problems, c.problems
    return Analysis(c), CalicoReference(NAMESPACES, PODS, calico, k8s or [], service_accounts=SA_LABELS)


def ref_ep(e: int | External) -> tuple[str, Any]:
    if isinstance(e, int):
        return ("pod", e)
    if e.cidr.endswith(("/32", "/128")):
        return ("ip", e.cidr.rsplit("/", 1)[0])
    return ("range", e.cidr)


def compare(a: Analysis, r: CalicoReference) -> None:
    """Every (src, dst, port) of the cluster: the engine against the reference; the matrix cell
    and the ports explain gives (egress of src with ingress of dst) equal the engine's query."""
    eps: list[int | External] = [*range(len(PODS)), *EXTERNALS]
    m = a.matrix()
    for s, d in [(s, d) for s in eps for d in eps if isinstance(s, int) or isinstance(d, int)]:
        got = a.ports(s, d)
        out = explain_side(a.c, "egress", s, d).ports if isinstance(s, int) else ALL_PORTS
        into = explain_side(a.c, "ingress", d, s).ports if isinstance(d, int) else ALL_PORTS
        assert (m.ports(s, d), ports_inter(out, into)) == (got, got), (s, d)
        verdicts = [(port, proto, ports_contain(got, port, proto)) for port, proto in PORTS]
        assert verdicts == [(p, pr, r.allowed(ref_ep(s), ref_ep(d), p, pr)) for p, pr in PORTS], (s, d)


def allowed(a: Analysis, s: int | External, d: int | External, port: int, proto: str = "TCP") -> bool:
    return ports_contain(a.ports(s, d), port, proto)


def doc(o: dict[str, Any], ns: str = "dev") -> dict[str, Any]:
    out = copy.deepcopy(o)
    out["metadata"].pop("annotations", None)
    if "namespace" in out["metadata"]:
        out["metadata"]["namespace"] = ns
    return out


# -- the documentation examples ------------------------------------------------------------------
def test_docs_networkpolicy_sample() -> None:
    """allow-tcp-6379: database pods take TCP 6379 from frontend pods of their namespace only."""
    a, r = build([doc(docs.DOC_NP)])
    assert not allowed(a, WEB, DEV, 6379) and not allowed(a, DEV, DEV, 80) and allowed(a, DEV, WEB, 80)
    assert allowed(a, WEB, DB, 6379)  # db's label is app=db: not selected
    compare(a, r)


def test_docs_globalnetworkpolicy_sample() -> None:
    """The GNP sample in tier internal-access (no Tier object: last, default Deny)."""
    a, r = build([doc(docs.DOC_GNP)])
    assert not allowed(a, WEB, DEV, 6379) and allowed(a, DEV, MON, 1, "UDP") and allowed(a, WEB, DB, 1)
    compare(a, r)


def test_tiers_pass_and_defaults() -> None:
    sec = docs.tier_obj("security", order=100)
    pass_all = docs.gnp(
        "pass-shop", tier="security", selector="all()", namespaceSelector="team == 'a'", ingress=[{"action": "Pass"}]
    )
    deny_web = docs.np_("deny-web", selector="app == 'db'", ingress=[{"action": "Deny", "source": {"selector": "app == 'web'"}}, {"action": "Allow"}])  # fmt: skip
    a, r = build([sec, pass_all, deny_web])
    assert not allowed(a, WEB, DB, 5432) and allowed(a, MON, DB, 5432) and allowed(a, MON, WEB, 80)
    compare(a, r)
    nothing = docs.gnp("nothing", tier="security", selector="app == 'db'", ingress=[{"action": "Allow", "source": {"selector": "app == 'none'"}}])  # fmt: skip
    a, r = build([sec, nothing])
    assert not allowed(a, MON, DB, 1)
    compare(a, r)
    a, r = build([docs.tier_obj("security", order=100, defaultAction="Pass"), nothing])
    assert allowed(a, MON, DB, 1)
    compare(a, r)


def test_kubernetes_networkpolicy_runs_in_the_default_tier() -> None:
    knp = {"namespace": "shop", "name": "db", "spec": {"podSelector": {"matchLabels": {"app": "db"}},
           "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 5432}]}]}}  # fmt: skip
    deny = docs.np_("deny-mon", order=10, selector="app == 'db'", ingress=[{"action": "Deny", "source": {"namespaceSelector": "team == 'b'"}}])  # fmt: skip
    a, r = build([deny], [knp])
    assert allowed(a, WEB, DB, 5432) and not allowed(a, MON, DB, 5432) and allowed(a, EXTERNALS[0], DB, 5432)
    assert not allowed(a, WEB, DB, 80)
    compare(a, r)


def test_explain_names_policy_rule_and_tier() -> None:
    sec = docs.tier_obj("security", order=100)
    deny = docs.gnp("deny-mon", tier="security", order=1, selector="app == 'db'", ingress=[{"action": "Deny", "source": {"namespaceSelector": "team == 'b'"}}, {"action": "Pass"}])  # fmt: skip
    a, _ = build([sec, deny])
    side = explain_side(a.c, "ingress", DB, MON)
    assert [(x.policy, x.rule, x.action, x.tier) for x in side.decisions] == [
        ("GlobalNetworkPolicy/deny-mon", "ingress[0]", "Deny", "calico tier security")
    ]
    side = explain_side(a.c, "ingress", DB, WEB)
    assert [(x.policy, x.action) for x in side.decisions] == [
        ("GlobalNetworkPolicy/deny-mon", "Pass"),
        ("", "default allow"),
    ]
    assert side.isolating == ["GlobalNetworkPolicy/deny-mon"]


def test_calico_kinds_are_modelled_and_cilium_wins_when_both() -> None:
    for group in ("projectcalico.org/v3", "crd.projectcalico.org/v1"):
        for kind in ("NetworkPolicy", "GlobalNetworkPolicy"):
            assert unmodelled(ResourceId(group, kind, "x", "y")) is None
    assert ("crd.antrea.io", "NetworkPolicy") in UNMODELLED
    cnp = {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "c", "namespace": "shop"},
           "spec": {"endpointSelector": {}, "ingress": [{}]}}  # fmt: skip
    c = Cluster.from_resources(
        objects([cnp, docs.gnp("g", selector="all()", ingress=[{"action": "Deny"}])], []), EXTERNALS
    )
    assert not c.calico and c.cilium and [p.message for p in c.problems if "one CNI" in p.message]
    assert c.invalid_admin  # a GlobalNetworkPolicy not evaluated: every namespace is


def test_source_ports_and_services_are_problems() -> None:
    sp = docs.np_("sp", selector="all()", ingress=[{"action": "Allow", "protocol": "TCP", "source": {"ports": [80]}}])
    c = Cluster.from_resources(objects([sp], []), EXTERNALS)
    assert not c.calico and [p for p in c.problems if "source ports" in p.message]
    assert c.invalid_namespaces == {"shop"}


def test_admin_network_policy_is_the_kube_admin_tier() -> None:
    anp = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy", "metadata": {"name": "a"},
           "spec": {"priority": 1, "subject": {"namespaces": {}}, "ingress": [
               {"action": "Pass", "from": [{"namespaces": {"matchLabels": {"team": "b"}}}]},
               {"action": "Allow", "from": [{"namespaces": {}}]}]}}  # fmt: skip
    early = docs.tier_obj("early", order=10)
    deny = docs.gnp("deny-all-in", tier="early", selector="app == 'db'", ingress=[{"action": "Deny", "source": {"selector": "app == 'web'"}}, {"action": "Pass"}])  # fmt: skip
    late = docs.np_("db", selector="app == 'db'", ingress=[{"action": "Deny"}])
    a = Analysis(Cluster.from_resources(objects([early, deny, late], []) + [res(anp)], EXTERNALS))
    assert not a.c.problems
    assert not allowed(a, WEB, DB, 80)  # the early tier denies before kube-admin
    assert not allowed(a, MON, DB, 80)  # passed by the admin tier, denied in default
    assert allowed(a, DEV, DB, 80)  # allowed by the admin tier
    assert allowed(a, EXTERNALS[0], MON, 80) and allowed(a, WEB, MON, 80)


# -- the engine against the reference -------------------------------------------------------------
SELECTORS = ["all()", "app == 'web'", "!has(app)", "app in {'db', 'mon'}", "app not in {'web'}", "tier contains 'x'"]
NS_SELECTORS = ["all()", "team == 'a'", "!has(team)", "global()", "projectcalico.org/name == 'dev'"]
NETS = ["10.0.0.0/8", "0.0.0.0/0", "203.0.113.0/24", "2001:db8::/32", "::/0", "10.1.0.0/16"]
PORT_ITEMS: list[Any] = [80, "80:90", "http", "dns", 53, 5432]


@st.composite
def entity(draw: st.DrawFn, dest: bool) -> dict[str, Any]:
    ent: dict[str, Any] = {}
    if draw(st.integers(0, 3)) == 0:
        ent["selector"] = draw(st.sampled_from(SELECTORS))
    if draw(st.integers(0, 5)) == 0:
        ent["notSelector"] = draw(st.sampled_from(SELECTORS[1:]))
    if draw(st.integers(0, 4)) == 0:
        ent["namespaceSelector"] = draw(st.sampled_from(NS_SELECTORS))
    if draw(st.integers(0, 6)) == 0:
        ent["serviceAccounts"] = draw(st.sampled_from([{"names": ["web-sa"]}, {"selector": "role == 'db'"}]))
    for key in ("nets", "notNets"):
        if draw(st.integers(0, 4)) == 0:
            ent[key] = draw(st.lists(st.sampled_from(NETS), min_size=1, max_size=2, unique=True))
    if dest:
        for key in ("ports", "notPorts"):
            if draw(st.integers(0, 2)) == 0:
                ent[key] = draw(st.lists(st.sampled_from(PORT_ITEMS), min_size=1, max_size=2, unique=True))
    return ent


@st.composite
def calico_rule(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": draw(st.sampled_from(["Allow", "Deny", "Pass", "Log", "Allow"]))}
    proto = draw(st.sampled_from([None, None, "TCP", "UDP", "ICMP", 6]))
    dst = draw(entity(True))
    if proto is None and ("ports" in dst or "notPorts" in dst):
        proto = draw(st.sampled_from(["TCP", "UDP"]))
    if proto is not None:
        rule["protocol"] = proto
    if proto is None and draw(st.integers(0, 4)) == 0:
        rule["notProtocol"] = "UDP"
    if draw(st.integers(0, 8)) == 0:
        rule["ipVersion"] = draw(st.sampled_from([4, 6]))
    src = draw(entity(False))
    if src:
        rule["source"] = src
    if dst:
        rule["destination"] = dst
    return rule


@st.composite
def calico_policy(draw: st.DrawFn, i: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": draw(st.sampled_from(["", *SELECTORS]))}
    tier = draw(st.sampled_from(["default", "default", "sec", "late"]))
    if tier != "default":
        spec["tier"] = tier
    if draw(st.booleans()):
        spec["order"] = draw(st.sampled_from([1, 2, 1000, 1500]))
    for d in ("ingress", "egress"):
        rules = draw(st.lists(calico_rule(), max_size=2))
        if rules:
            spec[d] = rules
    if draw(st.booleans()):
        spec["types"] = draw(st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if draw(st.booleans()):
        return docs.np_(f"p{i}", draw(st.sampled_from(["shop", "ops"])), **spec)
    if draw(st.booleans()):
        spec["namespaceSelector"] = draw(st.sampled_from(NS_SELECTORS[:3]))
    if draw(st.integers(0, 8)) == 0:
        spec["serviceAccountSelector"] = "role == 'api'"
    return docs.gnp(f"g{i}", **spec)


NP_PEERS: list[dict[str, Any]] = [
    {"podSelector": {"matchLabels": {"app": "web"}}},
    {"namespaceSelector": {"matchLabels": {"team": "b"}}},
    {"namespaceSelector": {}},
    {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}},
    {"ipBlock": {"cidr": "203.0.113.0/24"}},
]
NP_PORTS = [None, [{"port": 80}], [{"port": "http"}], [{"protocol": "UDP", "port": 53}], [{"port": 80, "endPort": 90}]]


@st.composite
def network_policy(draw: st.DrawFn, i: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": draw(st.sampled_from([{}, {"matchLabels": {"app": "db"}}]))}
    for d, key in (("ingress", "from"), ("egress", "to")):
        if draw(st.booleans()):
            rule: dict[str, Any] = {}
            peers = draw(st.lists(st.sampled_from(NP_PEERS), max_size=2))
            if peers:
                rule[key] = peers
            ports = draw(st.sampled_from(NP_PORTS))
            if ports:
                rule["ports"] = ports
            spec[d] = [rule]
    if draw(st.booleans()):
        spec["policyTypes"] = draw(st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    return {"namespace": draw(st.sampled_from(["shop", "dev"])), "name": f"np{i}", "spec": spec}


@st.composite
def cluster_objects(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    n = draw(st.integers(1, 4))
    calico = [draw(calico_policy(i)) for i in range(n)]
    if draw(st.booleans()):
        calico.append(docs.tier_obj("sec", order=draw(st.sampled_from([100, 2_000_000])), defaultAction=draw(st.sampled_from(["Deny", "Pass"]))))  # fmt: skip
    k8s = [draw(network_policy(i)) for i in range(draw(st.integers(0, 2)))]
    return calico, k8s


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster_objects())
def test_engine_agrees_with_reference(objs: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    calico, k8s = objs
    try:
        for o in calico:
            docs.parse_calico_tier(docs.res(o)) if o["kind"] == "Tier" else docs.pol(o)
    except NotEvaluated:
        assume(False)
    a, r = build(calico, k8s)
    compare(a, r)


def _explain(path: Path, *args: str) -> str:
    """Lines 3-5 of `kubefort netpol explain` (the ingress side and what follows)."""
    return "\n".join(
        CliRunner().invoke(cli, ["netpol", "explain", *args[:2], str(path), *args[2:]]).output.splitlines()[2:5]
    )


def test_the_cli_explains_calico_decisions(tmp_path: Path) -> None:
    objs = [o.obj for o in objects([], []) if o.id.kind in ("Namespace", "Pod")]
    sec = docs.tier_obj("security", order=100)
    deny = docs.gnp("deny-mon", tier="security", selector="app == 'db'", ingress=[{"action": "Deny", "source": {"namespaceSelector": "team == 'b'"}}, {"action": "Pass"}])  # fmt: skip
    (tmp_path / "app.yaml").write_text(yaml.safe_dump_all([*objs, sec, deny]))
    head = (
        "  ingress of shop/Pod/p1: selected by GlobalNetworkPolicy/deny-mon; Calico tiers, then the namespace profile"
    )
    assert _explain(tmp_path, "ops/p2", "shop/p1", "--port", "80/TCP") == (
        f"{head}: allowed on none\n"
        "    denied by GlobalNetworkPolicy/deny-mon ingress[0] (Deny) in calico tier security: all\n"
        "  result: denied"
    )
    assert _explain(tmp_path, "shop/p0", "shop/p1") == (
        f"{head}: allowed on all\n"
        "    passed to the next tier by GlobalNetworkPolicy/deny-mon ingress[1] (Pass) in calico tier security: all\n"
        "    allowed by no policy (default allow): all"
    )
    # the matrix lists and counts the Calico policies it was computed with
    import json

    res = CliRunner().invoke(cli, ["netpol", "matrix", str(tmp_path), "-o", "json"])
    assert json.loads(res.stdout)["policies"] == ["GlobalNetworkPolicy/deny-mon"]
    res = CliRunner().invoke(cli, ["netpol", "matrix", str(tmp_path)])
    assert ", 1 policy, " in res.stdout.splitlines()[-2], res.stdout
    assert res.stdout.splitlines()[-1] == "host network (the node's identity, no pod policy applies): shop/Pod/p4"


def test_generate_writes_calico_policies_the_engine_verifies(tmp_path: Path) -> None:
    import json

    from test_netpol_cilium_engine import _app

    app = _app(tmp_path)
    allows = ["shop/web:shop/api:8080/TCP,9000/TCP,53/UDP", "shop/api:data/db:5432/TCP", "shop/web:internet"]
    res = CliRunner().invoke(
        cli, ["netpol", "generate", str(app), "--kind", "calico", *[f"--allow={a}" for a in allows]]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("# generated by kubefort netpol generate: 6 Calico NetworkPolicies for 3 connections")
    docs_ = [d for d in yaml.safe_load_all(res.stdout) if d]
    assert {(d["apiVersion"], d["kind"]) for d in docs_} == {("projectcalico.org/v3", "NetworkPolicy")}
    deny = next(d for d in docs_ if (d["metadata"]["namespace"], d["metadata"]["name"]) == ("shop", "default-deny"))
    assert deny["spec"] == {"selector": "all()", "types": ["Ingress", "Egress"], "ingress": [], "egress": []}
    to_api = next(d for d in docs_ if d["metadata"]["name"] == "allow-to-deployment-api")
    assert to_api["spec"]["selector"] == "app == 'api' && !has(track)"  # not the canary
    assert to_api["spec"]["ingress"] == [
        {"action": "Allow", "protocol": "TCP", "source": {"selector": "app == 'web'"}, "destination": {"ports": [8080, 9000]}},
        {"action": "Allow", "protocol": "UDP", "source": {"selector": "app == 'web'"}, "destination": {"ports": [53]}},
    ]  # fmt: skip
    (app / "generated.yaml").write_text(res.stdout)
    res = CliRunner().invoke(cli, ["netpol", "matrix", str(app), "-o", "json"])
    got = {(c["source"], c["destination"]) for c in json.loads(res.stdout)["connections"]}
    assert got == {
        ("shop/Deployment/web", "shop/Deployment/api"),
        ("shop/Deployment/api", "data/Deployment/db"),
        ("shop/Deployment/web", "internet"),
        ("shop/Deployment/web", "cloud-metadata"),
    }


def test_a_port_range_is_a_calico_range() -> None:
    from kubefort.kube.netpol_generate import as_calico

    np = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "x", "namespace": "shop"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                    "ports": [{"protocol": "TCP", "port": 9000, "endPort": 9010}],
                }
            ],
        },
    }
    (cal,) = as_calico([np])
    assert cal["spec"] == {
        "selector": "all()",
        "types": ["Egress"],
        "egress": [
            {"action": "Allow", "protocol": "TCP", "destination": {"nets": ["10.0.0.0/8"], "ports": ["9000:9010"]}}
        ],
    }
