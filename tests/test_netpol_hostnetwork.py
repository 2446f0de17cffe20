"""hostNetwork pods as the node's identity, per policy kind (docs/netpol.md "hostNetwork pods").

The property tests (test_netpol_property, test_netpol_cilium_engine, test_netpol_calico_engine)
hold the engine to the reference evaluators on random clusters with hostNetwork pods; these
cases pin the documented behaviour of each kind by hand, with exact verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from kubefort.cli.netpol import netpol
from kubefort.kube.netpol import (
    ALL_PORTS,
    NO_PORTS,
    Analysis,
    Cluster,
    explain_side,
    port_set,
    ports_inter,
    ports_minus,
)
from kubefort.model import Resource, ResourceId, Source

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      hostNetwork: true
      containers: [{name: c, image: x, ports: [{name: http, containerPort: 9100}]}]
"""
DENY_ALL = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"""
WEB, AGENT = 0, 1


def cluster(*docs: str) -> Cluster:
    objs = [o for d in (BASE, *docs) for o in yaml.safe_load_all(d) if o]
    res = [
        Resource(
            ResourceId(o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]),
            o,
            Source("t"),
        )
        for o in objs
    ]
    c = Cluster.from_resources(res)
    assert not c.problems, c.problems
    assert [w.host_network for w in c.workloads] == [False, True]
    return c


def verdicts(c: Cluster) -> dict[str, Any]:
    a = Analysis(c)
    m = a.matrix()
    out: dict[str, Any] = {}
    for s, d in ((WEB, AGENT), (AGENT, WEB), (AGENT, AGENT), (WEB, WEB)):
        ps = m.ports(s, d)
        assert ps == a.ports(s, d)
        via_explain = explain_side(c, "egress", s, d).ports
        into = explain_side(c, "ingress", d, s).ports
        assert ps == ports_inter(via_explain, into), (s, d)
        out[f"{c.workloads[s].name}->{c.workloads[d].name}"] = "all" if ps == ALL_PORTS else ps
    out["agent isolated"] = (a.isolated(AGENT, "ingress"), a.isolated(AGENT, "egress"))
    return out


def test_networkpolicy_never_selects_the_node_and_a_pod_always_reaches_its_node() -> None:
    # deny-all selects every pod of shop (app=web too) but not the hostNetwork agent; web still
    # reaches, and is reached from, the node (the API: traffic with the pod's own node is allowed)
    assert verdicts(cluster(DENY_ALL)) == {
        "web->agent": "all",
        "agent->web": "all",
        "agent->agent": "all",
        "web->web": NO_PORTS,
        "agent isolated": (False, False),
    }


def test_pod_selectors_do_not_match_the_node() -> None:
    only_web = (
        DENY_ALL
        + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {}}], ports: [{port: http}]}]
"""
    )
    c = cluster(only_web)
    # the named port resolves on web (8080), never on the node's host ports
    assert explain_side(c, "egress", WEB, WEB).ports == port_set("TCP", 8080, 8080)
    assert verdicts(c)["web->agent"] == "all"
    side = explain_side(c, "egress", WEB, AGENT)
    assert side.isolating == ["shop/deny-all", "shop/web-egress"] and side.allowing == []
    assert side.node == "traffic to the pod's own node is always allowed by NetworkPolicy"


def test_admin_network_policy_nodes_peer_denies_egress_to_the_node() -> None:
    anp = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-nodes}
spec:
  priority: 5
  subject: {namespaces: {}}
  egress:
  - {name: nodes, action: Deny, to: [{nodes: {}}], ports: [{portNumber: {port: 9100}}]}
  - {name: labelled, action: Deny, to: [{nodes: {matchLabels: {role: worker}}}]}
"""
    v = verdicts(cluster(DENY_ALL, anp))
    assert v["web->agent"] != ALL_PORTS and v["web->agent"] == _minus_9100()  # Deny wins over the node rule
    assert v["agent->web"] == "all"  # no cluster-wide ingress peer matches the node
    assert v["agent isolated"] == (False, False)  # no subject selects the node


def _minus_9100() -> Any:
    return ports_minus(ALL_PORTS, port_set("TCP", 9100, 9100))


CNP_EGRESS = """
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress: [{toEndpoints: [{}]}]
"""


def test_cilium_node_is_reached_only_through_node_entities() -> None:
    # toEndpoints [{}] in a CNP: pods of shop, not the host identity
    v = verdicts(cluster(CNP_EGRESS))
    assert v["web->agent"] == NO_PORTS and v["web->web"] == "all" and v["agent->web"] == "all"
    to_host = CNP_EGRESS.replace("toEndpoints: [{}]", "toEntities: [remote-node]")
    assert verdicts(cluster(to_host))["web->agent"] == "all"
    cluster_entity = CNP_EGRESS.replace(
        "toEndpoints: [{}]", "toEntities: [cluster], toPorts: [{ports: [{port: '9100', protocol: TCP}]}]"
    )
    assert verdicts(cluster(cluster_entity))["web->agent"] == port_set("TCP", 9100, 9100)


def test_cilium_local_host_reaches_its_pods_unless_a_deny_rule_matches() -> None:
    ingress = """
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-in, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: web}}]}]
"""
    assert verdicts(cluster(ingress))["agent->web"] == "all"  # allow-localhost
    deny = ingress + "  ingressDeny: [{fromEntities: [host], toPorts: [{ports: [{port: '8080'}]}]}]\n"
    c = cluster(deny)
    assert verdicts(c)["agent->web"] != ALL_PORTS
    side = explain_side(c, "ingress", WEB, AGENT)
    assert [(x.policy, x.rule, x.action) for x in side.decisions] == [
        ("CiliumNetworkPolicy/shop/web-in", "ingressDeny[0]", "Deny")
    ]


def test_calico_node_is_an_address_no_selector_matches() -> None:
    egress = """
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  selector: app == 'web'
  types: [Egress]
  egress: [{action: Allow, destination: {selector: all()}}]
"""
    v = verdicts(cluster(egress))
    assert v["web->agent"] == NO_PORTS and v["web->web"] == "all" and v["agent->web"] == "all"
    nets = egress.replace("destination: {selector: all()}", "destination: {nets: [0.0.0.0/0]}")
    assert verdicts(cluster(nets))["web->agent"] == "all"  # the node's address is in 0.0.0.0/0
    # a notSelector in a namespaced policy implies the policy's namespace: pods only
    not_sel = egress.replace("destination: {selector: all()}", "destination: {notSelector: app == 'db'}")
    assert verdicts(cluster(not_sel))["web->agent"] == NO_PORTS
    not_nets = egress.replace("destination: {selector: all()}", "destination: {notNets: [10.0.0.0/8]}")
    assert verdicts(cluster(not_nets))["web->agent"] == "all"


def _write(tmp_path: Path, *docs: str) -> str:
    p = tmp_path / "k8s.yaml"
    p.write_text(BASE + "".join("---\n" + d for d in docs))
    return str(p)


def test_cli_marks_host_network_workloads_and_explains_node_traffic(tmp_path: Path) -> None:
    path = _write(tmp_path, DENY_ALL)
    res = CliRunner().invoke(netpol, ["matrix", path])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1] == (
        "host network (the node's identity, no pod policy applies): shop/DaemonSet/agent"
    )
    res = CliRunner().invoke(netpol, ["matrix", path, "-o", "json"])
    doc = json.loads(res.output)
    assert [(w["name"], w["host_network"]) for w in doc["workloads"]] == [
        ("shop/Deployment/web", False),
        ("shop/DaemonSet/agent", True),
    ]
    res = CliRunner().invoke(netpol, ["explain", "shop/web", "shop/agent", path])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [
        "shop/Deployment/web -> shop/DaemonSet/agent",
        "  egress of shop/Deployment/web: isolated by shop/deny-all; traffic to the pod's own node is always "
        "allowed by NetworkPolicy",
        "  ingress of shop/DaemonSet/agent: the pods use the node's network: no pod policy applies to them: "
        "everything allowed",
        "  result: allowed on all",
    ]


def test_generate_leaves_node_traffic_out_and_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path)
    res = CliRunner().invoke(
        netpol, ["generate", path, "--allow", "shop/web:shop/agent:9100", "--allow", "shop/web:shop/web:8080"]
    )
    assert res.exit_code == 0, res.output
    docs = [d for d in yaml.safe_load_all(res.stdout) if d]
    assert [d["metadata"]["name"] for d in docs] == [
        "default-deny",
        "allow-to-deployment-web",
        "allow-from-deployment-web",
    ]
    # web's selector needs no DoesNotExist term for the agent: no selector matches the node anyway
    assert docs[1]["spec"]["podSelector"] == {"matchLabels": {"app": "web"}}
    assert "shop/DaemonSet/agent uses the host network: NetworkPolicy does not govern its traffic" in res.stderr
