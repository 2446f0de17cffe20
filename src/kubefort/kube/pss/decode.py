"""Decoding a pod (or pod template) dict into the typed :class:`~kubefort.kube.pss.model.Pod`
the controls read, raising :class:`~kubefort.kube.pss.model.PSSInputError` for a field whose
type the Kubernetes API could not decode."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubefort.kube.pss.model import Container, Pod, PSSInputError, SELinux, Volume, q

_CONTAINER_KINDS = ("initContainers", "containers", "ephemeralContainers")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_HANDLERS = ("postStart", "preStop")
_HANDLER_KEYS = frozenset(_PROBES + ("lifecycle",))
_HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
_EMPTY: Mapping[str, Any] = {}
_ABSENT: Any = object()  # not a JSON value: read by the helpers

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
_ALLOWED_SOURCES = frozenset(_ALLOWED_VOLUME_SOURCES)
_VOLUME_SOURCES = _ALLOWED_SOURCES | frozenset(_OTHER_VOLUME_SOURCES)
_OTHER_RANK = {src: i for i, src in enumerate(_OTHER_VOLUME_SOURCES)}

# The fields the decoder reads from each mapping, with the one JSON type each decodes from in
# the common case (`_plain`). A mapping whose fields all have it is read with plain `get`s; any
# other value (a wrong type, but also a whole float for an integer) goes through the helpers
# below, which decide it exactly as before and raise in the same order.
_SPEC_TYPES: dict[str, type] = {
    "securityContext": dict,
    "hostNetwork": bool,
    "hostPID": bool,
    "hostIPC": bool,
    "hostUsers": bool,
    "os": dict,
    "volumes": list,
    "initContainers": list,
    "containers": list,
    "ephemeralContainers": list,
}
_POD_SC_TYPES: dict[str, type] = {
    "windowsOptions": dict,
    "appArmorProfile": dict,
    "seLinuxOptions": dict,
    "seccompProfile": dict,
    "runAsNonRoot": bool,
    "runAsUser": int,
    "sysctls": list,
}
_CONTAINER_SC_TYPES: dict[str, type] = {
    "privileged": bool,
    "windowsOptions": dict,
    "capabilities": dict,
    "procMount": str,
    "appArmorProfile": dict,
    "seLinuxOptions": dict,
    "seccompProfile": dict,
    "allowPrivilegeEscalation": bool,
    "runAsNonRoot": bool,
    "runAsUser": int,
}


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


def _need_obj(d: Mapping[str, Any], key: str, prefix: str) -> Mapping[str, Any]:
    """`_obj` of a field known to be set (not null)."""
    found = _obj(d, key, prefix)
    if found is None:
        raise AssertionError(f"{prefix}.{key} was read as set")
    return found


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


def _plain(d: Mapping[str, Any], types: Mapping[str, type]) -> bool:
    """Is every field of `d` named in `types` absent, null, or exactly of the type given there?
    (Then `d.get` reads each as its helper would, and none of them can fail.)"""
    for key, value in d.items():
        kind = types.get(key)
        if kind is not None and value is not None and type(value) is not kind:
            return False
    return True


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


@dataclass(slots=True)
class Decoded:
    """A decoded pod, or the input error that stopped decoding.

    `host_path_error` is the first wrong-typed ``hostPath.path``: that field is read only by
    ``hostPathVolumes``, so only levels running that control report it (first, as it comes
    before anything that stopped decoding); every level reports `error`."""

    pod: Pod | None
    error: PSSInputError | None
    host_path_error: PSSInputError | None


def _selinux(opts: Mapping[str, Any], prefix: str, who: str) -> SELinux:
    sp = prefix + ".seLinuxOptions"
    se_type = _str(opts, "type", sp)
    se_user = _str(opts, "user", sp)
    se_role = _str(opts, "role", sp)
    _str(opts, "level", sp)  # decoded, never restricted
    return SELinux(sp, who, se_type, se_user, se_role)


def _probe_hosts(c: Mapping[str, Any], cp: str) -> list[tuple[str, str]]:
    """(field, host) for every non-empty host of a probe or lifecycle handler of a container.
    (Each field is read with `get`; a value that is not of the common type goes to the helper,
    which decides it, and raises, as reading every field with it would.)"""
    found: list[tuple[str, str]] = []
    handlers: list[tuple[Mapping[str, Any], str]] = []
    for probe in _PROBES:
        handler = c.get(probe)
        if handler is not None:
            handlers.append((handler if type(handler) is dict else _need_obj(c, probe, cp), f"{cp}.{probe}"))
    lifecycle = c.get("lifecycle")
    if lifecycle is not None:
        if type(lifecycle) is not dict:
            lifecycle = _need_obj(c, "lifecycle", cp)
        lp = cp + ".lifecycle"
        for hook in _HANDLERS:
            handler = lifecycle.get(hook)
            if handler is not None:
                handlers.append((handler if type(handler) is dict else _need_obj(lifecycle, hook, lp), f"{lp}.{hook}"))
    for handler, hp in handlers:
        for action in ("httpGet", "tcpSocket"):
            a = handler.get(action)
            if a is None:
                continue
            if type(a) is not dict:
                a = _need_obj(handler, action, hp)
            host = a.get("host")
            if host is not None and type(host) is not str:
                host = _str(a, "host", f"{hp}.{action}")
            if host:
                found.append((f"{hp}.{action}.host", host))
    return found


def _volume_sources(vol: Mapping[str, Any], vp: str) -> tuple[bool, str | None]:
    """(has an allowed source, the first other source), reading every source type in order:
    raises for the first one that is set but not an object."""
    allowed = False
    for src in _ALLOWED_VOLUME_SOURCES:
        if _obj(vol, src, vp) is not None:
            allowed = True
    restricted_src = None
    for src in _OTHER_VOLUME_SOURCES:
        if _obj(vol, src, vp) is not None and restricted_src is None:
            restricted_src = src
    return allowed, restricted_src


class _Decoder:
    """Reads every field any control reads, in one fixed order, so that a pod with several bad
    fields reports the same one at every level and version."""

    def __init__(self) -> None:
        self.host_path_error: PSSInputError | None = None

    def decode(self, pod_metadata: object, pod_spec: object) -> Decoded:
        try:
            pod = self._pod(pod_metadata, pod_spec)
        except PSSInputError as exc:
            return Decoded(None, exc, self.host_path_error)
        return Decoded(pod, None, self.host_path_error)

    def _pod(self, pod_metadata: object, pod_spec: object) -> Pod:
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
        plain = _plain(spec, _SPEC_TYPES)  # below, `get` where it is, the helpers where it is not
        psc = (spec.get("securityContext") if plain else _obj(spec, "securityContext", "spec")) or _EMPTY
        p = "spec.securityContext"
        plain_sc = _plain(psc, _POD_SC_TYPES)
        pod_win = (psc.get("windowsOptions") if plain_sc else _obj(psc, "windowsOptions", p)) or _EMPTY
        host_process = _bool(pod_win, "hostProcess", p + ".windowsOptions")
        apparmor = psc.get("appArmorProfile") if plain_sc else _obj(psc, "appArmorProfile", p)
        apparmor_type = _str(apparmor, "type", p + ".appArmorProfile") if apparmor is not None else None
        selinux = psc.get("seLinuxOptions") if plain_sc else _obj(psc, "seLinuxOptions", p)
        seccomp = psc.get("seccompProfile") if plain_sc else _obj(psc, "seccompProfile", p)
        seccomp_type = _str(seccomp, "type", p + ".seccompProfile") if seccomp is not None else None
        non_root = psc.get("runAsNonRoot") if plain_sc else _bool(psc, "runAsNonRoot", p)
        user = psc.get("runAsUser") if plain_sc else _int(psc, "runAsUser", p)
        sysctl_items = (psc.get("sysctls") or []) if plain_sc else _list(psc, "sysctls", p)
        host_ns = [(k, spec.get(k) if plain else _bool(spec, k, "spec")) for k in _HOST_NAMESPACES]
        host_users = spec.get("hostUsers") if plain else _bool(spec, "hostUsers", "spec")
        pod_os = spec.get("os") if plain else _obj(spec, "os", "spec")
        os_name = _str(pod_os, "name", "spec.os") if pod_os is not None else None
        volume_items = (spec.get("volumes") or []) if plain else _list(spec, "volumes", "spec")

        pod_selinux = _selinux(selinux, p, "pod") if selinux is not None else None
        sysctls = []
        for i, item in enumerate(sysctl_items):
            sp = f"{p}.sysctls[{i}]"
            sysctls.append((sp, _str(_item_obj(item, sp), "name", sp) or ""))
        volumes = [self._volume(item, f"spec.volumes[{i}]") for i, item in enumerate(volume_items)]
        containers = [
            self._container(item, f"spec.{kind}[{i}]")
            for kind in _CONTAINER_KINDS
            for i, item in enumerate((spec.get(kind) or []) if plain else _list(spec, kind, "spec"))
        ]
        return Pod(
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

    def _volume(self, item: object, vp: str) -> Volume:
        vol = _item_obj(item, vp)
        name = _str(vol, "name", vp) or ""
        # the sources the volume sets (a volume sets one): read from its keys, not by asking
        # for each of the 30 source types; any that is not an object takes the slow path,
        # which reports the same first error as reading them one by one in the declared order
        sources = [k for k, v in vol.items() if v is not None and k in _VOLUME_SOURCES]
        if all(type(vol[k]) is dict for k in sources):
            allowed = any(k in _ALLOWED_SOURCES for k in sources)
            others = [k for k in sources if k not in _ALLOWED_SOURCES]
            restricted_src = min(others, key=_OTHER_RANK.__getitem__) if others else None
        else:
            allowed, restricted_src = _volume_sources(vol, vp)
        host_path = _obj(vol, "hostPath", vp)
        host_path_path = None
        if host_path is not None:
            try:
                host_path_path = _str(host_path, "path", vp + ".hostPath")
            except PSSInputError as exc:
                if self.host_path_error is None:
                    self.host_path_error = exc
        return Volume(vp, name, allowed, restricted_src, host_path is not None, host_path_path)

    def _container(self, item: object, cp: str) -> Container:
        c = _item_obj(item, cp)
        # each field read with `get`; one that is not of the common type goes to its helper,
        # which decides it (and raises) exactly as reading every field with it would
        name = c.get("name")
        if name is not None and type(name) is not str:
            name = _str(c, "name", cp)
        name = name or ""
        sp = cp + ".securityContext"
        csc = c.get("securityContext")
        if csc is not None and type(csc) is not dict:
            csc = _obj(c, "securityContext", cp)
        csc = csc or _EMPTY
        plain_sc = _plain(csc, _CONTAINER_SC_TYPES)
        privileged = csc.get("privileged") if plain_sc else _bool(csc, "privileged", sp)
        cwin = csc.get("windowsOptions") if plain_sc else _obj(csc, "windowsOptions", sp)
        host_process = _bool(cwin, "hostProcess", sp + ".windowsOptions") if cwin else None
        caps = csc.get("capabilities") if plain_sc else _obj(csc, "capabilities", sp)
        if caps is not None:
            cap_add = _str_items(caps, "add", sp + ".capabilities")
            cap_drop = _str_items(caps, "drop", sp + ".capabilities")
        else:
            cap_add = cap_drop = []
        proc_mount = csc.get("procMount") if plain_sc else _str(csc, "procMount", sp)
        apparmor = csc.get("appArmorProfile") if plain_sc else _obj(csc, "appArmorProfile", sp)
        apparmor_type = _str(apparmor, "type", sp + ".appArmorProfile") if apparmor is not None else None
        selinux = csc.get("seLinuxOptions") if plain_sc else _obj(csc, "seLinuxOptions", sp)
        seccomp = csc.get("seccompProfile") if plain_sc else _obj(csc, "seccompProfile", sp)
        seccomp_type = _str(seccomp, "type", sp + ".seccompProfile") if seccomp is not None else None
        ape = csc.get("allowPrivilegeEscalation") if plain_sc else _bool(csc, "allowPrivilegeEscalation", sp)
        non_root = csc.get("runAsNonRoot") if plain_sc else _bool(csc, "runAsNonRoot", sp)
        run_as_user = csc.get("runAsUser") if plain_sc else _int(csc, "runAsUser", sp)
        ports = c.get("ports")
        if ports is None:
            ports = ()
        elif type(ports) is not list:
            ports = _list(c, "ports", cp)
        hosts = _probe_hosts(c, cp) if _HANDLER_KEYS.intersection(c) else []
        host_ports = []
        for j, port_item in enumerate(ports):
            host_port = port_item.get("hostPort") if type(port_item) is dict else _ABSENT
            if host_port is not None and type(host_port) is not int:  # not the common case: the helpers decide
                pp = f"{cp}.ports[{j}]"
                host_port = _int(_item_obj(port_item, pp), "hostPort", pp)
            if host_port:
                host_ports.append((f"{cp}.ports[{j}]", host_port))
        cselinux = _selinux(selinux, sp, f"container {q(name)}") if selinux is not None else None
        return Container(
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


def decode(pod_metadata: object, pod_spec: object) -> Decoded:
    return _Decoder().decode(pod_metadata, pod_spec)
