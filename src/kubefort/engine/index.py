"""The index that cross-object checks read: the collected objects of one analysis unit, by kind.

A scan can hold several analysis units (each PATH given, each Helm chart, each kustomization;
a cluster or a snapshot is one): cross-object checks see one unit at a time, so two apps or two
environments scanned together never lend each other NetworkPolicies, quotas or labels. Inside
a unit an object defined more than once is taken as `kubectl apply` would leave it: the last
definition wins (`effective`); `duplicates` lists every definition for the report's warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from kubefort.config import InlineIgnore
from kubefort.loaders.manifests import NO_NAME
from kubefort.model import Resource, ResourceId, Source
from kubefort.wording import plural

T = TypeVar("T")

# what "@pods" / "@namespaced-pods" need to have been read completely; ordered, so that the
# reason a report gives never depends on hashing
POD_KINDS = (
    "Pod",
    "PodTemplate",
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
)

# kind -> {namespace, or None for every namespace: (reason, requested by the user)}
Gaps = dict[str, dict[str | None, tuple[str, bool]]]

# what the API server identifies an object by: (API group, kind, namespace, name)
Identity = tuple[str, str, str | None, str]
Collected = tuple[Resource, bool]  # an object cross-object checks need, and whether it carries pods


def identity(rid: ResourceId) -> Identity | None:
    """The object's identity in a cluster: the API group (not its version: apps/v1 and
    apps/v1beta1 name the same Deployment), kind, namespace and name. None for an object
    without a name of its own (none, or only `generateName`: the loader names those
    NO_NAME and "prefix*", which no valid name can be), which never collides."""
    name = rid.name
    if not name or name.endswith("*") or name == NO_NAME:
        return None
    group = rid.api_version.rpartition("/")[0]
    return group, rid.kind, rid.namespace, name


def split_units(collected: Iterable[Collected]) -> list[list[Collected]]:
    """The collected objects by analysis unit (`Source.unit`), units in order of first appearance
    and objects in their input order."""
    units: dict[str | None, list[Collected]] = {}
    for item in collected:
        units.setdefault(item[0].source.unit, []).append(item)
    return list(units.values())


def effective(collected: Sequence[Collected]) -> list[Collected]:
    """One unit's objects as applying them in order would leave them: of the definitions of one
    object, only the last is kept (at its own position)."""
    keys = [identity(res.id) for res, _ in collected]
    last = {key: i for i, key in enumerate(keys) if key is not None}
    if len(last) == sum(1 for key in keys if key is not None):
        return list(collected)  # no duplicates (the usual case): nothing to drop
    return [item for i, (item, key) in enumerate(zip(collected, keys, strict=True)) if key is None or last[key] == i]


def duplicates(objects: Iterable[tuple[ResourceId, Source]]) -> list[list[tuple[ResourceId, Source]]]:
    """Objects defined more than once inside one analysis unit: each group lists every
    definition in input order (the last one is what cross-object checks see). Groups come in
    the order of their first definition. Definitions in different units are not duplicates:
    units are analysed apart."""
    groups: dict[tuple[str | None, Identity], list[tuple[ResourceId, Source]]] = {}
    for rid, src in objects:
        key = identity(rid)
        if key is not None:
            groups.setdefault((src.unit, key), []).append((rid, src))
    return [g for g in groups.values() if len(g) > 1]


def _where(src: Source) -> str:
    file = "stdin" if src.file == "-" else src.file
    return f"{file}:{src.line}" if src.line is not None else file


def duplicate_warning(group: Sequence[tuple[ResourceId, Source]]) -> str:
    """One warning for an object defined more than once in a unit: every location, in order."""
    rid, src = group[0]
    unit = "stdin" if src.unit == "-" else src.unit
    where = f" in {unit}" if unit is not None else ""
    return (
        f"{rid} is defined {len(group)} times{where}: {', '.join(_where(s) for _, s in group)}; "
        "cross-object checks use the last definition (scan separate apps or environments as separate PATHs)"
    )


MAX_DUPLICATE_WARNINGS = 10  # duplicate-definition warnings named one by one; the rest are counted


def duplicate_warnings(groups: Sequence[Sequence[tuple[ResourceId, Source]]]) -> list[str]:
    """The warnings for a scan's duplicates: the first MAX_DUPLICATE_WARNINGS by name, then a
    count of the others (the JSON report's extras list every one)."""
    out = [duplicate_warning(g) for g in groups[:MAX_DUPLICATE_WARNINGS]]
    if len(groups) > MAX_DUPLICATE_WARNINGS:
        out.append(
            f"{plural(len(groups) - MAX_DUPLICATE_WARNINGS, 'more object')} defined more than once in one "
            "analysis unit (all listed in the JSON report under extras.duplicates)"
        )
    return out


def duplicate_report(group: Sequence[tuple[ResourceId, Source]]) -> dict[str, Any]:
    """The same as data, for the JSON report's extras: the object, its unit, every definition."""
    rid, src = group[0]
    return {
        **rid.as_dict(),
        "unit": src.unit,
        "definitions": [{"apiVersion": r.api_version, "file": s.file, "line": s.line} for r, s in group],
    }


class Index:
    """The objects of one analysis unit, for cross-object checks (Namespaces, quotas, workloads ...).

    Implements `kubefort.model.ClusterIndex`. `gaps` says what could not be read from a
    cluster; a check whose `needs` touch a gap is not evaluated for the targets the gap can affect.
    """

    def __init__(
        self,
        collected: Iterable[tuple[Resource, bool]],
        gaps: Gaps | None = None,
        seeds: Mapping[str, Callable[[Index], Any]] | None = None,
    ) -> None:
        """`seeds`: how to build some `derived` keys other than the way the checks would (admission
        gives the cluster's RBAC policy with the reviewed object added: `Policy.with_objects`)."""
        collected = list(collected)
        self.seeds = dict(seeds or {})
        self.gaps: Gaps = gaps or {}
        self.ignores: dict[int, list[InlineIgnore]] = {}  # id(resource) -> its kubefort.io/ignore entries
        self.resources: list[Resource] = [r for r, _ in collected]
        self.pod_bearing: list[Resource] = [r for r, has in collected if has]
        self.by_kind: dict[str, list[Resource]] = {}
        for r in self.resources:
            self.by_kind.setdefault(r.id.kind, []).append(r)
        self._derived: dict[str, Any] = {}

    def kind(self, kind: str) -> list[Resource]:
        return self.by_kind.get(kind, [])

    def namespace(self, name: str | None) -> Resource | None:
        if name is None:
            return None
        return next((r for r in self.kind("Namespace") if r.id.name == name and r.id.api_version == "v1"), None)

    def in_namespace(self, kind: str, namespace: str) -> list[Resource]:
        return [r for r in self.kind(kind) if r.id.namespace == namespace]

    def derived(self, key: str, build: Callable[[], T]) -> T:
        if key not in self._derived:
            seed = self.seeds.get(key)
            self._derived[key] = seed(self) if seed is not None else build()
        result: T = self._derived[key]
        return result

    def gap_for(self, needs: Iterable[str], namespace: str | None) -> tuple[str, bool] | None:
        """Why objects a check needs may be missing for a target in `namespace` (None: none missing).

        A gap in one namespace affects targets in that namespace and cluster-scoped targets
        (which look across namespaces); a gap in every namespace affects all targets."""
        if not self.gaps:
            return None
        for kind in needs:
            kinds = POD_KINDS if kind in ("@pods", "@namespaced-pods") else (kind,)
            for k in kinds:
                g = self.gaps.get(k)
                if not g:
                    continue
                if None in g:
                    return g[None]
                if namespace is None:
                    return next(iter(g.values()))
                if namespace in g:
                    return g[namespace]
        return None
