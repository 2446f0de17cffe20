"""Observed flows against the policies: blocked attempts, unused allow rules, learned policies.

`Observer` takes the flows of `flows.py` and judges each with the engine (`Analysis.ports`, the
same answer `netpol explain` gives): a flow is *blocked* when the policies loaded would not allow
src -> dst on its port and protocol, whatever the CNI did. Flows are grouped per distinct
(source, destination, protocol, port): the verdict is computed once per group, so the cost of a
flow is reading it and two dictionary look-ups.

**Endpoints.** A flow's end is matched to a workload of the manifests, never guessed:

1. a Pod of that namespace and name;
2. the controller the log names (Hubble `workloads`: kind and name) in that namespace;
3. the workloads of the namespace whose pods are named as the controller names them
   (Deployment `NAME-HASH-XXXXX`, ReplicaSet, ReplicationController, DaemonSet and Job
   `NAME-XXXXX`, StatefulSet `NAME-ORDINAL`, CronJob `NAME-MINUTES-XXXXX`; for a Calico
   aggregated name, `NAME-HASH-*`, the generateName prefix: the same without the random part, a
   StatefulSet's `NAME-`) and, when the log gives the
   pod's labels, whose pod template labels are all among them. Exactly one must match.

An end outside the cluster (Hubble `reserved:world`, Calico `ns`/`net`) is its address as an
external peer (ipBlock rules apply to it; as in the engine, ipBlock never matches a pod). Any
other end (host network, a Calico host endpoint, a pod that matches no workload or several) is
*unmatched*: its flows are counted under the endpoint and the reason, and not judged.

**Unused rules.** For each group the policies allow, `explain_side` names the rules that allow
it per direction: a NetworkPolicy rule is used when it matches the peer and port and no
Admin-tier rule decided that port first; an Allow rule of a cluster-wide policy when its decision
holds the port. Every allow rule no group used is reported, with whether any pod it selects was
seen in the flows at all.

**Learning** (`learn`): the observed groups (those the CNI forwarded, audit included, or all)
become intents for `netpol_generate.generate_policies`, translated into CiliumNetworkPolicies or
Calico NetworkPolicies when asked (`as_cilium`, `as_calico`); the documents returned are
evaluated again with the engine (with their kind's semantics) over the workloads and those
documents only, and its whole matrix must equal the observed connections exactly (every
observed one allowed on its ports, nothing else).

Reading large files fast, and in several processes, is observe_read.py (`FlowReader`); it
counts into an Observer through `count` and `merge`, with the same result as `add`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.netpol.analysis import Analysis
from kubefort.kube.netpol.cluster import Cluster
from kubefort.kube.netpol.explain import Side, explain_side
from kubefort.kube.netpol.flows import AUDIT, DROPPED, FORWARDED, Endpoint, Flow, ReadStats
from kubefort.kube.netpol.model import External
from kubefort.kube.netpol.ports import NO_PORTS, PortSet, format_ports, port_set, ports_contain, ports_union
from kubefort.wording import plural

Peer = int | External
# name patterns of controller-made pods: {n} is the controller's name, escaped
_RAND = "[bcdfghjklmnpqrstvwxz2456789]{5}"  # generateName's random suffix (the API server's alphabet)
_POD_NAMES = {
    "Deployment": r"{n}-[a-z0-9]{{1,10}}-",
    "ReplicaSet": "{n}-",
    "ReplicationController": "{n}-",
    "DaemonSet": "{n}-",
    "Job": "{n}-",
    "CronJob": r"{n}-[0-9]+-",
}


@dataclass(slots=True)
class Group:
    """Every observed flow of one (source, destination, protocol, port)."""

    src: Peer
    dst: Peer
    proto: str
    port: int
    allowed: bool  # by the policies loaded
    flows: int
    first: str
    last: str
    verdicts: dict[str, int]  # what the CNI did: forwarded, dropped, audit -> flows


@dataclass(slots=True)
class RuleUse:
    """One allow rule and the observed flows it allowed."""

    policy: str  # ns/name, or Kind/name for a cluster-wide policy
    rule: str  # "ingress[0]", "egress[1] (name)"
    flows: int
    pods_seen: bool  # some pod the policy selects appears in the flows


class Resolver:
    """Flow endpoints -> workload indexes or external peers, or why not (cached per endpoint)."""

    def __init__(self, c: Cluster) -> None:
        self.c = c
        self.cache: dict[Endpoint, Peer | str] = {}
        self.by_name: dict[tuple[str, str], list[int]] = {}  # (namespace, name) -> workloads of any kind
        for i, w in enumerate(c.workloads):
            self.by_name.setdefault((w.namespace, w.name), []).append(i)
        self._patterns: dict[tuple[int, bool], re.Pattern[str] | None] = {}

    def resolve(self, e: Endpoint) -> Peer | str:
        out = self.cache.get(e)
        if out is None:
            out = self._resolve(e)
            if len(self.cache) < 1 << 20:
                self.cache[e] = out
        return out

    def _resolve(self, e: Endpoint) -> Peer | str:
        if e.kind == "world" or (not e.pod and not e.kind and e.ip and not e.namespace):
            if not e.ip:
                return "outside the cluster, and the log gives no address"
            ip = ipaddress.ip_address(e.ip)
            return External(e.ip, f"{e.ip}/{ip.max_prefixlen}")
        if e.kind:
            return f"not a pod ({e.kind})"
        if not e.pod or not e.namespace:
            return "neither a pod (namespace and name) nor an address outside the cluster"
        ws, by_name = self.c.workloads, self.by_name
        if not e.prefix:
            exact = [i for i in by_name.get((e.namespace, e.pod), []) if ws[i].kind == "Pod"]
            if exact:
                return exact[0]
        if e.workload is not None:
            kind, name = e.workload
            named = [i for i in by_name.get((e.namespace, name), []) if ws[i].kind == kind]
            if len(named) == 1:
                return named[0]
        # the controllers that can have named the pod: a name its name starts with, up to a "-"
        parts = e.pod.split("-")
        cand = [i for k in range(1, len(parts)) for i in by_name.get((e.namespace, "-".join(parts[:k])), [])]
        labels = dict(e.labels)
        hits = [i for i in cand if self._named(i, e) and (not labels or ws[i].labels.items() <= labels.items())]
        if len(hits) == 1:
            return hits[0]
        if hits:
            return "matches several workloads: " + ", ".join(ws[i].key for i in hits)
        return "no workload of the manifests matches this pod"

    def _named(self, i: int, e: Endpoint) -> bool:
        """Is e.pod a name (or, for a Calico aggregate, the name prefix) that workload i gives its pods?"""
        key = (i, e.prefix)
        if key not in self._patterns:
            w = self.c.workloads[i]
            n = re.escape(w.name)
            if "#" in w.name:  # one of several pod templates of an object: names are not derivable
                pat = None
            elif w.kind == "StatefulSet":  # named by ordinal; its generateName prefix is NAME-
                pat = f"{n}-" if e.prefix else f"{n}-(0|[1-9][0-9]*)"
            elif w.kind in _POD_NAMES:
                pat = _POD_NAMES[w.kind].format(n=n) + ("" if e.prefix else _RAND)
            else:
                pat = None
            self._patterns[key] = re.compile(pat) if pat else None
        p = self._patterns[key]
        return p is not None and p.fullmatch(e.pod) is not None


def describe(e: Endpoint) -> str:
    """An endpoint as the log names it."""
    if e.pod:
        return f"{e.namespace}/{e.pod}" + ("*" if e.prefix else "")
    what = e.kind or (f"namespace {e.namespace}" if e.namespace else "unknown endpoint")
    return f"{what} {e.ip}" if e.ip else what


# a group's tally in Observer.groups: [flows, first, last, forwarded, dropped, audit, allowed]
# (the CNI's verdicts at VERDICT_SLOT's indexes)
VERDICT_SLOT = {FORWARDED: 3, DROPPED: 4, AUDIT: 5}
Tally = list[Any]
GroupKey = tuple[Peer, Peer, str, int]


@dataclass(slots=True)
class Observer:
    """Judges flows with the engine and groups them; `add` takes any number of flow streams."""

    cluster: Cluster
    analysis: Analysis
    resolver: Resolver = field(init=False)
    groups: dict[GroupKey, Tally] = field(default_factory=dict)
    unmatched: dict[tuple[str, str], int] = field(default_factory=dict)  # (endpoint, reason) -> flows
    _pair: dict[tuple[Peer, Peer], PortSet] = field(default_factory=dict)
    _by_id: dict[int, tuple[Endpoint, Peer | str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.resolver = Resolver(self.cluster)

    def add(self, flows: Iterable[Flow]) -> None:
        """Judge and group `flows`. Endpoints are resolved once each: the readers intern them, so
        the same object recurs and is looked up by identity (the table holds it: ids stay unique)."""
        by_id, resolve, groups, vidx = self._by_id, self.resolver.resolve, self.groups, VERDICT_SLOT
        for f in flows:
            e = f.src
            hit = by_id.get(id(e))
            if hit is None:
                hit = self._remember(e, resolve(e))
            s = hit[1]
            e = f.dst
            hit = by_id.get(id(e))
            if hit is None:
                hit = self._remember(e, resolve(e))
            d = hit[1]
            g = groups.get((s, d, f.proto, f.port))  # type: ignore[arg-type]
            if g is None:
                self.count(f.src, f.dst, s, d, f.proto, f.port, vidx[f.verdict], f.first, f.last, f.num)
                continue
            n = f.num
            g[0] += n
            g[vidx[f.verdict]] += n
            if f.first and (f.first < g[1] or not g[1]):
                g[1] = f.first
            if f.last > g[2]:  # noqa: PLR1730 (max() is slower here, on every flow)
                g[2] = f.last

    def count(
        self,
        src: Endpoint,
        dst: Endpoint,
        s: Peer | str,
        d: Peer | str,
        proto: str,
        port: int,
        slot: int,
        first: str,
        last: str,
        n: int,
    ) -> None:
        """One flow record (n connections) between two resolved ends (a reason for an end that is
        not a peer); `slot` is its verdict's VERDICT_SLOT. What `add` does per flow, for readers
        that judge as they read (they update a group that exists themselves, the same way)."""
        key = (s, d, proto, port)
        g = self.groups.get(key)  # type: ignore[arg-type]
        if g is None:
            if isinstance(s, str) or isinstance(d, str) or (isinstance(s, External) and isinstance(d, External)):
                self._unmatched(src, dst, s, d, n)
                return
            ps = self._pair.get((s, d))
            if ps is None:
                ps = self._pair[(s, d)] = self.analysis.ports(s, d)
            g = self.groups[key] = [0, first, last, 0, 0, 0, ports_contain(ps, port, proto)]  # type: ignore[index]
        g[0] += n
        g[slot] += n
        if first and (first < g[1] or not g[1]):
            g[1] = first
        if last > g[2]:  # noqa: PLR1730
            g[2] = last

    def merge(self, groups: dict[GroupKey, Tally], unmatched: dict[tuple[str, str], int]) -> None:
        """Fold in what another Observer over the same cluster counted (a worker's part of a file):
        the same as having counted its flows here."""
        mine = self.groups
        for key, g in groups.items():
            h = mine.get(key)
            if h is None:
                mine[key] = list(g)
                continue
            for i in (0, 3, 4, 5):
                h[i] += g[i]
            if g[1] and (g[1] < h[1] or not h[1]):
                h[1] = g[1]
            if g[2] > h[2]:  # noqa: PLR1730
                h[2] = g[2]
        for k, n in unmatched.items():
            self.unmatched[k] = self.unmatched.get(k, 0) + n

    def take(self) -> tuple[dict[GroupKey, Tally], dict[tuple[str, str], int]]:
        """The groups and unmatched endpoints counted so far, starting afresh (the caches stay)."""
        out = self.groups, self.unmatched
        self.groups, self.unmatched = {}, {}
        return out

    def _remember(self, e: Endpoint, r: Peer | str) -> tuple[Endpoint, Peer | str]:
        hit = (e, r)
        if len(self._by_id) < 1 << 20:  # bounded: past it, endpoints are resolved from the resolver's table
            self._by_id[id(e)] = hit
        return hit

    def _unmatched(self, src: Endpoint, dst: Endpoint, s: Peer | str, d: Peer | str, n: int) -> None:
        if isinstance(s, str) or isinstance(d, str):
            for e, r in ((src, s), (dst, d)):
                if isinstance(r, str):
                    k = (describe(e), r)
                    self.unmatched[k] = self.unmatched.get(k, 0) + n
        else:
            k = (f"{describe(src)} -> {describe(dst)}", "neither end is a pod: no NetworkPolicy applies")
            self.unmatched[k] = self.unmatched.get(k, 0) + n

    def result(self) -> list[Group]:
        """Every group, by flows (most first), then by name."""
        out = [
            Group(s, d, proto, port, g[6], g[0], g[1], g[2], {FORWARDED: g[3], DROPPED: g[4], AUDIT: g[5]})
            for (s, d, proto, port), g in self.groups.items()
        ]
        name = self.cluster.name
        out.sort(key=lambda g: (-g.flows, name(g.src), name(g.dst), g.proto, g.port))
        return out

    def analysed(self) -> int:
        """Flows judged (both ends matched)."""
        return sum(g[0] for g in self.groups.values())


# ---------------------------------------------------------------------------------------------
def rule_uses(c: Cluster, a: Analysis, groups: list[Group]) -> list[RuleUse]:
    """Every allow rule of the policies (NetworkPolicy rules of the directions the policy
    isolates; Allow rules of cluster-wide policies) with the observed flows it allowed."""
    used: dict[tuple[str, str], int] = {}
    sides: dict[tuple[str, Peer, Peer], Side] = {}
    for g in groups:
        if not g.allowed:
            continue
        for direction, pod, peer in (("egress", g.src, g.dst), ("ingress", g.dst, g.src)):
            if not isinstance(pod, int):
                continue
            k = (direction, pod, peer)
            side = sides.get(k)
            if side is None:
                side = sides[k] = explain_side(c, direction, pod, peer)
            admin_decided = False
            for x in side.decisions:
                if x.policy and ports_contain(x.ports, g.port, g.proto):
                    if x.tier == "Admin" and x.action in ("Allow", "Deny"):
                        admin_decided = True
                    if x.action == "Allow":
                        used[(x.policy, x.rule)] = used.get((x.policy, x.rule), 0) + g.flows
            if admin_decided:
                continue
            for pk, i, ps in side.allowing:
                if ports_contain(ps, g.port, g.proto):
                    rk = (pk, f"{direction}[{i}]")
                    used[rk] = used.get(rk, 0) + g.flows
    seen = 0
    for g in groups:
        for e in (g.src, g.dst):
            if isinstance(e, int):
                seen |= 1 << e
    out: list[RuleUse] = []
    for pi, p in enumerate(c.policies):
        pods = bool(a.selected[pi] & seen)
        for direction in ("ingress", "egress"):
            if p.affects(direction):
                for r in p.rules(direction):
                    label = f"{direction}[{r.index}]"
                    out.append(RuleUse(p.key, label, used.get((p.key, label), 0), pods))
    for ai, ap in enumerate(c.admin):
        pods = bool(a.admin_selected[ai] & a.all & seen)
        for direction in ("ingress", "egress"):
            for ar in ap.rules(direction):
                if ar.action == "Allow":
                    label = f"{direction}[{ar.index}]" + (f" ({ar.name})" if ar.name else "")
                    out.append(RuleUse(ap.key, label, used.get((ap.key, label), 0), pods))
    return out


# ---------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Learned:
    """Policies generated from observed traffic, and what the re-check found (empty: exact)."""

    docs: list[dict[str, Any]]
    connections: int  # distinct (source, destination) pairs allowed
    groups: int  # observed groups they allow
    mismatches: list[str]


# --generate --kind: (apiVersion, kind, what the report calls one)
LEARNED_KINDS = {
    "networkpolicy": ("networking.k8s.io/v1", "NetworkPolicy", "NetworkPolicy"),
    "cilium": ("cilium.io/v2", "CiliumNetworkPolicy", "CiliumNetworkPolicy"),
    "calico": ("projectcalico.org/v3", "NetworkPolicy", "Calico NetworkPolicy"),
}


def learn(c: Cluster, groups: list[Group], source: str, kind: str = "networkpolicy") -> Learned:
    """Least-privilege policies allowing exactly the observed groups: `source` forwarded (what
    the CNI let through, audit included) or all; NetworkPolicies, or (`kind` cilium, calico)
    the same translated into CiliumNetworkPolicies or Calico NetworkPolicies. The documents
    re-checked are the ones returned. Raises GenerateError when a workload cannot be told apart
    from another by its labels."""
    from kubefort.kube.netpol_generate import as_calico, as_cilium, generate_policies

    if kind not in LEARNED_KINDS:
        raise ValueError(f"unknown policy kind {kind!r}")
    chosen = [g for g in groups if source == "all" or g.verdicts[FORWARDED] or g.verdicts[AUDIT]]
    want: dict[tuple[Peer, Peer], PortSet] = {}
    for g in chosen:
        want[(g.src, g.dst)] = ports_union(want.get((g.src, g.dst), NO_PORTS), port_set(g.proto, g.port, g.port))
    exts = sorted({e for pair in want for e in pair if isinstance(e, External)}, key=lambda e: e.name)
    gen = Cluster(c.workloads, [], c.namespaces, exts)
    docs = generate_policies(gen, [(s, d, ps) for (s, d), ps in want.items()])
    if kind == "cilium":
        docs = as_cilium(docs)
    elif kind == "calico":
        docs = as_calico(docs)
    return Learned(docs, len(want), len(chosen), recheck(c, docs, want, exts))


def recheck(
    c: Cluster, docs: list[dict[str, Any]], want: dict[tuple[Peer, Peer], PortSet], exts: list[External]
) -> list[str]:
    """Pairs whose allowed ports under the workloads plus `docs` alone differ from `want`
    (`docs` of any kind the engine reads: NetworkPolicies, Cilium and Calico policies)."""
    from kubefort.kube.netpol_generate import with_generated

    check = with_generated(c, docs, exts)
    keys = {check.name(s): s for s in range(len(check.workloads))}

    def name(e: Peer) -> str:
        return c.workloads[e].key if isinstance(e, int) else e.name

    expected = {(name(s), name(d)): ps for (s, d), ps in want.items()}
    m = Analysis(check).matrix()
    got = {(m.name(s), m.name(d)): ps for s, d, ps in m.connections()}
    out = [f"{w.key} is not among the workloads re-read" for w in c.workloads if w.key not in keys]
    nodes = {w.key for w in c.workloads if w.host_network}  # node traffic: no pod policy governs it
    for s, d in sorted((set(expected) | set(got)) - {k for k in set(expected) | set(got) if set(k) & nodes}):
        if expected.get((s, d), NO_PORTS) != got.get((s, d), NO_PORTS):
            out.append(
                f"{s} -> {d}: observed {format_ports(expected.get((s, d), NO_PORTS))}, "
                f"generated policies allow {format_ports(got.get((s, d), NO_PORTS))}"
            )
    return out + [str(p) for p in check.problems]


# ---------------------------------------------------------------------------------------------
def show_time(t: str) -> str:
    """A normalised time without trailing zero digits ("" stays "")."""
    if not t:
        return ""
    whole, _, frac = t[:-1].partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac}Z" if frac else f"{whole}Z"


def report_doc(
    c: Cluster, groups: list[Group], rules: list[RuleUse], unmatched: dict[tuple[str, str], int], stats: ReadStats
) -> dict[str, Any]:
    """The report as data (`-o json`); `learned` is added by the command when asked."""

    def group(g: Group) -> dict[str, Any]:
        return {
            "source": c.name(g.src),
            "destination": c.name(g.dst),
            "port": g.port,
            "protocol": g.proto,
            "flows": g.flows,
            "cni": dict(g.verdicts),
            "first_seen": show_time(g.first) or None,
            "last_seen": show_time(g.last) or None,
        }

    return {
        "version": 1,
        "blocked": [group(g) for g in groups if not g.allowed],
        "dropped_but_allowed": [group(g) for g in groups if g.allowed and g.verdicts[DROPPED]],
        "unused_rules": [{"policy": r.policy, "rule": r.rule, "pods_seen": r.pods_seen} for r in rules if not r.flows],
        "rules": [{"policy": r.policy, "rule": r.rule, "flows": r.flows, "pods_seen": r.pods_seen} for r in rules],
        "unmatched": [
            {"endpoint": e, "reason": why, "flows": n}
            for (e, why), n in sorted(unmatched.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "input": {
            "files": dict(stats.formats),
            "lines": stats.lines,
            "flows": stats.flows,
            "analysed": sum(g.flows for g in groups),
            "skipped": dict(sorted(stats.skipped.items())),
            "bad_lines": stats.bad,
            "bad": [{"file": f, "line": n, "reason": why} for f, n, why in stats.bad_lines],
        },
    }


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=False)]
    return ["  " + "  ".join(x.ljust(w) for x, w in zip(r, widths, strict=False)).rstrip() for r in [head, *rows]]


def report_text(doc: dict[str, Any]) -> str:
    """The report as tables (`-o table`)."""
    out: list[str] = []

    def conns(title: str, items: list[dict[str, Any]]) -> None:
        out.append(f"{title}: {plural(len(items), 'connection')}, {plural(sum(x['flows'] for x in items), 'flow')}")
        rows = [
            [
                x["source"],
                x["destination"],
                f"{x['port']}/{x['protocol']}",
                str(x["flows"]),
                ", ".join(f"{k} {v}" for k, v in x["cni"].items() if v),
                x["first_seen"] or "-",
                x["last_seen"] or "-",
            ]
            for x in items
        ]
        if rows:
            out.extend(_table(["SOURCE", "DESTINATION", "PORT", "FLOWS", "CNI", "FIRST SEEN", "LAST SEEN"], rows))

    conns("blocked by the policies", doc["blocked"])
    if doc["dropped_but_allowed"]:
        conns("dropped by the CNI but allowed by the policies", doc["dropped_but_allowed"])
    unused = doc["unused_rules"]
    out.append(f"allow rules never used: {len(unused)} of {len(doc['rules'])}")
    if unused:
        rows = [[r["policy"], r["rule"], "yes" if r["pods_seen"] else "no"] for r in unused]
        out.extend(_table(["POLICY", "RULE", "ITS PODS IN THE FLOWS"], rows))
    if doc["unmatched"]:
        n = sum(x["flows"] for x in doc["unmatched"])
        out.append(f"unmatched endpoints (flows not judged): {plural(len(doc['unmatched']), 'endpoint')}, {n} flows")
        out.extend(
            _table(
                ["ENDPOINT", "FLOWS", "REASON"],
                [[x["endpoint"], str(x["flows"]), x["reason"]] for x in doc["unmatched"]],
            )
        )
    inp = doc["input"]
    skipped = sum(inp["skipped"].values())
    line = f"input: {plural(len(inp['files']), 'file')}, {plural(inp['lines'], 'line')}, {plural(inp['flows'], 'flow')} read, {inp['analysed']} judged"
    if skipped:
        line += f"; {skipped} skipped (" + ", ".join(f"{k} {v}" for k, v in inp["skipped"].items()) + ")"
    if inp["bad_lines"]:
        line += f"; {plural(inp['bad_lines'], 'bad line')}"
    out.append(line)
    learned = doc.get("learned")
    if learned:
        what = LEARNED_KINDS[learned.get("kind", "networkpolicy")][2]
        out.append(
            f"generated: {plural(len(learned['policies']), what)} allowing {plural(learned['connections'], 'observed pair')} "
            f"({plural(learned['groups'], 'port')}) from {learned['from']} flows, re-checked with the engine"
            + (f"; written to {learned['written']}" if learned.get("written") else "")
        )
    return "\n".join(out) + "\n"


def write_learned(docs: list[dict[str, Any]], header: str, out_dir: str) -> None:
    """`--generate --out DIR`: one NAMESPACE.yaml per namespace, each starting with `header`
    (OSError when the directory cannot be written)."""
    from pathlib import Path

    import yaml

    from kubefort.fileio import write_atomically

    by_ns: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        by_ns.setdefault(d["metadata"]["namespace"], []).append(d)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for ns, found in sorted(by_ns.items()):
        text = yaml.safe_dump_all(found, sort_keys=False, default_flow_style=False)
        write_atomically(Path(out_dir) / f"{ns}.yaml", header + text)
