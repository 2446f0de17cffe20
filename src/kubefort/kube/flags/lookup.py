"""Which objects run a component: argv lookup (hyperkube, `sh -c`, image entrypoints) in Pods and
NodeComponents, and component_view, which gives a ComponentView or raises NotApplicable.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator
from typing import Any

from kubefort.kube.flags.tables import COMPONENTS, HYPERKUBE, NODE_API
from kubefort.kube.flags.view import ComponentView
from kubefort.kube.pods import type_name
from kubefort.model import NotApplicable, NotEvaluated, Path_, Resource, format_path


def _str_list(v: Any, path: Path_) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise NotEvaluated(f"{format_path(path)} is not a list of strings", path)
    return v


def _expand_k8s_vars(arg: str, env: dict[str, tuple[str | None, Path_]]) -> str:
    """Kubernetes' $(VAR) expansion in command/args ($$ escapes); unknown references stay as written."""

    def rep(m: re.Match[str]) -> str:
        if m.group(0).startswith("$$"):
            return m.group(0)[1:]
        v = env.get(m.group(1))
        return v[0] if v is not None and v[0] is not None else m.group(0)

    return re.sub(r"\$\$\([A-Za-z_][A-Za-z0-9_.-]*\)|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", rep, arg)


def binary_component(word: str) -> str | None:
    base = posixpath.basename(word)
    return base if base in COMPONENTS else None


def find_in_argv(argv: list[str]) -> tuple[str, int] | None:
    """(component, index of its binary) in an argv; understands hyperkube and k3s-style wrappers."""
    if not argv:
        return None
    comp = binary_component(argv[0])
    if comp:
        return comp, 0
    base = posixpath.basename(argv[0])
    if base == "hyperkube" and len(argv) > 1:
        sub = HYPERKUBE.get(argv[1], binary_component(argv[1]))
        if sub:
            return sub, 1
    return None


def pod_views(res: Resource) -> Iterator[ComponentView]:
    """A view of every container of a Pod that runs a Kubernetes component (command, args, env, image)."""
    spec = res.obj.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list):
        return
    for i, c in enumerate(spec["containers"]):
        if not isinstance(c, dict):
            continue
        base: Path_ = ("spec", "containers", i)
        try:
            cmd = _str_list(c.get("command"), base + ("command",))
            args = _str_list(c.get("args"), base + ("args",))
        except NotEvaluated:
            continue
        argv = cmd + args
        paths: list[Path_] = [base + ("command", j) for j in range(len(cmd))] + [
            base + ("args", j) for j in range(len(args))
        ]
        image = c.get("image") if isinstance(c.get("image"), str) else None
        found = find_in_argv(argv)
        if (
            found is None
            and len(argv) >= 3
            and posixpath.basename(argv[0]) in ("sh", "bash", "ash", "dash")
            and argv[1] == "-c"
        ):
            # `sh -c "exec kube-apiserver --flag ..."`: the words after the binary, up to a shell operator
            try:
                words = shlex.split(argv[2])
            except ValueError:
                words = []
            for k, w in enumerate(words):
                comp = binary_component(w)
                if comp:
                    rest = []
                    for w2 in words[k + 1 :]:
                        if w2 in ("&&", "||", ";", "|"):
                            break
                        rest.append(w2)
                    argv = [w] + rest
                    paths = [base + ("command", 2)] * len(argv)
                    found = (comp, 0)
                    break
        if found is None and not cmd and image:
            # no command: the image's entrypoint is the component binary (registry.k8s.io/kube-apiserver:v1.x)
            repo = (
                image.split("@")[0].rpartition(":")[0]
                if ":" in image.split("@")[0].rpartition("/")[2]
                else image.split("@")[0]
            )
            comp = binary_component(repo.rpartition("/")[2])
            if comp and all(a.startswith("-") for a in args[:1]):
                argv = [comp] + args
                paths = [base + ("args",)] + paths
                found = (comp, 0)
        if found is None:
            continue
        comp, at = found
        env = _container_env(c, base)
        expanded = [_expand_k8s_vars(a, env) for a in argv[at + 1 :]]
        name = c.get("name")
        if name is not None and not isinstance(name, str):
            p = base + ("name",)
            raise NotEvaluated(
                f"{format_path(p)} is {type_name(name)}, expected a string; the API server rejects the pod", p
            )
        name = name or f"#{i}"
        missing = base + (("args",) if args else ("command",))
        yield ComponentView(comp, f"container {name!r}", expanded, paths[at + 1 :], missing, name, env, None, image)


def _container_env(c: dict[str, Any], base: Path_) -> dict[str, tuple[str | None, Path_]]:
    """name -> (value, path) of a component container's `env`, as the API server decodes it (null
    is absent; a value from `valueFrom` is unknown: None); NotEvaluated for wrong types, which it rejects."""
    env: dict[str, tuple[str | None, Path_]] = {}
    raw = c.get("env")
    if raw is None:
        return env
    if not isinstance(raw, list):
        raise NotEvaluated(f"{format_path(base + ('env',))} is {type_name(raw)}, expected a list", base + ("env",))
    for j, e in enumerate(raw):
        p = base + ("env", j)
        if e is None:
            continue
        if not isinstance(e, dict):
            raise NotEvaluated(f"{format_path(p)} is {type_name(e)}, expected a mapping", p)
        name, value = e.get("name"), e.get("value")
        for key, v in (("name", name), ("value", value)):
            if v is not None and not isinstance(v, str):
                raise NotEvaluated(f"{format_path(p + (key,))} is {type_name(v)}, expected a string", p + (key,))
        if name:
            env[name] = (
                value if value is not None else (None if e.get("valueFrom") is not None else ""),
                p + ("value",),
            )
    return env


def _node_view(res: Resource) -> ComponentView | None:
    obj = res.obj
    comp = obj.get("component")
    if comp not in COMPONENTS:
        return None
    argv = _str_list(obj.get("argv"), ("argv",))
    env: dict[str, tuple[str | None, Path_]] = {}
    if isinstance(obj.get("env"), dict):
        for k, v in obj["env"].items():
            env[str(k)] = (v if isinstance(v, str) else None, ("env", str(k)))
    reason = obj.get("flagsIncomplete") if isinstance(obj.get("flagsIncomplete"), str) else None
    if reason is None and comp == "etcd" and obj.get("envUnreadable") is True:
        reason = (
            "etcd also reads ETCD_* environment variables and the process environment is not readable "
            "(kubefort needs to run as the same user as etcd, or with CAP_SYS_PTRACE)"
        )
    start = 1 if argv else 0
    if argv and posixpath.basename(argv[0]) == "hyperkube":
        start = 2
    return ComponentView(
        comp,
        comp,
        argv[start:],
        [("argv", j) for j in range(start, len(argv))],
        ("argv",),
        None,
        env,
        reason,
        obj.get("image") if isinstance(obj.get("image"), str) else None,
        obj,
    )


# The engine runs every object check on one resource before the next: remembering the last
# Pod's views spares each of the ~60 control-plane checks the command-line analysis.
_last_pod: tuple[Any, list[ComponentView]] | None = None


def _cached_pod_views(res: Resource) -> list[ComponentView]:
    global _last_pod
    if _last_pod is not None and _last_pod[0] is res.obj:
        return _last_pod[1]
    views = list(pod_views(res))
    _last_pod = (res.obj, views)
    return views


def component_view(res: Resource, component: str) -> ComponentView:
    """The view of `component` in a Pod or NodeComponent; NotApplicable when it does not run it."""
    kind = res.id.kind
    if kind == "Pod" and res.id.api_version == "v1":
        for v in _cached_pod_views(res):
            if v.component == component:
                return v
        raise NotApplicable()
    if kind == "NodeComponent" and res.id.api_version == NODE_API:
        node = _node_view(res)
        if node is not None and node.component == component:
            return node
    raise NotApplicable()


def is_node_object(res: Resource, kind: str) -> bool:
    return res.id.kind == kind and res.id.api_version == NODE_API
