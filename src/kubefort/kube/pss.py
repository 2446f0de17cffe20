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
Each message starts with upstream's forbidden reason (``host namespaces``, ``privileged``, ...)
followed by a detail in parentheses.

Inputs are plain dicts from YAML/JSON. A value whose type the Kubernetes API could not decode
(``securityContext: "x"``, ``privileged: "yes"``, ``hostPort: "80"``...) raises
:class:`PSSInputError` naming the field path, so the caller can record "not evaluated"
instead of a verdict. ``null`` is accepted everywhere and means "unset", as in the API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHECKS",
    "LATEST",
    "LEVELS",
    "PSSInputError",
    "PSSViolation",
    "evaluate",
    "parse_version",
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
_EMPTY: dict[str, Any] = {}

_CAPS_BASELINE = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
_SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}
_SYSCTLS_1_0 = frozenset({
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
})
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
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret",
)
# every other volume source of the core/v1 Volume type
_OTHER_VOLUME_SOURCES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
    "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
    "vsphereVolume", "quobyte", "azureDisk", "portworxVolume", "photonPersistentDisk",
    "scaleIO", "storageos",
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

def _type_name(v: Any) -> str:
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


def _error(path: str, expected: str, v: Any) -> PSSInputError:
    shown = repr(v)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return PSSInputError(f"{path}: expected {expected}, got {_type_name(v)} ({shown})")


def _obj(d: dict, key: str, prefix: str) -> dict | None:
    v = d.get(key)
    if v is None or isinstance(v, dict):
        return v
    raise _error(f"{prefix}.{key}", "object", v)


def _list(d: dict, key: str, prefix: str) -> list:
    v = d.get(key)
    if v is None:
        return []
    if isinstance(v, list):
        return v
    raise _error(f"{prefix}.{key}", "array", v)


def _bool(d: dict, key: str, prefix: str) -> bool | None:
    v = d.get(key)
    if v is None or v is True or v is False:
        return v
    raise _error(f"{prefix}.{key}", "boolean", v)


def _str(d: dict, key: str, prefix: str) -> str | None:
    v = d.get(key)
    if v is None or isinstance(v, str):
        return v
    raise _error(f"{prefix}.{key}", "string", v)


def _int(d: dict, key: str, prefix: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise _error(f"{prefix}.{key}", "integer", v)


def _item_obj(v: Any, path: str) -> dict:
    """An element of an array of objects (``null`` decodes to an empty object)."""
    if v is None:
        return _EMPTY
    if isinstance(v, dict):
        return v
    raise _error(path, "object", v)


def _str_items(d: dict, key: str, prefix: str) -> list[str]:
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


def _annotations(meta: dict) -> dict[str, str]:
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

def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _qlist(items: list[str]) -> str:
    return ", ".join(_q(s) for s in items)


def _render(v: Any) -> str:
    if v is None:
        return _UNSET
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v if v else '""'
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def _dedup(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _field_key(field: str) -> tuple:
    parts = _DIGITS_RE.split(field)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _sort_key(v: PSSViolation) -> tuple:
    return (v.control, _field_key(v.field), v.value)


# --------------------------------------------------------------------------- evaluation

def evaluate(
    pod_metadata: dict | None,
    pod_spec: dict,
    level: str,
    version: str = "latest",
) -> list[PSSViolation]:
    """Evaluate a pod (or pod template) against a PSS level at a policy version.

    Returns the violations ordered by control, then field (natural order of indexes);
    an empty list means upstream would admit the pod. Raises :class:`ValueError` for an
    unknown level or version and :class:`PSSInputError` (a ValueError) for a pod whose
    field types the Kubernetes API could not decode. ``privileged`` always returns ``[]``.
    """
    if level not in LEVELS:
        raise ValueError(f"invalid PSS level {level!r}: expected one of {', '.join(LEVELS)}")
    minor = min(parse_version(version)[1], _LATEST_MINOR)
    if level == "privileged":
        return []
    restricted = level == "restricted"

    if pod_spec is None:
        spec: dict = _EMPTY
    elif isinstance(pod_spec, dict):
        spec = pod_spec
    else:
        raise _error("spec", "object", pod_spec)
    if pod_metadata is None:
        meta: dict = _EMPTY
    elif isinstance(pod_metadata, dict):
        meta = pod_metadata
    else:
        raise _error("metadata", "object", pod_metadata)

    # ---- decode pod-level fields (always, so bad input is reported at every level/version)
    annotations = _annotations(meta)
    psc = _obj(spec, "securityContext", "spec") or _EMPTY
    p = "spec.securityContext"
    pod_win = _obj(psc, "windowsOptions", p) or _EMPTY
    pod_host_process = _bool(pod_win, "hostProcess", p + ".windowsOptions")
    pod_apparmor = _obj(psc, "appArmorProfile", p)
    pod_apparmor_type = _str(pod_apparmor, "type", p + ".appArmorProfile") if pod_apparmor is not None else None
    pod_selinux = _obj(psc, "seLinuxOptions", p)
    pod_seccomp = _obj(psc, "seccompProfile", p)
    pod_seccomp_type = _str(pod_seccomp, "type", p + ".seccompProfile") if pod_seccomp is not None else None
    pod_non_root = _bool(psc, "runAsNonRoot", p)
    pod_user = _int(psc, "runAsUser", p)
    sysctls = _list(psc, "sysctls", p)
    host_ns = [(k, _bool(spec, k, "spec")) for k in _HOST_NAMESPACES]
    host_users = _bool(spec, "hostUsers", "spec")
    pod_os = _obj(spec, "os", "spec")
    os_name = _str(pod_os, "name", "spec.os") if pod_os is not None else None
    volumes = _list(spec, "volumes", "spec")

    windows = os_name == "windows"
    userns = host_users is False

    # ---- which checks run at this level/version (with overrides and exemptions)
    v_cap_baseline = not (restricted and minor >= 22)
    v_host_path = not restricted
    v_probes = minor >= 34
    v_proc_baseline = not (restricted and minor >= 35) and not (minor >= 35 and userns)
    v_seccomp_baseline = not (restricted and minor >= 19)
    v_seccomp_annotations = minor < 19
    v_restricted_volumes = restricted
    v_ape = restricted and minor >= 8 and not (minor >= 25 and windows)
    v_non_root = restricted and not (minor >= 35 and userns)
    v_run_as_user = restricted and minor >= 23 and not (minor >= 35 and userns)
    v_seccomp_restricted = restricted and minor >= 19 and not (minor >= 25 and windows)
    v_cap_restricted = restricted and minor >= 22 and not (minor >= 25 and windows)
    v_proc_restricted = restricted and minor >= 35
    selinux_ok = _SELINUX_TYPES_1_31 if minor >= 31 else _SELINUX_TYPES_1_0
    if minor >= 37:
        sysctls_ok = _SYSCTLS_1_37
    elif minor >= 32:
        sysctls_ok = _SYSCTLS_1_32
    elif minor >= 29:
        sysctls_ok = _SYSCTLS_1_29
    elif minor >= 27:
        sysctls_ok = _SYSCTLS_1_27
    else:
        sysctls_ok = _SYSCTLS_1_0

    out: list[PSSViolation] = []
    add = out.append

    # ---- pod-level checks
    if pod_host_process is True:
        add(PSSViolation(
            "windowsHostProcess", "baseline", p + ".windowsOptions.hostProcess", "true",
            "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)"))

    for key, val in host_ns:
        if val is True:
            add(PSSViolation("hostNamespaces", "baseline", "spec." + key, "true",
                             f"host namespaces ({key}=true)"))

    if pod_apparmor is not None and pod_apparmor_type not in _APPARMOR_OK:
        add(PSSViolation(
            "appArmorProfile", "baseline", p + ".appArmorProfile.type", _render(pod_apparmor_type),
            "forbidden AppArmor profile (pod must not set securityContext.appArmorProfile.type="
            f"{_q(pod_apparmor_type or '')})"))
    for key in sorted(annotations):
        if key.startswith(_APPARMOR_ANNOTATION_PREFIX):
            val = annotations[key] or ""
            if val and val != "runtime/default" and not val.startswith("localhost/"):
                add(PSSViolation(
                    "appArmorProfile", "baseline", f"metadata.annotations[{key}]", _render(val),
                    f"forbidden AppArmor profile ({key}={_q(val)})"))

    if pod_selinux is not None:
        _selinux(pod_selinux, p, "pod", selinux_ok, add)

    if v_seccomp_baseline:
        if v_seccomp_annotations:
            if _SECCOMP_ANNOTATION_POD in annotations:
                _seccomp_annotation(_SECCOMP_ANNOTATION_POD, annotations, add)
        elif pod_seccomp is not None and pod_seccomp_type not in _SECCOMP_OK:
            add(PSSViolation(
                "seccompProfile_baseline", "baseline", p + ".seccompProfile.type",
                _render(pod_seccomp_type),
                "seccompProfile (pod must not set securityContext.seccompProfile.type to "
                f"{_q(pod_seccomp_type or '')})"))

    for i, item in enumerate(sysctls):
        sp = f"{p}.sysctls[{i}]"
        sysctl = _item_obj(item, sp)
        name = _str(sysctl, "name", sp) or ""
        if name not in sysctls_ok:
            add(PSSViolation("sysctls", "baseline", sp + ".name", _render(name),
                             f"forbidden sysctls ({name})"))

    for i, item in enumerate(volumes):
        vp = f"spec.volumes[{i}]"
        vol = _item_obj(item, vp)
        vname = _str(vol, "name", vp) or ""
        allowed = False
        for src in _ALLOWED_VOLUME_SOURCES:
            if _obj(vol, src, vp) is not None:
                allowed = True
        restricted_src = None
        for src in _OTHER_VOLUME_SOURCES:
            if _obj(vol, src, vp) is not None and restricted_src is None:
                restricted_src = src
        host_path = _obj(vol, "hostPath", vp)
        if host_path is not None and v_host_path:
            hp = _str(host_path, "path", vp + ".hostPath")
            add(PSSViolation("hostPathVolumes", "baseline", vp + ".hostPath", _render(hp),
                             f"hostPath volumes (volume {_q(vname)})"))
        # A volume without any known source (unknown keys are dropped when the API decodes
        # it) is defaulted to emptyDir by the API server before admission, so it is allowed.
        if v_restricted_volumes and not allowed and restricted_src is not None:
            add(PSSViolation(
                "restrictedVolumes", "restricted", f"{vp}.{restricted_src}", restricted_src,
                f"restricted volume types (volume {_q(vname)} uses restricted volume type "
                f"{_q(restricted_src)})"))

    if v_non_root and pod_non_root is False:
        add(PSSViolation("runAsNonRoot", "restricted", p + ".runAsNonRoot", "false",
                         "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"))
    if v_run_as_user and pod_user == 0:
        add(PSSViolation("runAsUser", "restricted", p + ".runAsUser", "0",
                         "runAsUser=0 (pod must not set runAsUser=0)"))
    pod_seccomp_valid = pod_seccomp is not None and pod_seccomp_type in _SECCOMP_OK
    if v_seccomp_restricted and pod_seccomp is not None and not pod_seccomp_valid:
        add(PSSViolation(
            "seccompProfile_restricted", "restricted", p + ".seccompProfile.type",
            _render(pod_seccomp_type),
            "seccompProfile (pod must not set securityContext.seccompProfile.type to "
            f"{_q(pod_seccomp_type or '')})"))

    # ---- container-level checks
    seen_annotations: set[str] = set()
    for kind in _CONTAINER_KINDS:
        containers = _list(spec, kind, "spec")
        for i, item in enumerate(containers):
            cp = f"spec.{kind}[{i}]"
            c = _item_obj(item, cp)
            name = _str(c, "name", cp) or ""
            qn = _q(name)
            sp = cp + ".securityContext"
            csc = _obj(c, "securityContext", cp) or _EMPTY

            # decode every field read below
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
            capparmor = _obj(csc, "appArmorProfile", sp)
            capparmor_type = (_str(capparmor, "type", sp + ".appArmorProfile")
                              if capparmor is not None else None)
            cselinux = _obj(csc, "seLinuxOptions", sp)
            cseccomp = _obj(csc, "seccompProfile", sp)
            cseccomp_type = (_str(cseccomp, "type", sp + ".seccompProfile")
                             if cseccomp is not None else None)
            ape = _bool(csc, "allowPrivilegeEscalation", sp)
            non_root = _bool(csc, "runAsNonRoot", sp)
            run_as_user = _int(csc, "runAsUser", sp)
            ports = _list(c, "ports", cp)
            hosts = _probe_hosts(c, cp) if _HANDLER_KEYS.intersection(c) else ()

            if host_process is True:
                add(PSSViolation(
                    "windowsHostProcess", "baseline", sp + ".windowsOptions.hostProcess", "true",
                    f"hostProcess (container {qn} must not set "
                    "securityContext.windowsOptions.hostProcess=true)"))

            if privileged is True:
                add(PSSViolation(
                    "privileged", "baseline", sp + ".privileged", "true",
                    f"privileged (container {qn} must not set securityContext.privileged=true)"))

            if v_cap_baseline and cap_add:
                bad = _dedup([x for x in cap_add if x not in _CAPS_BASELINE])
                if bad:
                    add(PSSViolation(
                        "capabilities_baseline", "baseline", sp + ".capabilities.add", json.dumps(bad),
                        f"non-default capabilities (container {qn} must not include {_qlist(bad)} "
                        "in securityContext.capabilities.add)"))

            for j, port_item in enumerate(ports):
                pp = f"{cp}.ports[{j}]"
                port = _item_obj(port_item, pp)
                host_port = _int(port, "hostPort", pp)
                if host_port:
                    add(PSSViolation("hostPorts", "baseline", pp + ".hostPort", str(host_port),
                                     f"hostPort (container {qn} uses hostPort {host_port})"))

            if v_probes:
                for field, host in hosts:
                    add(PSSViolation(
                        "hostProbesAndHostLifecycle", "baseline", field, host,
                        f"probe or lifecycle host (container {qn} uses probe or lifecycle host "
                        f"{_q(host)})"))

            if capparmor is not None and capparmor_type not in _APPARMOR_OK:
                add(PSSViolation(
                    "appArmorProfile", "baseline", sp + ".appArmorProfile.type",
                    _render(capparmor_type),
                    f"forbidden AppArmor profile (container {qn} must not set "
                    f"securityContext.appArmorProfile.type={_q(capparmor_type or '')})"))

            if cselinux is not None:
                _selinux(cselinux, sp, f"container {qn}", selinux_ok, add)

            if proc_mount is not None and proc_mount != "Default":
                if v_proc_baseline:
                    add(PSSViolation(
                        "procMount", "baseline", sp + ".procMount", _render(proc_mount),
                        f"procMount (container {qn} must not set securityContext.procMount to "
                        f"{_q(proc_mount)})"))
                if v_proc_restricted:
                    add(PSSViolation(
                        "procMount_restricted", "restricted", sp + ".procMount", _render(proc_mount),
                        f"procMount (container {qn} must not set securityContext.procMount to "
                        f"{_q(proc_mount)})"))

            if v_seccomp_baseline:
                if v_seccomp_annotations:
                    key = _SECCOMP_ANNOTATION_PREFIX + name
                    if key in annotations and key not in seen_annotations:
                        seen_annotations.add(key)  # containers sharing a name: report once
                        _seccomp_annotation(key, annotations, add)
                elif cseccomp is not None and cseccomp_type not in _SECCOMP_OK:
                    add(PSSViolation(
                        "seccompProfile_baseline", "baseline", sp + ".seccompProfile.type",
                        _render(cseccomp_type),
                        f"seccompProfile (container {qn} must not set "
                        f"securityContext.seccompProfile.type to {_q(cseccomp_type or '')})"))

            if v_ape and ape is not False:
                add(PSSViolation(
                    "allowPrivilegeEscalation", "restricted", sp + ".allowPrivilegeEscalation",
                    _render(ape),
                    f"allowPrivilegeEscalation != false (container {qn} must set "
                    "securityContext.allowPrivilegeEscalation=false)"))

            if v_non_root:
                if non_root is False:
                    add(PSSViolation(
                        "runAsNonRoot", "restricted", sp + ".runAsNonRoot", "false",
                        f"runAsNonRoot != true (container {qn} must not set "
                        "securityContext.runAsNonRoot=false)"))
                elif non_root is None and pod_non_root is not True:
                    add(PSSViolation(
                        "runAsNonRoot", "restricted", sp + ".runAsNonRoot", _UNSET,
                        f"runAsNonRoot != true (pod or container {qn} must set "
                        "securityContext.runAsNonRoot=true)"))

            if v_run_as_user and run_as_user == 0:
                add(PSSViolation("runAsUser", "restricted", sp + ".runAsUser", "0",
                                 f"runAsUser=0 (container {qn} must not set runAsUser=0)"))

            if v_seccomp_restricted:
                if cseccomp is not None:
                    if cseccomp_type not in _SECCOMP_OK:
                        add(PSSViolation(
                            "seccompProfile_restricted", "restricted", sp + ".seccompProfile.type",
                            _render(cseccomp_type),
                            f"seccompProfile (container {qn} must not set "
                            f"securityContext.seccompProfile.type to {_q(cseccomp_type or '')})"))
                elif not pod_seccomp_valid:
                    add(PSSViolation(
                        "seccompProfile_restricted", "restricted", sp + ".seccompProfile.type", _UNSET,
                        f"seccompProfile (pod or container {qn} must set "
                        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'))

            if v_cap_restricted:
                if "ALL" not in cap_drop:
                    add(PSSViolation(
                        "capabilities_restricted", "restricted", sp + ".capabilities.drop",
                        json.dumps(cap_drop) if caps and caps.get("drop") is not None else _UNSET,
                        f"unrestricted capabilities (container {qn} must set "
                        'securityContext.capabilities.drop=["ALL"])'))
                bad = _dedup([x for x in cap_add if x != "NET_BIND_SERVICE"])
                if bad:
                    add(PSSViolation(
                        "capabilities_restricted", "restricted", sp + ".capabilities.add",
                        json.dumps(bad),
                        f"unrestricted capabilities (container {qn} must not include {_qlist(bad)} "
                        "in securityContext.capabilities.add)"))

    if len(out) > 1:
        out.sort(key=_sort_key)
    return out


def _selinux(opts: dict, prefix: str, who: str, allowed: frozenset, add) -> None:
    """seLinuxOptions: type from the allowed set, user and role empty."""
    sp = prefix + ".seLinuxOptions"
    se_type = _str(opts, "type", sp)
    se_user = _str(opts, "user", sp)
    se_role = _str(opts, "role", sp)
    _str(opts, "level", sp)  # decoded, never restricted
    if (se_type or "") not in allowed:
        add(PSSViolation(
            "seLinuxOptions", "baseline", sp + ".type", _render(se_type),
            f"seLinuxOptions ({who} set forbidden securityContext.seLinuxOptions: type {_q(se_type)})"))
    if se_user:
        add(PSSViolation(
            "seLinuxOptions", "baseline", sp + ".user", _render(se_user),
            f"seLinuxOptions ({who} set forbidden securityContext.seLinuxOptions: user may not be set)"))
    if se_role:
        add(PSSViolation(
            "seLinuxOptions", "baseline", sp + ".role", _render(se_role),
            f"seLinuxOptions ({who} set forbidden securityContext.seLinuxOptions: role may not be set)"))


def _seccomp_annotation(key: str, annotations: dict, add) -> None:
    """v1.0-v1.18 baseline seccomp: a present annotation must name an allowed profile."""
    val = annotations[key] or ""
    if val in ("runtime/default", "docker/default") or val.startswith("localhost/"):
        return
    add(PSSViolation(
        "seccompProfile_baseline", "baseline", f"metadata.annotations[{key}]", _render(val),
        f"seccompProfile (forbidden annotation {key}={_q(val)})"))


def _probe_hosts(c: dict, cp: str) -> list[tuple[str, str]]:
    """(field, host) for every non-empty host of a probe or lifecycle handler of a container."""
    found: list[tuple[str, str]] = []
    handlers: list[tuple[dict | None, str]] = []
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
