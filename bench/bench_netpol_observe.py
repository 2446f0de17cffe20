"""Benchmark: `netpol observe` on a synthetic cluster and flow log (never a timed test).

Usage: .venv/bin/python bench/bench_netpol_observe.py [--flows 1000000] [--connections 20000]
                                                      [--pods 5000] [--policies 500] [--seed 1]
                                                      [--jobs 0]

The cluster is bench_netpol.py's (PODS Deployments over 50 namespaces, POLICIES NetworkPolicies
of the kinds real namespaces hold). The flow log is generated deterministically: CONNECTIONS
distinct connections (a replica of one Deployment to a replica of another, 3 replicas each,
ports the workloads serve or commonly dial; one in ten to or from an address outside the cluster),
and FLOWS Hubble records drawn from them with a skew (a few connections carry most flows, as in
real traffic), written as `hubble observe -o json` prints them (full records, ~1.2 KB a line),
the same with the Hubble exporter's field mask keeping only what `observe` reads (time, verdict,
drop_reason_desc, Type, is_reply, IP, l4, source, destination; ~0.6 KB a line), and the same
as Calico flow log records. Each is written to a file in a temporary directory (so the page
cache holds it, as it would a log just written) and read the way the command reads it
(`FlowReader(observer, jobs).read` on the open file: with JOBS processes, 0 = one per CPU, for a
file of 16 MiB or more), then again in one process (`-j 1`). Prints, per format, both rates of
reading + judging, the processes used, the time of the rule-use pass and the peak memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_netpol import generate, to_resources

from kubefort.kube.netpol import Analysis, Cluster
from kubefort.kube.netpol.flows import ReadStats
from kubefort.kube.netpol.observe import Observer, rule_uses
from kubefort.kube.netpol.observe_read import FlowReader

PORTS = [(8080, "TCP"), (80, "TCP"), (9090, "TCP"), (5432, "TCP"), (6379, "TCP"), (53, "UDP"), (443, "TCP")]


def pods_of(cluster: Cluster, rnd: random.Random) -> list[tuple[int, str, list[str]]]:
    """(workload index, pod name, Hubble labels) for 3 replicas of every Deployment."""
    out = []
    for i, w in enumerate(cluster.workloads):
        h = "".join(rnd.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(10))
        labels = sorted(
            [f"k8s:{k}={v}" for k, v in w.labels.items()]
            + [
                f"k8s:pod-template-hash={h}",
                f"k8s:io.kubernetes.pod.namespace={w.namespace}",
                "k8s:io.cilium.k8s.policy.cluster=default",
                "k8s:io.cilium.k8s.policy.serviceaccount=default",
            ]
        )
        for _ in range(3):
            suffix = "".join(rnd.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            out.append((i, f"{w.name}-{h}-{suffix}", labels))
    return out


def hubble_line(c: Cluster, src: Any, dst: Any, port: int, proto: str, verdict: str, t: int) -> bytes:
    def ep(e: Any, ident: int) -> dict[str, Any]:
        if isinstance(e, str):
            return {"identity": 2, "labels": ["reserved:world"]}
        w = c.workloads[e[0]]
        return {
            "ID": 1000 + e[0],
            "identity": 30000 + e[0],
            "namespace": w.namespace,
            "labels": e[2],
            "pod_name": e[1],
            "workloads": [{"name": w.name, "kind": w.kind}],
        }

    ts = f"2026-03-02T{10 + t // 3600 % 10:02d}:{t // 60 % 60:02d}:{t % 60:02d}.{t * 7919 % 10**9:09d}Z"
    ip = lambda e: e if isinstance(e, str) else f"10.{e[0] >> 8 & 255}.{e[0] & 255}.{hash(e[1]) & 127}"  # noqa: E731
    flow = {
        "time": ts,
        "uuid": f"5b3f6c1e-0000-4000-8000-{t:012d}",
        "verdict": verdict,
        "ethernet": {"source": "0e:5a:11:22:33:44", "destination": "0e:5a:55:66:77:88"},
        "IP": {"source": ip(src), "destination": ip(dst), "ipVersion": "IPv4"},
        "l4": {proto: {"source_port": 32768 + t % 28000, "destination_port": port}},
        "source": ep(src, 1),
        "destination": ep(dst, 2),
        "Type": "L3_L4",
        "node_name": "node-1",
        "event_type": {"type": 4},
        "traffic_direction": "EGRESS",
        "trace_observation_point": "TO_STACK",
        "is_reply": False,
        "Summary": f"{proto} Flags: SYN",
    }
    return orjson.dumps({"flow": flow, "node_name": "node-1", "time": ts})


MASK = ("time", "verdict", "drop_reason_desc", "Type", "is_reply", "IP", "l4", "source", "destination")


def masked_line(c: Cluster, src: Any, dst: Any, port: int, proto: str, verdict: str, t: int) -> bytes:
    """The Hubble exporter's record with a field mask of what `observe` reads (`hubble-export-fieldmask`)."""
    flow = orjson.loads(hubble_line(c, src, dst, port, proto, verdict, t))["flow"]
    for e in (flow["source"], flow["destination"]):
        e.pop("ID", None)
    return orjson.dumps({"flow": {k: flow[k] for k in MASK if k in flow}})


def calico_line(c: Cluster, src: Any, dst: Any, port: int, proto: str, verdict: str, t: int) -> bytes:
    rec: dict[str, Any] = {"start_time": 1772445600 + t, "end_time": 1772445900 + t}
    for end, e in (("source", src), ("dest", dst)):
        if isinstance(e, str):
            rec |= {f"{end}_type": "net", f"{end}_namespace": "-", f"{end}_name": "-", f"{end}_name_aggr": "pub"}
            rec |= {f"{end}_ip": e, f"{end}_labels": None}
        else:
            w = c.workloads[e[0]]
            rec |= {f"{end}_type": "wep", f"{end}_namespace": w.namespace, f"{end}_name": "-"}
            rec |= {f"{end}_name_aggr": e[1][:-5] + "*", f"{end}_ip": None}
            rec[f"{end}_labels"] = {"labels": [x[4:] for x in e[2] if x.startswith("k8s:")]}
    rec |= {"dest_port": port, "proto": proto.lower(), "action": "allow" if verdict == "FORWARDED" else "deny"}
    rec |= {"reporter": "src", "num_flows": 1 + t % 5, "bytes_in": 4096, "bytes_out": 1024, "packets_in": 9}
    rec |= {"packets_out": 7, "host": "node-1", "policies": {"enforced_policies": [], "pending_policies": []}}
    return orjson.dumps(rec)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", type=int, default=1_000_000)
    ap.add_argument("--connections", type=int, default=20_000)
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--policies", type=int, default=500)
    ap.add_argument("--namespaces", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=0, help="processes (0: one per CPU), as observe -j")
    args = ap.parse_args()

    rnd = random.Random(args.seed)
    t = time.perf_counter()
    cluster = Cluster.from_resources(to_resources(generate(args.pods, args.policies, args.namespaces, args.seed)))
    analysis = Analysis(cluster)
    print(
        f"cluster: {len(cluster.workloads)} workloads, {len(cluster.policies)} NetworkPolicies; model + profiles {time.perf_counter() - t:.2f} s"
    )
    pods = pods_of(cluster, rnd)
    conns = []
    for _ in range(args.connections):
        src: Any = rnd.choice(pods)
        dst: Any = rnd.choice(pods)
        if rnd.random() < 0.1:
            world = f"203.0.{rnd.randrange(256)}.{rnd.randrange(256)}"
            src, dst = (world, dst) if rnd.random() < 0.5 else (src, world)
        port, proto = rnd.choice(PORTS)
        conns.append((src, dst, port, proto, "DROPPED" if rnd.random() < 0.2 else "FORWARDED"))
    weights = [1 / (k + 1) for k in range(len(conns))]  # Zipf-like: a few connections carry most flows
    picks = rnd.choices(range(len(conns)), weights=weights, k=args.flows)
    tmp = tempfile.TemporaryDirectory(prefix="kubefort-bench-observe-")
    for label, fmt, make in (
        ("hubble", "hubble", hubble_line),
        ("masked", "hubble", masked_line),
        ("calico", "calico", calico_line),
    ):
        path = Path(tmp.name) / f"{label}.jsonl"
        with path.open("wb") as fh:
            for i, k in enumerate(picks):
                fh.write(make(cluster, *conns[k][:4], conns[k][4], i) + b"\n")
        runs = []
        for jobs in (args.jobs, 1):
            stats = ReadStats()
            obs = Observer(cluster, analysis)
            t0 = time.perf_counter()
            with path.open("rb") as fh:
                used = FlowReader(obs, jobs).read(fh, label, fmt, stats)
            t1 = time.perf_counter()
            groups = obs.result()
            rules = rule_uses(cluster, analysis, groups)
            t2 = time.perf_counter()
            assert stats.flows == args.flows and not stats.bad, (stats.flows, stats.bad_lines[:3])
            runs.append((used, t1 - t0, t2 - t1, groups, rules, len(obs.unmatched)))
        (used, took, rule_time, groups, rules, unmatched), (_, one, _, groups_one, *_) = runs
        assert groups == groups_one, "the processes' result differs from one process's"
        blocked = sum(not g.allowed for g in groups)
        print(
            f"{label:7} {args.flows:,} records, {path.stat().st_size / 2**20:.0f} MiB: read + judge in {used} "
            f"{'process' if used == 1 else 'processes'} {took:6.2f} s = {args.flows / took:,.0f} flows/s; "
            f"in one {one:6.2f} s = {args.flows / one:,.0f} flows/s ({len(groups):,} connections, {blocked:,} blocked, "
            f"{unmatched} unmatched); rule use {rule_time:.2f} s ({sum(not r.flows for r in rules)} of {len(rules)} rules unused)"
        )
        path.unlink()
    tmp.cleanup()
    print(
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (this process), "
        f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB (the largest worker)"
    )


if __name__ == "__main__":
    main()
