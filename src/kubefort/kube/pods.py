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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from kubefort.model import NotEvaluated, Path_, Resource, format_path

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

T = TypeVar("T")


def type_name(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__


def _expect(value: object, kind: type[T], what: str, path: Path_) -> T:
    """value, typed as `kind`, if it is one (bools are not ints), else NotEvaluated naming the field."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise NotEvaluated(f"{format_path(path)} is {type_name(value)}, expected {what}", path)
    return value


def need(value: object, kind: type[T], what: str, path: Path_) -> T:
    """value if it has the type the API declares, else NotEvaluated naming the field (bools are not
    ints; whole floats are ints, as JSON decoding gives them)."""
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    return _expect(value, kind, what, path)


def optional(value: object, kind: type[T], what: str, path: Path_) -> T | None:
    """None when absent, else as `need`."""
    return None if value is None else need(value, kind, what, path)


class _Raised:
    """A memoised NotEvaluated: raised again (as a new exception) on every later call."""

    __slots__ = ("path", "reason")

    def __init__(self, exc: NotEvaluated) -> None:
        self.reason = exc.reason
        self.path = exc.path

    def throw(self) -> NoReturn:
        raise NotEvaluated(self.reason, self.path)


def memoised(memo: dict[Any, Any], key: object, compute: Callable[..., T], *args: Any) -> T:
    """`compute(*args)`, once per `memo` and key: later calls return the same value, or raise the
    same NotEvaluated again. `memo` is a view's own dict (`Fields.memo`, `PodView.memo`), so nothing
    is ever shared between objects; checks use it for what several of them derive from one pod or
    container (a parsed image reference, an effective securityContext value ...)."""
    hit = memo.get(key, _ABSENT)
    if hit is _ABSENT:
        try:
            hit = memo[key] = compute(*args)
        except NotEvaluated as exc:
            memo[key] = _Raised(exc)
            raise
        return hit
    if type(hit) is _Raised:
        hit.throw()
    return hit  # type: ignore[no-any-return]


def memoised_iter(memo: dict[Any, Any], key: object, produce: Callable[..., Iterator[T]], *args: Any) -> Iterator[T]:
    """The items of `produce(*args)`, walked once per `memo` and key: later calls replay them, and
    raise the walk's NotEvaluated again after the items it had yielded, exactly as a fresh walk would."""
    found: tuple[builtins.list[T], _Raised | None] | None = memo.get(key)
    if found is None:
        items: builtins.list[T] = []
        error: _Raised | None = None
        try:
            for item in produce(*args):
                items.append(item)  # noqa: PERF402 - keeps what was produced before a NotEvaluated
        except NotEvaluated as exc:
            error = _Raised(exc)
        found = memo[key] = (items, error)
    yield from found[0]
    if found[1] is not None:
        found[1].throw()


_ABSENT: Any = object()


class Fields:
    """Typed access to a mapping at a known path."""

    # The accessors below are named after the types they return (`bool`, `int`, `str`, `list`),
    # which shadows those names inside this class body: annotations spell them `builtins.*`.
    #
    # They run ~150 times per object, so each is written for the common case (every step a
    # dict, the value of the declared type or absent): no path is built and no helper is called
    # unless the value is mistyped. `memo` holds what checks derive from this view (see `memoised`).
    __slots__ = ("data", "memo", "path")

    def __init__(self, data: Mapping[builtins.str, Any], path: Path_) -> None:
        self.data = data
        self.path = path
        self.memo: dict[Any, Any] = {}

    def at(self, *keys: builtins.str | builtins.int) -> Path_:
        return self.path + keys

    def get(self, *keys: builtins.str) -> Any:
        """The raw value at keys (None when any step is absent or null); wrong container types raise.

        Typed `Any` on purpose: callers narrow it themselves (or use the typed accessors below)."""
        return self._get(keys)

    def _get(self, keys: tuple[builtins.str, ...]) -> Any:
        cur: Any = self.data
        for k in keys:
            if type(cur) is dict:  # the common case, on every check's hot path
                cur = cur.get(k)
            elif cur is None:
                return None
            elif isinstance(cur, dict):
                cur = cur.get(k)
            else:
                self._not_a_mapping(keys)
        return cur

    def _not_a_mapping(self, keys: tuple[builtins.str, ...]) -> NoReturn:
        """Raise for the first step of keys that is neither a mapping nor absent."""
        cur: object = self.data
        for i, k in enumerate(keys):
            if cur is None:
                break
            if not isinstance(cur, dict):
                raise NotEvaluated(
                    f"{format_path(self.path + keys[:i])} is {type_name(cur)}, expected a mapping", self.path + keys[:i]
                )
            cur = cur.get(k)
        raise AssertionError("unreachable: _get found a step that is not a mapping")

    def mapping(self, *keys: builtins.str) -> dict[builtins.str, Any]:
        v = self._get(keys)
        if type(v) is dict:
            return v
        if v is None:
            return {}
        return _expect(v, dict, "a mapping", self.path + keys)

    def bool(self, *keys: builtins.str) -> builtins.bool | None:
        v = self._get(keys)
        if v is None or v is True or v is False:
            return v
        raise NotEvaluated(
            f"{format_path(self.at(*keys))} is {type_name(v)} ({v!r}), expected a boolean; the API server rejects it",
            self.at(*keys),
        )

    def int(self, *keys: builtins.str) -> builtins.int | None:
        v = self._get(keys)
        if v is None or type(v) is int:
            return v
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return _expect(v, int, "an integer", self.path + keys)

    def str(self, *keys: builtins.str) -> builtins.str | None:
        v = self._get(keys)
        if v is None or type(v) is str:
            return v
        return _expect(v, str, "a string", self.path + keys)

    def list(self, *keys: builtins.str) -> builtins.list[Any]:
        v = self._get(keys)
        if type(v) is list:
            return v
        if v is None:
            return []
        return _expect(v, list, "a list", self.path + keys)

    def str_map(self, *keys: builtins.str) -> dict[builtins.str, builtins.str]:
        """A map[string]string (labels, annotations, selectors, nodeSelector) as the API server decodes
        it: absent or null is empty, a null value is "" (the key is present); NotEvaluated for any
        other value, which the API server rejects."""
        out: dict[builtins.str, builtins.str] = {}
        for k, v in self.mapping(*keys).items():
            if v is not None and type(v) is not str:
                p = self.at(*keys, builtins.str(k))
                raise NotEvaluated(f"{format_path(p)} is {type_name(v)}, expected a string", p)
            out[builtins.str(k)] = v or ""
        return out

    def str_list(self, *keys: builtins.str) -> builtins.list[builtins.str]:
        out = self.list(*keys)
        for i, x in enumerate(out):
            if not isinstance(x, str):
                raise NotEvaluated(
                    f"{format_path(self.at(*keys))}[{i}] is {type_name(x)}, expected a string", self.at(*keys) + (i,)
                )
        return out


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


def find_pods(res: Resource, extra_paths: Mapping[str, Sequence[Path_]] | None = None) -> list[PodView]:
    """Every pod spec the object carries (empty for objects that carry none).

    Raises NotEvaluated when the object is of a pod-bearing kind but its pod spec is malformed.
    """
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
