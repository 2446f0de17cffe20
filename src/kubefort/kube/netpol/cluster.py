"""The cluster of a scan: its workloads, namespaces and policies, and the direct matching queries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubefort.kube.netpol import kinds
from kubefort.kube.netpol.admin import AdminPolicy, is_admin_kind, parse_admin_policy
from kubefort.kube.netpol.calico import GNP, TIER, CalicoPolicy, CalicoTier, is_calico_kind
from kubefort.kube.netpol.calico_engine import calico_labels, unsupported
from kubefort.kube.netpol.calico_parse import parse_calico_policy, parse_calico_tier
from kubefort.kube.netpol.cidr import cidr_range
from kubefort.kube.netpol.cilium import CCNP, CiliumPolicy, identity_labels, is_cilium_kind
from kubefort.kube.netpol.cilium_engine import Service
from kubefort.kube.netpol.cilium_parse import parse_cilium_policy
from kubefort.kube.netpol.model import (
    DEFAULT_EXTERNALS,
    DEFAULT_NAMESPACE,
    NAME_LABEL,
    External,
    Peer,
    Policy,
    Problem,
    Rule,
    Workload,
)
from kubefort.kube.netpol.parse import parse_policy, str_map, workloads_of
from kubefort.kube.netpol.ports import PortSet, port_set, ports_union
from kubefort.kube.pods import api_group, find_pods
from kubefort.model import NotEvaluated, Resource


class Cluster:
    """Workloads, namespaces and policies of a scan, with the problems met reading them."""

    def __init__(
        self,
        workloads: Sequence[Workload],
        policies: Sequence[Policy],
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
        externals: Sequence[External] = DEFAULT_EXTERNALS,
        problems: Sequence[Problem] = (),
        unmodelled: Sequence[Resource] = (),
        admin: Sequence[AdminPolicy] = (),
        cilium: Sequence[CiliumPolicy] = (),
        services: Sequence[Service] = (),
        service_accounts: Mapping[str, str] | None = None,
        calico: Sequence[CalicoPolicy] = (),
        calico_tiers: Sequence[CalicoTier] = (),
        sa_labels: Mapping[tuple[str, str], dict[str, str]] | None = None,
    ) -> None:
        # policies of kinds the engine does not model yet (kinds.UNMODELLED): the namespaces they
        # may govern cannot be judged (`unmodelled_for`)
        self.unmodelled = list(unmodelled)
        self.workloads = list(workloads)
        self.policies = list(policies)
        self.externals = list(externals)
        self.problems = list(problems)
        self.defined_namespaces = set(namespace_labels or {})
        # Cilium policies (cilium_engine.py): with any, the cluster is judged as Cilium enforces it
        self.cilium = list(cilium)
        self.services = list(services)  # for Cilium toServices peers
        self.service_accounts = dict(service_accounts or {})  # workload key -> service account
        # Calico policies and tiers (calico_engine.py): with any, the cluster is judged as Felix
        # enforces it; with Cilium policies too, Cilium judges and every Calico object is a problem
        others: list[Resource | None] = [x.resource for x in calico] + [t.resource for t in calico_tiers]
        self.problems += [_other_cni(r) for r in others if cilium and r is not None]
        self.calico: list[CalicoPolicy] = [] if cilium else [p for p in calico if not self._refused(p, bool(admin))]
        self.calico_tiers: dict[str, CalicoTier] = {} if cilium else {t.name: t for t in calico_tiers}
        self.sa_labels = dict(sa_labels or {})  # (namespace, service account) -> labels
        names = self.defined_namespaces | {w.namespace for w in self.workloads} | {p.namespace for p in self.policies}
        names |= {p.namespace for p in self.cilium if p.namespace} | {p.namespace for p in self.calico if p.namespace}
        # the API server sets kubernetes.io/metadata.name on every namespace, over any value given
        self.namespaces: dict[str, dict[str, str]] = {
            n: {**(namespace_labels or {}).get(n, {}), NAME_LABEL: n} for n in sorted(names)
        }
        self.by_key = {w.key: i for i, w in enumerate(self.workloads)}
        # policies by namespace, in their order: a policy selects only pods of its own namespace
        self.by_namespace: dict[str, list[Policy]] = {}
        for p in self.policies:
            self.by_namespace.setdefault(p.namespace, []).append(p)
        # cluster-wide tiers (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy)
        # in evaluation order: tier, priority, name
        self.admin = sorted(admin, key=lambda a: a.order)
        # an invalid cluster-wide policy may govern any namespace: none can be judged without it
        # (a CiliumClusterwideNetworkPolicy too: it may select pods of any namespace)
        self.invalid_admin = [
            p
            for p in self.problems
            if p.resource is not None
            and (
                is_admin_kind(p.resource.api_version, p.resource.kind)
                or (is_cilium_kind(p.resource.api_version, p.resource.kind) and p.resource.kind == CCNP)
                or (is_calico_kind(p.resource.api_version, p.resource.kind) and p.resource.kind in (GNP, TIER))
            )
        ]
        self.invalid_namespaces = {
            p.resource.namespace or DEFAULT_NAMESPACE
            for p in self.problems
            if p.resource is not None
            and (
                p.resource.kind == "NetworkPolicy"
                or (is_cilium_kind(p.resource.api_version, p.resource.kind) and p.resource.kind != CCNP)
                or (is_calico_kind(p.resource.api_version, p.resource.kind) and p.resource.kind not in (GNP, TIER))
            )
        }

    @classmethod
    def from_resources(
        cls,
        resources: Iterable[Resource],
        externals: Sequence[External] = DEFAULT_EXTERNALS,
        pod_template_paths: Any = None,
    ) -> Cluster:
        workloads: list[Workload] = []
        policies: list[Policy] = []
        ns_labels: dict[str, dict[str, str]] = {}
        problems: list[Problem] = []
        unmodelled: list[Resource] = []
        admin: list[AdminPolicy] = []
        cilium: list[CiliumPolicy] = []
        services: list[Service] = []
        accounts: dict[str, str] = {}
        calico: list[CalicoPolicy] = []
        calico_tiers: list[CalicoTier] = []
        sa_labels: dict[tuple[str, str], dict[str, str]] = {}
        seen: set[str] = set()
        for r in resources:
            try:
                if r.id.kind == "Namespace" and r.id.api_version == "v1":
                    meta = r.obj.get("metadata")
                    ns_labels[r.id.name] = str_map(
                        meta.get("labels") if isinstance(meta, dict) else None, ("metadata", "labels")
                    )
                elif r.id.kind == "NetworkPolicy" and api_group(r.id.api_version) in (
                    "networking.k8s.io",
                    "extensions",
                ):
                    policies.append(parse_policy(r))
                elif is_admin_kind(r.id.api_version, r.id.kind):
                    admin.append(parse_admin_policy(r))
                elif is_cilium_kind(r.id.api_version, r.id.kind):
                    cilium.append(parse_cilium_policy(r))
                elif is_calico_kind(r.id.api_version, r.id.kind) and r.id.kind == TIER:
                    calico_tiers.append(parse_calico_tier(r))
                elif is_calico_kind(r.id.api_version, r.id.kind):
                    calico.append(parse_calico_policy(r))
                elif r.id.kind == "Service" and r.id.api_version == "v1":
                    services.append(_service(r))
                elif r.id.kind == "ServiceAccount" and r.id.api_version == "v1":
                    meta = r.obj.get("metadata")
                    labels = str_map(meta.get("labels") if isinstance(meta, dict) else None, ("metadata", "labels"))
                    sa_labels[(r.id.namespace or DEFAULT_NAMESPACE, r.id.name)] = labels
                elif kinds.unmodelled(r.id) is not None:
                    unmodelled.append(r)
                else:
                    found = workloads_of(r, pod_template_paths)
                    pods = find_pods(r, pod_template_paths) if found else []
                    for j, w in enumerate(found):
                        n, base = 2, w.name
                        while w.key in seen:
                            w.name, n = f"{base}#{n}", n + 1
                        seen.add(w.key)
                        workloads.append(w)
                        if j < len(pods):
                            accounts[w.key] = _service_account(pods[j].spec.data)
            except NotEvaluated as exc:
                problems.append(Problem(r.id, exc.reason, exc.path, r))
        return cls(
            workloads,
            policies,
            ns_labels,
            externals,
            problems,
            unmodelled,
            admin,
            cilium,
            services,
            accounts,
            calico,
            calico_tiers,
            sa_labels,
        )

    def _refused(self, pol: CalicoPolicy, has_admin: bool) -> bool:
        """Record a Calico policy the engine cannot judge exactly as a problem (True)."""
        why = unsupported(pol, has_admin)
        if why is not None and pol.resource is not None:
            self.problems.append(Problem(pol.resource.id, why, (), pol.resource))
        return why is not None

    def calico_labels(self, w: Workload) -> dict[str, str]:
        """A workload's labels as Calico policy sees them (`calico_engine.calico_labels`)."""
        sa = self.service_accounts.get(w.key, "default")
        return calico_labels(
            w.labels, w.namespace, self.ns_labels(w.namespace), sa, self.sa_labels.get((w.namespace, sa), {})
        )

    def cilium_labels(self, w: Workload) -> dict[str, str]:
        """A workload's labels as Cilium policy sees them (`cilium.identity_labels`)."""
        return identity_labels(
            w.labels, w.namespace, self.ns_labels(w.namespace), self.service_accounts.get(w.key, "default")
        )

    def unmodelled_for(self, namespace: str) -> list[Resource]:
        """The unmodelled policies that may govern pods of `namespace`: its own, and every
        cluster-scoped one."""
        return [
            r for r in self.unmodelled if kinds.unmodelled(r.id) or (r.id.namespace or DEFAULT_NAMESPACE) == namespace
        ]

    def ns_labels(self, namespace: str) -> dict[str, str]:
        return self.namespaces.get(namespace, {NAME_LABEL: namespace})

    def admin_for(self, w: Workload) -> list[AdminPolicy]:
        """The cluster-wide policies whose subject selects `w`, in evaluation order."""
        labels = self.ns_labels(w.namespace)
        return [] if w.host_network else [a for a in self.admin if a.selects(w, labels)]

    def cuts(self) -> list[int]:
        """Every address where some policy's address block starts or ends (+1): between two
        consecutive cuts each block either holds every address or none."""
        out: set[int] = set()
        blocks = [pr.block for p in self.policies for r in (*p.ingress, *p.egress) for pr in r.peers or ()]
        blocks += [pr.block for a in self.admin for r in (*a.ingress, *a.egress) for pr in r.peers]
        blocks += [
            pr.block
            for p in self.cilium
            for s in p.specs
            for r in (*s.ingress, *s.ingress_deny, *s.egress, *s.egress_deny)
            for pr in r.peers or ()
        ]
        blocks += [
            tuple(cidr_range(n) for n in (*e.nets, *e.not_nets))
            for p in self.calico
            for r in (*p.ingress, *p.egress)
            for e in (r.source, r.destination)
        ]
        for block in blocks:
            for lo, hi in block:
                out.update((lo, hi + 1))
        return sorted(out)

    def pieces(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """The range lo..hi cut at `cuts()`: each piece lies wholly inside or outside every block."""
        points = [lo] + [x for x in self.cuts() if lo < x <= hi]
        return [(a, b - 1) for a, b in zip(points, points[1:] + [hi + 1], strict=False)]

    def policies_in(self, namespace: str) -> list[Policy]:
        """The policies of one namespace (the only ones that can select its pods), in order."""
        return self.by_namespace.get(namespace, [])

    def selected_by(self, pol: Policy, w: Workload) -> bool:
        return w.namespace == pol.namespace and pol.selector.matches(w.labels) and not w.host_network

    def peer_matches_workload(self, pol: Policy, peer: Peer, w: Workload) -> bool:
        if peer.cidr is not None or w.host_network:
            return False
        if peer.ns is None and w.namespace != pol.namespace:
            return False
        if peer.ns is not None and not peer.ns.matches(self.namespaces.get(w.namespace, {NAME_LABEL: w.namespace})):
            return False
        return peer.pod is None or peer.pod.matches(w.labels)

    def rule_ports_for(self, rule: Rule, dst: Workload | None) -> PortSet:
        """The ports a rule allows towards `dst` (None: an external peer, where names never resolve)."""
        ps = rule.static_ports()
        for name, proto in rule.named_ports():
            for n in dst.resolve(name, proto) if dst is not None else ():
                ps = ports_union(ps, port_set(proto, n, n))
        return ps

    def name(self, e: int | External) -> str:
        """An endpoint's display name: `ns/kind/name` or the external peer's name."""
        return self.workloads[e].key if isinstance(e, int) else e.name

    def find(self, text: str) -> int | External:
        """An endpoint by name: `ns/kind/name`, `ns/name`, an external peer's name, or a CIDR. Raises KeyError."""
        for e in self.externals:
            if e.name == text:
                return e
        try:
            cidr_range(text)
            return External(text, text)
        except ValueError:
            pass
        parts = text.split("/")
        if len(parts) == 3:
            cand = [
                i
                for i, w in enumerate(self.workloads)
                if w.namespace == parts[0] and w.kind.lower() == parts[1].lower() and w.name == parts[2]
            ]
        elif len(parts) == 2:
            cand = [i for i, w in enumerate(self.workloads) if w.namespace == parts[0] and w.name == parts[1]]
        else:
            cand = [i for i, w in enumerate(self.workloads) if w.name == text]
        if len(cand) == 1:
            return cand[0]
        if cand:
            raise KeyError(f"{text!r} is ambiguous: " + ", ".join(self.workloads[i].key for i in cand))
        raise KeyError(
            f"no workload or external peer {text!r} (workloads are ns/kind/name or ns/name; externals: "
            + ", ".join(e.name for e in self.externals)
            + ", or a CIDR)"
        )


def _service_account(spec: Any) -> str:
    """A pod's service account: serviceAccountName, else the deprecated serviceAccount, else
    "default" (the ServiceAccount admission plugin)."""
    if isinstance(spec, dict):
        for key in ("serviceAccountName", "serviceAccount"):
            v = spec.get(key)
            if isinstance(v, str) and v:
                return v
    return "default"


def _other_cni(r: Resource) -> Problem:
    return Problem(
        r.id,
        "a Calico object in a scan that also holds Cilium policies: a cluster runs one CNI, the scan is judged "
        "as Cilium enforces it and Calico objects are not evaluated",
        (),
        r,
    )


def _service(r: Resource) -> Service:
    """A v1 Service's labels and selector (for Cilium toServices peers)."""
    meta = r.obj.get("metadata")
    spec = r.obj.get("spec")
    labels = str_map(meta.get("labels") if isinstance(meta, dict) else None, ("metadata", "labels"))
    raw = spec.get("selector") if isinstance(spec, dict) else None
    selector = str_map(raw, ("spec", "selector")) or None
    return Service(r.id.namespace or DEFAULT_NAMESPACE, r.id.name, labels, selector)
