"""Live-cluster scan benchmark: a real kube-apiserver + etcd (tests/kubeapi.py) filled with N
objects, then `kubefort scan --cluster` timed, with the peak memory of kubefort's processes.

    .venv/bin/python bench/bench_cluster.py                 # 50,000 objects
    .venv/bin/python bench/bench_cluster.py --objects 5000 --repeat 3 --snapshot

The cluster is shaped like real ones (see `populate`): per app a Deployment, its current and one
old ReplicaSet, 3 Pods, a Service, 2 ConfigMaps, a Secret and a ServiceAccount; per 10 apps a
namespace with a Role, a RoleBinding and a NetworkPolicy. Objects are created through the API
(so they carry managedFields, as real ones do); the API server and etcd run on the same 2 cores
as kubefort while it lists.
Needs the binaries from tools/install-test-cluster.sh.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from kubeapi import TestCluster, binaries_ready, object_collection_path  # noqa: E402 - tests/ is put on sys.path just above

APP = 11  # objects per app: Deployment, 2 ReplicaSets (current, and an old one scaled to 0), 3 Pods, Service, 2 ConfigMaps, Secret, ServiceAccount
APPS_PER_NS = 10  # + a Role, a RoleBinding and a NetworkPolicy per namespace


def pod_spec(rng: random.Random, i: int, tag: str = "1.27") -> dict:
    hardened = rng.random() < 0.5
    sc = (
        {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        if hardened
        else {}
    )
    containers = [
        {
            "name": f"app{j}",
            "image": f"{rng.choice(['nginx', 'redis', 'registry.k8s.io/pause', 'busybox'])}:{tag}",
            "ports": [{"containerPort": 8080 + j}],
            "env": [{"name": f"VAR_{k}", "value": f"value-{i}-{k}"} for k in range(rng.randint(1, 6))],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}
            if hardened
            else {},
            "securityContext": sc,
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}],
        }
        for j in range(rng.randint(1, 3))
    ]
    return {
        "containers": containers,
        "volumes": [{"name": "cfg", "configMap": {"name": f"cfg-{i}"}}],
        "serviceAccountName": f"app-{i}",
        "automountServiceAccountToken": not hardened,
    }


def owner(kind: str, api: str, obj: dict) -> list[dict]:
    m = obj["metadata"]
    return [
        {
            "apiVersion": api,
            "kind": kind,
            "name": m["name"],
            "uid": m["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def populate(c: TestCluster, total: int, threads: int = 8) -> float:
    """A cluster shaped like real ones: Deployments own ReplicaSets, which own Pods (ownerReferences
    as the controllers would set them; no controller runs here). 5 % of pods carry a sidecar their
    template lacks, as an admission webhook would inject; 2 % of pods are standalone."""
    rng = random.Random(42)
    apps = max(1, int(total / (APP + 4 / APPS_PER_NS)))
    nss = [f"bench-{n:04d}" for n in range((apps + APPS_PER_NS - 1) // APPS_PER_NS)]
    ctx = ssl.create_default_context(cafile=str(c.ca_file))
    token = c.TOKENS["admin"][0]
    local = threading.local()
    errors: list[str] = []

    def post(obj: dict) -> dict:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPSConnection("127.0.0.1", c.port, context=ctx, timeout=60)
        conn.request(
            "POST",
            object_collection_path(obj),
            json.dumps(obj),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        r = conn.getresponse()
        body = r.read()
        if r.status not in (201, 409):
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {r.status} {body[:200]!r}")
            return obj
        return json.loads(body)

    def run(objs: list[dict]) -> list[dict]:
        with ThreadPoolExecutor(threads) as ex:
            out = list(ex.map(post, objs))
        if errors:
            raise SystemExit(f"{len(errors)} objects failed, e.g. {errors[:3]}")
        return out

    t = time.perf_counter()
    run([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in nss])
    first: list[dict] = []
    deployments: list[dict] = []
    for _n, ns in enumerate(nss):
        first += [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "reader", "namespace": ns},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": rng.sample(["pods", "secrets", "configmaps", "services"], 2),
                        "verbs": ["get", "list"],
                    }
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "reader", "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "app-0", "namespace": ns}],
            },
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": ns},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
            },
        ]
    for i in range(apps):
        ns = nss[i // APPS_PER_NS]
        labels = {"app": f"app-{i}"}

        def meta(name: str, ns: str = ns, labels: dict[str, str] = labels) -> dict[str, object]:
            return {"name": name, "namespace": ns, "labels": labels}

        spec = pod_spec(rng, i)
        deployments.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta(f"app-{i}"),
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": spec},
                },
            }
        )
        first += [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(f"app-{i}"),
                "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
            },
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": meta(f"cfg-{i}"),
                "data": {f"k{k}": "x" * rng.randint(10, 400) for k in range(5)},
            },
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(f"env-{i}"), "data": {"LOG_LEVEL": "info"}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": meta(f"app-{i}"),
                "type": "Opaque",
                "stringData": {"password": f"p{i}"},
            },
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(f"app-{i}")},
        ]
    run(first)
    deps = run(deployments)
    rsets = []
    for i, d in enumerate(deps):
        tmpl = d["spec"]["template"]
        old = json.loads(json.dumps(tmpl))
        for cont in old["spec"]["containers"]:
            cont["image"] = cont["image"].rsplit(":", 1)[0] + ":1.26"
        for suffix, src, replicas in (("a", tmpl, 3), ("b", old, 0)):
            labels = {**d["metadata"]["labels"], "pod-template-hash": f"h{i}{suffix}"}
            tpl = {"metadata": {"labels": labels}, "spec": src["spec"]}
            rsets.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": f"{d['metadata']['name']}-{suffix}",
                        "namespace": d["metadata"]["namespace"],
                        "labels": labels,
                        "ownerReferences": owner("Deployment", "apps/v1", d),
                    },
                    "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": tpl},
                }
            )
    rss = run(rsets)
    pods = []
    for rs in rss[::2]:  # the current ReplicaSet of each Deployment
        for k in range(3):
            spec = json.loads(json.dumps(rs["spec"]["template"]["spec"]))
            meta = {
                "name": f"{rs['metadata']['name']}-{k}",
                "namespace": rs["metadata"]["namespace"],
                "labels": rs["spec"]["template"]["metadata"]["labels"],
                "ownerReferences": owner("ReplicaSet", "apps/v1", rs),
            }
            r = rng.random()
            if r < 0.05:
                spec["containers"].append(
                    {
                        "name": "mesh-proxy",
                        "image": "proxy:1.0",
                        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
                    }
                )
            elif r < 0.07:
                del meta["ownerReferences"]
            pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
    run(pods)
    return time.perf_counter() - t


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """Wall time, peak memory (MiB) of the process tree (sampled every 20 ms), exit code.

    Memory is the sum of each process's PSS (proportional set size): forked workers share
    pages with their parent, and summing RSS would count those pages once per process."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while p.poll() is None:
        peak = max(peak, _tree_rss(p.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - t
    err = p.stderr.read().decode() if p.stderr else ""
    if p.returncode not in (0, 1, 3):
        print(err, file=sys.stderr)
    return wall, peak / 1024, p.returncode


def _tree_rss(pid: int) -> int:
    total = 0
    pids = [pid]
    try:
        for line in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            pids.append(int(line))
    except OSError:
        pass
    for q in pids:
        try:
            for line in Path(f"/proc/{q}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total  # KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=0)
    ap.add_argument("--snapshot", action="store_true", help="also time `cluster snapshot` and a scan of the snapshot")
    ap.add_argument("--keep-snapshot", metavar="FILE", help="copy the snapshot here (for profiling scans offline)")
    ap.add_argument("--no-live", action="store_true", help="skip the live scans (with --snapshot)")
    args = ap.parse_args()
    if not binaries_ready():
        raise SystemExit("run `bash tools/install-test-cluster.sh` first")
    kubefort = [sys.executable, "-m", "kubefort"]
    with TestCluster() as c:
        took = populate(c, args.objects)
        kc = c.kubeconfig(Path(c.dir) / "kubeconfig", "admin")
        print(f"populated {args.objects:,} objects in {took:.1f} s")
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []
        for _i in range(0 if args.no_live else args.repeat):
            wall, rss, code = measure(
                [*kubefort, "scan", "--cluster", "--kubeconfig", str(kc), "-o", "json=/dev/null", "-q", *jobs]
            )
            print(
                f"scan --cluster (all checks, JSON report): {wall:.2f} s, peak memory {rss:.0f} MiB (PSS, main + workers), exit {code}"
            )
        if args.snapshot:
            snap = Path(c.dir) / "cluster.json.gz"
            wall, rss, code = measure(
                [*kubefort, "cluster", "snapshot", "--kubeconfig", str(kc), "-o", str(snap), "-q"]
            )
            print(
                f"cluster snapshot: {wall:.2f} s, peak memory {rss:.0f} MiB, {snap.stat().st_size / 1e6:.1f} MB, exit {code}"
            )
            if args.keep_snapshot:
                shutil.copyfile(snap, args.keep_snapshot)
            for _i in range(args.repeat):
                wall, rss, code = measure([*kubefort, "scan", str(snap), "-o", "json=/dev/null", "-q", *jobs])
                print(f"scan SNAPSHOT: {wall:.2f} s, peak memory {rss:.0f} MiB, exit {code}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
