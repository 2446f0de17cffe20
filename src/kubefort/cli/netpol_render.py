"""The network policy matrix in the output formats of `kubefort netpol matrix` (table, json, csv,
dot, md)."""

from __future__ import annotations

import csv
import io
import json

from kubefort.kube.netpol import ALL_PORTS, Analysis, Cluster, Matrix, format_ports, ports_json
from kubefort.wording import plural

__all__ = ["policy_keys", "render_matrix"]


def policy_keys(c: Cluster) -> list[str]:
    """Every policy the matrix was computed with: NetworkPolicies, the cluster-wide tiers', Cilium's
    and Calico's (`Kind/namespace/name`)."""
    return (
        [p.key for p in c.policies] + [p.key for p in c.admin] + [p.key for p in c.cilium] + [p.key for p in c.calico]
    )


def render_matrix(m: Matrix, fmt: str, analysis: Analysis | None = None) -> str:
    """The matrix in one of the output formats (only allowed pairs; md: a grid)."""
    c = m.cluster
    conns = [(m.name(s), m.name(d), ps) for s, d, ps in m.connections()]
    if fmt == "json":
        a = analysis or Analysis(c)
        doc = {
            "version": 1,
            "workloads": [
                {
                    "name": w.key,
                    "namespace": w.namespace,
                    "kind": w.kind,
                    "labels": w.labels,
                    "isolated": {"ingress": a.isolated(i, "ingress"), "egress": a.isolated(i, "egress")},
                    "host_network": w.host_network,
                }
                for i, w in enumerate(c.workloads)
            ],
            "externals": [{"name": e.name, "cidr": e.cidr} for e in c.externals],
            "policies": policy_keys(c),
            "connections": [
                {"source": s, "destination": d, "all": ps == ALL_PORTS, "ports": ports_json(ps)} for s, d, ps in conns
            ],
            "problems": [str(p) for p in c.problems],
        }
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["source", "destination", "ports"])
        w.writerows([s, d, format_ports(ps)] for s, d, ps in conns)
        return buf.getvalue()
    if fmt == "dot":
        lines = ["digraph netpol {", "  rankdir=LR;", "  node [shape=box];"]
        for ns in sorted({w.namespace for w in c.workloads}):
            lines.append(f'  subgraph "cluster_{ns}" {{ label="{ns}";')
            lines += [f'    "{w.key}" [label="{w.kind}/{w.name}"];' for w in c.workloads if w.namespace == ns]
            lines.append("  }")
        lines += [f'  "{e.name}" [shape=ellipse, label="{e.name}\\n{e.cidr}"];' for e in c.externals]
        lines += [f'  "{s}" -> "{d}" [label="{format_ports(ps)}"];' for s, d, ps in conns]
        return "\n".join(lines + ["}"]) + "\n"
    if fmt == "md":
        names = [w.key for w in c.workloads] + [e.name for e in c.externals]
        cell = {(s, d): format_ports(ps) for s, d, ps in conns}
        out = ["| from \\ to | " + " | ".join(f"`{n}`" for n in names) + " |", "|---|" + "---|" * len(names)]
        for s in names:
            out.append(f"| `{s}` | " + " | ".join(cell.get((s, d), "·") for d in names) + " |")
        return "\n".join(out) + "\n"
    width = max([len("SOURCE")] + [len(s) for s, _, _ in conns])
    dwidth = max([len("DESTINATION")] + [len(d) for _, d, _ in conns])
    rows = [f"{'SOURCE':<{width}}  {'DESTINATION':<{dwidth}}  PORTS"]
    rows += [f"{s:<{width}}  {d:<{dwidth}}  {format_ports(ps)}" for s, d, ps in conns]
    rows.append(
        f"{plural(len(c.workloads), 'workload')}, {plural(len(policy_keys(c)), 'policy')}, {plural(len(conns), 'allowed connection')}; pairs not listed are denied"
    )
    hosts = [w.key for w in c.workloads if w.host_network]
    if hosts:
        rows.append(f"host network (the node's identity, no pod policy applies): {', '.join(hosts)}")
    return "\n".join(rows) + "\n"
