"""Linux capabilities: KF-POD-010 (ALL not dropped) and KF-POD-011 (dangerous capabilities added)."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.pod_security.common import NSA_POD
from kubefort.kube.pods import ContainerView, PodView
from kubefort.model import CheckContext, Severity, Violation
from kubefort.registry import Mappings, check


def _drop_all_message(c: ContainerView, drop: list[str]) -> str:
    near = [d for d in drop if d.upper() in ("ALL", "CAP_ALL")]
    if near:
        return (
            f'{c.label()} drops {near[0]!r} but not "ALL": the runtime accepts other spellings, but Pod Security '
            'admission (restricted) compares the exact, case-sensitive string "ALL"'
        )
    if drop:
        return f'{c.label()} drops only {", ".join(drop)}; securityContext.capabilities.drop does not contain "ALL"'
    return f'{c.label()} does not drop any capabilities (securityContext.capabilities.drop lacks "ALL")'


@check(
    id="KF-POD-010",
    name="capabilities-not-dropped",
    title="Container does not drop all capabilities",
    verified="Container drops all capabilities",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        cis=("5.2.9",),
        nsa=NSA_POD,
        pss=("restricted/capabilities_restricted",),
        mitre=("T1068", "T1611"),
        owasp=("K01",),
        trivy=("KSV-0003", "KSV-0004"),
        checkov=("CKV_K8S_37",),
        kubescape=("C-0201", "C-0220"),
        polaris=("insecureCapabilities",),
    ),
    remediation='Set securityContext.capabilities.drop: ["ALL"] and add back only what the container needs (usually nothing, at most NET_BIND_SERVICE).',
)
def capabilities_not_dropped(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose `securityContext.capabilities.drop` does not contain `"ALL"`.
    The comparison is exact and case-sensitive, as in the Pod Security Standards (restricted
    `capabilities_restricted`): containerd and CRI-O also accept `all` and drop everything, but
    the PodSecurity admission plugin rejects such a pod, so the message says so. Pods with
    `spec.os.name: windows` are exempt, as in the Pod Security Standards from policy v1.25.

    ## Why is this bad?
    Without `drop: ["ALL"]` a container keeps the runtime's default set (14 capabilities on
    containerd, including `NET_RAW`, `CHOWN`, `DAC_OVERRIDE`, `SETUID`, `SETGID`, `MKNOD`),
    which a process running as root can use: to spoof packets on the node network, to bypass
    file permissions, to change identity. Most applications need none of them.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        capabilities:
          drop: ["NET_RAW"]
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        capabilities:
          drop: ["ALL"]
          add: ["NET_BIND_SERVICE"]   # only if it binds a port below 1024
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
    - https://man7.org/linux/man-pages/man7/capabilities.7.html
    - CIS Kubernetes Benchmark 5.2.9
    """
    if pod.is_windows():
        return
    drop: list[str] = c.str_list("securityContext", "capabilities", "drop")
    if "ALL" not in drop:
        yield Violation(_drop_all_message(c, drop), c.at("securityContext", "capabilities", "drop"))


# capability -> why it is dangerous (names without the CAP_ prefix, as Kubernetes writes them)
DANGEROUS_CAPABILITIES: dict[str, str] = {
    "ALL": "every capability",
    "SYS_ADMIN": "mount, namespaces, BPF and much more: close to full root",
    "SYS_MODULE": "loads kernel modules",
    "SYS_RAWIO": "raw I/O ports and device memory",
    "SYS_PTRACE": "traces and injects code into other processes",
    "SYS_BOOT": "reboots the node or loads a new kernel",
    "SYS_TIME": "sets the node's clock",
    "DAC_READ_SEARCH": "reads any file by handle (open_by_handle_at escapes)",
    "NET_ADMIN": "reconfigures interfaces, routes and firewall rules",
    "NET_RAW": "crafts raw packets (spoofing, ARP and DNS poisoning)",
    "BPF": "loads eBPF programs",
    "PERFMON": "reads kernel and process memory through perf events",
    "MAC_ADMIN": "changes the AppArmor or SELinux policy",
    "MAC_OVERRIDE": "bypasses the AppArmor or SELinux policy",
}


def normalize_capability(name: str) -> str:
    """A capability name as the container runtimes read it: upper case, without the CAP_ prefix."""
    n = name.strip().upper()
    return n.removeprefix("CAP_")


@check(
    id="KF-POD-011",
    name="dangerous-capability-added",
    title="Container adds a dangerous capability",
    verified="Container adds no dangerous capability",
    severity=Severity.HIGH,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD,
        pss=("baseline/capabilities_baseline",),
        mitre=("T1611", "T1068"),
        owasp=("K01",),
        trivy=("KSV-0005", "KSV-0120", "KSV-0119"),
        checkov=("CKV_K8S_39",),
        kubescape=("C-0046",),
        polaris=("dangerousCapabilities",),
    ),
    remediation="Remove the dangerous capabilities from securityContext.capabilities.add; move node-level work (networking, devices, tracing) into a dedicated, reviewed component.",
)
def dangerous_capability_added(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose `securityContext.capabilities.add` contains a high-risk capability:
    `ALL`, `SYS_ADMIN`, `SYS_MODULE`, `SYS_RAWIO`, `SYS_PTRACE`, `SYS_BOOT`, `SYS_TIME`,
    `DAC_READ_SEARCH`, `NET_ADMIN`, `NET_RAW`, `BPF`, `PERFMON`, `MAC_ADMIN` or
    `MAC_OVERRIDE`. Names are matched the way the container runtimes read them: case-insensitive
    and with or without the `CAP_` prefix (`cap_sys_admin` grants `SYS_ADMIN` on CRI-O). The
    message names every dangerous capability found.

    Capabilities outside this list but outside the PSS baseline default set (for example
    `SYSLOG`, `IPC_LOCK`) are not flagged here.

    ## Why is this bad?
    Each of these capabilities lets a process act on the node rather than inside its
    container: `SYS_MODULE` loads kernel code, `SYS_ADMIN` mounts filesystems and escapes through
    cgroups, `DAC_READ_SEARCH` opens host files by handle, `SYS_PTRACE` injects code into other
    processes, `NET_ADMIN` and `NET_RAW` intercept and spoof the node's traffic, `BPF` and
    `PERFMON` read kernel memory (MITRE ATT&CK T1611, Escape to Host).

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        capabilities:
          add: ["SYS_ADMIN", "NET_ADMIN"]
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        capabilities:
          drop: ["ALL"]
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - https://man7.org/linux/man-pages/man7/capabilities.7.html
    """
    path = c.at("securityContext", "capabilities", "add")
    found: dict[str, int] = {}
    added: list[str] = c.str_list("securityContext", "capabilities", "add")
    for i, cap in enumerate(added):
        norm = normalize_capability(cap)
        if norm in DANGEROUS_CAPABILITIES and norm not in found:
            found[norm] = i
    if found:
        names = ", ".join(f"{n} ({DANGEROUS_CAPABILITIES[n]})" for n in found)
        yield Violation(f"{c.label()} adds {names}", path + (next(iter(found.values())),))
