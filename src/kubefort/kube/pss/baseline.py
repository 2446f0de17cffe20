"""The baseline-level PSS controls (B1-B12), one function per upstream check, and their
registrations (:data:`BASELINE_CONTROLS`)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from kubefort.kube.pss.model import (
    SECCOMP_OK,
    Control,
    Pod,
    PSSViolation,
    Violations,
    control,
    dedup,
    q,
    qlist,
    render,
)

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

_APPARMOR_OK = ("RuntimeDefault", "Localhost")
_APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_SECCOMP_ANNOTATION_POD = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"

# --------------------------------------------------------------------------- the controls
# One function per upstream check (policy/check_*.go), in the order of ../shared/catalog/pss.md.
# Each takes the decoded pod and the policy minor version and returns its violations, pod-level
# fields first, then containers in order; exemptions that belong to a check version (Windows
# pods, user namespaces) are decided inside the check.


def _windows_host_process(pod: Pod, minor: int) -> Violations:
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


def _host_namespaces(pod: Pod, minor: int) -> Violations:
    """B2 Host Namespaces: hostNetwork, hostPID, hostIPC must not be true."""
    return [
        PSSViolation("hostNamespaces", "baseline", "spec." + key, "true", f"host namespaces ({key}=true)")
        for key, val in pod.host_ns
        if val is True
    ]


def _privileged(pod: Pod, minor: int) -> Violations:
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


def _capabilities_baseline(pod: Pod, minor: int) -> Violations:
    """B4 Capabilities: add only names of the baseline default set."""
    out = []
    for c in pod.containers:
        bad = dedup([x for x in c.cap_add if x not in _CAPS_BASELINE])
        if bad:
            out.append(
                PSSViolation(
                    "capabilities_baseline",
                    "baseline",
                    c.sp + ".capabilities.add",
                    json.dumps(bad),
                    f"non-default capabilities (container {c.qn} must not include {qlist(bad)} "
                    "in securityContext.capabilities.add)",
                )
            )
    return out


def _host_path_volumes(pod: Pod, minor: int) -> Violations:
    """B5 HostPath Volumes."""
    return [
        PSSViolation(
            "hostPathVolumes",
            "baseline",
            v.path + ".hostPath",
            render(v.host_path_path),
            f"hostPath volumes (volume {q(v.name)})",
        )
        for v in pod.volumes
        if v.host_path
    ]


def _host_ports(pod: Pod, minor: int) -> Violations:
    """B6 Host Ports: hostPort undefined or 0."""
    return [
        PSSViolation(
            "hostPorts", "baseline", pp + ".hostPort", str(port), f"hostPort (container {c.qn} uses hostPort {port})"
        )
        for c in pod.containers
        for pp, port in c.host_ports
    ]


def _host_probes(pod: Pod, minor: int) -> Violations:
    """B7 Host Probes / Lifecycle Hooks (v1.34): no host in httpGet/tcpSocket handlers."""
    return [
        PSSViolation(
            "hostProbesAndHostLifecycle",
            "baseline",
            field,
            host,
            f"probe or lifecycle host (container {c.qn} uses probe or lifecycle host {q(host)})",
        )
        for c in pod.containers
        for field, host in c.hosts
    ]


def _apparmor(pod: Pod, minor: int) -> Violations:
    """B8 AppArmor: the appArmorProfile.type fields and the beta annotations."""
    out = []
    if pod.apparmor and pod.apparmor_type not in _APPARMOR_OK:
        out.append(
            PSSViolation(
                "appArmorProfile",
                "baseline",
                "spec.securityContext.appArmorProfile.type",
                render(pod.apparmor_type),
                "forbidden AppArmor profile (pod must not set securityContext.appArmorProfile.type="
                f"{q(pod.apparmor_type or '')})",
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
                        render(val),
                        f"forbidden AppArmor profile ({key}={q(val)})",
                    )
                )
    for c in pod.containers:
        if c.apparmor and c.apparmor_type not in _APPARMOR_OK:
            out.append(
                PSSViolation(
                    "appArmorProfile",
                    "baseline",
                    c.sp + ".appArmorProfile.type",
                    render(c.apparmor_type),
                    f"forbidden AppArmor profile (container {c.qn} must not set "
                    f"securityContext.appArmorProfile.type={q(c.apparmor_type or '')})",
                )
            )
    return out


def _selinux_options(pod: Pod, minor: int) -> Violations:
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
                    render(se.type),
                    f"seLinuxOptions ({se.who} set forbidden securityContext.seLinuxOptions: type {q(se.type)})",
                )
            )
        if se.user:
            out.append(
                PSSViolation(
                    "seLinuxOptions",
                    "baseline",
                    se.path + ".user",
                    render(se.user),
                    f"seLinuxOptions ({se.who} set forbidden securityContext.seLinuxOptions: user may not be set)",
                )
            )
        if se.role:
            out.append(
                PSSViolation(
                    "seLinuxOptions",
                    "baseline",
                    se.path + ".role",
                    render(se.role),
                    f"seLinuxOptions ({se.who} set forbidden securityContext.seLinuxOptions: role may not be set)",
                )
            )
    return out


def proc_mount_violations(pod: Pod, control: str, level: str) -> Violations:
    return [
        PSSViolation(
            control,
            level,
            c.sp + ".procMount",
            render(c.proc_mount),
            f"procMount (container {c.qn} must not set securityContext.procMount to {q(c.proc_mount)})",
        )
        for c in pod.containers
        if c.proc_mount is not None and c.proc_mount != "Default"
    ]


def _proc_mount(pod: Pod, minor: int) -> Violations:
    """B10 /proc Mount Type: Default only; from v1.35 any value in a user namespace."""
    if minor >= 35 and pod.userns:
        return []
    return proc_mount_violations(pod, "procMount", "baseline")


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
            render(val),
            f"seccompProfile (forbidden annotation {key}={q(val)})",
        )
    ]


def _seccomp_baseline(pod: Pod, minor: int) -> Violations:
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
    if pod.seccomp and pod.seccomp_type not in SECCOMP_OK:
        out.append(
            PSSViolation(
                "seccompProfile_baseline",
                "baseline",
                "spec.securityContext.seccompProfile.type",
                render(pod.seccomp_type),
                f"seccompProfile (pod must not set securityContext.seccompProfile.type to {q(pod.seccomp_type or '')})",
            )
        )
    for c in pod.containers:
        if c.seccomp and c.seccomp_type not in SECCOMP_OK:
            out.append(
                PSSViolation(
                    "seccompProfile_baseline",
                    "baseline",
                    c.sp + ".seccompProfile.type",
                    render(c.seccomp_type),
                    f"seccompProfile (container {c.qn} must not set "
                    f"securityContext.seccompProfile.type to {q(c.seccomp_type or '')})",
                )
            )
    return out


def _sysctls(pod: Pod, minor: int) -> Violations:
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
        PSSViolation("sysctls", "baseline", sp + ".name", render(name), f"forbidden sysctls ({name})")
        for sp, name in pod.sysctls
        if name not in allowed
    ]


BASELINE_CONTROLS: tuple[Control, ...] = (
    control("windowsHostProcess", _windows_host_process),
    control("hostNamespaces", _host_namespaces),
    control("privileged", _privileged),
    control("capabilities_baseline", _capabilities_baseline, overridden_from="v1.22"),  # by capabilities_restricted
    control("hostPathVolumes", _host_path_volumes, overridden_from="v1.0"),  # by restrictedVolumes
    control("hostPorts", _host_ports),
    control("hostProbesAndHostLifecycle", _host_probes),
    control("appArmorProfile", _apparmor),
    control("seLinuxOptions", _selinux_options),
    control("procMount", _proc_mount, overridden_from="v1.35"),  # by procMount_restricted
    control("seccompProfile_baseline", _seccomp_baseline, overridden_from="v1.19"),  # by seccompProfile_restricted
    control("sysctls", _sysctls),
)
