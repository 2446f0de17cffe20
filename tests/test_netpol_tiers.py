"""Cluster-wide tiers (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy):
the upstream conformance scenarios read as data, the API's validation, equal-priority
conflicts, the KF-NET checks and the commands.

tests/fixtures/netpol/upstream/ holds files copied verbatim from kubernetes-sigs/network-policy-api
(Apache-2.0); the expected verdicts are those the Go conformance tests assert (named per test),
mutations applied as those tests apply them.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import FIXTURES, scan_text
from kubefort.kube.netpol import ALL_PORTS, Analysis, Cluster, External, explain_side, ports_contain, ports_inter
from kubefort.model import Resource, ResourceId, Source

UP = FIXTURES / "netpol" / "upstream"
G, S = "network-policy-conformance-gryffindor", "network-policy-conformance-slytherin"
HARRY, DRACO = f"{G}/harry-potter", f"{S}/draco-malfoy"
LUNA, CEDRIC = (
    "network-policy-conformance-ravenclaw/luna-lovegood",
    "network-policy-conformance-hufflepuff/cedric-diggory",
)


def docs(*names: str) -> list[dict[str, Any]]:
    return [d for n in names for d in yaml.safe_load_all((UP / n).read_text()) if d]


def resources(objs: list[dict[str, Any]]) -> list[Resource]:
    out = []
    for o in objs:
        meta = o["metadata"]
        out.append(
            Resource(ResourceId(o["apiVersion"], o["kind"], meta.get("namespace"), meta["name"]), o, Source("t"))
        )
    return out


def allowed(objs: list[dict[str, Any]], src: str, dst: str, port: int, proto: str = "TCP") -> bool:
    c = Cluster.from_resources(resources(objs))
    assert not c.problems, c.problems
    a = Analysis(c)
    s, d = c.find(src), c.find(dst)
    fast = ports_contain(a.matrix().ports(s, d), port, proto)
    direct = ports_inter(explain_side(c, "egress", s, d).ports, explain_side(c, "ingress", d, s).ports)
    assert fast == ports_contain(direct, port, proto)
    return fast


def mutate(objs: list[dict[str, Any]], name: str, fn: Any) -> list[dict[str, Any]]:
    out = copy.deepcopy(objs)
    for o in out:
        if o["metadata"]["name"] == name and o["kind"] != "StatefulSet":
            fn(o)
    return out


@pytest.mark.parametrize("version", ["v1alpha1", "v1alpha2"])
def test_conformance_integration_anp_np_banp(version):
    """AdminNetworkPolicyIntegration (v0.1.7) and its v1alpha2 form: Deny in the Admin tier wins
    over the NetworkPolicy allow; Pass hands the traffic to the NetworkPolicy (allowed); with the
    NetworkPolicy deleted, the Baseline tier's Deny decides."""
    base = docs("manifests.yaml", f"{version}-anp-np-banp.yaml")
    for port in (80, 8080):
        assert not allowed(base, DRACO, HARRY, port)  # ingress Deny (Admin tier)
        assert not allowed(base, HARRY, DRACO, port)  # egress Deny (Admin tier)

    def to_pass(direction: str) -> Any:
        return lambda o: o["spec"][direction][0].__setitem__("action", "Pass")

    passed = mutate(mutate(base, "pass-example", to_pass("ingress")), "pass-example", to_pass("egress"))
    assert allowed(passed, DRACO, HARRY, 80) and allowed(passed, HARRY, DRACO, 8080)  # NetworkPolicy allows
    no_np = [o for o in passed if o["kind"] != "NetworkPolicy"]
    assert not allowed(no_np, DRACO, HARRY, 80) and not allowed(no_np, HARRY, DRACO, 8080)  # Baseline Deny


def test_conformance_priority_field():
    """AdminNetworkPolicyPriorityField: the Deny at priority 50 wins over the Pass at 60; with the
    Pass moved to 40 the traffic goes on to the BaselineAdminNetworkPolicy, which allows it."""
    base = docs("manifests.yaml", "v1alpha1-priority-field.yaml")
    assert not allowed(base, DRACO, HARRY, 80) and not allowed(base, HARRY, DRACO, 8080)
    moved = mutate(base, "old-priority-60-new-priority-40-example", lambda o: o["spec"].__setitem__("priority", 40))
    assert allowed(moved, DRACO, HARRY, 80) and allowed(moved, HARRY, DRACO, 8080)


def test_conformance_egress_inline_cidr():
    """AdminNetworkPolicyEgressInlineCIDRPeers: networks 0.0.0.0/0 denies pod-to-pod traffic too
    (other houses), the earlier Allow to slytherin still wins; an Allow for the other houses put
    first (the test adds the pods' IPs; kubefort knows no pod IP, so the test's rule is written
    here as a pods peer) allows them again."""
    base = docs("manifests.yaml", "v1alpha1-egress-inline-cidr.yaml")
    for proto, port in (("TCP", 80), ("UDP", 53), ("SCTP", 9003)):
        assert not allowed(base, HARRY, LUNA, port, proto)
        assert not allowed(base, HARRY, CEDRIC, port, proto)
        assert allowed(base, HARRY, DRACO, port, proto)
    assert not allowed(base, HARRY, "internet", 443)

    def prepend(o: dict[str, Any]) -> None:
        houses = {"key": "conformance-house", "operator": "In", "values": ["ravenclaw", "hufflepuff"]}
        peer = {"pods": {"namespaceSelector": {"matchExpressions": [houses]}, "podSelector": {}}}
        o["spec"]["egress"].insert(0, {"name": "allow-houses", "action": "Allow", "to": [peer]})

    opened = mutate(base, "inline-cidr-as-peers-example", prepend)
    assert allowed(opened, HARRY, LUNA, 80) and allowed(opened, HARRY, CEDRIC, 53, "UDP")


def test_user_story_5_baseline_default_deny():
    """site-src user story 5: a Baseline tier Deny from every namespace; a NetworkPolicy overrides it."""
    base = docs("manifests.yaml", "v1alpha2-user-story-5.yaml")
    assert not allowed(base, DRACO, HARRY, 80)
    assert allowed(base, "internet", HARRY, 80)  # ingress peers are pods only: external sources unmatched
    np = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow", "namespace": G},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]},
    }
    assert allowed(base + [np], DRACO, HARRY, 80) and not allowed(base + [np], DRACO, HARRY, 8080)


# -- ports, peers and rule order --------------------------------------------------------------
NS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27", ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: other}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: "nginx:1.27"}]}
"""


def cluster(text: str) -> Cluster:
    return Cluster.from_resources(resources([d for d in yaml.safe_load_all(text) if d]))


def anp(body: str, name: str = "p", kind: str = "AdminNetworkPolicy", version: str = "v1alpha1") -> str:
    return (
        f"---\napiVersion: policy.networking.k8s.io/{version}\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:\n{body}"
    )


def test_named_port_resolves_with_the_container_ports_own_protocol():
    c = cluster(
        NS
        + anp(
            "  priority: 1\n  subject: {namespaces: {matchLabels: {team: a}}}\n"
            "  ingress:\n  - {action: Allow, from: [{namespaces: {}}], ports: [{namedPort: dns}]}\n"
            "  - {action: Deny, from: [{namespaces: {}}]}\n"
        )
    )
    a = Analysis(c)
    ps = a.matrix().ports(c.find("other/api"), c.find("shop/web"))
    assert ports_contain(ps, 53, "UDP") and not ports_contain(ps, 53, "TCP") and not ports_contain(ps, 8080, "TCP")


def test_port_range_and_first_match_order():
    c = cluster(
        NS
        + anp(
            "  priority: 1\n  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}\n"
            "  ingress:\n  - {action: Allow, from: [{namespaces: {}}], ports: [{portRange: {start: 8000, end: 8100}}]}\n"
            "  - {action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {port: 8080, protocol: TCP}}, "
            "{portRange: {protocol: UDP, start: 1, end: 65535}}]}\n"
        )
    )
    ps = Analysis(c).matrix().ports(c.find("other/api"), c.find("shop/web"))
    # 8080 matched the Allow first; 9000 no rule (default allow); UDP denied
    assert ports_contain(ps, 8080, "TCP") and ports_contain(ps, 9000, "TCP") and not ports_contain(ps, 53, "UDP")


def test_networks_match_external_pieces_in_rule_order():
    c = cluster(
        NS
        + anp(
            "  priority: 1\n  subject: {namespaces: {}}\n  egress:\n"
            "  - {action: Deny, to: [{networks: [169.254.169.254/32]}]}\n"
            "  - {action: Allow, to: [{networks: [10.0.0.0/8]}]}\n"
        )
        + anp(
            "  subject: {namespaces: {}}\n  egress:\n  - {action: Deny, to: [{networks: [0.0.0.0/0]}]}\n",
            name="default",
            kind="BaselineAdminNetworkPolicy",
        )
    )
    a = Analysis(c)
    web = c.find("shop/web")
    assert a.matrix().ports(web, c.find("cloud-metadata")) == ((), (), ())
    assert a.ports(web, External("ten", "10.0.0.0/8")) == ALL_PORTS
    assert a.matrix().ports(web, c.find("internet")) == ALL_PORTS  # 10.0.0.0/8 is part of it
    assert a.ports(web, External("pub", "8.8.8.0/24")) == ((), (), ())
    assert a.matrix().ports(web, c.find("other/api")) == ((), (), ())  # 0.0.0.0/0 holds every pod address
    side = explain_side(c, "egress", web, c.find("cloud-metadata"))
    assert [(d.policy, d.rule, d.action) for d in side.decisions] == [("AdminNetworkPolicy/p", "egress[0]", "Deny")]


def test_nodes_and_domain_names_match_nothing_kubefort_models():
    c = cluster(
        NS
        + anp(
            "  priority: 1\n  subject: {namespaces: {}}\n  egress:\n"
            "  - {action: Deny, to: [{nodes: {}}]}\n  - {action: Allow, to: [{domainNames: [example.com]}]}\n"
        )
    )
    a = Analysis(c)
    assert a.matrix().ports(c.find("shop/web"), c.find("other/api")) == ALL_PORTS
    assert a.matrix().ports(c.find("shop/web"), c.find("internet")) == ALL_PORTS


# -- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "kind", "version", "message"),
    [
        ("  priority: 1001\n  subject: {namespaces: {}}\n", "AdminNetworkPolicy", "v1alpha1", "spec.priority is 1001"),
        ("  subject: {namespaces: {}}\n", "AdminNetworkPolicy", "v1alpha1", "spec.priority is null"),
        (
            "  priority: 1\n  subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "exactly one of",
        ),
        (
            "  priority: 1\n  subject: {pods: {podSelector: {}}}\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "needs namespaceSelector",
        ),
        (
            "  priority: 1\n  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: []}]\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "has 0 items",
        ),
        (
            "  priority: 1\n  subject: {namespaces: {}}\n  ingress: [{action: Allow}]\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "needs from",
        ),
        (
            "  priority: 1\n  subject: {namespaces: {}}\n  ingress: [{action: Block, from: [{namespaces: {}}]}]\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "action 'Block'",
        ),
        (
            "  priority: 1\n  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{networks: [10.0.0.0/8]}]}]\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "ingress peer",
        ),
        (
            "  priority: 1\n  subject: {namespaces: {}}\n  egress: [{action: Deny, to: [{networks: [10.0.0.0/8]}], ports: [{namedPort: http}]}]\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "named port",
        ),
        (
            "  priority: 1\n  subject: {namespaces: {}}\n  egress: [{action: Deny, to: [{networks: [10.0.0.300/8]}]}]\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "not a CIDR",
        ),
        (
            "  priority: 1\n  subject: {namespaces: {}}\n  egress: [{action: Deny, to: [{domainNames: [example.com]}]}]\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "only Allow rules",
        ),
        (
            "  priority: 1\n  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {port: 0}}]}]\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "port is 0",
        ),
        (
            "  priority: 1\n  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {}}], ports: []}]\n",
            "AdminNetworkPolicy",
            "v1alpha1",
            "has 0 items",
        ),
        (
            "  subject: {namespaces: {}}\n  ingress: [{action: Pass, from: [{namespaces: {}}]}]\n",
            "BaselineAdminNetworkPolicy",
            "v1alpha1",
            "action 'Pass'",
        ),
        (
            "  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  ingress: [{action: Allow, from: [{namespaces: {}}]}]\n",
            "ClusterNetworkPolicy",
            "v1alpha2",
            "action 'Allow'",
        ),
        (
            "  tier: Middle\n  priority: 1\n  subject: {namespaces: {}}\n",
            "ClusterNetworkPolicy",
            "v1alpha2",
            "spec.tier",
        ),
        (
            "  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 80, end: 80}}}}]}]\n",
            "ClusterNetworkPolicy",
            "v1alpha2",
            "start must be less than end",
        ),
        ("  priority: 1\n  subject: {namespaces: {}}\n", "ClusterNetworkPolicy", "v1alpha1", "no schema"),
    ],
)
def test_an_object_the_api_server_rejects_is_a_problem(body, kind, version, message):
    c = cluster(
        NS + anp(body, name="default" if kind == "BaselineAdminNetworkPolicy" else "x", kind=kind, version=version)
    )
    assert [p.resource.kind for p in c.problems] == [kind]
    assert message in c.problems[0].message, c.problems[0].message
    assert not c.admin


def test_a_baseline_policy_not_named_default_is_a_problem():
    c = cluster(NS + anp("  subject: {namespaces: {}}\n", name="other", kind="BaselineAdminNetworkPolicy"))
    assert "must be 'default'" in c.problems[0].message


def test_v1alpha1_port_range_start_above_end_is_accepted_and_matches_nothing():
    c = cluster(
        NS
        + anp(
            "  priority: 1\n  subject: {namespaces: {}}\n"
            "  ingress: [{action: Deny, from: [{namespaces: {}}], ports: [{portRange: {start: 90, end: 80}}]}]\n"
        )
    )
    assert not c.problems
    assert Analysis(c).matrix().ports(c.find("other/api"), c.find("shop/web")) == ALL_PORTS


# -- equal priorities -------------------------------------------------------------------------
CONFLICT = (
    NS
    + anp(
        "  priority: 5\n  subject: {namespaces: {matchLabels: {team: a}}}\n  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n",
        name="b-deny",
    )
    + anp(
        "  priority: 5\n  subject: {namespaces: {}}\n  ingress: [{action: Allow, from: [{namespaces: {}}], ports: [{portNumber: {port: 80}}]}]\n",
        name="a-allow",
    )
)


def test_equal_priorities_deciding_differently_are_reported_and_applied_by_name():
    c = cluster(CONFLICT)
    a = Analysis(c)
    assert [x.key() for x in a.conflicts] == [("AdminNetworkPolicy/a-allow", "AdminNetworkPolicy/b-deny", "ingress")]
    msg = a.conflicts[0].message(a)
    assert "same priority 5" in msg and "to shop/Deployment/web" in msg and "TCP/80" in msg
    ps = a.matrix().ports(c.find("other/api"), c.find("shop/web"))
    assert ports_contain(ps, 80, "TCP") and not ports_contain(ps, 81, "TCP")  # a-allow first, by name
    side = explain_side(c, "ingress", c.find("shop/web"), c.find("other/api"))
    assert side.conflicts and "a-allow and AdminNetworkPolicy/b-deny" in side.conflicts[0]


def test_equal_priorities_that_agree_are_no_conflict():
    c = cluster(CONFLICT.replace("action: Allow", "action: Deny"))
    assert Analysis(c).conflicts == []


# -- checks -----------------------------------------------------------------------------------
def outcomes(text: str, checks: tuple[str, ...], tmp_path: Path) -> dict[tuple[str, str], Any]:
    outs = scan_text(tmp_path, text, checks=checks)
    return {(o.check_id, o.resource.name): o for o in outs if o.resource is not None}


BANP_DENY = anp(
    "  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n"
    "  egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]\n",
    name="default",
    kind="BaselineAdminNetworkPolicy",
)


def test_a_baseline_default_deny_isolates_every_namespace(tmp_path):
    by = outcomes(NS + BANP_DENY, ("KF-NET-001", "KF-NET-002", "KF-NET-003", "KF-NET-006"), tmp_path)
    for cid in ("KF-NET-001", "KF-NET-002"):
        assert by[(cid, "shop")].status.value == "passed" and by[(cid, "other")].status.value == "passed"
    assert by[("KF-NET-003", "web")].status.value == "passed"
    assert by[("KF-NET-006", "web")].status.value == "passed"  # metadata denied by 0.0.0.0/0


def test_a_baseline_ingress_deny_only_leaves_egress_open(tmp_path):
    text = NS + anp(
        "  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n"
        "  egress: [{action: Deny, to: [{namespaces: {}}]}]\n",
        name="default",
        kind="BaselineAdminNetworkPolicy",
    )
    by = outcomes(text, ("KF-NET-001", "KF-NET-002", "KF-NET-006"), tmp_path)
    assert by[("KF-NET-001", "shop")].status.value == "passed"
    assert by[("KF-NET-002", "shop")].status.value == "failed"  # the internet stays reachable
    assert by[("KF-NET-006", "web")].status.value == "failed"


def test_an_admin_allow_all_undoes_a_networkpolicy_default_deny(tmp_path):
    text = (
        NS + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\n"
        "spec: {podSelector: {}, policyTypes: [Ingress]}\n"
        + anp(
            "  priority: 0\n  subject: {namespaces: {}}\n  ingress: [{action: Allow, from: [{namespaces: {}}]}]\n",
            name="open",
        )
    )
    by = outcomes(text, ("KF-NET-001",), tmp_path)
    o = by[("KF-NET-001", "shop")]
    assert o.status.value == "failed" and "AdminNetworkPolicy/open ingress[0] allows all ingress" in o.message


def test_invalid_or_ambiguous_cluster_wide_policies_make_namespaces_not_evaluated(tmp_path):
    bad = NS + anp("  priority: 2000\n  subject: {namespaces: {}}\n")
    by = outcomes(bad, ("KF-NET-001", "KF-NET-003"), tmp_path)
    assert by[("KF-NET-001", "other")].status.value == "not-evaluated"
    assert "API server would reject" in by[("KF-NET-003", "api")].message
    by = outcomes(CONFLICT, ("KF-NET-003",), tmp_path)
    assert (
        by[("KF-NET-003", "web")].status.value == "not-evaluated" and "ambiguous" in by[("KF-NET-003", "web")].message
    )
    assert by[("KF-NET-003", "api")].status.value != "not-evaluated"  # its pods are no subject of the conflict


# -- commands ---------------------------------------------------------------------------------
def run(*args: str) -> tuple[int, str, str]:
    from kubefort.cli.netpol import netpol

    r = CliRunner().invoke(netpol, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_explain_names_the_deciding_rule_of_each_tier(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump_all(docs("manifests.yaml", "v1alpha1-anp-np-banp.yaml")))
    code, out, err = run("explain", DRACO, HARRY, str(path), "--port", "80")
    assert code == 0, err
    assert "denied by AdminNetworkPolicy/pass-example ingress[0] (deny-all-ingress-from-slytherin) (Deny): all" in out
    assert "80/TCP: denied" in out
    code, out, _ = run("explain", f"{S}/draco-malfoy", "network-policy-conformance-ravenclaw/luna-lovegood", str(path))
    assert "no policy (default allow): all" in out


def test_matrix_exits_3_on_an_ambiguous_priority(tmp_path):
    (tmp_path / "a.yaml").write_text(CONFLICT)
    code, out, err = run("matrix", str(tmp_path / "a.yaml"))
    assert code == 3 and "same priority 5" in err and "2 workloads, 2 policies" in out
