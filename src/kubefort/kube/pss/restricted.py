"""The restricted-level PSS controls (R1-R7), one function per upstream check, and their
registrations (:data:`RESTRICTED_CONTROLS`). The restricted level also runs the baseline
controls it does not override (see :func:`kubefort.kube.pss.controls_for`)."""

from __future__ import annotations

import json

from kubefort.kube.pss.baseline import proc_mount_violations
from kubefort.kube.pss.model import (
    SECCOMP_OK,
    UNSET,
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


def _restricted_volumes(pod: Pod, minor: int) -> Violations:
    """R1 Volume Types: only the allowed sources (a volume with no known source is defaulted to
    emptyDir by the API server before admission, so it is allowed)."""
    return [
        PSSViolation(
            "restrictedVolumes",
            "restricted",
            f"{v.path}.{v.restricted_src}",
            v.restricted_src,
            f"restricted volume types (volume {q(v.name)} uses restricted volume type {q(v.restricted_src)})",
        )
        for v in pod.volumes
        if not v.allowed and v.restricted_src is not None
    ]


def _allow_privilege_escalation(pod: Pod, minor: int) -> Violations:
    """R2 Privilege Escalation: false on every container; Windows pods exempt from v1.25."""
    if minor >= 25 and pod.windows:
        return []
    return [
        PSSViolation(
            "allowPrivilegeEscalation",
            "restricted",
            c.sp + ".allowPrivilegeEscalation",
            render(c.ape),
            f"allowPrivilegeEscalation != false (container {c.qn} must set "
            "securityContext.allowPrivilegeEscalation=false)",
        )
        for c in pod.containers
        if c.ape is not False
    ]


def _run_as_non_root(pod: Pod, minor: int) -> Violations:
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
                    UNSET,
                    f"runAsNonRoot != true (pod or container {c.qn} must set securityContext.runAsNonRoot=true)",
                )
            )
    return out


def _run_as_user(pod: Pod, minor: int) -> Violations:
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


def _seccomp_restricted(pod: Pod, minor: int) -> Violations:
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
                render(pod.seccomp_type),
                f"seccompProfile (pod must not set securityContext.seccompProfile.type to {q(pod.seccomp_type or '')})",
            )
        )
    for c in pod.containers:
        if c.seccomp:
            if c.seccomp_type not in SECCOMP_OK:
                out.append(
                    PSSViolation(
                        "seccompProfile_restricted",
                        "restricted",
                        c.sp + ".seccompProfile.type",
                        render(c.seccomp_type),
                        f"seccompProfile (container {c.qn} must not set "
                        f"securityContext.seccompProfile.type to {q(c.seccomp_type or '')})",
                    )
                )
        elif not pod.seccomp_valid:
            out.append(
                PSSViolation(
                    "seccompProfile_restricted",
                    "restricted",
                    c.sp + ".seccompProfile.type",
                    UNSET,
                    f"seccompProfile (pod or container {c.qn} must set "
                    'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
                )
            )
    return out


def _capabilities_restricted(pod: Pod, minor: int) -> Violations:
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
                    json.dumps(c.cap_drop) if c.drop_given else UNSET,
                    f'unrestricted capabilities (container {c.qn} must set securityContext.capabilities.drop=["ALL"])',
                )
            )
        bad = dedup([x for x in c.cap_add if x != "NET_BIND_SERVICE"])
        if bad:
            out.append(
                PSSViolation(
                    "capabilities_restricted",
                    "restricted",
                    c.sp + ".capabilities.add",
                    json.dumps(bad),
                    f"unrestricted capabilities (container {c.qn} must not include {qlist(bad)} "
                    "in securityContext.capabilities.add)",
                )
            )
    return out


def _proc_mount_restricted(pod: Pod, minor: int) -> Violations:
    """R7 /proc Mount Type, restricted (v1.35): Default only, user namespace or not."""
    return proc_mount_violations(pod, "procMount_restricted", "restricted")


RESTRICTED_CONTROLS: tuple[Control, ...] = (
    control("restrictedVolumes", _restricted_volumes),
    control("allowPrivilegeEscalation", _allow_privilege_escalation),
    control("runAsNonRoot", _run_as_non_root),
    control("runAsUser", _run_as_user),
    control("seccompProfile_restricted", _seccomp_restricted),
    control("capabilities_restricted", _capabilities_restricted),
    control("procMount_restricted", _proc_mount_restricted),
)
