"""Kernel interfaces: KF-POD-018 an unmasked /proc and KF-POD-019 unsafe sysctls."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.pod_security.common import NSA_POD
from kubefort.kube.pods import ContainerView, PodView, need
from kubefort.model import CheckContext, Path_, Severity, Violation
from kubefort.registry import Mappings, check


@check(
    id="KF-POD-018",
    name="unmasked-proc-mount",
    title="Container mounts /proc unmasked",
    verified="Container mounts /proc with the default masks (or runs in a user namespace)",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD,
        pss=("baseline/procMount", "restricted/procMount_restricted"),
        mitre=("T1611",),
        owasp=("K01",),
        trivy=("KSV-0027",),
        kubescape=("C-0211",),
        kube_linter=("unsafe-proc-mount",),
        polaris=("procMount",),
    ),
    remediation="Remove securityContext.procMount (or set it to Default); if nested containers need it, run the pod in a user namespace with hostUsers: false.",
)
def unmasked_proc_mount(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose `securityContext.procMount` is set to anything but `Default`
    (in practice `Unmasked`), following the Pod Security Standards baseline `procMount` control
    at the latest policy version: pods with `spec.hostUsers: false` are allowed any value
    (policy v1.35 and later), because their `/proc` belongs to a user namespace. Note that the
    restricted level (`procMount_restricted`, v1.35) keeps forbidding it even then.

    ## Why is this bad?
    The default `/proc` mount masks and makes read-only the paths that expose the host kernel
    (`/proc/kcore`, `/proc/sysrq-trigger`, `/proc/sys` ...). `Unmasked` removes that protection,
    so a process in the container can read kernel memory or change node-wide kernel settings
    (MITRE ATT&CK T1611, Escape to Host).

    ## Example
    ```yaml
    containers:
    - name: builder
      image: registry.example.com/builder:5
      securityContext:
        procMount: Unmasked
    ```

    ## How to fix
    ```yaml
    spec:
      hostUsers: false          # only if the workload really needs an unmasked /proc
      containers:
      - name: builder
        image: registry.example.com/builder:5
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - https://kubernetes.io/docs/concepts/workloads/pods/user-namespaces/
    """
    mount = c.str("securityContext", "procMount")
    if mount is None or mount == "Default":
        return
    if pod.in_user_namespace():
        return
    yield Violation(f"{c.label()} sets securityContext.procMount={mount!r}", c.at("securityContext", "procMount"))


# PSS `sysctls` allow-list at the latest policy version (v1.37), see shared/catalog/pss.md §4
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",  # v1.0
        "net.ipv4.ip_local_reserved_ports",  # v1.27
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",  # v1.29
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",  # v1.32
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",  # v1.37
    }
)


@check(
    id="KF-POD-019",
    name="unsafe-sysctls",
    title="Pod sets sysctls outside the safe set",
    verified="Pod sets only safe sysctls",
    severity=Severity.MEDIUM,
    target="pod",
    mappings=Mappings(
        nsa=NSA_POD,
        pss=("baseline/sysctls",),
        mitre=("T1611", "T1499"),
        owasp=("K01",),
        trivy=("KSV-0026",),
        kubescape=("C-0211",),
        kube_linter=("unsafe-sysctls",),
    ),
    remediation="Remove the unsafe sysctls from spec.securityContext.sysctls; tune the node itself, or run such workloads on dedicated nodes whose kubelet allows those sysctls.",
)
def unsafe_sysctls(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags pods whose `spec.securityContext.sysctls` names a sysctl outside the Pod Security
    Standards safe set (baseline `sysctls`, latest policy version v1.37):
    `kernel.shm_rmid_forced`, `net.ipv4.ip_local_port_range`, `net.ipv4.tcp_syncookies`,
    `net.ipv4.ping_group_range`, `net.ipv4.ip_unprivileged_port_start`,
    `net.ipv4.ip_local_reserved_ports`, `net.ipv4.tcp_keepalive_time`,
    `net.ipv4.tcp_fin_timeout`, `net.ipv4.tcp_keepalive_intvl`, `net.ipv4.tcp_keepalive_probes`,
    `net.ipv4.tcp_rmem`, `net.ipv4.tcp_wmem`, `net.ipv4.tcp_slow_start_after_idle` and
    `net.ipv4.tcp_notsent_lowat`. Names are compared exactly (the API's `/` separator form is
    not translated). The message lists every unsafe sysctl.

    ## Why is this bad?
    Safe sysctls are namespaced and cannot affect other pods. The others either change the whole
    node (and the kubelet refuses the pod unless it was started with `--allowed-unsafe-sysctls`)
    or let one pod starve or destabilise its neighbours: a scheduler that admits them spreads
    node-level risk to every workload on the node (MITRE ATT&CK T1499, Endpoint Denial of Service).

    ## Example
    ```yaml
    spec:
      securityContext:
        sysctls:
        - {name: kernel.msgmax, value: "65536"}
        - {name: net.core.somaxconn, value: "1024"}
    ```

    ## How to fix
    ```yaml
    spec:
      securityContext:
        sysctls:
        - {name: net.ipv4.ip_local_port_range, value: "1024 65000"}
    ```

    ## References
    - https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    """
    bad: list[tuple[str, Path_]] = []
    scope = pod.scope("securityContext")
    for i, item in enumerate(scope.list("securityContext", "sysctls")):
        ipath = scope.at("securityContext", "sysctls") + (i,)
        need(item, dict, "a sysctl mapping", ipath)
        name = need(item.get("name"), str, "a string", ipath + ("name",))
        if name not in SAFE_SYSCTLS:
            bad.append((name, ipath + ("name",)))
    if bad:
        yield Violation(f"pod sets sysctls outside the safe set: {', '.join(n for n, _ in bad)}", bad[0][1])
