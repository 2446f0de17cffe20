"""The PSS evaluator's shared types: levels, policy versions and the check table; the result
(:class:`PSSViolation`) and input error types; the decoded pod the controls read (:class:`Pod`,
built by :mod:`kubefort.kube.pss.decode`); :class:`Control`, one registered check; and the
helpers that render values and names into messages."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

LEVELS = ("privileged", "baseline", "restricted")
LATEST = "v1.37"
LATEST_MINOR = 37

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

_VERSION_RE = re.compile(r"v1\.(0|[1-9][0-9]{0,8})")

UNSET = "<unset>"
SECCOMP_OK = ("RuntimeDefault", "Localhost")


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


Violations = list[PSSViolation]


def parse_version(v: str) -> tuple[int, int]:
    """Parse a policy version: ``"latest"`` or ``"v1.<minor>"`` (no leading zeros)."""
    if v == "latest":
        return (1, LATEST_MINOR)
    m = _VERSION_RE.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        raise ValueError(f"invalid PSS policy version {v!r}: expected 'latest' or 'v1.<minor>'")
    return (1, int(m.group(1)))


# --------------------------------------------------------------------------- rendering helpers


def q(s: str | None) -> str:
    return json.dumps(s, ensure_ascii=False)


def qlist(items: list[str]) -> str:
    return ", ".join(q(s) for s in items)


def render(v: object) -> str:
    if v is None:
        return UNSET
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v or '""'
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def dedup(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --------------------------------------------------------------------------- the decoded pod


@dataclass(slots=True)
class SELinux:
    """seLinuxOptions of the pod or of a container (``level`` is decoded, never restricted)."""

    path: str  # e.g. "spec.securityContext.seLinuxOptions"
    who: str  # "pod" or 'container "app"', for messages
    type: str | None
    user: str | None
    role: str | None


@dataclass(slots=True)
class Volume:
    path: str  # "spec.volumes[0]"
    name: str
    allowed: bool  # has a source restrictedVolumes allows
    restricted_src: str | None  # the first other source it has
    host_path: bool  # has a hostPath source
    host_path_path: str | None  # hostPath.path (decoded only when it is valid; see decode.py)


@dataclass(slots=True)
class Container:
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
    selinux: SELinux | None
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
        return q(self.name)


@dataclass(slots=True)
class Pod:
    annotations: Mapping[str, str | None]
    host_process: bool | None
    host_ns: list[tuple[str, bool | None]]
    apparmor: bool
    apparmor_type: str | None
    selinux: SELinux | None
    seccomp: bool
    seccomp_type: str | None
    non_root: bool | None
    user: int | None
    sysctls: list[tuple[str, str]]  # (field path of the item, name)
    volumes: list[Volume]
    containers: list[Container]
    windows: bool  # spec.os.name: windows
    userns: bool  # spec.hostUsers: false

    @property
    def seccomp_valid(self) -> bool:
        return self.seccomp and self.seccomp_type in SECCOMP_OK


# --------------------------------------------------------------------------- the control registry


@dataclass(frozen=True, slots=True)
class Control:
    """One upstream check: its ID, level, first policy minor version, the minor version from which
    the restricted level replaces it with a restricted check (baseline checks only), and the
    function deciding it."""

    name: str
    level: str
    since: int
    overridden_from: int | None
    check: Callable[[Pod, int], Violations]


def _minor(v: str) -> int:
    return parse_version(v)[1]


def control(name: str, check: Callable[[Pod, int], Violations], overridden_from: str | None = None) -> Control:
    level, versions = CHECKS[name]
    return Control(name, level, _minor(versions[0]), _minor(overridden_from) if overridden_from else None, check)
