"""Deterministic generator of Pod manifests that exercise every Pod Security Standards control.

Used by tests/test_cluster_pss_differential.py, which sends every pod to a real kube-apiserver
(PodSecurity admission) and compares the answer with kubefort's verdict.

How a pod is made:

* a *base* pod: one of a few container layouts (containers, init containers, a restartable
  "sidecar" init container) and one of three hardenings: ``bare`` (nothing set),
  ``hardened-pod`` (restricted-compliant with the pod-level securityContext carrying
  runAsNonRoot/seccomp) and ``hardened-containers`` (the same settings on every container);
* *features*: small functions that mutate the pod. Each has a list of variants (the value it
  sets); a feature picks its target (pod level, one container, every container) with the
  generator's seeded ``random.Random``;
* :func:`generate` first emits a deterministic block, every variant of every feature alone on
  each hardening, then random pods with 1-4 features, until the requested count of distinct pods.

Every pod must pass API validation (only PodSecurity may reject it): combinations the API
rejects (``hostUsers: false`` with host namespaces, ``procMount: Unmasked`` without user
namespaces, ``privileged`` with ``allowPrivilegeEscalation: false``, net sysctls with
``hostNetwork``, ...) are repaired or re-drawn by :func:`_finalize` / :func:`_invalid`; Windows
pods have every Linux-only field removed, as the API requires.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

IMAGE = "registry.k8s.io/pause:3.10"
FEATURES_ANNOTATION = "pssgen.kubefort.test/features"
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"

# ------------------------------------------------------------------------------------- helpers

Pod = dict[str, Any]


def _containers(pod: Pod, kinds: tuple[str, ...] = ("initContainers", "containers")) -> list[dict]:
    return [c for k in kinds for c in pod["spec"].get(k, [])]


def _probe_capable(pod: Pod) -> list[dict]:
    """Containers that may carry probes and lifecycle hooks (regular containers and sidecars)."""
    return pod["spec"]["containers"] + [
        c for c in pod["spec"].get("initContainers", []) if c.get("restartPolicy") == "Always"
    ]


def _psc(pod: Pod) -> dict:
    return pod["spec"].setdefault("securityContext", {})


def _csc(c: dict) -> dict:
    return c.setdefault("securityContext", {})


def _targets(pod: Pod, rng: random.Random, where: str) -> list[dict]:
    """securityContext dicts for a target: "pod", "one" container, "all" containers, "init"."""
    if where == "pod":
        return [_psc(pod)]
    cs = _containers(pod)
    if where == "all":
        return [_csc(c) for c in cs]
    if where == "init":
        inits = pod["spec"].get("initContainers") or cs
        return [_csc(rng.choice(inits))]
    return [_csc(rng.choice(cs))]


def _set(d: dict, key: str, value: Any) -> None:
    """Set a field, or remove it when value is None ("unset")."""
    if value is None:
        d.pop(key, None)
    else:
        d[key] = value


def _counter(pod: Pod, key: str) -> int:
    n = pod.setdefault("_counters", {}).get(key, 0)
    pod["_counters"][key] = n + 1
    return n


# ------------------------------------------------------------------------------------- features


@dataclass(frozen=True)
class Feature:
    name: str
    variants: tuple[Any, ...]
    apply: Callable[[Pod, random.Random, Any], None]
    wheres: tuple[str, ...] = ("",)  # targets the feature may pick ("" = not applicable)


FEATURES: list[Feature] = []


def feature(name: str, variants, wheres=("",)):
    def deco(fn):
        FEATURES.append(Feature(name, tuple(variants), fn, tuple(wheres)))
        return fn

    return deco


def _where(pod: Pod, rng: random.Random) -> str:
    return pod["_where"]


@feature("hostNamespace", [(k, v) for k in ("hostNetwork", "hostPID", "hostIPC") for v in (True, False)])
def f_host_namespace(pod, rng, v):
    pod["spec"][v[0]] = v[1]


@feature("privileged", [True, False], wheres=("one", "all", "init"))
def f_privileged(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        sc["privileged"] = v


_CAPS_ADD = (
    "NET_BIND_SERVICE",
    "CHOWN",
    "SETUID",
    "KILL",
    "AUDIT_WRITE",
    "SYS_CHROOT",
    "SYS_ADMIN",
    "NET_RAW",
    "NET_ADMIN",
    "SYS_PTRACE",
    "ALL",
    "net_bind_service",
    "CAP_CHOWN",
    "BPF",
)


@feature(
    "capAdd",
    [(c,) for c in _CAPS_ADD]
    + [("NET_BIND_SERVICE", "CHOWN"), ("NET_BIND_SERVICE", "SYS_ADMIN"), ("NET_RAW", "NET_RAW")],
    wheres=("one", "all", "init"),
)
def f_cap_add(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        sc.setdefault("capabilities", {})["add"] = list(v)


@feature(
    "capDrop",
    [("ALL",), ("all",), ("All",), ("NET_RAW",), ("ALL", "NET_RAW"), ("CHOWN", "all"), (), None],
    wheres=("one", "all", "init"),
)
def f_cap_drop(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        caps = sc.setdefault("capabilities", {})
        _set(caps, "drop", None if v is None else list(v))
        if not caps:
            sc.pop("capabilities")


VOLUME_SOURCES: dict[str, dict] = {
    # allowed by restricted
    "configMap": {"name": "cm"},
    "csi": {"driver": "csi.example.com"},
    "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]},
    "emptyDir": {},
    "ephemeral": {
        "volumeClaimTemplate": {
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        }
    },
    "persistentVolumeClaim": {"claimName": "pvc"},
    "projected": {
        "sources": [
            {"configMap": {"name": "cm"}},
            {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        ]
    },
    "secret": {"secretName": "s"},
    "image": {"reference": IMAGE, "pullPolicy": "IfNotPresent"},
    # not allowed by restricted (hostPath not by baseline either)
    "hostPath": {"path": "/var/log", "type": "Directory"},
    "gcePersistentDisk": {"pdName": "disk"},
    "awsElasticBlockStore": {"volumeID": "vol-1"},
    "gitRepo": {"repository": "https://example.com/r.git"},
    "nfs": {"server": "nfs.example.com", "path": "/export"},
    "iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.2001-04.com.example:storage", "lun": 0},
    "glusterfs": {"endpoints": "ep", "path": "vol"},
    "rbd": {"monitors": ["10.0.0.1:6789"], "image": "img"},
    "flexVolume": {"driver": "example.com/flex"},
    "cinder": {"volumeID": "v"},
    "cephfs": {"monitors": ["10.0.0.1:6789"]},
    "flocker": {"datasetName": "ds"},
    "fc": {"targetWWNs": ["500a0982991b8dc5"], "lun": 0},
    "azureFile": {"secretName": "s", "shareName": "share"},
    "vsphereVolume": {"volumePath": "[ds] v.vmdk"},
    "quobyte": {"registry": "reg:7861", "volume": "v"},
    "azureDisk": {"diskName": "d", "diskURI": "https://x.blob.core.windows.net/vhds/d.vhd"},
    "portworxVolume": {"volumeID": "v"},
    "photonPersistentDisk": {"pdID": "p"},
    "scaleIO": {"gateway": "https://gw", "system": "s", "secretRef": {"name": "s"}, "volumeName": "v"},
    "storageos": {"volumeName": "v"},
}


@feature("volume", [(src, mount) for src in VOLUME_SOURCES for mount in (True, False)])
def f_volume(pod, rng, v):
    src, mount = v
    name = f"vol-{_counter(pod, 'vol')}-{src.lower()}"
    pod["spec"].setdefault("volumes", []).append({"name": name, src: copy.deepcopy(VOLUME_SOURCES[src])})
    if mount:
        c = rng.choice(_containers(pod))
        c.setdefault("volumeMounts", []).append({"name": name, "mountPath": f"/mnt/{name}", "readOnly": True})


@feature("hostPort", [0, 8080, None])
def f_host_port(pod, rng, v):
    n = _counter(pod, "port")
    c = rng.choice(_containers(pod))
    port: dict = {"name": f"p{n}", "containerPort": 9000 + n, "protocol": rng.choice(["TCP", "UDP"])}
    if v is not None:
        port["hostPort"] = v + n if v else 0
    c.setdefault("ports", []).append(port)


@feature("appArmorAnnotation", ["runtime/default", "localhost/k8s-profile", "unconfined"])
def f_apparmor_annotation(pod, rng, v):
    c = rng.choice(_containers(pod))
    pod["metadata"].setdefault("annotations", {})[APPARMOR_PREFIX + c["name"]] = v


@feature("appArmorField", ["RuntimeDefault", "Localhost", "Unconfined"], wheres=("pod", "one", "all"))
def f_apparmor_field(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        sc["appArmorProfile"] = {"type": v, "localhostProfile": "k8s-profile"} if v == "Localhost" else {"type": v}


_SELINUX = (
    {"type": "container_t"},
    {"type": "container_init_t"},
    {"type": "container_kvm_t"},
    {"type": "container_engine_t"},
    {"type": "spc_t"},
    {"type": "unconfined_t"},
    {"level": "s0:c123,c456"},
    {"type": "container_t", "level": "s0:c1,c2"},
    {"user": "system_u"},
    {"role": "system_r"},
    {"user": "system_u", "role": "system_r", "type": "container_t"},
    {"user": "system_u", "role": "object_r", "type": "spc_t", "level": "s0"},
    {},
)


@feature("seLinux", _SELINUX, wheres=("pod", "one", "all", "init"))
def f_selinux(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        sc["seLinuxOptions"] = dict(v)


@feature("procMount", ["Default", "Unmasked"], wheres=("one", "all", "init"))
def f_proc_mount(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        sc["procMount"] = v
    if v == "Unmasked":
        pod["spec"]["hostUsers"] = False  # the API requires a user namespace for Unmasked


@feature("seccomp", ["RuntimeDefault", "Localhost", "Unconfined", None], wheres=("pod", "one", "all", "init"))
def f_seccomp(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        if v is None:
            sc.pop("seccompProfile", None)
        else:
            sc["seccompProfile"] = (
                {"type": v, "localhostProfile": "profiles/audit.json"} if v == "Localhost" else {"type": v}
            )


@feature(
    "seccompOverride",
    [
        ("RuntimeDefault", "Unconfined"),
        ("Unconfined", "RuntimeDefault"),
        ("Localhost", "Unconfined"),
        ("Unconfined", "Localhost"),
    ],
    wheres=("one", "all"),
)
def f_seccomp_override(pod, rng, v):
    """Pod-level seccomp profile, overridden by container level."""

    def prof(t):
        return {"type": t, "localhostProfile": "profiles/audit.json"} if t == "Localhost" else {"type": t}

    _psc(pod)["seccompProfile"] = prof(v[0])
    for sc in _targets(pod, rng, _where(pod, rng)):
        sc["seccompProfile"] = prof(v[1])


@feature("seccompAnnotation", [("pod", "unconfined"), ("pod", "runtime/default"), ("container", "unconfined")])
def f_seccomp_annotation(pod, rng, v):
    ann = pod["metadata"].setdefault("annotations", {})
    if v[0] == "pod":
        ann["seccomp.security.alpha.kubernetes.io/pod"] = v[1]
    else:
        ann["container.seccomp.security.alpha.kubernetes.io/" + rng.choice(_containers(pod))["name"]] = v[1]


SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
)
UNSAFE_SYSCTLS = (
    "kernel.msgmax",
    "kernel.sem",
    "net.core.somaxconn",
    "net.ipv4.ip_forward",
    "net.ipv4.tcp_max_syn_backlog",
    "vm.swappiness",
    "net.ipv4.conf.all.route_localnet",
    "kernel.shmmax",
    "net/ipv4/tcp_syncookies",
)  # the slash form of a safe name is not in the safe list
_SYSCTL_VALUES = {
    "net.ipv4.ip_local_port_range": "1024 65000",
    "net.ipv4.ping_group_range": "0 2147483647",
    "net.ipv4.tcp_rmem": "4096 87380 6291456",
    "net.ipv4.tcp_wmem": "4096 16384 4194304",
    "net.ipv4.ip_local_reserved_ports": "30000-30010",
    "kernel.sem": "250 32000 100 128",
}


@feature("sysctl", [(s,) for s in SAFE_SYSCTLS + UNSAFE_SYSCTLS] + [("safe", 3), ("mixed", 3)])
def f_sysctl(pod, rng, v):
    if v[0] == "safe":
        names = rng.sample(SAFE_SYSCTLS, v[1])
    elif v[0] == "mixed":
        names = rng.sample(SAFE_SYSCTLS, v[1] - 1) + [rng.choice(UNSAFE_SYSCTLS)]
    else:
        names = list(v)
    sysctls = _psc(pod).setdefault("sysctls", [])
    have = {s["name"] for s in sysctls}
    sysctls.extend({"name": n, "value": _SYSCTL_VALUES.get(n, "1")} for n in names if n not in have)


@feature("allowPrivilegeEscalation", [True, False, None], wheres=("one", "all", "init"))
def f_ape(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        _set(sc, "allowPrivilegeEscalation", v)


@feature("runAsNonRoot", [True, False, None], wheres=("pod", "one", "all", "init"))
def f_run_as_non_root(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        _set(sc, "runAsNonRoot", v)


@feature("runAsNonRootOverride", [(True, False), (False, True), (None, True), (True, None)], wheres=("one", "all"))
def f_run_as_non_root_override(pod, rng, v):
    """Pod-level runAsNonRoot with a container-level override."""
    _set(_psc(pod), "runAsNonRoot", v[0])
    for sc in _targets(pod, rng, _where(pod, rng)):
        _set(sc, "runAsNonRoot", v[1])


@feature("runAsUser", [0, 1000, 65534, None], wheres=("pod", "one", "all", "init"))
def f_run_as_user(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        _set(sc, "runAsUser", v)


@feature("runAsUserOverride", [(0, 1000), (1000, 0)], wheres=("one", "all"))
def f_run_as_user_override(pod, rng, v):
    _psc(pod)["runAsUser"] = v[0]
    for sc in _targets(pod, rng, _where(pod, rng)):
        sc["runAsUser"] = v[1]


@feature(
    "groups",
    [("supplementalGroups", [0, 1000]), ("fsGroup", 0), ("fsGroup", 2000), ("runAsGroup", 0), ("runAsGroup", 3000)],
    wheres=("pod", "one"),
)
def f_groups(pod, rng, v):
    key, val = v
    # supplementalGroups and fsGroup exist at pod level only
    targets = _targets(pod, rng, _where(pod, rng)) if key == "runAsGroup" else [_psc(pod)]
    for sc in targets:
        sc[key] = copy.deepcopy(val)


@feature("readOnlyRootFilesystem", [True, False], wheres=("one", "all"))
def f_read_only_root(pod, rng, v):
    for sc in _targets(pod, rng, _where(pod, rng)):
        sc["readOnlyRootFilesystem"] = v


@feature("hostUsers", [False, True])
def f_host_users(pod, rng, v):
    pod["spec"]["hostUsers"] = v


@feature("os", ["windows", "linux"])
def f_os(pod, rng, v):
    pod["spec"]["os"] = {"name": v}


@feature("windowsHostProcess", ["pod", "containers", "pod-false"])
def f_windows_host_process(pod, rng, v):
    pod["spec"]["os"] = {"name": "windows"}
    if v == "pod-false":
        _psc(pod)["windowsOptions"] = {"hostProcess": False, "runAsUserName": "ContainerUser"}
        return
    pod["spec"]["hostNetwork"] = True  # the API requires hostNetwork for host process pods
    if v == "pod":
        _psc(pod)["windowsOptions"] = {"hostProcess": True, "runAsUserName": "NT AUTHORITY\\SYSTEM"}
    else:
        for c in _containers(pod):
            _csc(c)["windowsOptions"] = {"hostProcess": True}


@feature(
    "probeHost",
    [
        (kind, host)
        for kind in ("liveness-http", "readiness-tcp", "startup-http", "postStart-http", "preStop-tcp")
        for host in ("", "127.0.0.1", "example.com")
    ],
)
def f_probe_host(pod, rng, v):
    kind, host = v
    c = rng.choice(_probe_capable(pod))
    action = "httpGet" if kind.endswith("http") else "tcpSocket"
    handler: dict = {action: {"port": 8080, **({"path": "/healthz"} if action == "httpGet" else {})}}
    if host:
        handler[action]["host"] = host
    what = kind.split("-")[0]
    if what in ("postStart", "preStop"):
        c.setdefault("lifecycle", {})[what] = handler
    else:
        c[what + "Probe"] = handler


FEATURE_BY_NAME = {f.name: f for f in FEATURES}

# ------------------------------------------------------------------------------------- base pods

LAYOUTS = (
    {"containers": ["app"]},
    {"containers": ["app", "helper"]},
    {"initContainers": ["init"], "containers": ["app"]},
    {"initContainers": ["sidecar"], "containers": ["app"], "sidecar": True},
    {"initContainers": ["init-a", "init-b"], "containers": ["app", "web"]},
)
HARDENINGS = ("bare", "hardened-pod", "hardened-containers")


def base_pod(name: str, layout: dict, hardening: str) -> Pod:
    spec: dict = {"containers": [{"name": n, "image": IMAGE} for n in layout["containers"]]}
    if layout.get("initContainers"):
        spec["initContainers"] = [{"name": n, "image": IMAGE} for n in layout["initContainers"]]
        if layout.get("sidecar"):
            spec["initContainers"][0]["restartPolicy"] = "Always"
    pod: Pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
    if hardening != "bare":
        for c in _containers(pod):
            c["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
        restricted = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        if hardening == "hardened-pod":
            spec["securityContext"] = restricted
        else:
            for c in _containers(pod):
                c["securityContext"].update(copy.deepcopy(restricted))
    return pod


# ------------------------------------------------------------------------------------- validity

_LINUX_ONLY_SC = (
    "seLinuxOptions",
    "seccompProfile",
    "appArmorProfile",
    "capabilities",
    "procMount",
    "privileged",
    "allowPrivilegeEscalation",
    "runAsUser",
    "runAsGroup",
    "readOnlyRootFilesystem",
)
_LINUX_ONLY_POD_SC = (
    "seLinuxOptions",
    "seccompProfile",
    "appArmorProfile",
    "runAsUser",
    "runAsGroup",
    "sysctls",
    "fsGroup",
    "fsGroupChangePolicy",
    "supplementalGroups",
    "supplementalGroupsPolicy",
)
_IPC_SYSCTL_PREFIXES = (
    "kernel.shm",
    "kernel.msg",
    "kernel.sem",
    "fs.mqueue.",
    "kernel/shm",
    "kernel/msg",
    "kernel/sem",
    "fs/mqueue/",
)


def _finalize(pod: Pod) -> None:
    """Repair what the API would reject but is not the point of a feature."""
    spec = pod["spec"]
    windows = (spec.get("os") or {}).get("name") == "windows"
    if windows:
        # Linux-only fields are forbidden in Windows pods
        for key in ("hostPID", "hostIPC", "hostUsers"):
            spec.pop(key, None)
        psc = spec.get("securityContext") or {}
        for key in _LINUX_ONLY_POD_SC:
            psc.pop(key, None)
        for c in _containers(pod):
            for key in _LINUX_ONLY_SC:
                (c.get("securityContext") or {}).pop(key, None)
        ann = pod["metadata"].get("annotations") or {}
        for key in [k for k in ann if k.startswith(APPARMOR_PREFIX) or "seccomp" in k]:
            del ann[key]
    # windowsOptions are forbidden in pods that declare os linux
    elif (spec.get("os") or {}).get("name") == "linux":
        for sc in [spec.get("securityContext") or {}] + [c.get("securityContext") or {} for c in _containers(pod)]:
            sc.pop("windowsOptions", None)
    if spec.get("hostNetwork") is True:
        # with hostNetwork, a set hostPort must equal containerPort
        for c in _containers(pod):
            for p in c.get("ports", []):
                if p.get("hostPort"):
                    p["containerPort"] = p["hostPort"]
    # drop empty securityContexts and annotations (keeps manifests small)
    for d in [spec] + _containers(pod):
        if d.get("securityContext") == {}:
            del d["securityContext"]
    if pod["metadata"].get("annotations") == {}:
        del pod["metadata"]["annotations"]
    pod.pop("_counters", None)
    pod.pop("_where", None)


def _invalid(pod: Pod) -> str | None:
    """Why the API would reject this combination of features (None when it would accept it)."""
    spec = pod["spec"]
    host_ns = [k for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    if spec.get("hostUsers") is False and host_ns:
        return "hostUsers=false with host namespaces"
    psc = spec.get("securityContext") or {}
    windows = (spec.get("os") or {}).get("name") == "windows"
    ann = pod["metadata"].get("annotations") or {}
    seccomp_ann = {"unconfined": "Unconfined", "runtime/default": "RuntimeDefault", "docker/default": "RuntimeDefault"}
    pod_seccomp_ann = ann.get("seccomp.security.alpha.kubernetes.io/pod")
    if (
        pod_seccomp_ann
        and psc.get("seccompProfile")
        and psc["seccompProfile"]["type"] != seccomp_ann.get(pod_seccomp_ann, "Localhost")
    ):
        return "seccomp annotation and field disagree (pod)"
    any_host_process = False
    all_host_process = True
    for c in _containers(pod):
        sc = c.get("securityContext") or {}
        if sc.get("procMount") == "Unmasked" and spec.get("hostUsers") is not False:
            return "procMount Unmasked without hostUsers=false"
        if sc.get("privileged") is True and sc.get("allowPrivilegeEscalation") is False:
            return "privileged with allowPrivilegeEscalation=false"
        aa = sc.get("appArmorProfile")
        aa_ann = ann.get(APPARMOR_PREFIX + c["name"])
        if aa is not None and aa_ann is not None:
            want = {"runtime/default": "RuntimeDefault", "unconfined": "Unconfined"}.get(aa_ann, "Localhost")
            if aa["type"] != want:
                return "AppArmor annotation and field disagree"
        c_seccomp_ann = ann.get("container.seccomp.security.alpha.kubernetes.io/" + c["name"])
        if (
            c_seccomp_ann
            and sc.get("seccompProfile")
            and sc["seccompProfile"]["type"] != seccomp_ann.get(c_seccomp_ann, "Localhost")
        ):
            return "seccomp annotation and field disagree (container)"
        hp = (sc.get("windowsOptions") or {}).get("hostProcess")
        if hp is None:
            hp = (psc.get("windowsOptions") or {}).get("hostProcess")
        any_host_process |= hp is True
        all_host_process &= hp is True
    if any_host_process and not (all_host_process and spec.get("hostNetwork") is True and windows):
        return "hostProcess needs windows, hostNetwork and every container host process"
    for s in psc.get("sysctls", []):
        if spec.get("hostNetwork") is True and s["name"].startswith(("net.", "net/")):
            return "net sysctls with hostNetwork"
        if spec.get("hostIPC") is True and s["name"].startswith(_IPC_SYSCTL_PREFIXES):
            return "IPC sysctls with hostIPC"
    return None


def canonical(pod: Pod) -> str:
    """The pod without its name and feature annotation, for de-duplication."""
    p = copy.deepcopy(pod)
    del p["metadata"]["name"]
    (p["metadata"].get("annotations") or {}).pop(FEATURES_ANNOTATION, None)
    return json.dumps(p, sort_keys=True)


# ------------------------------------------------------------------------------------- generation


def _build(name: str, rng: random.Random, layout: dict, hardening: str, chosen: list[tuple[Feature, Any, str]]) -> Pod:
    pod = base_pod(name, layout, hardening)
    # Windows features last: they strip Linux-only fields set by the others
    chosen = sorted(chosen, key=lambda t: t[0].name in ("os", "windowsHostProcess"))
    labels = []
    for feat, variant, where in chosen:
        pod["_where"] = where
        feat.apply(pod, rng, variant)
        labels.append(f"{feat.name}={json.dumps(variant)}" + (f"@{where}" if where else ""))
    labels.append(f"base={hardening}")
    _finalize(pod)
    pod["metadata"].setdefault("annotations", {})[FEATURES_ANNOTATION] = "; ".join(labels)
    return pod


def generate(count: int = 1300, seed: int = 20240611) -> list[Pod]:
    """At least `count` distinct valid pods (deterministic for a seed); names pss-00000, pss-00001, ..."""
    rng = random.Random(seed)
    pods: list[Pod] = []
    seen: set[str] = set()

    def emit(layout, hardening, chosen) -> bool:
        pod = _build(f"pss-{len(pods):05d}", rng, layout, hardening, chosen)
        if _invalid(pod) is not None:
            return False
        key = canonical(pod)
        if key in seen:
            return False
        seen.add(key)
        pods.append(pod)
        return True

    # deterministic block: every variant of every feature alone, on each hardening
    i = 0
    for feat in FEATURES:
        for variant in feat.variants:
            for hardening in HARDENINGS:
                where = feat.wheres[i % len(feat.wheres)]
                emit(LAYOUTS[i % len(LAYOUTS)], hardening, [(feat, variant, where)])
                i += 1

    # random combinations of 1-4 features
    attempts = 0
    while len(pods) < count:
        attempts += 1
        if attempts > count * 50:
            raise RuntimeError(f"could only generate {len(pods)} distinct valid pods")
        feats = rng.sample(FEATURES, rng.randint(1, 4))
        chosen = [(f, rng.choice(f.variants), rng.choice(f.wheres)) for f in feats]
        emit(rng.choice(LAYOUTS), rng.choice(HARDENINGS), chosen)
    return pods


def iter_features(pod: Pod) -> Iterator[str]:
    yield from (pod["metadata"].get("annotations") or {}).get(FEATURES_ANNOTATION, "").split("; ")


if __name__ == "__main__":  # pragma: no cover - a quick look at the output
    ps = generate()
    print(len(ps), "pods")
    print(json.dumps(ps[len(ps) // 2], indent=1))
