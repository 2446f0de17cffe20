"""Cross-object checks that admission can still run: those whose other objects the webhook keeps
in its watch cache (cache.py).

A cross-object check judges an object with others: its namespace, its ServiceAccount, the RBAC
bindings, NetworkPolicies. At admission only the object under review is in hand, so cross-object
checks are not run, except those that target pod-bearing objects and need nothing but the kinds
in CACHED_KINDS (the namespace's Pod Security labels for KF-PSA-007, the ServiceAccount's
automountServiceAccountToken for KF-WL-001, what the ServiceAccount's bindings grant for
KF-RBAC-019): they run on the object, its Namespace and the ServiceAccounts its pods name, all
from the cache, exactly as `kubefort scan` judges them when those objects are part of the scan.
The RBAC checks read the cluster's roles and bindings (and its version) as one Policy, built once
per change of the cached RBAC objects and extended with the reviewed object for each review
(`Policy.with_objects`). Without the cache (`--no-cluster-cache`) they are not run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kubefort.checks.rbac.common import RbacOptions, policy_key
from kubefort.checks.workload import service_account_of
from kubefort.engine import CLUSTER_SCHEME, Engine, EngineSettings
from kubefort.kube.pods import PodView, find_pods
from kubefort.kube.rbac.policy import Policy
from kubefort.loaders.manifests import LoadedInput, add_object
from kubefort.model import InputRecord, NotEvaluated, Outcome, Path_, Resource, Source, Status
from kubefort.registry import CheckMeta, Registry

RBAC_CACHED = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ClusterInfo"})
CACHED_KINDS = frozenset({"Namespace", "ServiceAccount"}) | RBAC_CACHED
POD_TARGETS = frozenset({"@pods", "@namespaced-pods"})
# Source.file of objects judged at admission: a cluster's object (no file, no line: nothing is read
# back to locate a finding)
ADMISSION_SOURCE = f"{CLUSTER_SCHEME}admission"


def runs_with_cache(meta: CheckMeta) -> bool:
    """A cross-object check that targets pod-bearing objects and needs only cached kinds."""
    return (
        meta.target == "cluster"
        and bool(meta.kinds)
        and set(meta.kinds or ()) <= POD_TARGETS
        and meta.needs <= CACHED_KINDS
    )


def not_run_at_admission(registry: Registry, *, with_cache: bool) -> list[CheckMeta]:
    """The cross-object checks admission does not run (docs/admission.md lists them)."""
    return [m for m in registry if m.target == "cluster" and not (with_cache and runs_with_cache(m))]


def resource_of(obj: Any, source: Source) -> Resource | None:
    """The object as the engine reads it (None when it is malformed: the per-object checks
    report that as KF-INPUT-003)."""
    li = LoadedInput(InputRecord(source.file, "object"))
    add_object(li, obj, source, source.file)
    return li.resources[0] if len(li.resources) == 1 else None


def account_names(pods: Iterable[PodView]) -> set[str]:
    """The ServiceAccounts the pods run as (`default` when they name none)."""
    names: set[str] = set()
    for pod in pods:
        try:
            name, _scope, _field = service_account_of(pod)
        except NotEvaluated:
            continue
        names.add(name or "default")
    return names


# what the cache answers: the Namespace object (None: not known), the ServiceAccounts of a
# namespace by name, and the cluster's RBAC objects (and ClusterInfo) with a number that changes
# whenever they do
NamespaceLookup = Callable[[str], Any]
AccountLookup = Callable[[str, str], Any]
RbacLookup = Callable[[], tuple[int, list[Any]]]


def _extend(policy: Policy) -> Callable[[Any], Policy]:
    """The seed of an index's Policy: the cluster's, with the index's objects added."""

    def build(index: Any) -> Policy:
        return policy.with_objects(index.resources)

    return build


def _no_rbac(_index: Any) -> Policy:
    raise NotEvaluated("the webhook keeps no copy of the cluster's roles and bindings")


class ContextChecks:
    """The cache-backed cross-object checks of a selection, run on one object."""

    def __init__(
        self,
        registry: Registry,
        check_ids: Iterable[str],
        *,
        options: Mapping[str, Any],
        severity: Mapping[str, Any],
        pod_template_paths: Mapping[str, list[Path_]],
    ) -> None:
        self.ids = tuple(i for i in check_ids if runs_with_cache(registry.get(i)))
        self.pod_template_paths = dict(pod_template_paths)
        self.needs_accounts = any("ServiceAccount" in registry.get(i).needs for i in self.ids)
        self.needs_rbac = any(registry.get(i).needs & RBAC_CACHED for i in self.ids)
        self._policies: tuple[int, dict[str, Policy]] | None = None
        self.engine = (
            Engine(
                EngineSettings(
                    check_ids=self.ids,
                    options=dict(options),
                    severity=dict(severity),
                    pod_template_paths=self.pod_template_paths,
                    keep_passed=False,
                ),
                registry,
            )
            if self.ids
            else None
        )
        # the Policy key and release of every RBAC check's options (one Policy each)
        self.rbac_keys: dict[str, str] = {}
        for i in self.ids:
            if self.engine is not None and registry.get(i).needs & RBAC_CACHED:
                opts = self.engine.ctx[i].options
                rbac_opts = opts if isinstance(opts, RbacOptions) else None
                self.rbac_keys[policy_key(rbac_opts)] = rbac_opts.kubernetes_version if rbac_opts else ""

    def policies(self, source: Source, rbac: RbacLookup) -> dict[str, Policy]:
        """The cluster's RBAC policy for each release the checks ask for, rebuilt only when the
        cache's RBAC objects changed since the last review."""
        generation, objects = rbac()
        if self._policies is None or self._policies[0] != generation:
            resources = [r for r in (resource_of(o, source) for o in objects) if r is not None]
            built = {
                key: Policy(resources, kubernetes_version=version or None) for key, version in self.rbac_keys.items()
            }
            self._policies = (generation, built)
        return self._policies[1]

    def run(
        self,
        obj: Any,
        source: Source,
        namespace: NamespaceLookup,
        account: AccountLookup,
        rbac: RbacLookup | None = None,
    ) -> list[Outcome]:
        """The outcomes of the checks on `obj` (passes left out)."""
        if self.engine is None:
            return []
        res = resource_of(obj, source)
        if res is None:
            return []
        try:
            pods = find_pods(res, self.pod_template_paths)
        except NotEvaluated:
            pods = []
            carries = True  # the checks report the malformed pod spec as not evaluated
        else:
            carries = bool(pods)
        if not carries:
            return []
        collected: list[tuple[Resource, bool]] = [(res, True)]
        ns = res.id.namespace
        if ns is not None:
            ns_obj = namespace(ns)
            if ns_obj is not None:
                ns_res = resource_of(ns_obj, source)
                if ns_res is not None:
                    collected.append((ns_res, False))
            if self.needs_accounts:
                for name in sorted(account_names(pods)):
                    sa = account(ns, name)
                    sa_res = resource_of(sa, source) if sa is not None else None
                    if sa_res is not None:
                        collected.append((sa_res, False))
        seeds: dict[str, Callable[[Any], Any]] = {}
        if self.needs_rbac:
            if rbac is None:  # never judged on the release's defaults alone: not evaluated
                seeds = dict.fromkeys(self.rbac_keys, _no_rbac)
            else:
                for key, pol in self.policies(source, rbac).items():
                    seeds[key] = _extend(pol)
        outcomes = self.engine.cross_object(collected, seeds=seeds)
        return [o for o in outcomes if o.status is not Status.PASSED]
