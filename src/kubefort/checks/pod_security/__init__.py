"""KF-POD: pod and container security settings (Pod Security Standards and hardening).

| module              | IDs                                                                     |
|---------------------|-------------------------------------------------------------------------|
| privileges.py       | 001 privileged, 005 allowPrivilegeEscalation                            |
| host_namespaces.py  | 002 hostPID, 003 hostIPC, 004 hostNetwork, 016 hostPort, 017 shareProcessNamespace, 021 Windows hostProcess |
| users.py            | 006 runAsNonRoot, 008 UID 0, 009 low UID/GID, 022 root group            |
| filesystem.py       | 007 writable root file system, 014 sensitive hostPath, 015 writable hostPath |
| capabilities.py     | 010 ALL not dropped, 011 dangerous capabilities added                   |
| confinement.py      | 012 seccomp, 013 AppArmor, 020 SELinux                                  |
| kernel.py           | 018 procMount, 019 sysctls                                              |
| processes.py        | 023 privileged ports it may not bind, 024 sudo, 025 SSH server          |
| common.py           | helpers shared by the modules above                                     |
"""

from kubefort.checks.pod_security import (
    capabilities,
    confinement,
    filesystem,
    host_namespaces,
    kernel,
    privileges,
    processes,
    users,
)
from kubefort.checks.pod_security.capabilities import DANGEROUS_CAPABILITIES, normalize_capability
from kubefort.checks.pod_security.filesystem import normalize_host_path, pod_volumes, sensitive_host_path
from kubefort.checks.pod_security.kernel import SAFE_SYSCTLS

__all__ = [
    "DANGEROUS_CAPABILITIES",
    "SAFE_SYSCTLS",
    "capabilities",
    "confinement",
    "filesystem",
    "host_namespaces",
    "kernel",
    "normalize_capability",
    "normalize_host_path",
    "pod_volumes",
    "privileges",
    "processes",
    "sensitive_host_path",
    "users",
]
