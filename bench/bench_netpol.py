"""Benchmark: the full NetworkPolicy matrix of a synthetic cluster (never a timed test).

Usage: .venv/bin/python bench/bench_netpol.py [--pods 5000] [--policies 500] [--namespaces 50]
                                              [--anp 0] [--cilium 0] [--calico 0] [--yaml] [--baseline-rows 100] [--seed 1]

The cluster is generated deterministically: NAMESPACES namespaces (team/env labels), PODS
Deployments spread over them (app/tier/version labels, named container ports), and POLICIES
NetworkPolicies of the kinds real namespaces hold (default deny both ways, DNS egress,
tier-to-tier rules with numbered and named ports, endPort ranges, namespaceSelector AND
podSelector peers, matchExpressions, ipBlock with except). Prints the time of each stage:
model (parse policies and workloads), profiles (selector bitsets, per-pod rule sets), matrix
(every ordered pair's allowed ports, NumPy), and for comparison a pure-Python fill of the same
matrix pair by pair, measured on --baseline-rows source rows and extrapolated. --yaml also
writes the objects to a temporary directory and times kubefort's loader on them. --anp N makes
N of the POLICIES cluster-wide policies instead (AdminNetworkPolicies of every action, priorities
with ties that do not conflict, namespace and pod subjects, networks peers, all three port
forms) plus the BaselineAdminNetworkPolicy `default` (egress to the internet denied).
--cilium N makes N of the POLICIES Cilium policies instead (CiliumNetworkPolicies per namespace:
tier-to-tier allows with numbered, named and ranged ports, DNS egress to kube-system, deny rules
towards the metadata address, world egress on 443, enableDefaultDeny false audits; every tenth a
CiliumClusterwideNetworkPolicy denying ingress from the world to databases): the cluster is then
judged as Cilium enforces it (kube/netpol/cilium_engine.py). --calico N makes N of the POLICIES
Calico policies instead (a `security` Tier with defaultAction Pass; per namespace, NetworkPolicies
of the default tier allowing tier-to-tier traffic on numbered, named and ranged ports, DNS egress
to kube-system, egress to the outside on 443 but not to the metadata address (notNets), Log
rules; every tenth a GlobalNetworkPolicy of the security tier denying ingress to databases from
staging namespaces and passing the rest, or allowing Prometheus to scrape `metrics` everywhere):
the cluster is then judged as Felix enforces it (kube/netpol/calico_engine.py).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from kubefort.kube.netpol import NO_PORTS, Analysis, Cluster
from kubefort.model import Resource, ResourceId, Source

TIERS = ["web", "api", "db", "cache", "worker"]


def generate(pods: int, policies: int, namespaces: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    objs: list[dict] = []
    names = [f"ns-{i:03d}" for i in range(namespaces)]
    for i, ns in enumerate(names):
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"team": f"team-{i % 10}", "env": "prod" if i % 3 else "staging"}},
            }
        )
    for i in range(pods):
        ns = names[i % namespaces]
        tier = TIERS[rnd.randrange(len(TIERS))]
        labels = {"app": f"app-{rnd.randrange(20)}", "tier": tier, "version": f"v{rnd.randrange(1, 4)}"}
        if rnd.random() < 0.05:
            labels["app"] = "prometheus"
        ports = [
            {"name": "http", "containerPort": rnd.choice([8080, 8000, 80])},
            {"name": "metrics", "containerPort": 9090},
        ]
        if tier == "db":
            ports.append({"name": "pg", "containerPort": 5432})
        objs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"w{i:05d}", "namespace": ns},
                "spec": {
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "app", "image": "x:1", "ports": ports}]},
                    }
                },
            }
        )
    templates = [
        lambda ns: {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        lambda ns: {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                }
            ],
        },
        lambda ns: {"podSelector": {"matchLabels": {"tier": "web"}}, "ingress": [{"ports": [{"port": "http"}]}]},
        lambda ns: {
            "podSelector": {"matchLabels": {"tier": "api"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"tier": "web"}}}],
                    "ports": [{"port": 8080}, {"port": "http"}],
                }
            ],
        },
        lambda ns: {
            "podSelector": {"matchLabels": {"tier": "db"}},
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"tier": "api"}}},
                        {
                            "namespaceSelector": {"matchLabels": {"team": "team-0"}},
                            "podSelector": {"matchLabels": {"app": "prometheus"}},
                        },
                    ],
                    "ports": [{"port": "pg"}, {"port": 9090}],
                }
            ],
        },
        lambda ns: {
            "podSelector": {"matchLabels": {"tier": "web"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"tier": "api"}}}], "ports": [{"port": "http"}]}],
        },
        lambda ns: {
            "podSelector": {"matchLabels": {"tier": "api"}},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": {"tier": "db"}}}], "ports": [{"port": 5432}]},
                {"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.96.0.0/12"]}}], "ports": [{"port": 443}]},
            ],
        },
        lambda ns: {
            "podSelector": {},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"team": "team-0"}},
                            "podSelector": {"matchLabels": {"app": "prometheus"}},
                        }
                    ],
                    "ports": [{"port": "metrics"}],
                }
            ],
        },
        lambda ns: {
            "podSelector": {
                "matchLabels": {"app": f"app-{rnd.randrange(20)}"},
                "matchExpressions": [{"key": "version", "operator": "In", "values": ["v1", "v2"]}],
            },
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"env": "prod"}},
                            "podSelector": {
                                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]
                            },
                        }
                    ],
                    "ports": [{"port": 8000, "endPort": 8100}],
                }
            ],
        },
        lambda ns: {
            "podSelector": {"matchLabels": {"tier": "worker"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}],
                    "ports": [{"port": 443}],
                },
                {
                    "to": [
                        {
                            "namespaceSelector": {},
                            "podSelector": {
                                "matchLabels": {"tier": "cache"},
                                "matchExpressions": [{"key": "version", "operator": "NotIn", "values": ["v3"]}],
                            },
                        }
                    ],
                    "ports": [{"port": 6379}, {"port": 6380, "protocol": "UDP"}],
                },
            ],
        },
    ]
    for i in range(policies):
        ns = names[(i // len(templates)) % namespaces]
        objs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"np-{i:04d}", "namespace": ns},
                "spec": templates[i % len(templates)](ns),
            }
        )
    return objs


def admin_policies(count: int, namespaces: int, seed: int) -> list[dict]:
    """`count` AdminNetworkPolicies and the BaselineAdminNetworkPolicy, of the kinds clusters hold."""
    rnd = random.Random(seed + 1)
    api = "policy.networking.k8s.io/v1alpha1"

    def team(i: int) -> dict:
        return {"matchLabels": {"team": f"team-{i % 10}"}}

    templates = [
        lambda i: {  # DNS and monitoring always allowed, before any NetworkPolicy
            "subject": {"namespaces": {}},
            "ingress": [
                {
                    "name": "allow-monitoring",
                    "action": "Allow",
                    "from": [
                        {"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "prometheus"}}}}
                    ],
                    "ports": [{"namedPort": "metrics"}],
                }
            ],
            "egress": [
                {
                    "name": "dns",
                    "action": "Allow",
                    "to": [{"namespaces": {}}],
                    "ports": [{"portNumber": {"port": 53, "protocol": "UDP"}}],
                }
            ],
        },
        lambda i: {  # a team's namespaces: deny other teams, delegate the team's own traffic
            "subject": {"namespaces": team(i)},
            "ingress": [
                {"name": "own", "action": "Pass", "from": [{"namespaces": team(i)}]},
                {"name": "staging", "action": "Deny", "from": [{"namespaces": {"matchLabels": {"env": "staging"}}}]},
            ],
        },
        lambda i: {  # databases: only the api tier, on a port range
            "subject": {"pods": {"namespaceSelector": team(i), "podSelector": {"matchLabels": {"tier": "db"}}}},
            "ingress": [
                {
                    "name": "api",
                    "action": "Allow",
                    "from": [{"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"tier": "api"}}}}],
                    "ports": [{"portRange": {"start": 5432, "end": 5433}}],
                },
                {"name": "rest", "action": "Deny", "from": [{"namespaces": {}}]},
            ],
        },
        lambda i: {  # egress: metadata denied, private ranges passed
            "subject": {"namespaces": team(i)},
            "egress": [
                {"name": "metadata", "action": "Deny", "to": [{"networks": ["169.254.169.254/32"]}]},
                {"name": "private", "action": "Pass", "to": [{"networks": ["10.0.0.0/8", "192.168.0.0/16"]}]},
            ],
        },
    ]
    out = []
    for i in range(count):
        spec = templates[i % len(templates)](i)
        # ties only between policies whose subjects differ (teams) or whose actions agree
        spec["priority"] = (i % len(templates)) * 10 + rnd.randrange(2) * 100
        out.append(
            {"apiVersion": api, "kind": "AdminNetworkPolicy", "metadata": {"name": f"anp-{i:04d}"}, "spec": spec}
        )
    if count:
        out.append(
            {
                "apiVersion": api,
                "kind": "BaselineAdminNetworkPolicy",
                "metadata": {"name": "default"},
                "spec": {
                    "subject": {"namespaces": {"matchLabels": {"env": "prod"}}},
                    "egress": [{"name": "internet", "action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}],
                },
            }
        )
    return out


def cilium_policies(count: int, namespaces: int, seed: int) -> list[dict]:
    """`count` CiliumNetworkPolicies / CiliumClusterwideNetworkPolicies of the kinds clusters hold."""
    rnd = random.Random(seed + 2)
    names = [f"ns-{i:03d}" for i in range(namespaces)]
    dns = {
        "toEndpoints": [{"matchLabels": {"io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns"}}],
        "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": [{"matchPattern": "*"}]}}],
    }
    templates = [
        lambda t, u: {
            "endpointSelector": {"matchLabels": {"tier": t}},
            "ingress": [
                {
                    "fromEndpoints": [{"matchLabels": {"tier": u}}],
                    "toPorts": [{"ports": [{"port": "http"}, {"port": "8000", "endPort": 8100, "protocol": "TCP"}]}],
                }
            ],
            "egress": [dns, {"toEndpoints": [{"matchLabels": {"tier": u}}]}],
        },
        lambda t, u: {
            "endpointSelector": {"matchLabels": {"tier": t}},
            "egress": [{"toEntities": ["world"], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}],
            "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}],
        },
        lambda t, u: {
            "endpointSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["prometheus"]}]},
            "egress": [{"toEntities": ["cluster"], "toPorts": [{"ports": [{"port": "metrics"}]}]}],
        },
        lambda t, u: {
            "endpointSelector": {"matchLabels": {"tier": t}},
            "enableDefaultDeny": {"ingress": False},
            "ingressDeny": [{"fromEndpoints": [{"matchLabels": {"io.cilium.k8s.namespace.labels.env": "staging"}}]}],
        },
    ]
    out: list[dict] = []
    for i in range(count):
        t, u = rnd.sample(TIERS, 2)
        if i % 10 == 9:
            spec = {
                "endpointSelector": {"matchLabels": {"tier": "db"}},
                "ingressDeny": [{"fromEntities": ["world"]}],
                "enableDefaultDeny": {"ingress": False},
            }
            meta: dict = {"name": f"ccnp-{i:04d}"}
            kind = "CiliumClusterwideNetworkPolicy"
        else:
            spec = templates[rnd.randrange(len(templates))](t, u)
            meta = {"name": f"cnp-{i:04d}", "namespace": names[rnd.randrange(namespaces)]}
            kind = "CiliumNetworkPolicy"
        out.append({"apiVersion": "cilium.io/v2", "kind": kind, "metadata": meta, "spec": spec})
    return out


def calico_policies(count: int, namespaces: int, seed: int) -> list[dict]:
    """`count` Calico NetworkPolicies / GlobalNetworkPolicies (and their Tier) of the kinds clusters hold."""
    if not count:
        return []
    rnd = random.Random(seed + 3)
    names = [f"ns-{i:03d}" for i in range(namespaces)]
    dns = {
        "action": "Allow",
        "protocol": "UDP",
        "destination": {"namespaceSelector": "projectcalico.org/name == 'kube-system'", "ports": [53]},
    }
    templates = [
        lambda t, u: {
            "selector": f"tier == '{t}'",
            "order": rnd.choice([10, 100, None]),
            "ingress": [
                {"action": "Log"},
                {
                    "action": "Allow",
                    "protocol": "TCP",
                    "source": {"selector": f"tier == '{u}'"},
                    "destination": {"ports": ["http", "8000:8100"]},
                },
            ],
            "egress": [dns, {"action": "Allow", "destination": {"selector": f"tier in {{'{u}', '{t}'}}"}}],
        },
        lambda t, u: {
            "selector": f"tier == '{t}' && !has(debug)",
            "types": ["Egress"],
            "egress": [
                {"action": "Deny", "destination": {"nets": ["169.254.169.254/32"]}},
                {"action": "Allow", "protocol": "TCP", "destination": {"notNets": ["10.0.0.0/8"], "ports": [443]}},
            ],
        },
        lambda t, u: {
            "selector": "app == 'prometheus'",
            "types": ["Egress"],
            "egress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": ["metrics"]}}],
        },
    ]
    out: list[dict] = [
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "Tier",
            "metadata": {"name": "security"},
            "spec": {"order": 100, "defaultAction": "Pass"},
        },
    ]
    for i in range(count):
        t, u = rnd.sample(TIERS, 2)
        if i % 10 == 9:
            spec = {
                "tier": "security",
                "order": i,
                "selector": "tier == 'db'",
                "ingress": [
                    {"action": "Deny", "source": {"namespaceSelector": "env == 'staging'"}},
                    {
                        "action": "Allow",
                        "protocol": "TCP",
                        "source": {"selector": "app == 'prometheus'"},
                        "destination": {"ports": ["metrics"]},
                    },
                    {"action": "Pass"},
                ],
            }
            meta: dict = {"name": f"gnp-{i:04d}"}
            kind = "GlobalNetworkPolicy"
        else:
            spec = {k: v for k, v in templates[rnd.randrange(len(templates))](t, u).items() if v is not None}
            meta = {"name": f"cnp-{i:04d}", "namespace": names[rnd.randrange(namespaces)]}
            kind = "NetworkPolicy"
        out.append({"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": meta, "spec": spec})
    return out


def to_resources(objs: list[dict]) -> list[Resource]:
    return [
        Resource(
            ResourceId(o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]),
            o,
            Source("bench"),
        )
        for o in objs
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--policies", type=int, default=500)
    ap.add_argument("--namespaces", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--anp", type=int, default=0, help="how many of --policies are AdminNetworkPolicies (plus a BANP)")
    ap.add_argument("--cilium", type=int, default=0, help="how many of --policies are Cilium policies (CNP, CCNP)")
    ap.add_argument("--calico", type=int, default=0, help="how many of --policies are Calico policies (NP, GNP)")
    ap.add_argument("--yaml", action="store_true", help="also time kubefort's YAML loader on the same objects")
    ap.add_argument(
        "--baseline-rows", type=int, default=100, help="source rows for the pure-Python comparison (0: skip)"
    )
    args = ap.parse_args()

    k8s = args.policies - args.anp - args.cilium - args.calico
    objs = generate(args.pods, k8s, args.namespaces, args.seed)
    objs += admin_policies(args.anp, args.namespaces, args.seed)
    objs += cilium_policies(args.cilium, args.namespaces, args.seed)
    objs += calico_policies(args.calico, args.namespaces, args.seed)
    kinds = f"{k8s} NetworkPolicies" + (
        f", {args.anp} AdminNetworkPolicies + 1 BaselineAdminNetworkPolicy" if args.anp else ""
    )
    kinds += f", {args.cilium} Cilium policies" if args.cilium else ""
    kinds += f", {args.calico} Calico policies (+ 1 Tier)" if args.calico else ""
    print(
        f"cluster: {args.pods} workloads, {kinds}, {args.namespaces} namespaces (seed {args.seed}); {os.cpu_count()} CPU(s)"
    )
    if args.yaml:
        import yaml

        from kubefort.loaders.manifests import load_resources

        with tempfile.TemporaryDirectory() as d:
            for i in range(0, len(objs), 100):
                Path(d, f"part-{i:05d}.yaml").write_text(yaml.safe_dump_all(objs[i : i + 100]))
            t = time.perf_counter()
            res, problems, _ = load_resources([d])
            print(f"load YAML      {time.perf_counter() - t:7.3f} s  ({len(res)} objects, {len(problems)} problems)")
    res = to_resources(objs)
    t0 = time.perf_counter()
    cluster = Cluster.from_resources(res)
    t1 = time.perf_counter()
    analysis = Analysis(cluster)
    t2 = time.perf_counter()
    m = analysis.matrix()
    t3 = time.perf_counter()
    assert not cluster.problems, cluster.problems[:3]
    assert not analysis.conflicts, [x.message(analysis) for x in analysis.conflicts[:3]]
    n = len(cluster.workloads)
    allowed = int((m.cells != 0).sum())
    prof_in, prof_eg = len(analysis.profiles["ingress"][0]), len(analysis.profiles["egress"][0])
    print(f"model          {t1 - t0:7.3f} s")
    print(f"profiles       {t2 - t1:7.3f} s  ({prof_in} ingress, {prof_eg} egress profiles)")
    print(
        f"matrix         {t3 - t2:7.3f} s  ({n * n:,} ordered pairs, {allowed:,} allowed, {len(m.portsets)} distinct port sets)"
    )
    print(f"total          {t3 - t0:7.3f} s  (target: under 5 s)")
    print(f"peak RSS       {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MiB")
    if args.baseline_rows:
        rows = min(args.baseline_rows, n)
        t = time.perf_counter()
        for s in range(rows):
            for d in range(n):
                ps = analysis.ports(s, d)
                assert (ps != NO_PORTS) == bool(m.cells[s, d])
        per_row = (time.perf_counter() - t) / rows
        print(
            f"pure Python    {per_row * n:7.1f} s  (pair by pair, extrapolated from {rows} rows; NumPy pays {per_row * n / (t3 - t2):.0f}x on this stage)"
        )


if __name__ == "__main__":
    main()
