"""Resource names as kubectl accepts them (`po`, `deploy`, `deployments.apps`, `pods/exec`, CRDs)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from kubefort.kube.rbac.parse import builtin_data
from kubefort.model import Resource


# ------------------------------------------------------------------------------------------------
# resource names as kubectl accepts them
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ResourceSpec:
    group: str
    resource: str
    subresource: str = ""
    namespaced: bool | None = None  # None: unknown (a resource kubefort has no table entry for)

    def __str__(self) -> str:
        base = self.resource + (f".{self.group}" if self.group else "")
        return base + (f"/{self.subresource}" if self.subresource else "")


@functools.lru_cache(maxsize=1)
def _api_table() -> tuple[tuple[str, str, str, bool, tuple[str, ...]], ...]:
    return tuple((row[0], row[1], row[2], bool(row[3]), tuple(row[4:])) for row in builtin_data("api-resources.yaml"))


def _crd_rows(crds: Iterable[Resource]) -> list[tuple[str, str, str, bool, tuple[str, ...]]]:
    rows = []
    for r in crds:
        spec = r.obj.get("spec")
        if not isinstance(spec, dict):
            continue
        names = spec.get("names")
        if (
            not isinstance(names, dict)
            or not isinstance(spec.get("group"), str)
            or not isinstance(names.get("plural"), str)
        ):
            continue
        short = tuple(s for s in (names.get("shortNames") or []) if isinstance(s, str))
        singular = names.get("singular") if isinstance(names.get("singular"), str) else ""
        rows.append(
            (
                spec["group"],
                names["plural"],
                str(names.get("kind") or ""),
                spec.get("scope") != "Cluster",
                short + ((singular,) if singular else ()),
            )
        )
    return rows


def resolve_resource(text: str, crds: Iterable[Resource] = ()) -> ResourceSpec:
    """`pods`, `po`, `pod`, `Pod`, `deployments.apps`, `deploy`, `pods/exec`, `*/scale`, `foos.example.com`.
    Raises ValueError for a name without a group that neither kubectl's table nor the input's CRDs know."""
    base, _, sub = text.strip().partition("/")
    if not base:
        raise ValueError(f"{text!r}: empty resource name")
    if base == "*":
        return ResourceSpec("*", "*", sub)
    name, dot, group = base.partition(".")
    lname = name.lower()
    rows = list(_api_table()) + _crd_rows(crds)
    for g, plural, kind, namespaced, short in rows:
        if dot and g != group:
            continue
        if lname in (plural, kind.lower()) or lname in short:
            return ResourceSpec(g, plural, sub, namespaced)
    if dot:
        return ResourceSpec(group, name, sub, None)
    raise ValueError(f"unknown resource {name!r}: give it as RESOURCE.GROUP (for example {name}.example.com)")
