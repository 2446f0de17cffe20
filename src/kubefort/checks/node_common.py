"""Helpers shared by the node areas: KF-CP (control_plane/), KF-ETCD (etcd.py), KF-KUBELET (kubelet/).

Node checks are ordinary `registry.check` registrations: `node_meta(...)` composes their
documentation and mappings from CIS-style parts (`@check(..., **node_meta(what=..., why=...))`),
and the file-permission families register one check per literal call:
`file_mode_check(id="KF-CP-001", ...)` and `file_owner_check(id="KF-CP-002", ...)`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypedDict

from kubefort.kube.flags import ComponentView, is_node_object
from kubefort.kube.pods import type_name
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Path_, Resource, Severity, Violation
from kubefort.registry import Mappings, caller_source, check

NODE_KINDS = ("Pod", "NodeComponent")
FILE_KINDS = ("NodeFile",)
OWASP_CONFIG = ("K09",)  # OWASP Kubernetes Top 10: Misconfigured Cluster Components
NSA_CP = ("NSA-CISA Kubernetes Hardening Guide: control plane hardening",)

Peers = Mapping[str, tuple[str, ...]]  # peer tool ("trivy", "checkov", "kubescape") -> its IDs


# what every node check leaves without an outcome (NotApplicable), shown by `kubefort explain`
NODE_SCOPE = (
    "## Not applicable when\n"
    "The object is not one the check reads: a NodeFile without the file's role, a NodeComponent or a "
    "Pod that does not run the component (an ordinary Pod, another component's static pod), or a "
    "configuration document of another kind or API group. Such objects get no outcome from this check."
)


def doc(what: str, why: str, example: str, fix: str, refs: tuple[str, ...], extra: str = "") -> str:
    """A check docstring with ruff-style sections (the node checks' scope included)."""
    parts = [
        "## What it does",
        what.strip(),
        "",
        "## Why is this bad?",
        why.strip(),
        "",
        "## Example",
        example.strip(),
        "",
        "## How to fix",
        fix.strip(),
        "",
    ]
    if extra:
        parts += [extra.strip(), ""]
    if "## Not applicable when" not in extra:
        parts += [NODE_SCOPE, ""]
    parts += ["## References"] + [f"- {r}" for r in refs]
    return "\n".join(parts)


def pod_example(component: str, *flags: str) -> str:
    lines = [
        "```yaml",
        f"# /etc/kubernetes/manifests/{component}.yaml (static pod)",
        "spec:",
        "  containers:",
        f"  - name: {component}",
        "    command:",
        f"    - {component}",
    ]
    lines += [f"    - {f}" for f in flags]
    return "\n".join(lines + ["```"])


def cis_ref(cis: tuple[str, ...], manual: bool = False) -> str:
    return f"CIS Kubernetes Benchmark {', '.join(cis)}" + (
        " (Manual in CIS 1.12; kubefort checks the mechanical part)" if manual else ""
    )


class NodeMeta(TypedDict):
    """The `check()` arguments `node_meta` computes."""

    mappings: Mappings
    doc: str


def node_meta(
    *,
    what: str,
    why: str,
    example: str,
    fix: str,
    cis: tuple[str, ...] = (),
    manual: bool = False,
    peers: Peers | None = None,
    refs: tuple[str, ...] = (),
    extra: str = "",
    mitre: tuple[str, ...] = (),
    owasp: tuple[str, ...] = OWASP_CONFIG,
    nsa: tuple[str, ...] = NSA_CP,
) -> NodeMeta:
    """The documentation (ruff-style sections, CIS reference first) and mappings of a node check."""
    peers = peers or {}
    all_refs = ((cis_ref(cis, manual),) if cis else ()) + refs
    maps = Mappings(
        cis=cis,
        nsa=nsa,
        mitre=mitre,
        owasp=owasp,
        trivy=peers.get("trivy", ()),
        checkov=peers.get("checkov", ()),
        kubescape=peers.get("kubescape", ()),
    )
    return NodeMeta(mappings=maps, doc=doc(what, why, example, fix, all_refs, extra))


def viol(v: ComponentView, message: str, path: Path_) -> Violation:
    return Violation(message, path, v.container)


# ---------------------------------------------------------------------------------------------
# node files: mode and ownership (one literal call per check)
# ---------------------------------------------------------------------------------------------
def node_file(res: Resource, role: str) -> dict[str, Any]:
    """A NodeFile that plays `role` (NotApplicable otherwise); NotEvaluated when it could not be inspected."""
    if not is_node_object(res, "NodeFile"):
        raise NotApplicable()
    roles = res.obj.get("roles")
    if not isinstance(roles, list) or role not in roles:
        raise NotApplicable()
    if isinstance(res.obj.get("error"), str):
        raise NotEvaluated(res.obj["error"], ("path",))
    return res.obj


def file_mode(obj: dict[str, Any]) -> int:
    m = obj.get("mode")
    if isinstance(m, int) and not isinstance(m, bool):
        return m  # YAML 0600 is read as an octal integer
    if isinstance(m, str):
        try:
            return int(m, 8)
        except ValueError:
            pass
    raise NotEvaluated(f'mode is {type_name(m)} ({m!r}), expected an octal string such as "0600"', ("mode",))


def file_mode_violations(res: Resource, role: str, limit: int, what_file: str) -> Iterator[Violation]:
    f = node_file(res, role)
    mode = file_mode(f)
    extra = mode & ~limit & 0o7777
    if extra:
        yield Violation(
            f"{f.get('path')} has mode {mode:04o}; {what_file} must be {limit:o} or more restrictive", ("mode",)
        )


def file_owner_violations(res: Resource, role: str, owner: str) -> Iterator[Violation]:
    f = node_file(res, role)
    uid, gid = f.get("uid"), f.get("gid")
    if not isinstance(uid, int) or not isinstance(gid, int):
        raise NotEvaluated(f"uid/gid of {f.get('path')} are {uid!r}/{gid!r}, expected numbers", ("uid",))
    user, group = f.get("user"), f.get("group")
    if owner == "root":
        # root is uid/gid 0 on every system, with or without /etc/passwd
        if (uid, gid) != (0, 0):
            yield Violation(f"{f.get('path')} is owned by {user or uid}:{group or gid}, not root:root", ("uid",))
        return
    got_user = user if isinstance(user, str) else None
    got_group = group if isinstance(group, str) else None
    if (got_user is None and uid != 0) or (got_group is None and gid != 0):
        raise NotEvaluated(
            f"{f.get('path')} is owned by {uid}:{gid}, which the node's /etc/passwd and /etc/group do not name",
            ("uid",),
        )
    u, g = got_user or "root", got_group or "root"
    if (u, g) != (owner, owner):
        yield Violation(f"{f.get('path')} is owned by {u}:{g}, not {owner}:{owner}", ("uid",))


def file_mode_check(
    *,
    id: str,
    name: str,
    title: str,
    severity: Severity,
    role: str,
    limit: int,
    what_file: str,
    why: str,
    cis: tuple[str, ...],
    peers: Peers,
    manual: bool = False,
    example_path: str,
    mitre: tuple[str, ...] = ("T1552.001",),
    owasp: tuple[str, ...] = OWASP_CONFIG,
) -> None:
    """Register `mode must not exceed limit` for the NodeFiles with `role`; its source is this call."""

    def fn(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
        return file_mode_violations(res, role, limit, what_file)

    kind = "directory" if "dir" in role else "file"
    meta = node_meta(
        cis=cis,
        manual=manual,
        peers=peers,
        mitre=mitre,
        owasp=owasp,
        what=f"Flags {what_file} when its permission bits allow more than `{limit:o}` (any bit outside `{limit:04o}`). "
        "Runs in `kubefort node` on the files the node really uses.",
        why=why,
        example=f"```console\n$ stat -c '%a %U:%G %n' {example_path}\n{limit | 0o044:o} root:root {example_path}\n```",
        fix=f"```console\n$ chmod {limit:o} {example_path}\n```",
    )
    fn.__name__ = fn.__qualname__ = name.replace("-", "_")
    check(
        id=id,
        name=name,
        title=title,
        severity=severity,
        target="object",
        kinds=FILE_KINDS,
        verified=f"{what_file[:1].upper()}{what_file[1:]} has mode {limit:o} or stricter",
        remediation=f"Run chmod {limit:o} on the {kind} named in the finding.",
        source=caller_source(),
        **meta,
    )(fn)


def file_owner_check(
    *,
    id: str,
    name: str,
    title: str,
    severity: Severity,
    role: str,
    what_file: str,
    why: str,
    cis: tuple[str, ...],
    peers: Peers,
    manual: bool = False,
    example_path: str,
    owner: str = "root",
    mitre: tuple[str, ...] = ("T1552.001",),
) -> None:
    """Register `owner:group must be owner:owner` for the NodeFiles with `role`; its source is this call."""

    def fn(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
        return file_owner_violations(res, role, owner)

    meta = node_meta(
        cis=cis,
        manual=manual,
        peers=peers,
        mitre=mitre,
        what=f"Flags {what_file} when it is not owned by `{owner}:{owner}`. User and group names come from the node's "
        "`/etc/passwd` and `/etc/group` (under `--root`); uid/gid 0 is root everywhere.",
        why=why,
        example=f"```console\n$ stat -c '%U:%G %n' {example_path}\nubuntu:ubuntu {example_path}\n```",
        fix=f"```console\n$ chown {owner}:{owner} {example_path}\n```",
    )
    fn.__name__ = fn.__qualname__ = name.replace("-", "_")
    check(
        id=id,
        name=name,
        title=title,
        severity=severity,
        target="object",
        kinds=FILE_KINDS,
        verified=f"{what_file[:1].upper()}{what_file[1:]} is owned by {owner}:{owner}",
        remediation=f"Run chown {owner}:{owner} on the file named in the finding.",
        source=caller_source(),
        **meta,
    )(fn)
