"""The objects of a live cluster or a snapshot, for `kubefort images` (every object, every pod:
unlike `kubefort scan --cluster`, nothing is folded into its controller, since the pods' statuses
are what says which digests run)."""

from __future__ import annotations

from typing import Any

import orjson

from kubefort.loaders.manifests import LoadedInput, add_object
from kubefort.model import InputRecord, Resource, Source

__all__ = ["source_resources"]


def source_resources(source: Any) -> tuple[list[Resource], list[str]]:
    """Every object a cluster source (`LiveSource` or `SnapshotSource`) lists, and the problems
    met (unreadable pages, objects that are not valid, lists that could not be read)."""
    from kubefort.cluster.collect import normalize
    from kubefort.engine import CLUSTER_SCHEME

    base = f"{CLUSTER_SCHEME}{source.name}"
    resources: list[Resource] = []
    problems: list[str] = []
    for page in source.pages():
        listing = base + page.rtype.path(page.namespace)
        li = LoadedInput(InputRecord(listing, "cluster"))
        try:
            items = normalize(page)
        except (ValueError, orjson.JSONDecodeError) as exc:
            problems.append(f"{listing}: unreadable list answer: {exc}")
            continue
        for i, obj in enumerate(items):
            add_object(li, obj, Source(listing, page.number, None, ("items", i)), listing)
        resources += li.resources
        problems += [f"{p.file}: {p.message}" for p in li.problems]
    problems += [
        f"{s.rtype.path(s.namespace)}: could not be listed ({s.status}" + (f": {s.message})" if s.message else ")")
        for s in source.statuses
        if s.status in ("forbidden", "error") and not s.covered_by and _matters(s)
    ]
    return resources, problems


# what the inventory reads: pod-bearing kinds, and trivy-operator's reports
_GROUPS = {"", "apps", "batch", "aquasecurity.github.io"}


def _matters(status: Any) -> bool:
    """A list that failed and could hold workloads (built-in pod-bearing kinds, any custom resource)."""
    rt = status.rtype
    if rt.group in _GROUPS:
        return rt.kind in {
            "Pod",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "CronJob",
            "ReplicationController",
            "PodTemplate",
            "VulnerabilityReport",
        }
    return "." in rt.group and not rt.group.endswith(".k8s.io")
