"""NetworkPolicy semantics, one rule at a time: a minimal set of pods, namespaces and policies each,
with the exact expected matrix (every allowed ordered pair and its ports; absent pairs are denied).

Expectations come from the networking.k8s.io/v1 API reference (NetworkPolicySpec, rules, peers,
ports, IPBlock) and SetDefaults_NetworkPolicy, never from another tool's output.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubefort.kube.netpol import (
    ALL_PORTS,
    NO_PORTS,
    Analysis,
    Cluster,
    External,
    cidr_range,
    explain_side,
    format_ports,
    parse_port,
    port_set,
    ports_inter,
    ports_minus,
    ports_union,
)
from kubefort.model import Resource, ResourceId, Source

INTERNET = External("internet", "0.0.0.0/0")
METADATA = External("cloud-metadata", "169.254.169.254/32")


def pod(
    ns: str | None, name: str, labels: dict[str, str] | None = None, ports: list[tuple[str, str, int]] = ()
) -> Resource:
    cports = [{"name": n, "protocol": p, "containerPort": num} for n, p, num in ports]
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "image": "x:1", "ports": cports}]},
    }
    return Resource(ResourceId("v1", "Pod", ns, name), obj, Source("t"))


def ns(name: str, labels: dict[str, str] | None = None) -> Resource:
    return Resource(
        ResourceId("v1", "Namespace", None, name), {"metadata": {"name": name, "labels": labels or {}}}, Source("t")
    )


def np(namespace: str, name: str, spec: str) -> Resource:
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": yaml.safe_load(spec),
    }
    return Resource(ResourceId("networking.k8s.io/v1", "NetworkPolicy", namespace, name), obj, Source("t"))


def matrix(*resources: Resource, externals: tuple[External, ...] = ()) -> dict[str, str]:
    c = Cluster.from_resources(resources, externals=externals)
    assert not c.problems, [str(p) for p in c.problems]
    m = Analysis(c).matrix()

    def short(e: Any) -> str:
        return f"{c.workloads[e].namespace}/{c.workloads[e].name}" if isinstance(e, int) else e.name

    return {f"{short(s)} > {short(d)}": format_ports(ps) for s, d, ps in m.connections()}


def full(names: list[str], but: dict[str, str] | None = None) -> dict[str, str]:
    """Every ordered pair allowed on every port, except as `but` says ("" removes the pair)."""
    out = {f"{a} > {b}": "all" for a in names for b in names}
    for k, v in (but or {}).items():
        if v:
            out[k] = v
        else:
            out.pop(k, None)
    return out


AB = [pod("a", "x", {"app": "x"}), pod("a", "y", {"app": "y"})]


def test_no_policy_allows_everything():
    assert matrix(*AB) == full(["a/x", "a/y"])


def test_empty_pod_selector_selects_every_pod_of_its_namespace_only():
    got = matrix(pod("a", "x"), pod("a", "y"), pod("b", "z"), np("a", "deny", "{podSelector: {}}"))
    # a/x and a/y are isolated for ingress; b/z is not (another namespace)
    assert got == {"a/x > b/z": "all", "a/y > b/z": "all", "b/z > b/z": "all"}


def test_absent_pod_selector_is_empty_selector():
    got = matrix(pod("a", "x"), np("a", "deny", "{policyTypes: [Ingress]}"))
    assert got == {}


def test_policy_types_default_ingress_only_without_egress_rules():
    # no policyTypes, no egress: Ingress only, so egress stays open
    got = matrix(*AB, np("a", "p", "{podSelector: {matchLabels: {app: x}}}"))
    assert got == full(["a/x", "a/y"], {"a/x > a/x": "", "a/y > a/x": ""})


def test_policy_types_default_empty_egress_list_is_not_an_egress_section():
    # `egress: []` has no rules: the default stays [Ingress] (len(spec.egress) == 0)
    got = matrix(*AB, np("a", "p", "{podSelector: {matchLabels: {app: x}}, egress: []}"))
    assert got == full(["a/x", "a/y"], {"a/x > a/x": "", "a/y > a/x": ""})


def test_policy_types_default_adds_egress_when_egress_rules_exist():
    got = matrix(
        *AB, np("a", "p", "{podSelector: {matchLabels: {app: x}}, egress: [{ports: [{port: 53, protocol: UDP}]}]}")
    )
    # x: ingress isolated (no ingress rules), egress only UDP/53
    assert got == {"a/x > a/y": "UDP/53", "a/y > a/y": "all"}


def test_explicit_policy_types_egress_only_ignores_ingress_rules():
    got = matrix(
        *AB,
        np(
            "a",
            "p",
            "{podSelector: {matchLabels: {app: x}}, policyTypes: [Egress], ingress: [{from: [{podSelector: {}}], ports: [{port: 1}]}]}",
        ),
    )
    assert got == full(["a/x", "a/y"], {"a/x > a/x": "", "a/x > a/y": ""})


def test_explicit_policy_types_empty_list_defaults():
    got = matrix(*AB, np("a", "p", "{podSelector: {matchLabels: {app: x}}, policyTypes: [], egress: [{}]}"))
    assert got == full(["a/x", "a/y"], {"a/x > a/x": "", "a/y > a/x": ""})


def test_policies_are_additive():
    got = matrix(
        *AB,
        np("a", "p1", "{podSelector: {matchLabels: {app: x}}, ingress: [{ports: [{port: 80}]}]}"),
        np(
            "a",
            "p2",
            "{podSelector: {matchLabels: {app: x}}, ingress: [{from: [{podSelector: {matchLabels: {app: y}}}], ports: [{port: 443}]}]}",
        ),
    )
    assert got == full(["a/x", "a/y"], {"a/x > a/x": "TCP/80", "a/y > a/x": "TCP/80,443"})


def test_isolation_is_per_direction():
    got = matrix(*AB, np("a", "p", "{podSelector: {matchLabels: {app: x}}, policyTypes: [Egress]}"))
    assert got == full(["a/x", "a/y"], {"a/x > a/x": "", "a/x > a/y": ""})
    got = matrix(*AB, np("a", "p", "{podSelector: {matchLabels: {app: x}}, policyTypes: [Ingress, Egress]}"))
    assert got == {"a/y > a/y": "all"}


def test_both_directions_must_allow():
    got = matrix(
        *AB,
        np(
            "a",
            "out",
            "{podSelector: {matchLabels: {app: x}}, policyTypes: [Egress], egress: [{ports: [{port: 80}, {port: 81}]}]}",
        ),
        np("a", "in", "{podSelector: {matchLabels: {app: y}}, ingress: [{ports: [{port: 81}, {port: 82}]}]}"),
    )
    # adjacent ports print as a range
    assert got == {"a/x > a/y": "TCP/81", "a/y > a/x": "all", "a/y > a/y": "TCP/81-82", "a/x > a/x": "TCP/80-81"}


PEERS = [
    ns("a", {"team": "t1"}),
    ns("b", {"team": "t2"}),
    pod("a", "dst", {"app": "dst"}),
    pod("a", "web", {"app": "web"}),
    pod("b", "web", {"app": "web"}),
    pod("b", "db", {"app": "db"}),
]


def _ingress_sources(spec_from: str) -> set[str]:
    got = matrix(
        *PEERS,
        np("a", "p", f"{{podSelector: {{matchLabels: {{app: dst}}}}, ingress: [{{from: {spec_from}}}]}}"),
    )
    return {k.split(" > ")[0] for k in got if k.endswith("> a/dst")}


def test_peer_pod_selector_alone_is_the_policy_namespace():
    assert _ingress_sources("[{podSelector: {matchLabels: {app: web}}}]") == {"a/web"}


def test_peer_namespace_selector_alone_is_every_pod_there():
    assert _ingress_sources("[{namespaceSelector: {matchLabels: {team: t2}}}]") == {"b/web", "b/db"}


def test_peer_pod_and_namespace_selector_together_is_and():
    assert _ingress_sources(
        "[{namespaceSelector: {matchLabels: {team: t2}}, podSelector: {matchLabels: {app: web}}}]"
    ) == {"b/web"}


def test_separate_peers_are_or():
    assert _ingress_sources(
        "[{namespaceSelector: {matchLabels: {team: t2}}}, {podSelector: {matchLabels: {app: web}}}]"
    ) == {"b/web", "b/db", "a/web"}


def test_empty_namespace_selector_is_every_namespace():
    assert _ingress_sources("[{namespaceSelector: {}}]") == {"a/dst", "a/web", "b/web", "b/db"}


def test_empty_from_and_absent_from_match_every_source():
    assert _ingress_sources("[]") == {"a/dst", "a/web", "b/web", "b/db"}
    got = matrix(*PEERS, np("a", "p", "{podSelector: {matchLabels: {app: dst}}, ingress: [{ports: [{port: 80}]}]}"))
    assert {k for k, v in got.items() if k.endswith("> a/dst")} == {
        "a/dst > a/dst",
        "a/web > a/dst",
        "b/web > a/dst",
        "b/db > a/dst",
    }


def test_ingress_empty_rule_allows_all_and_empty_list_denies():
    allow = matrix(*AB, np("a", "p", "{podSelector: {}, ingress: [{}]}"))
    assert allow == full(["a/x", "a/y"])
    deny = matrix(*AB, np("a", "p", "{podSelector: {}, ingress: []}"))
    assert deny == {}
    ports_empty = matrix(
        *AB, np("a", "p", "{podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: y}}}], ports: []}]}")
    )
    assert ports_empty == {"a/y > a/x": "all", "a/y > a/y": "all"}


def test_match_expressions_operators():
    pods = [
        pod("a", "dst", {"role": "dst"}),
        pod("a", "v1", {"v": "1"}),
        pod("a", "v2", {"v": "2"}),
        pod("a", "none", {}),
    ]

    def sources(expr: str) -> set[str]:
        got = matrix(
            *pods,
            np(
                "a",
                "p",
                f"{{podSelector: {{matchLabels: {{role: dst}}}}, ingress: [{{from: [{{podSelector: {{matchExpressions: [{expr}]}}}}]}}]}}",
            ),
        )
        return {k.split(" > ")[0] for k in got if k.endswith("> a/dst")}

    assert sources("{key: v, operator: In, values: ['1']}") == {"a/v1"}
    # NotIn matches pods without the key as well
    assert sources("{key: v, operator: NotIn, values: ['1']}") == {"a/v2", "a/none", "a/dst"}
    assert sources("{key: v, operator: Exists}") == {"a/v1", "a/v2"}
    assert sources("{key: v, operator: DoesNotExist}") == {"a/none", "a/dst"}
    assert sources("{key: v, operator: Exists}, {key: v, operator: NotIn, values: ['2']}") == {"a/v1"}


def test_match_labels_and_expressions_are_anded():
    pods = [
        pod("a", "dst", {"role": "dst"}),
        pod("a", "s1", {"app": "s", "v": "1"}),
        pod("a", "s2", {"app": "s", "v": "2"}),
    ]
    got = matrix(
        *pods,
        np(
            "a",
            "p",
            "{podSelector: {matchLabels: {role: dst}}, ingress: [{from: [{podSelector: {matchLabels: {app: s}, matchExpressions: [{key: v, operator: In, values: ['2']}]}}]}]}",
        ),
    )
    assert {k.split(" > ")[0] for k in got if k.endswith("> a/dst")} == {"a/s2"}


def test_namespace_name_label_is_automatic_also_for_undefined_namespaces():
    pods = [pod("a", "dst", {"role": "dst"}), pod("b", "src"), pod("c", "src")]
    spec = "{podSelector: {matchLabels: {role: dst}}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: c}}}]}]}"
    got = matrix(*pods, np("a", "p", spec))  # no Namespace objects at all
    assert {k.split(" > ")[0] for k in got if k.endswith("> a/dst")} == {"c/src"}
    # a user-set value of the label is overwritten by the API server
    got = matrix(*pods, ns("b", {"kubernetes.io/metadata.name": "c"}), np("a", "p", spec))
    assert {k.split(" > ")[0] for k in got if k.endswith("> a/dst")} == {"c/src"}


def test_ip_block_with_except_matches_external_peers_only():
    pods = [pod("a", "app", {"app": "x"})]
    spec = "{podSelector: {}, policyTypes: [Ingress, Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]}], ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]}"
    ten = External("ten", "10.0.0.0/8")
    got = matrix(*pods, np("a", "p", spec), externals=(INTERNET, METADATA, ten))
    assert got == {"a/app > internet": "all", "a/app > ten": "all", "internet > a/app": "all", "ten > a/app": "all"}


def test_ip_block_inside_a_larger_external_range_counts_as_some_address():
    spec = "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 203.0.113.0/24}}], ports: [{port: 443}]}]}"
    got = matrix(pod("a", "app"), np("a", "p", spec), externals=(INTERNET, METADATA))
    # egress is isolated: the pod may not even reach itself (another replica) now
    assert got == {"a/app > internet": "TCP/443", "internet > a/app": "all", "cloud-metadata > a/app": "all"}


def test_ports_by_number_protocol_default_tcp_udp_sctp():
    spec = "{podSelector: {matchLabels: {app: x}}, ingress: [{ports: [{port: 53, protocol: UDP}, {port: 80}, {protocol: SCTP}]}]}"
    got = matrix(*AB, np("a", "p", spec))
    assert got["a/y > a/x"] == "TCP/80 UDP/53 SCTP/*"


def test_end_port_range():
    spec = "{podSelector: {matchLabels: {app: x}}, ingress: [{ports: [{port: 8000, endPort: 8080}, {port: 32000, endPort: 32000, protocol: UDP}]}]}"
    assert matrix(*AB, np("a", "p", spec))["a/y > a/x"] == "TCP/8000-8080 UDP/32000"


def test_named_port_resolves_per_destination_pod_and_protocol():
    pods = [
        pod("a", "web1", {"app": "web"}, [("http", "TCP", 8080)]),
        pod("a", "web2", {"app": "web"}, [("http", "TCP", 9090), ("dns", "UDP", 53)]),
        pod("a", "web3", {"app": "web"}, [("http", "UDP", 7070)]),
        pod("a", "client", {"app": "client"}),
    ]
    spec = "{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: http}, {port: dns, protocol: UDP}]}]}"
    got = matrix(*pods, np("a", "p", spec))
    assert {k: v for k, v in got.items() if k.startswith("a/client > a/web")} == {
        "a/client > a/web1": "TCP/8080",
        "a/client > a/web2": "TCP/9090 UDP/53",
    }


def test_egress_named_port_resolves_on_the_destination_never_on_external_peers():
    pods = [
        pod("a", "client", {"app": "client"}, [("http", "TCP", 1111)]),
        pod("a", "web", {"app": "web"}, [("http", "TCP", 8080)]),
        pod("a", "other", {"app": "other"}, [("metrics", "TCP", 9100)]),
    ]
    spec = "{podSelector: {matchLabels: {app: client}}, policyTypes: [Egress], egress: [{ports: [{port: http}]}]}"
    got = matrix(*pods, np("a", "p", spec), externals=(INTERNET,))
    assert {k: v for k, v in got.items() if k.startswith("a/client")} == {
        "a/client > a/web": "TCP/8080",
        "a/client > a/client": "TCP/1111",
    }


def test_deployment_template_labels_and_default_namespace():
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        },
    }
    res = Resource(ResourceId("apps/v1", "Deployment", None, "web"), dep, Source("t"))
    c = Cluster.from_resources([res, np("default", "p", "{podSelector: {matchLabels: {app: web}}}")])
    assert c.workloads[0].key == "default/Deployment/web" and c.workloads[0].labels == {"app": "web"}
    assert Analysis(c).isolated(0, "ingress") and not Analysis(c).isolated(0, "egress")


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("{ingress: [{from: [{}]}]}", "a peer needs"),
        ("{ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]}", "ipBlock together with a selector"),
        ("{ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]}", "strict subset"),
        ("{ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]}", "strict subset"),
        ("{ingress: [{from: [{ipBlock: {cidr: not-a-cidr}}]}]}", "does not appear to be"),
        ("{ingress: [{ports: [{port: http, endPort: 90}]}]}", "without a numeric port"),
        ("{ingress: [{ports: [{port: 90, endPort: 80}]}]}", "below port"),
        ("{ingress: [{ports: [{port: 80, protocol: ICMP}]}]}", "protocol"),
        ("{ingress: [{ports: [{port: 0}]}]}", "1-65535"),
        ("{ingress: [{ports: [{port: Not_A_Name}]}]}", "IANA service name"),
        ("{podSelector: {matchExpressions: [{key: a, operator: In}]}}", "needs values"),
        ("{podSelector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}}", "takes no values"),
        ("{podSelector: {matchExpressions: [{key: a, operator: Gt, values: ['1']}]}}", "operator"),
        ("{podSelector: {matchLabels: {a: 1}}}", "must be strings"),
        ("{policyTypes: [Ingres]}", "Ingress and Egress"),
    ],
)
def test_invalid_policies_are_problems_not_guesses(spec, problem):
    c = Cluster.from_resources([pod("a", "x"), np("a", "bad", spec)])
    assert len(c.problems) == 1 and problem in c.problems[0].message, [str(p) for p in c.problems]
    assert c.policies == [] and c.invalid_namespaces == {"a"}


def test_port_set_algebra_and_formatting():
    a = ports_union(port_set("TCP", 80, 90), port_set("TCP", 91, 100))
    assert a == (((80, 100),), (), ())
    assert ports_inter(a, port_set("TCP", 95, 200)) == (((95, 100),), (), ())
    assert ports_minus(a, port_set("TCP", 85, 85)) == (((80, 84), (86, 100)), (), ())
    assert format_ports(ALL_PORTS) == "all" and format_ports(NO_PORTS) == "none"
    assert format_ports(ports_union(port_set("UDP"), port_set("TCP", 443, 443))) == "TCP/443 UDP/*"
    assert parse_port("53/udp") == (53, "UDP") and parse_port("80") == (80, "TCP")
    with pytest.raises(ValueError):
        parse_port("70000/TCP")
    assert cidr_range("10.1.2.3/8") == (10 << 24, (11 << 24) - 1)


def test_explain_names_policies_and_rules_per_direction():
    c = Cluster.from_resources(
        [
            *AB,
            np("a", "deny", "{podSelector: {}, policyTypes: [Ingress, Egress]}"),
            np(
                "a",
                "web",
                "{podSelector: {matchLabels: {app: x}}, ingress: [{from: [{podSelector: {matchLabels: {app: y}}}], ports: [{port: 80}]}]}",
            ),
        ]
    )
    x, y = c.find("a/x"), c.find("a/Pod/y")
    ing = explain_side(c, "ingress", x, y)
    assert ing.isolating == ["a/deny", "a/web"] and ing.allowing == [("a/web", 0, port_set("TCP", 80, 80))]
    eg = explain_side(c, "egress", y, x)
    assert eg.isolating == ["a/deny"] and eg.allowing == [] and eg.ports == NO_PORTS
    with pytest.raises(KeyError, match="no workload"):
        c.find("a/nope")
    assert c.find("10.0.0.0/8") == External("10.0.0.0/8", "10.0.0.0/8")


@pytest.mark.parametrize(
    "excepts",
    [
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],  # ascending, as the issue reported
        ["192.168.0.0/16", "10.0.0.0/8", "172.16.0.0/12"],
        ["10.0.0.0/8", "10.1.0.0/16"],  # nested
        ["10.0.0.0/9", "10.128.0.0/9", "10.0.0.0/8"],  # adjacent, then covering both
    ],
)
def test_every_except_is_judged_against_cidr_alone(excepts: list[str]) -> None:
    """ValidateIPBlock checks each except against cidr (contained, longer prefix), not against
    what earlier excepts left: any number of them, in any order, overlapping or nested, is valid."""
    from kubefort.kube.netpol.cidr import cidr_range
    from kubefort.kube.netpol.parse import parse_policy

    spec = {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": excepts}}]}]}
    res = Resource(
        ResourceId("networking.k8s.io/v1", "NetworkPolicy", "a", "p"),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "a"},
            "spec": spec,
        },
        Source("p.yaml"),
    )
    block = parse_policy(res).egress[0].peers[0].block
    covered = [cidr_range(e) for e in excepts]
    assert block[0][0] == 0 and block[-1][1] == (1 << 32) - 1
    for lo, hi in block:  # what is left touches no except
        assert all(hi < elo or lo > ehi for elo, ehi in covered)
