"""Exact Pod Security Standards (PSS) evaluator.

Decides the way the reference admission library ``k8s.io/pod-security-admission``
(``policy/check_*.go``) decides, for every policy version from ``v1.0`` to :data:`LATEST`.
This is an independent Python implementation of that behaviour; it uses the standard
library only and imports nothing else from kubefort.

How a policy version is applied (as upstream's check registry does):

* every check has one or more implementations, each with a minimum policy version; a pinned
  version ``v1.N`` uses, per check, the newest implementation whose minimum is ``<= 1.N`` and
  skips checks that did not exist yet; versions newer than :data:`LATEST` are clamped to it and
  ``"latest"`` means :data:`LATEST`;
* ``restricted`` runs every baseline check plus the restricted checks, except baseline checks
  that a restricted check *overrides* at that version (``hostPathVolumes`` by
  ``restrictedVolumes`` from v1.0, ``seccompProfile_baseline`` by ``seccompProfile_restricted``
  from v1.19, ``capabilities_baseline`` by ``capabilities_restricted`` from v1.22, ``procMount``
  by ``procMount_restricted`` from v1.35);
* container checks visit ``initContainers``, ``containers`` and ``ephemeralContainers``.

Version history implemented (policy version: change):

* v1.0  baseline: windowsHostProcess, hostNamespaces, privileged, capabilities_baseline,
  hostPathVolumes, hostPorts, appArmorProfile (annotations and the ``appArmorProfile`` fields),
  seLinuxOptions, procMount, seccompProfile_baseline (alpha annotations), sysctls (5 names);
  restricted: restrictedVolumes (``image`` volumes allowed at every version), runAsNonRoot
* v1.8  restricted: allowPrivilegeEscalation
* v1.19 seccomp moves to ``securityContext.seccompProfile``; restricted: seccompProfile_restricted
* v1.22 restricted: capabilities_restricted
* v1.23 restricted: runAsUser
* v1.25 restricted: allowPrivilegeEscalation, seccompProfile_restricted and capabilities_restricted
  skip pods with ``spec.os.name: windows``
* v1.27, v1.29, v1.32, v1.37 sysctls: the safe set grows
* v1.31 seLinuxOptions: ``container_engine_t`` allowed
* v1.34 baseline: hostProbesAndHostLifecycle
* v1.35 ``spec.hostUsers: false`` relaxes baseline procMount and restricted runAsNonRoot/runAsUser;
  restricted: procMount_restricted

Upstream returns one aggregated result per check; :func:`evaluate` instead returns one
:class:`PSSViolation` per offending field (a pod is allowed exactly when the list is empty).

How this module is built: the pod is decoded once into typed values (:func:`_decode`, which
raises the input errors), then every check is a small function of the decoded pod and the
policy version, registered in :data:`CONTROLS` with its level, the version it appeared in and
the version from which restricted overrides it (the table of ``../shared/catalog/pss.md``).
A level at a version runs the controls that table selects (:func:`controls_for`).

Both levels evaluate the same controls the same way, so :func:`evaluate_all` evaluates every
control of a version once and answers every level from that one evaluation (restricted is
*not* simply baseline plus more: it drops the baseline checks it overrides, so each level
selects its own controls from the shared results). :func:`evaluate_shared` keeps those
evaluations for the pods being scanned, so the baseline and restricted checks and the
``--pss`` report verdict of one pod cost one evaluation.
Each message starts with upstream's forbidden reason (``host namespaces``, ``privileged``, ...)
followed by a detail in parentheses.

Inputs are plain dicts from YAML/JSON. A value whose type the Kubernetes API could not decode
(``securityContext: "x"``, ``privileged: "yes"``, ``hostPort: "80"``...) raises
:class:`PSSInputError` naming the field path, so the caller can record "not evaluated"
instead of a verdict. ``null`` is accepted everywhere and means "unset", as in the API.
"""

from __future__ import annotations

import functools
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHECKS",
    "CONTROLS",
    "LATEST",
    "LEVELS",
    "Control",
    "PSSInputError",
    "PSSViolation",
    "PodEvaluation",
    "controls_for",
    "evaluate",
    "evaluate_all",
    "evaluate_shared",
    "parse_version",
    "shared_evaluation",
]

LEVELS = ("privileged", "baseline", "restricted")
LATEST = "v1.37"
_LATEST_MINOR = 37

# check ID -> (level, minimum policy versions of its implementations)
CHECKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "allowPrivilegeEscalation": ("restricted", ("v1.8", "v1.25")),
    "appArmorProfile": ("baseline", ("v1.0",)),
    "capabilities_baseline": ("baseline", ("v1.0",)),
    "capabilities_restricted": ("restricted", ("v1.22", "v1.25")),
    "hostNamespaces": ("baseline", ("v1.0",)),
    "hostPathVolumes": ("baseline", ("v1.0",)),
    "hostPorts": ("baseline", ("v1.0",)),
    "hostProbesAndHostLifecycle": ("baseline", ("v1.34",)),
    "privileged": ("baseline", ("v1.0",)),
    "procMount": ("baseline", ("v1.0", "v1.35")),
    "procMount_restricted": ("restricted", ("v1.35",)),
    "restrictedVolumes": ("restricted", ("v1.0",)),
    "runAsNonRoot": ("restricted", ("v1.0", "v1.35")),
    "runAsUser": ("restricted", ("v1.23", "v1.35")),
    "seLinuxOptions": ("baseline", ("v1.0", "v1.31")),
    "seccompProfile_baseline": ("baseline", ("v1.0", "v1.19")),
    "seccompProfile_restricted": ("restricted", ("v1.19", "v1.25")),
    "sysctls": ("baseline", ("v1.0", "v1.27", "v1.29", "v1.32", "v1.37")),
    "windowsHostProcess": ("baseline", ("v1.0",)),
}

_VERSION_RE = re.compile(r"v1\.(0|[1-9][0-9]*)")
_DIGITS_RE = re.compile(r"(\d+)")

_UNSET = "<unset>"
_CONTAINER_KINDS = ("initContainers", "containers", "ephemeralContainers")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_HANDLERS = ("postStart", "preStop")
_HANDLER_KEYS = frozenset(_PROBES + ("lifecycle",))
_HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
_EMPTY: Mapping[str, Any] = {}

_CAPS_BASELINE = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}
_SYSCTLS_1_0 = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    }
)
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
_SYSCTLS_1_37 = _SYSCTLS_1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}

_SECCOMP_OK = ("RuntimeDefault", "Localhost")
_APPARMOR_OK = ("RuntimeDefault", "Localhost")
_APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_SECCOMP_ANNOTATION_POD = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"

# volume sources allowed by restrictedVolumes (image: patched into the v1.0 check upstream)
_ALLOWED_VOLUME_SOURCES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
# every other volume source of the core/v1 Volume type
_OTHER_VOLUME_SOURCES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "portworxVolume",
    "photonPersistentDisk",
    "scaleIO",
    "storageos",
)


class PSSInputError(ValueError):
    """The pod could not be decoded by the Kubernetes API (a field has the wrong type)."""


@dataclass(frozen=True, slots=True)
class PSSViolation:
    """One offending field, as found by one upstream check."""

    control: str  # upstream check ID, e.g. "privileged"
    level: str  # "baseline" or "restricted"
    field: str  # e.g. "spec.containers[0].securityContext.privileged"
    value: str  # offending value as text: "true", "<unset>", '["NET_RAW"]'
    message: str  # upstream forbidden reason + detail


def parse_version(v: str) -> tuple[int, int]:
    """Parse a policy version: ``"latest"`` or ``"v1.<minor>"`` (no leading zeros)."""
    if v == "latest":
        return (1, _LATEST_MINOR)
    m = _VERSION_RE.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        raise ValueError(f"invalid PSS policy version {v!r}: expected 'latest' or 'v1.<minor>'")
    return (1, int(m.group(1)))


# --------------------------------------------------------------------------- decoding helpers


def _type_name(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, (list, tuple)):
        return "array"
    return type(v).__name__


def _error(path: str, expected: str, v: object) -> PSSInputError:
    shown = repr(v)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return PSSInputError(f"{path}: expected {expected}, got {_type_name(v)} ({shown})")


def _obj(d: Mapping[str, Any], key: str, prefix: str) -> Mapping[str, Any] | None:
    v = d.get(key)
    if v is None or isinstance(v, dict):
        return v
    raise _error(f"{prefix}.{key}", "object", v)


def _list(d: Mapping[str, Any], key: str, prefix: str) -> list[Any]:
    v = d.get(key)
    if v is None:
        return []
    if isinstance(v, list):
        return v
    raise _error(f"{prefix}.{key}", "array", v)


def _bool(d: Mapping[str, Any], key: str, prefix: str) -> bool | None:
    v = d.get(key)
    if v is None or v is True or v is False:
        return v
    raise _error(f"{prefix}.{key}", "boolean", v)


def _str(d: Mapping[str, Any], key: str, prefix: str) -> str | None:
    v = d.get(key)
    if v is None or isinstance(v, str):
        return v
    raise _error(f"{prefix}.{key}", "string", v)


def _int(d: Mapping[str, Any], key: str, prefix: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise _error(f"{prefix}.{key}", "integer", v)


def _item_obj(v: object, path: str) -> Mapping[str, Any]:
    """An element of an array of objects (``null`` decodes to an empty object)."""
    if v is None:
        return _EMPTY
    if isinstance(v, dict):
        return v
    raise _error(path, "object", v)


def _str_items(d: Mapping[str, Any], key: str, prefix: str) -> list[str]:
    """An array of strings (``null`` elements decode to ``""``)."""
    items = _list(d, key, prefix)
    out = []
    for i, v in enumerate(items):
        if isinstance(v, str):
            out.append(v)
        elif v is None:
            out.append("")
        else:
            raise _error(f"{prefix}.{key}[{i}]", "string", v)
    return out


def _annotations(meta: Mapping[str, Any]) -> Mapping[str, str | None]:
    ann = _obj(meta, "annotations", "metadata")
    if not ann:
        return _EMPTY
    for k, v in ann.items():
        if not isinstance(k, str):
            raise _error("metadata.annotations", "string keys", k)
        if v is not None and not isinstance(v, str):
            raise _error(f"metadata.annotations[{k}]", "string", v)
    return ann


# --------------------------------------------------------------------------- rendering helpers


def _q(s: str | None) -> str:
    return json.dumps(s, ensure_ascii=False)


def _qlist(items: list[str]) -> str:
    return ", ".join(_q(s) for s in items)


def _render(v: object) -> str:
    if v is None:
        return _UNSET
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v or '""'
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def _dedup(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _field_key(field: str) -> tuple[str | int, ...]:
    parts = _DIGITS_RE.split(field)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _sort_key(v: PSSViolation) -> tuple[str, tuple[str | int, ...], str]:
    return (v.control, _field_key(v.field), v.value)


# --------------------------------------------------------------------------- the decoded pod


@dataclass(slots=True)
class _SELinux:
    """seLinuxOptions of the pod or of a container (``level`` is decoded, never restricted)."""

    path: str  # e.g. "spec.securityContext.seLinuxOptions"
    who: str  # "pod" or 'container "app"', for messages
    type: str | None
    user: str | None
    role: str | None


@dataclass(slots=True)
class _Volume:
    path: str  # "spec.volumes[0]"
    name: str
    allowed: bool  # has a source restrictedVolumes allows
    restricted_src: str | None  # the first other source it has
    host_path: bool  # has a hostPath source
    host_path_path: str | None  # hostPath.path (decoded only when it is valid; see _Decoder)


@dataclass(slots=True)
class _Container:
    sp: str  # "spec.containers[0].securityContext"
    name: str
    privileged: bool | None
    host_process: bool | None
    caps: bool  # securityContext.capabilities is set
    drop_given: bool  # ... and non-empty with a non-null drop
    cap_add: list[str]
    cap_drop: list[str]
    proc_mount: str | None
    apparmor: bool  # securityContext.appArmorProfile is set
    apparmor_type: str | None
    selinux: _SELinux | None
    seccomp: bool  # securityContext.seccompProfile is set
    seccomp_type: str | None
    ape: bool | None
    non_root: bool | None
    run_as_user: int | None
    host_ports: list[tuple[str, int]]  # (field, port) of every non-zero hostPort
    hosts: list[tuple[str, str]]  # (field, host) of every probe or lifecycle handler host

    @property
    def qn(self) -> str:
        """The name quoted, for messages."""
        return _q(self.name)


@dataclass(slots=True)
class _Pod:
    annotations: Mapping[str, str | None]
    host_process: bool | None
    host_ns: list[tuple[str, bool | None]]
    apparmor: bool
    apparmor_type: str | None
    selinux: _SELinux | None
    seccomp: bool
    seccomp_type: str | None
    non_root: bool | None
    user: int | None
    sysctls: list[tuple[str, str]]  # (field path of the item, name)
    volumes: list[_Volume]
    containers: list[_Container]
    windows: bool  # spec.os.name: windows
    userns: bool  # spec.hostUsers: false

    @property
    def seccomp_valid(self) -> bool:
        return self.seccomp and self.seccomp_type in _SECCOMP_OK


@dataclass(slots=True)
class _Decoded:
    """A decoded pod, or the input error that stopped decoding.

    `host_path_error` is the first wrong-typed ``hostPath.path``: that field is read only by
    ``hostPathVolumes``, so only levels running that control report it (first, as it comes
    before anything that stopped decoding); every level reports `error`."""

    pod: _Pod | None
    error: PSSInputError | None
    host_path_error: PSSInputError | None


def _selinux(opts: Mapping[str, Any], prefix: str, who: str) -> _SELinux:
    sp = prefix + ".seLinuxOptions"
    se_type = _str(opts, "type", sp)
    se_user = _str(opts, "user", sp)
    se_role = _str(opts, "role", sp)
    _str(opts, "level", sp)  # decoded, never restricted
    return _SELinux(sp, who, se_type, se_user, se_role)


def _probe_hosts(c: Mapping[str, Any], cp: str) -> list[tuple[str, str]]:
    """(field, host) for every non-empty host of a probe or lifecycle handler of a container."""
    found: list[tuple[str, str]] = []
    handlers: list[tuple[Mapping[str, Any] | None, str]] = []
    for probe in _PROBES:
        handlers.append((_obj(c, probe, cp), f"{cp}.{probe}"))
    lifecycle = _obj(c, "lifecycle", cp)
    if lifecycle is not None:
        lp = cp + ".lifecycle"
        for hook in _HANDLERS:
            handlers.append((_obj(lifecycle, hook, lp), f"{lp}.{hook}"))
    for handler, hp in handlers:
        if handler is None:
            continue
        for action in ("httpGet", "tcpSocket"):
            a = _obj(handler, action, hp)
            if a is not None:
                host = _str(a, "host", f"{hp}.{action}")
                if host:
                    found.append((f"{hp}.{action}.host", host))
    return found


class _Decoder:
    """Reads every field any control reads, in one fixed order, so that a pod with several bad
    fields reports the same one at every level and version."""

    def __init__(self) -> None:
        self.host_path_error: PSSInputError | None = None

    def decode(self, pod_metadata: object, pod_spec: object) -> _Decoded:
        try:
            pod = self._pod(pod_metadata, pod_spec)
        except PSSInputError as exc:
            return _Decoded(None, exc, self.host_path_error)
        return _Decoded(pod, None, self.host_path_error)

    def _pod(self, pod_metadata: object, pod_spec: object) -> _Pod:
        if pod_spec is None:
            spec: Mapping[str, Any] = _EMPTY
        elif isinstance(pod_spec, dict):
            spec = pod_spec
        else:
            raise _error("spec", "object", pod_spec)
        if pod_metadata is None:
            meta: Mapping[str, Any] = _EMPTY
        elif isinstance(pod_metadata, dict):
            meta = pod_metadata
        else:
            raise _error("metadata", "object", pod_metadata)

        annotations = _annotations(meta)
        psc = _obj(spec, "securityContext", "spec") or _EMPTY
        p = "spec.securityContext"
        pod_win = _obj(psc, "windowsOptions", p) or _EMPTY
        host_process = _bool(pod_win, "hostProcess", p + ".windowsOptions")
        apparmor = _obj(psc, "appArmorProfile", p)
        apparmor_type = _str(apparmor, "type", p + ".appArmorProfile") if apparmor is not None else None
        selinux = _obj(psc, "seLinuxOptions", p)
        seccomp = _obj(psc, "seccompProfile", p)
        seccomp_type = _str(seccomp, "type", p + ".seccompProfile") if seccomp is not None else None
        non_root = _bool(psc, "runAsNonRoot", p)
        user = _int(psc, "runAsUser", p)
        sysctl_items = _list(psc, "sysctls", p)
        host_ns = [(k, _bool(spec, k, "spec")) for k in _HOST_NAMESPACES]
        host_users = _bool(spec, "hostUsers", "spec")
        pod_os = _obj(spec, "os", "spec")
        os_name = _str(pod_os, "name", "spec.os") if pod_os is not None else None
        volume_items = _list(spec, "volumes", "spec")

        pod_selinux = _selinux(selinux, p, "pod") if selinux is not None else None
        sysctls = []
        for i, item in enumerate(sysctl_items):
            sp = f"{p}.sysctls[{i}]"
            sysctls.append((sp, _str(_item_obj(item, sp), "name", sp) or ""))
        volumes = [self._volume(item, f"spec.volumes[{i}]") for i, item in enumerate(volume_items)]
        containers = [
            self._container(item, f"spec.{kind}[{i}]")
            for kind in _CONTAINER_KINDS
            for i, item in enumerate(_list(spec, kind, "spec"))
        ]
        return _Pod(
            annotations,
            host_process,
            host_ns,
            apparmor is not None,
            apparmor_type,
            pod_selinux,
            seccomp is not None,
            seccomp_type,
            non_root,
            user,
            sysctls,
            volumes,
            containers,
            os_name == "windows",
            host_users is False,
        )

    def _volume(self, item: object, vp: str) -> _Volume:
        vol = _item_obj(item, vp)
        name = _str(vol, "name", vp) or ""
        allowed = False
        for src in _ALLOWED_VOLUME_SOURCES:
            if _obj(vol, src, vp) is not None:
                allowed = True
        restricted_src = None
        for src in _OTHER_VOLUME_SOURCES:
            if _obj(vol, src, vp) is not None and restricted_src is None:
                restricted_src = src
        host_path = _obj(vol, "hostPath", vp)
        host_path_path = None
        if host_path is not None:
            try:
                host_path_path = _str(host_path, "path", vp + ".hostPath")
            except PSSInputError as exc:
                if self.host_path_error is None:
                    self.host_path_error = exc
        return _Volume(vp, name, allowed, restricted_src, host_path is not None, host_path_path)

    def _container(self, item: object, cp: str) -> _Container:
        c = _item_obj(item, cp)
        name = _str(c, "name", cp) or ""
        sp = cp + ".securityContext"
        csc = _obj(c, "securityContext", cp) or _EMPTY
        privileged = _bool(csc, "privileged", sp)
        cwin = _obj(csc, "windowsOptions", sp)
        host_process = _bool(cwin, "hostProcess", sp + ".windowsOptions") if cwin else None
        caps = _obj(csc, "capabilities", sp)
        if caps is not None:
            cap_add = _str_items(caps, "add", sp + ".capabilities")
            cap_drop = _str_items(caps, "drop", sp + ".capabilities")
        else:
            cap_add = cap_drop = []
        proc_mount = _str(csc, "procMount", sp)
        apparmor = _obj(csc, "appArmorProfile", sp)
        apparmor_type = _str(apparmor, "type", sp + ".appArmorProfile") if apparmor is not None else None
        selinux = _obj(csc, "seLinuxOptions", sp)
        seccomp = _obj(csc, "seccompProfile", sp)
        seccomp_type = _str(seccomp, "type", sp + ".seccompProfile") if seccomp is not None else None
        ape = _bool(csc, "allowPrivilegeEscalation", sp)
        non_root = _bool(csc, "runAsNonRoot", sp)
        run_as_user = _int(csc, "runAsUser", sp)
        ports = _list(c, "ports", cp)
        hosts = _probe_hosts(c, cp) if _HANDLER_KEYS.intersection(c) else []
        host_ports = []
        for j, port_item in enumerate(ports):
            pp = f"{cp}.ports[{j}]"
            host_port = _int(_item_obj(port_item, pp), "hostPort", pp)
            if host_port:
                host_ports.append((pp, host_port))
        cselinux = _selinux(selinux, sp, f"container {_q(name)}") if selinux is not None else None
        return _Container(
            sp,
            name,
            privileged,
            host_process,
            caps is not None,
            bool(caps) and caps is not None and caps.get("drop") is not None,
            cap_add,
            cap_drop,
            proc_mount,
            apparmor is not None,
            apparmor_type,
            cselinux,
            seccomp is not None,
            seccomp_type,
            ape,
            non_root,
            run_as_user,
            host_ports,
            hosts,
        )


def _decode(pod_metadata: object, pod_spec: object) -> _Decoded:
    return _Decoder().decode(pod_metadata, pod_spec)


# --------------------------------------------------------------------------- the controls
# One function per upstream check (policy/check_*.go), in the order of ../shared/catalog/pss.md.
# Each takes the decoded pod and the policy minor version and returns its violations, pod-level
# fields first, then containers in order; exemptions that belong to a check version (Windows
# pods, user namespaces) are decided inside the check.

Violations = list[PSSViolation]


def _windows_host_process(pod: _Pod, minor: int) -> Violations:
    """B1 HostProcess: windowsOptions.hostProcess must not be true."""
    out = []
    if pod.host_process is True:
        out.append(
            PSSViolation(
                "windowsHostProcess",
                "baseline",
                "spec.securityContext.windowsOptions.hostProcess",
                "true",
                "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)",
            )
        )
    for c in pod.containers:
        if c.host_process is True:
            out.append(
                PSSViolation(
                    "windowsHostProcess",
                    "baseline",
                    c.sp + ".windowsOptions.hostProcess",
                    "true",
                    f"hostProcess (container {c.qn} must not set securityContext.windowsOptions.hostProcess=true)",
                )
            )
    return out


def _host_namespaces(pod: _Pod, minor: int) -> Violations:
    """B2 Host Namespaces: hostNetwork, hostPID, hostIPC must not be true."""
    return [
        PSSViolation("hostNamespaces", "baseline", "spec." + key, "true", f"host namespaces ({key}=true)")
        for key, val in pod.host_ns
        if val is True
    ]


def _privileged(pod: _Pod, minor: int) -> Violations:
    """B3 Privileged Containers."""
    return [
        PSSViolation(
            "privileged",
            "baseline",
            c.sp + ".privileged",
            "true",
            f"privileged (container {c.qn} must not set securityContext.privileged=true)",
        )
        for c in pod.containers
        if c.privileged is True
    ]


def _capabilities_baseline(pod: _Pod, minor: int) -> Violations:
    """B4 Capabilities: add only names of the baseline default set."""
    out = []
    for c in pod.containers:
        bad = _dedup([x for x in c.cap_add if x not in _CAPS_BASELINE])
        if bad:
            out.append(
                PSSViolation(
                    "capabilities_baseline",
                    "baseline",
                    c.sp + ".capabilities.add",
                    json.dumps(bad),
                    f"non-default capabilities (container {c.qn} must not include {_qlist(bad)} "
                    "in securityContext.capabilities.add)",
                )
            )
    return out


def _host_path_volumes(pod: _Pod, minor: int) -> Violations:
    """B5 HostPath Volumes."""
    return [
        PSSViolation(
            "hostPathVolumes",
            "baseline",
            v.path + ".hostPath",
            _render(v.host_path_path),
            f"hostPath volumes (volume {_q(v.name)})",
        )
        for v in pod.volumes
        if v.host_path
    ]


def _host_ports(pod: _Pod, minor: int) -> Violations:
    """B6 Host Ports: hostPort undefined or 0."""
    return [
        PSSViolation(
            "hostPorts", "baseline", pp + ".hostPort", str(port), f"hostPort (container {c.qn} uses hostPort {port})"
        )
        for c in pod.containers
        for pp, port in c.host_ports
    ]


def _host_probes(pod: _Pod, minor: int) -> Violations:
    """B7 Host Probes / Lifecycle Hooks (v1.34): no host in httpGet/tcpSocket handlers."""
    return [
        PSSViolation(
            "hostProbesAndHostLifecycle",
            "baseline",
            field,
            host,
            f"probe or lifecycle host (container {c.qn} uses probe or lifecycle host {_q(host)})",
        )
        for c in pod.containers
        for field, host in c.hosts
    ]


def _apparmor(pod: _Pod, minor: int) -> Violations:
    """B8 AppArmor: the appArmorProfile.type fields and the beta annotations."""
    out = []
    if pod.apparmor and pod.apparmor_type not in _APPARMOR_OK:
        out.append(
            PSSViolation(
                "appArmorProfile",
                "baseline",
                "spec.securityContext.appArmorProfile.type",
                _render(pod.apparmor_type),
                "forbidden AppArmor profile (pod must not set securityContext.appArmorProfile.type="
                f"{_q(pod.apparmor_type or '')})",
            )
        )
    for key in sorted(pod.annotations):
        if key.startswith(_APPARMOR_ANNOTATION_PREFIX):
            val = pod.annotations[key] or ""
            if val and val != "runtime/default" and not val.startswith("localhost/"):
                out.append(
                    PSSViolation(
                        "appArmorProfile",
                        "baseline",
                        f"metadata.annotations[{key}]",
                        _render(val),
                        f"forbidden AppArmor profile ({key}={_q(val)})",
                    )
                )
    for c in pod.containers:
        if c.apparmor and c.apparmor_type not in _APPARMOR_OK:
            out.append(
                PSSViolation(
                    "appArmorProfile",
                    "baseline",
                    c.sp + ".appArmorProfile.type",
                    _render(c.apparmor_type),
                    f"forbidden AppArmor profile (container {c.qn} must not set "
                    f"securityContext.appArmorProfile.type={_q(c.apparmor_type or '')})",
                )
            )
    return out


def _selinux_options(pod: _Pod, minor: int) -> Violations:
    """B9 SELinux: type from the allowed set (container_engine_t from v1.31), user and role empty."""
    allowed = _SELINUX_TYPES_1_31 if minor >= 31 else _SELINUX_TYPES_1_0
    out = []
    for se in [pod.selinux] + [c.selinux for c in pod.containers]:
        if se is None:
            continue
        if (se.type or "") not in allowed:
            out.append(
                PSSViolation(
                    "seLinuxOptions",
                    "baseline",
                    se.path + ".type",
                    _render(se.type),
                    f"seLinuxOptions ({se.who} set forbidden securityContext.seLinuxOptions: type {_q(se.type)})",
                )
            )
        if se.user:
            out.append(
                PSSViolation(
                    "seLinuxOptions",
                    "baseline",
                    se.path + ".user",
                    _render(se.user),
                    f"seLinuxOptions ({se.who} set forbidden securityContext.seLinuxOptions: user may not be set)",
                )
            )
        if se.role:
            out.append(
                PSSViolation(
                    "seLinuxOptions",
                    "baseline",
                    se.path + ".role",
                    _render(se.role),
                    f"seLinuxOptions ({se.who} set forbidden securityContext.seLinuxOptions: role may not be set)",
                )
            )
    return out


def _proc_mount_violations(pod: _Pod, control: str, level: str) -> Violations:
    return [
        PSSViolation(
            control,
            level,
            c.sp + ".procMount",
            _render(c.proc_mount),
            f"procMount (container {c.qn} must not set securityContext.procMount to {_q(c.proc_mount)})",
        )
        for c in pod.containers
        if c.proc_mount is not None and c.proc_mount != "Default"
    ]


def _proc_mount(pod: _Pod, minor: int) -> Violations:
    """B10 /proc Mount Type: Default only; from v1.35 any value in a user namespace."""
    if minor >= 35 and pod.userns:
        return []
    return _proc_mount_violations(pod, "procMount", "baseline")


def _seccomp_annotation(key: str, annotations: Mapping[str, str | None]) -> Violations:
    """v1.0-v1.18 baseline seccomp: a present annotation must name an allowed profile."""
    val = annotations[key] or ""
    if val in ("runtime/default", "docker/default") or val.startswith("localhost/"):
        return []
    return [
        PSSViolation(
            "seccompProfile_baseline",
            "baseline",
            f"metadata.annotations[{key}]",
            _render(val),
            f"seccompProfile (forbidden annotation {key}={_q(val)})",
        )
    ]


def _seccomp_baseline(pod: _Pod, minor: int) -> Violations:
    """B11 Seccomp: before v1.19 the alpha annotations, from v1.19 the seccompProfile.type fields
    (not Unconfined)."""
    out: Violations = []
    if minor < 19:
        if _SECCOMP_ANNOTATION_POD in pod.annotations:
            out += _seccomp_annotation(_SECCOMP_ANNOTATION_POD, pod.annotations)
        seen: set[str] = set()
        for c in pod.containers:
            key = _SECCOMP_ANNOTATION_PREFIX + c.name
            if key in pod.annotations and key not in seen:
                seen.add(key)  # containers sharing a name: report once
                out += _seccomp_annotation(key, pod.annotations)
        return out
    if pod.seccomp and pod.seccomp_type not in _SECCOMP_OK:
        out.append(
            PSSViolation(
                "seccompProfile_baseline",
                "baseline",
                "spec.securityContext.seccompProfile.type",
                _render(pod.seccomp_type),
                "seccompProfile (pod must not set securityContext.seccompProfile.type to "
                f"{_q(pod.seccomp_type or '')})",
            )
        )
    for c in pod.containers:
        if c.seccomp and c.seccomp_type not in _SECCOMP_OK:
            out.append(
                PSSViolation(
                    "seccompProfile_baseline",
                    "baseline",
                    c.sp + ".seccompProfile.type",
                    _render(c.seccomp_type),
                    f"seccompProfile (container {c.qn} must not set "
                    f"securityContext.seccompProfile.type to {_q(c.seccomp_type or '')})",
                )
            )
    return out


def _sysctls(pod: _Pod, minor: int) -> Violations:
    """B12 Sysctls: names from the versioned safe set."""
    if minor >= 37:
        allowed = _SYSCTLS_1_37
    elif minor >= 32:
        allowed = _SYSCTLS_1_32
    elif minor >= 29:
        allowed = _SYSCTLS_1_29
    elif minor >= 27:
        allowed = _SYSCTLS_1_27
    else:
        allowed = _SYSCTLS_1_0
    return [
        PSSViolation("sysctls", "baseline", sp + ".name", _render(name), f"forbidden sysctls ({name})")
        for sp, name in pod.sysctls
        if name not in allowed
    ]


def _restricted_volumes(pod: _Pod, minor: int) -> Violations:
    """R1 Volume Types: only the allowed sources (a volume with no known source is defaulted to
    emptyDir by the API server before admission, so it is allowed)."""
    return [
        PSSViolation(
            "restrictedVolumes",
            "restricted",
            f"{v.path}.{v.restricted_src}",
            v.restricted_src,
            f"restricted volume types (volume {_q(v.name)} uses restricted volume type {_q(v.restricted_src)})",
        )
        for v in pod.volumes
        if not v.allowed and v.restricted_src is not None
    ]


def _allow_privilege_escalation(pod: _Pod, minor: int) -> Violations:
    """R2 Privilege Escalation: false on every container; Windows pods exempt from v1.25."""
    if minor >= 25 and pod.windows:
        return []
    return [
        PSSViolation(
            "allowPrivilegeEscalation",
            "restricted",
            c.sp + ".allowPrivilegeEscalation",
            _render(c.ape),
            f"allowPrivilegeEscalation != false (container {c.qn} must set "
            "securityContext.allowPrivilegeEscalation=false)",
        )
        for c in pod.containers
        if c.ape is not False
    ]


def _run_as_non_root(pod: _Pod, minor: int) -> Violations:
    """R3 Running as Non-root: true at pod level or on every container, false nowhere; from v1.35
    any value in a user namespace."""
    if minor >= 35 and pod.userns:
        return []
    out = []
    if pod.non_root is False:
        out.append(
            PSSViolation(
                "runAsNonRoot",
                "restricted",
                "spec.securityContext.runAsNonRoot",
                "false",
                "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)",
            )
        )
    for c in pod.containers:
        if c.non_root is False:
            out.append(
                PSSViolation(
                    "runAsNonRoot",
                    "restricted",
                    c.sp + ".runAsNonRoot",
                    "false",
                    f"runAsNonRoot != true (container {c.qn} must not set securityContext.runAsNonRoot=false)",
                )
            )
        elif c.non_root is None and pod.non_root is not True:
            out.append(
                PSSViolation(
                    "runAsNonRoot",
                    "restricted",
                    c.sp + ".runAsNonRoot",
                    _UNSET,
                    f"runAsNonRoot != true (pod or container {c.qn} must set securityContext.runAsNonRoot=true)",
                )
            )
    return out


def _run_as_user(pod: _Pod, minor: int) -> Violations:
    """R4 Running as Non-root user (v1.23): runAsUser never 0; from v1.35 any value in a user namespace."""
    if minor >= 35 and pod.userns:
        return []
    out = []
    if pod.user == 0:
        out.append(
            PSSViolation(
                "runAsUser",
                "restricted",
                "spec.securityContext.runAsUser",
                "0",
                "runAsUser=0 (pod must not set runAsUser=0)",
            )
        )
    for c in pod.containers:
        if c.run_as_user == 0:
            out.append(
                PSSViolation(
                    "runAsUser",
                    "restricted",
                    c.sp + ".runAsUser",
                    "0",
                    f"runAsUser=0 (container {c.qn} must not set runAsUser=0)",
                )
            )
    return out


def _seccomp_restricted(pod: _Pod, minor: int) -> Violations:
    """R5 Seccomp (v1.19): RuntimeDefault or Localhost at pod level or on every container;
    Windows pods exempt from v1.25."""
    if minor >= 25 and pod.windows:
        return []
    out = []
    if pod.seccomp and not pod.seccomp_valid:
        out.append(
            PSSViolation(
                "seccompProfile_restricted",
                "restricted",
                "spec.securityContext.seccompProfile.type",
                _render(pod.seccomp_type),
                "seccompProfile (pod must not set securityContext.seccompProfile.type to "
                f"{_q(pod.seccomp_type or '')})",
            )
        )
    for c in pod.containers:
        if c.seccomp:
            if c.seccomp_type not in _SECCOMP_OK:
                out.append(
                    PSSViolation(
                        "seccompProfile_restricted",
                        "restricted",
                        c.sp + ".seccompProfile.type",
                        _render(c.seccomp_type),
                        f"seccompProfile (container {c.qn} must not set "
                        f"securityContext.seccompProfile.type to {_q(c.seccomp_type or '')})",
                    )
                )
        elif not pod.seccomp_valid:
            out.append(
                PSSViolation(
                    "seccompProfile_restricted",
                    "restricted",
                    c.sp + ".seccompProfile.type",
                    _UNSET,
                    f"seccompProfile (pod or container {c.qn} must set "
                    'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
                )
            )
    return out


def _capabilities_restricted(pod: _Pod, minor: int) -> Violations:
    """R6 Capabilities (v1.22): drop ALL, add at most NET_BIND_SERVICE; Windows pods exempt from v1.25."""
    if minor >= 25 and pod.windows:
        return []
    out = []
    for c in pod.containers:
        if "ALL" not in c.cap_drop:
            out.append(
                PSSViolation(
                    "capabilities_restricted",
                    "restricted",
                    c.sp + ".capabilities.drop",
                    json.dumps(c.cap_drop) if c.drop_given else _UNSET,
                    f'unrestricted capabilities (container {c.qn} must set securityContext.capabilities.drop=["ALL"])',
                )
            )
        bad = _dedup([x for x in c.cap_add if x != "NET_BIND_SERVICE"])
        if bad:
            out.append(
                PSSViolation(
                    "capabilities_restricted",
                    "restricted",
                    c.sp + ".capabilities.add",
                    json.dumps(bad),
                    f"unrestricted capabilities (container {c.qn} must not include {_qlist(bad)} "
                    "in securityContext.capabilities.add)",
                )
            )
    return out


def _proc_mount_restricted(pod: _Pod, minor: int) -> Violations:
    """R7 /proc Mount Type, restricted (v1.35): Default only, user namespace or not."""
    return _proc_mount_violations(pod, "procMount_restricted", "restricted")


@dataclass(frozen=True, slots=True)
class Control:
    """One upstream check: its ID, level, first policy minor version, the minor version from which
    the restricted level replaces it with a restricted check (baseline checks only), and the
    function deciding it."""

    name: str
    level: str
    since: int
    overridden_from: int | None
    check: Callable[[_Pod, int], Violations]


def _minor(v: str) -> int:
    return parse_version(v)[1]


def _control(name: str, check: Callable[[_Pod, int], Violations], overridden_from: str | None = None) -> Control:
    level, versions = CHECKS[name]
    return Control(name, level, _minor(versions[0]), _minor(overridden_from) if overridden_from else None, check)


CONTROLS: tuple[Control, ...] = (
    _control("windowsHostProcess", _windows_host_process),
    _control("hostNamespaces", _host_namespaces),
    _control("privileged", _privileged),
    _control("capabilities_baseline", _capabilities_baseline, overridden_from="v1.22"),  # by capabilities_restricted
    _control("hostPathVolumes", _host_path_volumes, overridden_from="v1.0"),  # by restrictedVolumes
    _control("hostPorts", _host_ports),
    _control("hostProbesAndHostLifecycle", _host_probes),
    _control("appArmorProfile", _apparmor),
    _control("seLinuxOptions", _selinux_options),
    _control("procMount", _proc_mount, overridden_from="v1.35"),  # by procMount_restricted
    _control("seccompProfile_baseline", _seccomp_baseline, overridden_from="v1.19"),  # by seccompProfile_restricted
    _control("sysctls", _sysctls),
    _control("restrictedVolumes", _restricted_volumes),
    _control("allowPrivilegeEscalation", _allow_privilege_escalation),
    _control("runAsNonRoot", _run_as_non_root),
    _control("runAsUser", _run_as_user),
    _control("seccompProfile_restricted", _seccomp_restricted),
    _control("capabilities_restricted", _capabilities_restricted),
    _control("procMount_restricted", _proc_mount_restricted),
)
if {c.name for c in CONTROLS} != set(CHECKS):  # pragma: no cover - a table edited by hand
    raise RuntimeError("every PSS check needs exactly one control function")


@functools.lru_cache(maxsize=64)
def _clamped_minor(version: str) -> int:
    """The minor version a policy version selects (newer than :data:`LATEST` clamps to it)."""
    return min(parse_version(version)[1], _LATEST_MINOR)


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"invalid PSS level {level!r}: expected one of {', '.join(LEVELS)}")


def controls_for(level: str, version: str = "latest") -> tuple[Control, ...]:
    """The controls a level runs at a policy version (none for privileged), as upstream's
    registry selects them: the checks that exist at that version, minus, at restricted, the
    baseline checks a restricted check overrides there."""
    _check_level(level)
    return _controls_for(level, _clamped_minor(version))


@functools.cache
def _controls_for(level: str, minor: int) -> tuple[Control, ...]:
    """The controls of a level at a minor version, ordered by name: each control's violations come
    sorted, so the concatenation is in the documented order (control, then field) unsorted."""
    if level == "privileged":
        return ()
    restricted = level == "restricted"
    return tuple(
        sorted(
            (
                c
                for c in CONTROLS
                if c.since <= minor
                and (restricted or c.level == "baseline")
                and not (restricted and c.overridden_from is not None and minor >= c.overridden_from)
            ),
            key=lambda c: c.name,
        )
    )


def _raise_for(decoded: _Decoded, controls: Sequence[Control]) -> _Pod:
    """The decoded pod, or the input error this selection of controls reports first."""
    if decoded.host_path_error is not None and any(c.name == "hostPathVolumes" for c in controls):
        raise decoded.host_path_error
    if decoded.pod is None:
        raise decoded.error or PSSInputError("the pod could not be decoded")
    return decoded.pod


def _run(control: Control, pod: _Pod, minor: int) -> Violations:
    """A control's violations ordered by field (natural order of indexes), then value."""
    found = control.check(pod, minor)
    if len(found) > 1:
        found.sort(key=_sort_key)
    return found


# --------------------------------------------------------------------------- evaluation


def evaluate(
    pod_metadata: Mapping[str, Any] | None,
    pod_spec: Mapping[str, Any] | None,
    level: str,
    version: str = "latest",
) -> list[PSSViolation]:
    """Evaluate a pod (or pod template) against a PSS level at a policy version.

    Returns the violations ordered by control, then field (natural order of indexes);
    an empty list means upstream would admit the pod. Raises :class:`ValueError` for an
    unknown level or version and :class:`PSSInputError` (a ValueError) for a pod whose
    field types the Kubernetes API could not decode. ``privileged`` always returns ``[]``.
    Runs only the level's controls; :func:`evaluate_all` answers every level at once.
    """
    _check_level(level)
    minor = _clamped_minor(version)
    if level == "privileged":
        return []
    controls = _controls_for(level, minor)
    pod = _raise_for(_decode(pod_metadata, pod_spec), controls)
    return [v for c in controls for v in _run(c, pod, minor)]


class PodEvaluation:
    """Every control that exists at one policy version, evaluated once for one pod.

    :meth:`violations` answers each level from these results exactly as :func:`evaluate`
    would (same violations in the same order, same input error)."""

    __slots__ = ("_by_control", "_by_level", "_decoded", "minor")

    def __init__(
        self, pod_metadata: Mapping[str, Any] | None, pod_spec: Mapping[str, Any] | None, version: str = "latest"
    ) -> None:
        self.minor = _clamped_minor(version)
        self._decoded = _decode(pod_metadata, pod_spec)
        self._by_control: dict[str, Violations] = {}
        self._by_level: dict[str, tuple[PSSViolation, ...]] = {}
        pod = self._decoded.pod
        if pod is not None:
            for c in CONTROLS:
                if c.since <= self.minor:
                    self._by_control[c.name] = _run(c, pod, self.minor)

    def violations(self, level: str) -> list[PSSViolation]:
        """What :func:`evaluate` returns (or raises) for this pod, version and `level`."""
        _check_level(level)
        if level == "privileged":
            return []
        found = self._by_level.get(level)
        if found is None:
            controls = _controls_for(level, self.minor)
            _raise_for(self._decoded, controls)
            found = self._by_level[level] = tuple(v for c in controls for v in self._by_control[c.name])
        return list(found)  # a new list each time: callers may change theirs


def evaluate_all(
    pod_metadata: Mapping[str, Any] | None, pod_spec: Mapping[str, Any] | None, version: str = "latest"
) -> PodEvaluation:
    """Evaluate every control of a policy version once; ask the result for any level."""
    return PodEvaluation(pod_metadata, pod_spec, version)


class _SharedEvaluations:
    """The evaluations of the most recently judged pods, by the identity of their metadata and
    spec objects and the policy minor version. Entries hold their objects, so an identity
    cannot be reused while cached; a scan never modifies the objects it judges."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[int, int, int], tuple[object, object, PodEvaluation]] = OrderedDict()

    def get(
        self, pod_metadata: Mapping[str, Any] | None, pod_spec: Mapping[str, Any] | None, version: str
    ) -> PodEvaluation:
        minor = _clamped_minor(version)
        key = (id(pod_metadata), id(pod_spec), minor)
        hit = self.entries.get(key)
        if hit is not None and hit[0] is pod_metadata and hit[1] is pod_spec:
            self.entries.move_to_end(key)
            return hit[2]
        ev = PodEvaluation(pod_metadata, pod_spec, version)
        self.entries[key] = (pod_metadata, pod_spec, ev)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return ev


_SHARED = _SharedEvaluations(256)


def evaluate_shared(
    pod_metadata: Mapping[str, Any] | None,
    pod_spec: Mapping[str, Any] | None,
    level: str,
    version: str = "latest",
) -> list[PSSViolation]:
    """:func:`evaluate`, with one :class:`PodEvaluation` per (pod, version) shared by every level.

    For the objects of a scan, which are not modified while they are judged: the baseline and
    restricted checks and the report verdict of one pod pass the same metadata and spec objects
    (not copies) and get them evaluated once. The most recent 256 pods are kept."""
    _check_level(level)
    if level == "privileged":
        parse_version(version)
        return []
    return shared_evaluation(pod_metadata, pod_spec, version).violations(level)


def shared_evaluation(
    pod_metadata: Mapping[str, Any] | None, pod_spec: Mapping[str, Any] | None, version: str = "latest"
) -> PodEvaluation:
    """The :class:`PodEvaluation` of these metadata and spec objects at `version`, computed on the
    first call and kept for the next ones (see :func:`evaluate_shared`)."""
    return _SHARED.get(pod_metadata, pod_spec, version)
