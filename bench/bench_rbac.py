"""Benchmark: the RBAC engine on a large generated RBAC set (never a timed test).

Usage: .venv/bin/python bench/bench_rbac.py [--bindings 5000] [--roles 2000] [--seed 7] [--repeat 3]

Generates (seeded, so every run sees the same set) ClusterRoles and Roles with a realistic mix of
rules (wildcards, subresources, resourceNames, aggregation labels, a few risky grants), bindings
with 1-3 subjects (users, groups, ServiceAccounts), ServiceAccounts and Deployments, then times:

* building the Policy (parse, bootstrap roles, aggregation, indexes)
* who-can: 50 queries (namespaced, any-namespace, cluster-scoped, subresources, URLs)
* permissions: every rule of 200 subjects
* path finding: the shortest path to cluster-admin of every subject of the input
* the 20 KF-RBAC checks through the engine (every binding, role and workload)

Target (issue 4): 5,000 bindings and 2,000 roles in under 2 s for who-can, permissions and paths.
Figures are the best of --repeat runs.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

from kubefort.model import Resource, ResourceId, Source

RBAC_V1 = "rbac.authorization.k8s.io/v1"
RESOURCES = [
    ("", "pods"),
    ("", "pods/log"),
    ("", "pods/exec"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("", "persistentvolumeclaims"),
    ("", "events"),
    ("", "endpoints"),
    ("", "namespaces"),
    ("apps", "deployments"),
    ("apps", "deployments/scale"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "networkpolicies"),
    ("policy", "poddisruptionbudgets"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("example.com", "widgets"),
    ("example.com", "gadgets"),
    ("monitoring.coreos.com", "servicemonitors"),
]
READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete"]
RISKY = [
    {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]},
    {"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]},
    {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]},
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
]


def _res(obj: dict[str, Any], i: int) -> Resource:
    meta = obj["metadata"]
    return Resource(
        ResourceId(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"]), obj, Source("bench.yaml", i)
    )


def generate(n_bindings: int, n_roles: int, seed: int) -> list[Resource]:
    rnd = random.Random(seed)
    namespaces = [f"ns-{i:02d}" for i in range(60)]
    users = [f"user-{i}" for i in range(600)]
    groups = [f"team-{i}" for i in range(80)]
    sas = [(rnd.choice(namespaces), f"sa-{i}") for i in range(2500)]
    objs: list[dict[str, Any]] = []

    def rule() -> dict[str, Any]:
        if rnd.random() < 0.004:
            return dict(rnd.choice(RISKY))
        picks = rnd.sample(RESOURCES, rnd.randint(1, 4))
        r: dict[str, Any] = {
            "apiGroups": sorted({g for g, _ in picks}),
            "resources": [x for _, x in picks],
            "verbs": READ if rnd.random() < 0.6 else rnd.sample(READ + WRITE, rnd.randint(1, 5)),
        }
        if rnd.random() < 0.05:
            r["verbs"] = ["*"]
        if rnd.random() < 0.05:
            r["resourceNames"] = [f"obj-{rnd.randint(0, 50)}"]
        return r

    cluster_roles = [f"cr-{i}" for i in range(n_roles // 2)]
    roles = [(rnd.choice(namespaces), f"role-{i}") for i in range(n_roles - len(cluster_roles))]
    for i, name in enumerate(cluster_roles):
        labels = {"bench/aggregate-to-ops": "true"} if i % 97 == 0 else {}
        if i % 13 == 0:
            labels["rbac.authorization.k8s.io/aggregate-to-view"] = "true"
            o = {
                "apiVersion": RBAC_V1,
                "kind": "ClusterRole",
                "metadata": {"name": name, "labels": labels},
                "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": READ}],
            }
        else:
            o = {
                "apiVersion": RBAC_V1,
                "kind": "ClusterRole",
                "metadata": {"name": name, "labels": labels},
                "rules": [rule() for _ in range(rnd.randint(1, 6))],
            }
        if i % 211 == 5:
            o["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {"bench/aggregate-to-ops": "true"}}]}
        objs.append(o)
    for ns, name in roles:
        objs.append(
            {
                "apiVersion": RBAC_V1,
                "kind": "Role",
                "metadata": {"name": name, "namespace": ns},
                "rules": [rule() for _ in range(rnd.randint(1, 6))],
            }
        )

    def subject() -> dict[str, Any]:
        x = rnd.random()
        if x < 0.4:
            return {"kind": "User", "name": rnd.choice(users), "apiGroup": "rbac.authorization.k8s.io"}
        if x < 0.55:
            return {"kind": "Group", "name": rnd.choice(groups), "apiGroup": "rbac.authorization.k8s.io"}
        ns, name = rnd.choice(sas)
        return {"kind": "ServiceAccount", "name": name, "namespace": ns}

    n_crb = n_bindings * 3 // 10
    for i in range(n_bindings):
        subjects = [subject() for _ in range(rnd.randint(1, 3))]
        if i < n_crb:
            ref = {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": rnd.choice(cluster_roles + ["view", "edit"] if rnd.random() < 0.05 else cluster_roles),
            }
            objs.append(
                {
                    "apiVersion": RBAC_V1,
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": f"crb-{i}"},
                    "roleRef": ref,
                    "subjects": subjects,
                }
            )
        else:
            if rnd.random() < 0.5:
                ns, name = rnd.choice(roles)
                ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}
            else:
                ns = rnd.choice(namespaces)
                ref = {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": rnd.choice(cluster_roles + ["admin", "edit", "view"]),
                }
            objs.append(
                {
                    "apiVersion": RBAC_V1,
                    "kind": "RoleBinding",
                    "metadata": {"name": f"rb-{i}", "namespace": ns},
                    "roleRef": ref,
                    "subjects": subjects,
                }
            )
    for ns, name in sas:
        objs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}})
    for i in range(1500):
        ns, sa = rnd.choice(sas)
        objs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"app-{i}", "namespace": ns},
                "spec": {
                    "template": {
                        "spec": {
                            "serviceAccountName": sa,
                            "automountServiceAccountToken": rnd.random() < 0.7,
                            "containers": [{"name": "app", "image": "registry.example.com/app:1"}],
                        }
                    }
                },
            }
        )
    for ns in namespaces:
        labels = {"pod-security.kubernetes.io/enforce": "restricted"} if rnd.random() < 0.5 else {}
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    return [_res(o, i) for i, o in enumerate(objs)]


def best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bindings", type=int, default=5000)
    ap.add_argument("--roles", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from kubefort.kube.rbac import Policy, Request, identity_of
    from kubefort.kube.rbac_paths import find_paths

    resources = generate(args.bindings, args.roles, args.seed)
    t_build, pol = best(lambda: Policy(resources), args.repeat)
    rnd = random.Random(args.seed + 1)
    namespaces = sorted({b.namespace for b in pol.bindings if b.namespace})
    queries = []
    for i in range(50):
        g, res = rnd.choice(RESOURCES)
        base, _, sub = res.partition("/")
        verb = rnd.choice(READ + WRITE)
        if i % 10 == 9:
            queries.append((Request("get", path="/metrics"), False))
        elif i % 5 == 0:
            queries.append((Request(verb, g, base, sub), True))  # any namespace
        elif i % 7 == 0:
            queries.append((Request("get", "", "nodes"), False))
        else:
            queries.append((Request(verb, g, base, sub, rnd.choice(namespaces)), False))
    t_who, answers = best(lambda: [pol.who_can(q, any_namespace=a) for q, a in queries], args.repeat)
    subjects = sorted({s for b in pol.bindings if not b.builtin for s in b.subjects if s.key is not None}, key=str)
    sample = rnd.sample(subjects, min(200, len(subjects)))
    t_perm, perms = best(lambda: [list(pol.grants_for(identity_of(s))) for s in sample], args.repeat)
    t_paths, paths = best(lambda: find_paths(pol), args.repeat)

    from kubefort.checks import rbac as rbac_checks  # registers the KF-RBAC checks
    from kubefort.engine import Engine, EngineSettings
    from kubefort.kube.pods import find_pods
    from kubefort.registry import REGISTRY

    ids = tuple(m.id for m in REGISTRY if m.id.startswith("KF-RBAC-"))
    engine = Engine(EngineSettings(check_ids=ids), REGISTRY)
    collected = [(r, bool(find_pods(r))) for r in resources]
    t_checks, outcomes = best(lambda: engine.cross_object(collected), 1)
    assert rbac_checks  # imported for its checks

    rules = sum(len(r.rules) for r in pol.roles.values())
    print(
        f"generated: {args.bindings:,} bindings, {args.roles:,} roles (+{sum(1 for b in pol.bindings if b.builtin)} bootstrap bindings), "
        f"{rules:,} rules after aggregation, {len(pol.service_accounts):,} ServiceAccounts, {len(pol.workloads):,} workloads (seed {args.seed})"
    )
    print(f"policy build             {t_build * 1000:8.1f} ms")
    print(
        f"who-can   x{len(queries):<4}         {t_who * 1000:8.1f} ms   ({t_who / len(queries) * 1000:.2f} ms/query, "
        f"{sum(len(a) for a in answers):,} subjects found)"
    )
    print(f"permissions x{len(sample):<4}       {t_perm * 1000:8.1f} ms   ({sum(len(p) for p in perms):,} rules)")
    print(
        f"paths (all {len(subjects):,} subjects) {t_paths * 1000:8.1f} ms   ({len(paths):,} subjects reach cluster-admin, "
        f"longest {max((len(p.hops) for p in paths), default=0)} hops)"
    )
    total = t_build + t_who + t_perm + t_paths
    print(
        f"total (build + who-can + permissions + paths) {total:.3f} s   target < 2 s: {'OK' if total < 2 else 'MISSED'}"
    )
    print(f"all {len(ids)} KF-RBAC checks via the engine: {t_checks:.3f} s ({len(outcomes):,} outcomes)")
    return 0 if total < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
