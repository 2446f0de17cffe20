"""Read-only views of pod specs, wherever an object carries one.

Known kinds use the exact paths of the Kubernetes API. Custom resources (Argo Rollouts, Knative
Services, OpenKruise CloneSets, Argo Workflows ...) are searched by a generic walker for
embedded pod specs (a mapping with a `containers` list of container mappings), and users can add
exact paths per kind in `.kubefort.yaml` (`pod_template_paths`).

Views do the defensive work: an accessor returns a value of the type the API declares, or raises
NotEvaluated naming the field and what was found instead, so checks never guess.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.fields import Fields, memoised, memoised_iter, need, optional, type_name
from kubefort.model import NotEvaluated, Path_, Resource, format_path

# the accessors and the memo machinery live in kubefort.kube.fields; checks import them from here too
__all__ = [
    "BUILTIN_GROUPS",
    "CONTAINER_KINDS",
    "KNOWN_POD_PATHS",
    "MAX_WALK_NODES",
    "ContainerView",
    "Fields",
    "PodView",
    "api_group",
    "find_pods",
    "memoised",
    "memoised_iter",
    "need",
    "optional",
    "type_name",
]

# kind -> path of the PodSpec and of the pod metadata
KNOWN_POD_PATHS: dict[str, tuple[Path_, Path_ | None]] = {
    "Pod": (("spec",), ("metadata",)),
    "PodTemplate": (("template", "spec"), ("template", "metadata")),
    "Deployment": (("spec", "template", "spec"), ("spec", "template", "metadata")),
    "ReplicaSet": (("spec", "template", "spec"), ("spec", "template", "metadata")),
    "ReplicationController": (("spec", "template", "spec"), ("spec", "template", "metadata")),
    "StatefulSet": (("spec", "template", "spec"), ("spec", "template", "metadata")),
    "DaemonSet": (("spec", "template", "spec"), ("spec", "template", "metadata")),
    "Job": (("spec", "template", "spec"), ("spec", "template", "metadata")),
    "CronJob": (
        ("spec", "jobTemplate", "spec", "template", "spec"),
        ("spec", "jobTemplate", "spec", "template", "metadata"),
    ),
}

# API groups whose kinds are all known: no generic walk there (it would only cost time)
BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "node.k8s.io",
        "discovery.k8s.io",
        "certificates.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "events.k8s.io",
        "apiregistration.k8s.io",
        "resource.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "storagemigration.k8s.io",
        "internal.apiserver.k8s.io",
        "extensions",
    }
)

CONTAINER_KINDS = (
    ("containers", "container"),
    ("initContainers", "init container"),
    ("ephemeralContainers", "ephemeral container"),
)
MAX_WALK_NODES = 200_000
_UNSET: Any = object()  # not yet decided (in a view's memo)


class ContainerView(Fields):
    __slots__ = ("index", "kind", "list_key", "name")

    def __init__(self, data: dict[str, Any], path: Path_, name: str, kind: str, list_key: str, index: int) -> None:
        self.data = data
        self.path = path
        self.memo = {}
        self.name = name
        self.kind = kind  # "container" | "init container" | "ephemeral container"
        self.list_key = list_key
        self.index = index

    def label(self) -> str:
        return f"{self.kind} {self.name!r}"

    # Fast paths: the entries of `env` and `ports` as plain mappings when no accessor could fail
    # on them (the common case, decided once per container). Checks read those with `get`, and
    # otherwise go through `env_items` / the accessors, which raise where the API server rejects.
    def plain_env(self) -> builtins.list[dict[builtins.str, Any]] | None:
        """The `env` entries ([] when absent) if it is a list of mappings whose `name` and `value`
        are strings or null; None otherwise."""
        hit = self.memo.get("plain_env", _UNSET)
        if hit is _UNSET:
            hit = self.memo["plain_env"] = _plain_env(self.data.get("env"))
        return hit  # type: ignore[no-any-return]

    def plain_ports(self) -> builtins.list[dict[builtins.str, Any]] | None:
        """The `ports` entries ([] when absent) if it is a list of mappings with an integer
        `containerPort`, and a `name` (string) and `hostPort` (integer) that are absent, null or of
        their type; None otherwise."""
        hit = self.memo.get("plain_ports", _UNSET)
        if hit is _UNSET:
            hit = self.memo["plain_ports"] = _plain_ports(self.data.get("ports"))
        return hit  # type: ignore[no-any-return]

    def env_items(self) -> Iterator[Fields]:
        """The `env` entries as views (path `env[i]`), built once per container for every check
        that reads them. Raises NotEvaluated when `env` is not a list, or (after the entries
        before it) for an entry that is not a mapping."""
        return memoised_iter(self.memo, "env_items", self._env_items)

    def _env_items(self) -> Iterator[Fields]:
        for i, item in enumerate(self.list("env")):
            path = self.path + ("env", i)
            yield Fields(need(item, dict, "an env var mapping", path), path)


@dataclass(slots=True)
class PodView:
    """A pod spec found in an object, with its metadata (labels, annotations) when it has one.

    Views are built per object (`find_pods`) and never change, so what checks ask of them again
    and again (the containers, the scope of a pod-level field, `is_windows` ...) is computed once
    and kept in `memo`, values and NotEvaluated errors alike."""

    resource: Resource
    spec: Fields
    meta: Fields | None
    origin: str  # "known" | "walker" | "config" | "template" (Argo-style container template)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def path(self) -> Path_:
        return self.spec.path

    def containers(self) -> Iterator[ContainerView]:
        """Every container of every kind. Raises NotEvaluated on malformed lists or entries (after
        yielding the containers before the malformed one, as a walk of the spec would)."""
        return memoised_iter(
            self.memo, "containers", self._template_containers if self.origin == "template" else self._pod_containers
        )

    def _pod_containers(self) -> Iterator[ContainerView]:
        for key, kind in CONTAINER_KINDS:
            items = self.spec.list(key)
            for i, c in enumerate(items):
                p = self.spec.path + (key, i)
                if not isinstance(c, dict):
                    raise NotEvaluated(f"{format_path(p)} is {type_name(c)}, expected a container mapping", p)
                name = _container_name(c, p)
                yield ContainerView(c, p, f"#{i}" if name is None else name, kind, key, i)

    def _template_containers(self) -> Iterator[ContainerView]:
        # Argo Workflows: a template runs one `container` or `script`, plus init containers and sidecars
        for key, kind in (("container", "container"), ("script", "script container")):
            c = self.spec.get(key)
            if c is None:
                continue
            p = self.spec.path + (key,)
            if not isinstance(c, dict):
                raise NotEvaluated(f"{format_path(p)} is {type_name(c)}, expected a container mapping", p)
            name = _container_name(c, p)
            if name is None:
                outer = self.spec.str("name")  # the template's name (NotEvaluated when not a string)
                name = outer if outer is not None else key
            yield ContainerView(c, p, name, kind, key, 0)
        for key, kind in (("initContainers", "init container"), ("sidecars", "sidecar container")):
            for i, c in enumerate(self.spec.list(key)):
                p = self.spec.path + (key, i)
                if not isinstance(c, dict):
                    raise NotEvaluated(f"{format_path(p)} is {type_name(c)}, expected a container mapping", p)
                name = _container_name(c, p)
                yield ContainerView(c, p, f"#{i}" if name is None else name, kind, key, i)

    def annotations(self) -> dict[str, Any]:
        meta = self.meta
        return memoised(self.memo, "annotations", meta.mapping, "annotations") if meta is not None else {}

    def is_windows(self) -> bool:
        """Declared a Windows pod (`spec.os.name: windows`); Linux-only controls skip it, as PSS does."""
        hit = self.memo.get("windows")
        if hit is True or hit is False:  # asked by most container checks: the memo inline
            return hit
        return memoised(self.memo, "windows", self._is_windows)

    def _is_windows(self) -> bool:
        return self.spec.str("os", "name") == "windows"

    def in_user_namespace(self) -> bool:
        """Runs in its own user namespace (`spec.hostUsers: false`): IDs inside are not IDs on the node."""
        hit = self.memo.get("userns")
        if hit is True or hit is False:
            return hit
        return memoised(self.memo, "userns", self._in_user_namespace)

    def _in_user_namespace(self) -> bool:
        return self.spec.bool("hostUsers") is False

    def scopes(self) -> builtins.list[Fields]:
        """Where pod-level fields of this pod are set, most specific first.

        For ordinary pod specs, just the spec. For an Argo Workflows template (origin "template" at
        `...templates[i]`), also the workflow spec around it, whose `securityContext`,
        `serviceAccountName`, `automountServiceAccountToken` and `volumes` apply to every template
        that does not set its own. (The same list on every call: do not change it.)"""
        views: builtins.list[Fields] | None = self.memo.get("scopes")
        if views is None:
            views = [self.spec]
            p = self.spec.path
            if self.origin == "template" and len(p) >= 2 and p[-2] == "templates":
                outer = _at(self.resource.obj, p[:-2])
                if isinstance(outer, dict):
                    views.append(Fields(outer, p[:-2]))
            self.memo["scopes"] = views
        return views

    def scope(self, key: str) -> Fields:
        """The view that decides the pod-level field `key`: the first scope that sets it (the spec when none does)."""
        if self.origin != "template":
            return self.spec  # the only scope (see `scopes`): it decides whether it sets the field or not
        for view in self.scopes():
            if view.get(key) is not None:
                return view
        return self.spec


def _plain_env(items: object) -> list[dict[str, Any]] | None:
    """`items` ([] for None) if it is a list of mappings whose `name` and `value` are strings or
    null; None otherwise."""
    if items is None:
        return []
    if type(items) is not list:
        return None
    for item in items:
        if type(item) is not dict:
            return None
        name, value = item.get("name"), item.get("value")
        if (name is not None and type(name) is not str) or (value is not None and type(value) is not str):
            return None
    return items


def _plain_ports(items: object) -> list[dict[str, Any]] | None:
    """`items` ([] for None) if it is a list of mappings with an integer `containerPort` (a bool is
    not one, nor is a whole float taken for one), a string or null `name` and an integer or null
    `hostPort`; None otherwise."""
    if items is None:
        return []
    if type(items) is not list:
        return None
    for item in items:
        if type(item) is not dict or type(item.get("containerPort")) is not int:
            return None
        name, host = item.get("name"), item.get("hostPort")
        if (name is not None and type(name) is not str) or (host is not None and type(host) is not int):
            return None
    return items


def _container_name(c: dict[str, Any], path: Path_) -> str | None:
    """A container's `name` (None when absent or null); NotEvaluated when it is not a string, as the
    API server rejects such a pod: a check must not judge a container it cannot name."""
    name = c.get("name")
    if name is None or type(name) is str:
        return name
    raise NotEvaluated(f"{format_path(path + ('name',))} is {type_name(name)}, expected a string", path + ("name",))


def _at(obj: object, path: Path_) -> object:
    cur = obj
    for k in path:
        if isinstance(k, int):
            if not isinstance(cur, list) or k >= len(cur):
                return None
            cur = cur[k]
        else:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(k)
    return cur


# A key set to null is the key left out (the API server decodes both to the Go zero value, and
# drops nulls from custom resources whose schema does not make the field nullable), so the walker
# asks for values, never for keys.
def _is_container_list(v: object) -> bool:
    return (
        isinstance(v, list)
        and bool(v)
        and all(isinstance(c, dict) and (c.get("image") is not None or c.get("name") is not None) for c in v)
    )


def _is_container_template(node: dict[str, Any]) -> bool:
    """An Argo-style template: a `container` or `script` mapping with an image."""
    for key in ("container", "script"):
        c = node.get(key)
        if isinstance(c, dict) and c.get("image") is not None:
            return True
    return False


def _walk_pod_specs(obj: dict[str, Any]) -> Iterator[tuple[Path_, dict[str, Any], str]]:
    """Embedded pod specs in a custom resource: mappings whose `containers` is a list of containers
    ("walker"), and Argo-style templates with a single `container` or `script` ("template")."""
    stack: list[tuple[Path_, object]] = [((), obj)]
    push = stack.append
    seen = 0
    while stack:
        path, node = stack.pop()
        seen += 1
        if seen > MAX_WALK_NODES:
            raise NotEvaluated(f"object too large to search for pod templates (>{MAX_WALK_NODES:,} nodes)")
        if isinstance(node, dict):
            # every mapping of every custom resource passes here: the key tests come first, so
            # the helpers run only on the few mappings that have the keys they look at
            if "containers" in node and _is_container_list(node["containers"]):
                yield path, node, "walker"
                continue
            if ("container" in node or "script" in node) and _is_container_template(node):
                yield path, node, "template"
                continue
            for k, v in node.items():
                if isinstance(v, (dict, list)):
                    push((path + (k,), v))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, (dict, list)):
                    push((path + (i,), v))


def api_group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


# The last object asked about, its pod template paths and what `find_pods` found (or raised):
# the engine and then the object checks that read pod specs (KF-META-001 ...) ask about the
# same object in turn. Resources never change, and a scan never modifies the objects it judges.
_last_found: tuple[Resource, object, list[PodView] | NotEvaluated] | None = None


def find_pods(res: Resource, extra_paths: Mapping[str, Sequence[Path_]] | None = None) -> list[PodView]:
    """Every pod spec the object carries (empty for objects that carry none).

    Raises NotEvaluated when the object is of a pod-bearing kind but its pod spec is malformed.
    Asked again about the object it was last asked about (with the same paths), it returns the
    same views (a new list), so what checks derive from them is derived once.
    """
    global _last_found
    paths = extra_paths or None  # no paths: {} and None find the same pods
    last = _last_found
    if last is not None and last[0] is res and last[1] is paths:
        found = last[2]
        if isinstance(found, NotEvaluated):
            raise NotEvaluated(found.reason, found.path)  # a new exception, as a fresh search raises
        return list(found)
    try:
        pods = _find_pods(res, paths)
    except NotEvaluated as exc:
        _last_found = (res, paths, NotEvaluated(exc.reason, exc.path))  # without the traceback's frames
        raise
    _last_found = (res, paths, pods)
    return list(pods)


def _find_pods(res: Resource, extra_paths: Mapping[str, Sequence[Path_]] | None) -> list[PodView]:
    kind = res.id.kind
    obj = res.obj
    if kind in KNOWN_POD_PATHS and api_group(res.id.api_version) in BUILTIN_GROUPS:
        spec_path, meta_path = KNOWN_POD_PATHS[kind]
        spec = _at(obj, spec_path)
        if not isinstance(spec, dict):
            # find the first step that is missing or mistyped, for a precise reason
            for n in range(1, len(spec_path) + 1):
                v = _at(obj, spec_path[:n])
                if not isinstance(v, dict):
                    raise NotEvaluated(
                        f"{format_path(spec_path[:n])} is {type_name(v)}, expected a mapping", spec_path[:n]
                    )
            raise AssertionError("unreachable: the last step is the spec itself, which is not a mapping")
        meta = _at(obj, meta_path) if meta_path else None
        if meta is not None and not isinstance(meta, dict):
            raise NotEvaluated(
                f"{format_path(meta_path or ())} is {type_name(meta)}, expected a mapping", meta_path or ()
            )
        if "containers" not in spec or spec.get("containers") is None:
            raise NotEvaluated(
                f"{format_path(spec_path + ('containers',))} is missing; a pod needs containers", spec_path
            )
        return [
            PodView(
                res,
                Fields(spec, spec_path),
                Fields(meta, meta_path) if isinstance(meta, dict) and meta_path is not None else None,
                "known",
            )
        ]
    pods: list[PodView] = []
    if extra_paths and kind in extra_paths:
        for sp in extra_paths[kind]:
            spec = _at(obj, sp)
            if isinstance(spec, dict):
                mp = sp[:-1] + ("metadata",) if sp and sp[-1] == "spec" else None
                meta = _at(obj, mp) if mp else None
                pods.append(
                    PodView(
                        res, Fields(spec, sp), Fields(meta, mp) if isinstance(meta, dict) and mp else None, "config"
                    )
                )
        if pods:
            return pods
    if api_group(res.id.api_version) in BUILTIN_GROUPS or kind == "CustomResourceDefinition":
        return []
    for path, spec, origin in _walk_pod_specs(obj):
        if origin == "template":
            mp = path + ("metadata",)  # Argo templates carry their own pod metadata
        else:
            mp = path[:-1] + ("metadata",) if path and path[-1] == "spec" else None
        meta = _at(obj, mp) if mp else None
        pods.append(
            PodView(res, Fields(spec, path), Fields(meta, mp) if isinstance(meta, dict) and mp else None, origin)
        )
    return pods
