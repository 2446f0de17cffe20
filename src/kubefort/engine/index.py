"""The index that cross-object checks read: the collected objects of one scan, by kind."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from kubefort.config import InlineIgnore
from kubefort.model import Resource

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


class Index:
    """Objects from every input, for cross-object checks (Namespaces, quotas, workloads ...).

    Implements `kubefort.model.ClusterIndex`. `gaps` says what could not be read from a
    cluster; a check whose `needs` touch a gap is not evaluated for the targets the gap can affect.
    """

    def __init__(self, collected: Iterable[tuple[Resource, bool]], gaps: Gaps | None = None) -> None:
        collected = list(collected)
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
            self._derived[key] = build()
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
