"""Resource names as kubectl accepts them (`po`, `deploy`, `deployments.apps`, `pods/exec`, CRDs),
with their scope from the chosen release's resource table (kube/rbac/builtin.py) or the input's
CRDs; a resource neither knows has an unknown scope (None), never a guessed one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubefort.kube.rbac import builtin
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


def crd_rows(crds: Iterable[Resource]) -> list[tuple[str, str, str, bool | None, tuple[str, ...]]]:
    rows: list[tuple[str, str, str, bool | None, tuple[str, ...]]] = []
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
                {"Namespaced": True, "Cluster": False}.get(str(spec.get("scope"))),
                short + ((singular,) if singular else ()),
            )
        )
    return rows


def resolve_resource(text: str, crds: Iterable[Resource] = (), version: str | None = None) -> ResourceSpec:
    """`pods`, `po`, `pod`, `Pod`, `deployments.apps`, `deploy`, `pods/exec`, `*/scale`, `foos.example.com`,
    in the release `version` (default: the newest shipped). Raises ValueError for a name without a
    group that neither the release's table nor the input's CRDs know."""
    base, _, sub = text.strip().partition("/")
    if not base:
        raise ValueError(f"{text!r}: empty resource name")
    if base == "*":
        return ResourceSpec("*", "*", sub)
    name, dot, group = base.partition(".")
    lname = name.lower()
    rows: list[tuple[str, str, str, bool | None, tuple[str, ...]]] = [
        *builtin.resource_table(version or builtin.latest()),
        *crd_rows(crds),
    ]
    for g, plural, kind, namespaced, short in rows:
        if dot and g != group:
            continue
        if lname in (plural, kind.lower()) or lname in short:
            return ResourceSpec(g, plural, sub, namespaced)
    if dot:
        return ResourceSpec(group, name, sub, None)
    raise ValueError(f"unknown resource {name!r}: give it as RESOURCE.GROUP (for example {name}.example.com)")
