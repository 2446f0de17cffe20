"""Shared by the KF-NET modules: the one netpol engine model per scan (`model`), the mapping and
port tables, and `labels_path`."""

from __future__ import annotations

from kubefort.kube.apis import not_served
from kubefort.kube.netpol import Analysis, Cluster, External, Policy, bit_indexes, port_set, ports_union
from kubefort.kube.netpol.kinds import KINDS, describe, unmodelled
from kubefort.kube.pods import find_pods
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, NotEvaluated, Path_, Resource

NSA = ("NSA-CISA Kubernetes Hardening Guide: Network separation and hardening",)
OWASP = ("K07",)  # OWASP Kubernetes Top 10: Missing Network Segmentation Controls
# the policy kinds not modelled yet are collected too: they make the namespaces they may govern
# not evaluated (Model.check_namespace), never judged as if they were absent
# the cluster-wide tiers of the Network Policy API (kube/netpol/admin.py) are modelled
ADMIN_KINDS = ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")
NEEDS = ("Namespace", "NetworkPolicy", "Service", "@pods", *ADMIN_KINDS, *KINDS)
METADATA = External("cloud-metadata", "169.254.169.254/32")
DNS = ports_union(port_set("TCP", 53, 53), port_set("UDP", 53, 53))


class Model:
    """The engine over one scan's index, built once and shared by every KF-NET check."""

    def __init__(self, index: ClusterIndex, ctx: CheckContext[None]) -> None:
        paths = ctx.pod_template_paths
        resources = [*index.kind("Namespace"), *index.kind("NetworkPolicy"), *index.pod_bearing]
        resources += [r for k in (*ADMIN_KINDS, *KINDS) for r in index.kind(k) if k != "NetworkPolicy"]
        self.c = Cluster.from_resources(resources, pod_template_paths=paths)
        self.a = Analysis(self.c)
        self.scoped = self.c.defined_namespaces | {r.id.namespace or "default" for r in index.kind("NetworkPolicy")}
        # a cluster-wide policy brings into scope the namespaces of the workloads its subject selects
        # (an invalid one, every namespace: it may govern any)
        for bits in self.a.admin_selected:
            self.scoped |= {self.c.workloads[i].namespace for i in bit_indexes(bits)}
        if self.c.invalid_admin:
            self.scoped |= {w.namespace for w in self.c.workloads}
        # a Cilium policy brings into scope its namespace and those of the pods it selects
        if self.a.cilium is not None:
            self.scoped |= {p.namespace for p in self.c.cilium if p.namespace} | self.c.invalid_namespaces
            for bits in self.a.cilium.spec_bits:
                self.scoped |= {self.c.workloads[i].namespace for i in bit_indexes(bits)}
        # so does a Calico policy (calico_engine.py; K8s NetworkPolicies are in scope already)
        if self.a.calico is not None:
            self.scoped |= {p.namespace for p in self.c.calico if p.namespace} | self.c.invalid_namespaces
            for e, bits in zip(self.a.calico.entries, self.a.calico.subject_bits, strict=True):
                self.scoped |= {self.c.workloads[i].namespace for i in bit_indexes(bits)} if e.calico else set()
        # namespaces whose pods equal-priority cluster-wide policies govern with different actions
        self.ambiguous: dict[str, str] = {}
        for x in self.a.conflicts:
            self.ambiguous.setdefault(self.c.workloads[x.subject].namespace, x.message(self.a))
        if any(unmodelled(r.id) for r in self.c.unmodelled):  # a cluster-scoped kind may govern every namespace
            self.scoped |= {w.namespace for w in self.c.workloads}
        self.scoped |= {r.id.namespace or "default" for r in self.c.unmodelled if r.id.namespace}
        self.by_res: dict[int, list[int]] = {}
        for i, w in enumerate(self.c.workloads):
            self.by_res.setdefault(id(w.resource), []).append(i)
        self.bad = {id(p.obj): p for p in self.c.problems if p.obj is not None}
        self.in_ns: dict[str, list[int]] = {}
        for i, w in enumerate(self.c.workloads):
            self.in_ns.setdefault(w.namespace, []).append(i)

    def check_namespace(self, ns: str) -> None:
        if self.c.invalid_admin:
            raise NotEvaluated(
                f"namespace {ns!r} may be governed by a cluster-wide policy the API server would reject: "
                f"{self.c.invalid_admin[0]}"
            )
        if ns in self.ambiguous:
            raise NotEvaluated(f"the connections of namespace {ns!r} are ambiguous: {self.ambiguous[ns]}")
        found = self.c.unmodelled_for(ns)
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise NotEvaluated(
                f"namespace {ns!r} may be governed by {describe(found[0].id)}{more}, a policy kind kubefort "
                "does not model yet: its connections cannot be judged without it"
            )
        if ns in self.c.invalid_namespaces:
            bad = [
                p
                for p in self.c.problems
                if p.resource is not None
                and (p.resource.namespace or "default") == ns
                and p.resource.kind in ("NetworkPolicy", "CiliumNetworkPolicy")
            ]
            first = bad[0] if bad else None
            if first is None or first.resource is None:
                raise NotEvaluated(f"namespace {ns!r} holds a policy that cannot be judged")
            if first.resource.kind == "NetworkPolicy" and first.resource.api_version == "networking.k8s.io/v1":
                raise NotEvaluated(f"namespace {ns!r} holds a NetworkPolicy the API server would reject: {first}")
            # a Cilium or Calico policy its CNI would reject, or one with a feature kubefort does not judge
            raise NotEvaluated(f"namespace {ns!r} holds a {first.resource.kind} that cannot be judged: {first}")

    def workloads(self, res: Resource) -> list[int]:
        """The target's workloads in an in-scope namespace (NotApplicable / NotEvaluated otherwise)."""
        ns = res.id.namespace or "default"
        if ns not in self.scoped:
            raise NotApplicable()
        if id(res) in self.bad:
            p = self.bad[id(res)]
            raise NotEvaluated(p.message, p.path)
        self.check_namespace(ns)
        return self.by_res.get(id(res), [])

    def policy(self, res: Resource) -> Policy:
        if id(res) in self.bad:
            p = self.bad[id(res)]
            raise NotEvaluated(p.message, p.path)
        found = next((p for p in self.c.policies if p.resource is res), None)
        if found is None:  # not of networking.k8s.io (or extensions): the engine read no policy
            not_served(res)
        return found


def model(index: ClusterIndex, ctx: CheckContext[None]) -> Model:
    return index.derived("netpol-model", lambda: Model(index, ctx))


def labels_path(res: Resource) -> Path_:
    pods = find_pods(res)
    if pods and pods[0].meta is not None:
        return pods[0].meta.path + ("labels",)
    return ("metadata",)
