"""Property: for random small clusters and policies, the fast engine equals the reference evaluator.

Every (src, dst, port, protocol) of every generated cluster is asked of four paths: the dense
matrix (`Analysis.matrix`), the profile lookup (`Analysis.ports`), `explain_side` and the slow
reference written from the API reference (`tests/netpol_reference.py`). All must agree.
KUBEFORT_NETPOL_EXAMPLES=5000 runs a longer search (the default, 300, takes about 10 s).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefort.kube.netpol import PROTOCOLS, Analysis, Cluster, External, explain_side, ports_contain, ports_inter
from kubefort.model import Resource, ResourceId, Source
from netpol_reference import Reference

NAMESPACES = ["a", "b", "c"]
KEYS = ["app", "tier"]
VALUES = ["x", "y"]
PORT_NUMBERS = [53, 80, 81]
PORT_NAMES = ["http", "dns", "metrics"]
QUERY_PORTS = [1, 52, 53, 54, 79, 80, 81, 82, 65535]
# each cidr with the excepts drawn for it: strict subsets of it, several at once in any order,
# nested (10.1.0.0/16 in 10.0.0.0/8), adjacent (the two halves of 10.0.0.0/8, which leave nothing)
CIDRS = [
    (
        "0.0.0.0/0",
        [
            "169.254.169.254/32",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "10.1.0.0/16",
            "10.0.0.0/9",
            "10.128.0.0/9",
        ],
    ),
    ("10.0.0.0/8", ["10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "10.0.0.0/9", "10.128.0.0/9"]),
    ("10.1.2.0/24", ["10.1.2.3/32", "10.1.2.0/25"]),
    ("192.168.0.0/16", []),
    ("169.254.169.254/32", []),
    ("::/0", ["fd00::/8", "fd00:1::/32"]),
]
EXTERNALS = [
    External("internet", "0.0.0.0/0"),
    External("cloud-metadata", "169.254.169.254/32"),
    External("ten", "10.0.0.0/8"),
    External("host", "10.1.2.3/32"),
]

labels_st = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2)


@st.composite
def selector(draw: Any, namespaces: bool = False) -> dict[str, Any]:
    """Pod selectors over app/tier; namespace selectors also over team and kubernetes.io/metadata.name."""
    keys = ["team", "app", "kubernetes.io/metadata.name"] if namespaces else KEYS

    def value(key: str) -> Any:
        return st.sampled_from(NAMESPACES + ["undefined"] if key == "kubernetes.io/metadata.name" else VALUES)

    sel: dict[str, Any] = {}
    if draw(st.booleans()):
        key = draw(st.sampled_from(keys))
        sel["matchLabels"] = {key: draw(value(key))}
    if draw(st.booleans()):
        exprs = []
        for _ in range(draw(st.integers(1, 2))):
            op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
            key = draw(st.sampled_from(keys))
            e: dict[str, Any] = {"key": key, "operator": op}
            if op in ("In", "NotIn"):
                e["values"] = draw(st.lists(value(key), min_size=1, max_size=2, unique=True))
            exprs.append(e)
        sel["matchExpressions"] = exprs
    return sel


@st.composite
def peer(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["pod", "ns", "both", "ip"]))
    if kind == "ip":
        cidr, excepts = draw(st.sampled_from(CIDRS))
        block: dict[str, Any] = {"cidr": cidr}
        if excepts and draw(st.integers(0, 3)):
            block["except"] = draw(st.lists(st.sampled_from(excepts), min_size=1, max_size=4, unique=True))
        return {"ipBlock": block}
    out: dict[str, Any] = {}
    if kind in ("pod", "both"):
        out["podSelector"] = draw(selector())
    if kind in ("ns", "both"):
        out["namespaceSelector"] = draw(selector(namespaces=True))
    return out


@st.composite
def port(draw: Any) -> dict[str, Any]:
    p: dict[str, Any] = {}
    if draw(st.booleans()):
        p["protocol"] = draw(st.sampled_from(PROTOCOLS))
    kind = draw(st.sampled_from(["none", "number", "range", "name", "name"]))
    if kind == "number":
        p["port"] = draw(st.sampled_from(PORT_NUMBERS))
    elif kind == "range":
        lo = draw(st.sampled_from(PORT_NUMBERS))
        p["port"], p["endPort"] = lo, draw(st.sampled_from([x for x in PORT_NUMBERS + [65535] if x >= lo]))
    elif kind == "name":
        p["port"] = draw(st.sampled_from(PORT_NAMES))
    return p


@st.composite
def rules(draw: Any, peer_key: str) -> Any:
    shape = draw(st.sampled_from(["absent", "empty", "rules", "rules", "rules"]))
    if shape == "absent":
        return None
    if shape == "empty":
        return []
    out = []
    for _ in range(draw(st.integers(1, 2))):
        r: dict[str, Any] = {}
        ps = draw(st.sampled_from(["absent", "empty", "list", "list", "list"]))
        if ps == "empty":
            r[peer_key] = []
        elif ps == "list":
            r[peer_key] = draw(st.lists(peer(), min_size=1, max_size=2))
        pt = draw(st.sampled_from(["absent", "empty", "list", "list"]))
        if pt == "empty":
            r["ports"] = []
        elif pt == "list":
            r["ports"] = draw(st.lists(port(), min_size=1, max_size=2))
        out.append(r)
    return out


@st.composite
def policy(draw: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if draw(st.integers(0, 3)):
        spec["podSelector"] = draw(selector())
    types = draw(st.sampled_from([None, [], ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types is not None:
        spec["policyTypes"] = types
    for direction, key in (("ingress", "from"), ("egress", "to")):
        r = draw(rules(key))
        if r is not None:
            spec[direction] = r
    return {"namespace": draw(st.sampled_from(NAMESPACES)), "spec": spec}


@st.composite
def pod(draw: Any) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(PORT_NAMES), unique=True, max_size=3))
    ports = [
        (n, draw(st.sampled_from(["TCP", "TCP", "UDP", "SCTP"])), draw(st.sampled_from(PORT_NUMBERS))) for n in names
    ]
    return {
        "namespace": draw(st.sampled_from(NAMESPACES + ["undefined"])),
        "labels": draw(labels_st),
        "ports": ports,
        "host": draw(st.integers(0, 4)) == 0,  # hostNetwork: the node's identity
    }


cluster_st = st.tuples(
    st.dictionaries(
        st.sampled_from(NAMESPACES),
        st.dictionaries(
            st.sampled_from(["team", "app", "kubernetes.io/metadata.name"]), st.sampled_from(VALUES), max_size=2
        ),
        max_size=3,
    ),
    st.lists(pod(), min_size=1, max_size=5),
    st.lists(policy(), min_size=1, max_size=5),
)


def to_resources(
    namespaces: dict[str, dict[str, str]], pods: list[dict[str, Any]], policies: list[dict[str, Any]]
) -> list[Resource]:
    out = []
    for name, labels in namespaces.items():
        out.append(
            Resource(
                ResourceId("v1", "Namespace", None, name), {"metadata": {"name": name, "labels": labels}}, Source("t")
            )
        )
    for i, p in enumerate(pods):
        containers = [
            {
                "name": "c",
                "image": "x",
                "ports": [{"name": n, "protocol": pr, "containerPort": num} for n, pr, num in p["ports"]],
            }
        ]
        obj = {
            "metadata": {"name": f"p{i}", "namespace": p["namespace"], "labels": p["labels"]},
            "spec": {"containers": containers, **({"hostNetwork": True} if p.get("host") else {})},
        }
        out.append(Resource(ResourceId("v1", "Pod", p["namespace"], f"p{i}"), obj, Source("t")))
    for i, pol in enumerate(policies):
        obj = {"metadata": {"name": f"np{i}", "namespace": pol["namespace"]}, "spec": pol["spec"]}
        out.append(
            Resource(ResourceId("networking.k8s.io/v1", "NetworkPolicy", pol["namespace"], f"np{i}"), obj, Source("t"))
        )
    return out


@pytest.mark.slow  # 300 generated clusters through both engines: ~10 s
@settings(
    max_examples=int(os.environ.get("KUBEFORT_NETPOL_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(cluster_st)
def test_fast_engine_equals_reference(data: Any) -> None:
    namespaces, pods, policies = data
    cluster = Cluster.from_resources(to_resources(namespaces, pods, policies), externals=EXTERNALS)
    assert not cluster.problems, cluster.problems
    analysis = Analysis(cluster)
    matrix = analysis.matrix()
    other = analysis.matrix(block=2, full_lut_max=0)  # the path for many distinct port sets, in tiny blocks
    ref = Reference(namespaces, pods, policies)
    endpoints: list[Any] = list(range(len(pods))) + EXTERNALS
    for src in endpoints:
        for dst in endpoints:
            if isinstance(src, External) and isinstance(dst, External):
                continue
            fast = matrix.ports(src, dst)
            assert fast == other.ports(src, dst)
            assert fast == analysis.ports(src, dst)
            via_explain = ports_inter(
                explain_side(cluster, "egress", src, dst).ports, explain_side(cluster, "ingress", dst, src).ports
            )
            assert fast == via_explain
            r_src = ("pod", src) if isinstance(src, int) else ("range", src.cidr)
            r_dst = ("pod", dst) if isinstance(dst, int) else ("range", dst.cidr)
            for proto in PROTOCOLS:
                for number in QUERY_PORTS:
                    expected = ref.allowed(r_src, r_dst, number, proto)
                    assert ports_contain(fast, number, proto) == expected, (src, dst, number, proto, policies)


# -- cluster-wide tiers: AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy ------
NETWORKS = ["0.0.0.0/0", "10.0.0.0/8", "10.1.2.0/24", "169.254.169.254/32", "192.168.0.0/16", "::/0", "fd00::/8"]


@st.composite
def admin_peer(draw: Any, direction: str, v2: bool, named: bool) -> dict[str, Any]:
    kinds = ["namespaces", "pods", "pods"] + (
        ["networks", "networks", "nodes"] if direction == "egress" and not named else []
    )
    kind = draw(st.sampled_from(kinds))
    if kind == "namespaces":
        return {"namespaces": draw(selector(namespaces=True))}
    if kind == "pods":
        pods: dict[str, Any] = {"podSelector": draw(selector())}
        if not v2 or draw(st.booleans()):
            pods["namespaceSelector"] = draw(selector(namespaces=True))
        return {"pods": pods}
    if kind == "nodes":  # every node (the hostNetwork pods), or nodes by labels kubefort cannot know
        return {"nodes": draw(st.sampled_from([{}, {}, {"matchLabels": {"node-role": "worker"}}]))}
    return {"networks": draw(st.lists(st.sampled_from(NETWORKS), min_size=1, max_size=2, unique=True))}


@st.composite
def admin_port(draw: Any, v2: bool) -> dict[str, Any]:
    form = draw(st.sampled_from(["number", "range", "name"]))
    proto = draw(st.sampled_from(PROTOCOLS))
    if form == "name":
        return {("destinationNamedPort" if v2 else "namedPort"): draw(st.sampled_from(PORT_NAMES))}
    lo = draw(st.sampled_from(PORT_NUMBERS))
    hi = draw(st.sampled_from([x for x in PORT_NUMBERS + [65535] if x > lo] or [65535]))
    if v2:
        dp = {"number": lo} if form == "number" else {"range": {"start": lo, "end": hi}}
        return {proto.lower(): {"destinationPort": dp}}
    if form == "number":
        return {"portNumber": {"port": lo, **({"protocol": proto} if proto != "TCP" or draw(st.booleans()) else {})}}
    return {"portRange": {"start": lo, "end": hi, **({"protocol": proto} if proto != "TCP" else {})}}


@st.composite
def admin_rules(draw: Any, direction: str, actions: list[str], v2: bool) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        named = draw(st.integers(0, 3)) == 0
        rule: dict[str, Any] = {"name": f"r{i}", "action": draw(st.sampled_from(actions))}
        rule["from" if direction == "ingress" else "to"] = draw(
            st.lists(admin_peer(direction, v2, named), min_size=1, max_size=2)
        )
        if named or draw(st.booleans()):
            ports = draw(st.lists(admin_port(v2), min_size=1, max_size=2))
            if not named:  # a named port only where no networks/nodes peer is (the CRD's CEL rule)
                ports = [p for p in ports if "namedPort" not in p and "destinationNamedPort" not in p] or None
            if ports:
                rule["protocols" if v2 else "ports"] = ports
        out.append(rule)
    return out


@st.composite
def admin_policy(draw: Any, kind: str, name: str) -> dict[str, Any]:
    v2 = kind == "ClusterNetworkPolicy"
    actions = {"AdminNetworkPolicy": ["Allow", "Deny", "Pass"], "BaselineAdminNetworkPolicy": ["Allow", "Deny"]}.get(
        kind, ["Accept", "Deny", "Pass"]
    )
    spec: dict[str, Any] = {}
    if kind != "BaselineAdminNetworkPolicy":
        spec["priority"] = draw(st.sampled_from([1, 2, 2, 3]))  # equal priorities are frequent
    if v2:
        spec["tier"] = draw(st.sampled_from(["Admin", "Baseline"]))
    if draw(st.booleans()):
        spec["subject"] = {"namespaces": draw(selector(namespaces=True))}
    else:
        pods: dict[str, Any] = {"podSelector": draw(selector())}
        if not v2 or draw(st.booleans()):
            pods["namespaceSelector"] = draw(selector(namespaces=True))
        spec["subject"] = {"pods": pods}
    for direction in ("ingress", "egress"):
        rules = draw(admin_rules(direction, actions, v2))
        if rules:
            spec[direction] = rules
    return {"kind": kind, "name": name, "spec": spec}


@st.composite
def admin_policies(draw: Any) -> list[dict[str, Any]]:
    out = [draw(admin_policy("AdminNetworkPolicy", f"anp{i}")) for i in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        out.append(draw(admin_policy("BaselineAdminNetworkPolicy", "default")))
    out += [draw(admin_policy("ClusterNetworkPolicy", f"cnp{i}")) for i in range(draw(st.integers(0, 2)))]
    return out


def admin_resources(admin: list[dict[str, Any]]) -> list[Resource]:
    version = {"ClusterNetworkPolicy": "v1alpha2"}
    return [
        Resource(
            ResourceId(f"policy.networking.k8s.io/{version.get(a['kind'], 'v1alpha1')}", a["kind"], None, a["name"]),
            {"metadata": {"name": a["name"]}, "spec": a["spec"]},
            Source("t"),
        )
        for a in admin
    ]


tier_cluster_st = st.tuples(
    cluster_st.map(lambda t: t[0]),
    st.lists(pod(), min_size=1, max_size=5),
    st.lists(policy(), min_size=0, max_size=3),
    admin_policies(),
)


@pytest.mark.slow  # 300 generated clusters with tiers through both engines
@settings(
    max_examples=int(os.environ.get("KUBEFORT_NETPOL_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(tier_cluster_st)
def test_fast_engine_equals_reference_with_cluster_wide_tiers(data: Any) -> None:
    """ANP, BANP and CNP (both tiers) with NetworkPolicy: the matrix, the profile lookup and
    explain equal the reference on every connection, and the equal-priority conflicts the
    engine reports are exactly those the reference meets."""
    namespaces, pods, policies, admin = data
    cluster = Cluster.from_resources(
        to_resources(namespaces, pods, policies) + admin_resources(admin), externals=EXTERNALS
    )
    assert not cluster.problems, cluster.problems
    analysis = Analysis(cluster)
    matrix = analysis.matrix()
    ref = Reference(namespaces, pods, policies, admin)
    endpoints: list[Any] = list(range(len(pods))) + EXTERNALS
    explain_conflicts = set()
    for src in endpoints:
        for dst in endpoints:
            if isinstance(src, External) and isinstance(dst, External):
                continue
            fast = matrix.ports(src, dst)
            assert fast == analysis.ports(src, dst)
            eg, ing = explain_side(cluster, "egress", src, dst), explain_side(cluster, "ingress", dst, src)
            assert fast == ports_inter(eg.ports, ing.ports)
            explain_conflicts |= {(m, "egress") for m in eg.conflicts} | {(m, "ingress") for m in ing.conflicts}
            r_src = ("pod", src) if isinstance(src, int) else ("range", src.cidr)
            r_dst = ("pod", dst) if isinstance(dst, int) else ("range", dst.cidr)
            for proto in PROTOCOLS:
                for number in QUERY_PORTS:
                    expected = ref.allowed(r_src, r_dst, number, proto)
                    assert ports_contain(fast, number, proto) == expected, (src, dst, number, proto, admin, policies)
    assert {x.key() for x in analysis.conflicts} == ref.conflicts, (analysis.conflicts, ref.conflicts, admin)
    assert {(m.split(" and ")[0], d) for m, d in explain_conflicts} == {(a, d) for a, _, d in ref.conflicts}
