"""KF-POD: pod and container security settings (Pod Security Standards and hardening)."""

from collections.abc import Iterator

from kubefort.kube.pods import ContainerView, PodView
from kubefort.model import Severity, Violation
from kubefort.registry import Mappings, check

NSA_POD = ("NSA-CISA Kubernetes Hardening Guide: Kubernetes Pod security",)


@check(
    id="KF-POD-001",
    name="privileged-container",
    title="Container runs privileged",
    severity=Severity.CRITICAL,
    target="container",
    mappings=Mappings(
        cis=("5.2.2",), nsa=NSA_POD, pss=("baseline/privileged",), mitre=("T1611",), owasp=("K01",),
        trivy=("KSV-0017",), checkov=("CKV_K8S_16",), kubescape=("C-0057",),
        kube_linter=("privileged-container",), polaris=("runAsPrivileged",),
    ),
    remediation="Remove securityContext.privileged (or set it to false) and grant only the capabilities the container needs.",
)
def privileged_container(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags any container, init container or ephemeral container with
    `securityContext.privileged: true`.

    ## Why is this bad?
    A privileged container sees every device of the node and holds nearly every Linux
    capability, with no seccomp or AppArmor confinement. Whoever takes over the application
    takes over the node, and from there every pod on it (MITRE ATT&CK T1611, Escape to Host).

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        privileged: true
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        privileged: false
        capabilities:
          drop: ["ALL"]
          add: ["NET_BIND_SERVICE"]   # only what the app needs
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - CIS Kubernetes Benchmark 5.2.2
    """
    if c.bool("securityContext", "privileged"):
        yield Violation(f"{c.label()} sets securityContext.privileged=true", c.at("securityContext", "privileged"))


def _host_namespace(pod: PodView, field: str) -> Iterator[Violation]:
    if pod.spec.bool(field):
        yield Violation(f"pod sets {field}=true", pod.spec.at(field))


@check(
    id="KF-POD-002",
    name="host-pid-namespace",
    title="Pod shares the node's process namespace",
    severity=Severity.HIGH,
    target="pod",
    mappings=Mappings(
        cis=("5.2.3",), nsa=NSA_POD, pss=("baseline/hostNamespaces",), mitre=("T1611", "T1057"), owasp=("K01",),
        trivy=("KSV-0010",), checkov=("CKV_K8S_17",), kubescape=("C-0038", "C-0275"),
        kube_linter=("host-pid",), polaris=("hostPIDSet",),
    ),
    remediation="Remove spec.hostPID (it defaults to false).",
)
def host_pid_namespace(pod: PodView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags pods with `spec.hostPID: true`.

    ## Why is this bad?
    With the node's PID namespace, a container sees every process on the node, can read their
    environment and `/proc/<pid>/root` (secrets of other pods), and, with ptrace, inject code
    into them.

    ## Example
    ```yaml
    spec:
      hostPID: true
    ```

    ## How to fix
    ```yaml
    spec:
      hostPID: false   # or leave it out
    ```
    For debugging a node, use an ephemeral `kubectl debug node/...` session instead.

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - CIS Kubernetes Benchmark 5.2.3
    """
    return _host_namespace(pod, "hostPID")


@check(
    id="KF-POD-003",
    name="host-ipc-namespace",
    title="Pod shares the node's IPC namespace",
    severity=Severity.HIGH,
    target="pod",
    mappings=Mappings(
        cis=("5.2.4",), nsa=NSA_POD, pss=("baseline/hostNamespaces",), mitre=("T1611",), owasp=("K01",),
        trivy=("KSV-0008",), checkov=("CKV_K8S_18",), kubescape=("C-0038", "C-0276"),
        kube_linter=("host-ipc",), polaris=("hostIPCSet",),
    ),
    remediation="Remove spec.hostIPC (it defaults to false).",
)
def host_ipc_namespace(pod: PodView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags pods with `spec.hostIPC: true`.

    ## Why is this bad?
    The node's IPC namespace exposes shared memory segments and message queues of every
    process on the node, so a compromised container can read or tamper with other workloads'
    data in transit.

    ## Example
    ```yaml
    spec:
      hostIPC: true
    ```

    ## How to fix
    ```yaml
    spec:
      hostIPC: false   # or leave it out
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - CIS Kubernetes Benchmark 5.2.4
    """
    return _host_namespace(pod, "hostIPC")


@check(
    id="KF-POD-004",
    name="host-network-namespace",
    title="Pod uses the node's network namespace",
    severity=Severity.HIGH,
    target="pod",
    mappings=Mappings(
        cis=("5.2.5",), nsa=NSA_POD, pss=("baseline/hostNamespaces",), mitre=("T1611", "T1557"), owasp=("K01",),
        trivy=("KSV-0009",), checkov=("CKV_K8S_19",), kubescape=("C-0041",),
        kube_linter=("host-network",), polaris=("hostNetworkSet",),
    ),
    remediation="Remove spec.hostNetwork; expose the workload through a Service instead.",
)
def host_network_namespace(pod: PodView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags pods with `spec.hostNetwork: true`.

    ## Why is this bad?
    The pod binds to the node's interfaces and reaches services listening on the node's
    loopback (the kubelet's read-only port, local agents, cloud metadata proxies). NetworkPolicies
    do not apply to host-network pods, so a default-deny policy silently does not cover it.

    ## Example
    ```yaml
    spec:
      hostNetwork: true
    ```

    ## How to fix
    ```yaml
    spec:
      hostNetwork: false   # or leave it out, and add a Service
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - CIS Kubernetes Benchmark 5.2.5
    """
    return _host_namespace(pod, "hostNetwork")


@check(
    id="KF-POD-005",
    name="privilege-escalation-allowed",
    title="Container allows privilege escalation",
    severity=Severity.HIGH,
    target="container",
    mappings=Mappings(
        cis=("5.2.6",), nsa=NSA_POD, pss=("restricted/allowPrivilegeEscalation",), mitre=("T1548",), owasp=("K01",),
        trivy=("KSV-0001",), checkov=("CKV_K8S_20",), kubescape=("C-0016",),
        kube_linter=("privilege-escalation-container",), polaris=("privilegeEscalationAllowed",),
    ),
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
)
def privilege_escalation_allowed(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose `securityContext.allowPrivilegeEscalation` is not `false`. Unset
    counts as allowed, because that is the runtime's default (`no_new_privs` is not set).
    As in the Pod Security Standards, pods with `spec.os.name: windows` are exempt.

    ## Why is this bad?
    Without `no_new_privs`, a setuid binary or a file capability in the image lets a process
    gain more privileges than its parent, which turns a foothold as an unprivileged user into
    root inside the container.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        allowPrivilegeEscalation: false
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
    - CIS Kubernetes Benchmark 5.2.6
    """
    if pod.is_windows():
        return
    v = c.bool("securityContext", "allowPrivilegeEscalation")
    if v is not False:
        state = "true" if v else "unset (defaults to allowed)"
        yield Violation(f"{c.label()}: securityContext.allowPrivilegeEscalation is {state}", c.at("securityContext", "allowPrivilegeEscalation"))


@check(
    id="KF-POD-006",
    name="run-as-non-root-not-enforced",
    title="Container may run as root",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        cis=("5.2.7",), nsa=NSA_POD, pss=("restricted/runAsNonRoot",), mitre=("T1611",), owasp=("K01",),
        trivy=("KSV-0012",), checkov=("CKV_K8S_23",), kubescape=("C-0013",),
        kube_linter=("run-as-non-root",), polaris=("runAsRootAllowed",),
    ),
    remediation="Set securityContext.runAsNonRoot: true on the pod (or every container) and build images with a non-root USER.",
)
def run_as_non_root_not_enforced(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers for which the kubelet does not enforce a non-root user: neither the
    container nor the pod sets `securityContext.runAsNonRoot: true`, or the container
    overrides the pod's setting with `false`. As in the Pod Security Standards, a
    `runAsUser` alone does not count (the image may still be run as root if it changes), and
    pods with `spec.os.name: windows` are exempt.

    ## Why is this bad?
    Most images run as root (UID 0) unless told otherwise. Root in a container is root on the
    node's kernel: with one misconfiguration or kernel bug it escapes, and even confined it
    can write to every file the image ships.

    ## Example
    ```yaml
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.4.2
    ```

    ## How to fix
    ```yaml
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
      containers:
      - name: app
        image: registry.example.com/app:1.4.2
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
    - CIS Kubernetes Benchmark 5.2.7
    """
    if pod.is_windows():
        return
    own = c.bool("securityContext", "runAsNonRoot")
    if own is True:
        return
    if own is False:
        yield Violation(f"{c.label()} sets securityContext.runAsNonRoot=false", c.at("securityContext", "runAsNonRoot"))
        return
    if pod.scope("securityContext").bool("securityContext", "runAsNonRoot") is True:
        return
    yield Violation(
        f"{c.label()}: runAsNonRoot is set to true neither on the container nor on the pod",
        c.at("securityContext", "runAsNonRoot"),
    )


# --------------------------------------------------------------------------------------------
# KF-POD-007 .. KF-POD-022: hardening beyond the host namespaces and privilege settings above.
# Shared helpers first; each check then reads like KF-POD-001..006.

import posixpath  # noqa: E402  (kept next to the helpers that use it; 001-006 above stay untouched)
import re  # noqa: E402
from typing import Any  # noqa: E402

from kubefort.kube.pods import need as _need  # noqa: E402
from kubefort.kube.pods import optional as _opt  # noqa: E402
from kubefort.model import NotEvaluated, Path_, format_path  # noqa: E402

NSA_HOST = ("NSA-CISA Kubernetes Hardening Guide: Kubernetes Pod security (host file systems and devices)",)


def _effective_int(pod: PodView, c: ContainerView, field: str) -> tuple[int | None, Path_, bool]:
    """A securityContext integer as the kubelet applies it: the container's, else the pod's.

    Returns (value, path of the field that decided, whether it came from the pod)."""
    own = c.int("securityContext", field)
    if own is not None:
        return own, c.at("securityContext", field), False
    scope = pod.scope("securityContext")
    inherited = scope.int("securityContext", field)
    if inherited is not None:
        return inherited, scope.at("securityContext", field), True
    return None, c.at("securityContext", field), False


def _annotation(pod: PodView, key: str) -> tuple[str | None, Path_]:
    """A pod-template annotation (string or absent) and its path."""
    if pod.meta is None:
        return None, ()
    path = pod.meta.at("annotations", key)
    return _opt(pod.annotations().get(key), str, "a string", path), path


def _profile_type(view: Any, *keys: str) -> tuple[bool, str | None, Path_]:
    """(is the profile mapping set, its `type`, path of `type`) for seccompProfile / appArmorProfile."""
    path = view.at(*keys, "type")
    if view.get(*keys) is None:
        return False, None, path
    view.mapping(*keys)
    kind = view.str(*keys, "type")
    if kind is None:
        raise NotEvaluated(f"{format_path(path)} is missing; the API server requires a type when the profile is set", path)
    return True, kind, path


@check(
    id="KF-POD-007",
    name="writable-root-filesystem",
    title="Container root filesystem is writable",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD, mitre=("T1105", "T1036"), owasp=("K01",),
        trivy=("KSV-0014",), checkov=("CKV_K8S_22",), kubescape=("C-0017",),
        kube_linter=("no-read-only-root-fs",), polaris=("notReadOnlyRootFilesystem",),
    ),
    remediation="Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the application must write (for example /tmp).",
)
def writable_root_filesystem(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers, init containers and ephemeral containers whose
    `securityContext.readOnlyRootFilesystem` is not `true`. Unset counts as writable, because
    that is the runtime's default. Pods with `spec.os.name: windows` are exempt: the field
    cannot be set on Windows containers.

    ## Why is this bad?
    With a writable root filesystem, an attacker who gets code execution can download tools,
    replace the application's binaries or libraries, and plant files that survive until the
    container restarts (MITRE ATT&CK T1105, Ingress Tool Transfer; T1036, Masquerading). A
    read-only root also makes drift visible: anything that needs to write must be declared as a
    volume.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        readOnlyRootFilesystem: true
      volumeMounts:
      - name: tmp
        mountPath: /tmp
    volumes:
    - name: tmp
      emptyDir: {}
    ```

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
    - NSA-CISA Kubernetes Hardening Guide, "Immutable container file systems"
    """
    if pod.is_windows():
        return
    v = c.bool("securityContext", "readOnlyRootFilesystem")
    if v is not True:
        state = "false" if v is False else "unset (defaults to writable)"
        yield Violation(f"{c.label()}: securityContext.readOnlyRootFilesystem is {state}", c.at("securityContext", "readOnlyRootFilesystem"))


@check(
    id="KF-POD-008",
    name="run-as-uid-zero",
    title="Container runs as UID 0 (root) explicitly",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        cis=("5.2.7",), nsa=NSA_POD, pss=("restricted/runAsUser",), mitre=("T1611", "T1068"), owasp=("K01",),
        trivy=("KSV-0105",), kubescape=("C-0013",),
    ),
    remediation="Remove runAsUser: 0 and run the container as a non-root UID (runAsUser: 10001, runAsNonRoot: true), with an image built for it.",
)
def run_as_uid_zero(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers that run as UID 0 because of an explicit `runAsUser: 0`: set on the
    container, or set on the pod and not overridden by the container (the kubelet applies the
    container's value first, then the pod's). An unset `runAsUser` is not flagged here: the
    image decides, and KF-POD-006 (`run-as-non-root-not-enforced`) covers it.

    Pods with `spec.hostUsers: false` are exempt, as in the Pod Security Standards from policy
    v1.35: in a user namespace, UID 0 inside the container maps to an unprivileged UID on the
    node. Windows pods (`spec.os.name: windows`) are exempt: `runAsUser` is Linux-only.

    Unlike the PSS `runAsUser` control, a pod-level `runAsUser: 0` that every container
    overrides is not reported, because no process runs with it.

    ## Why is this bad?
    `runAsUser: 0` defeats image hardening: even an image built with a non-root `USER` runs
    as root. Root in a container is root on the node's kernel: any capability it keeps, any
    writable host mount and any kernel bug become an escape to the node (MITRE ATT&CK T1611,
    Escape to Host; T1068, Exploitation for Privilege Escalation).

    ## Example
    ```yaml
    spec:
      securityContext:
        runAsUser: 0
      containers:
      - name: app
        image: registry.example.com/app:1.4.2
    ```

    ## How to fix
    ```yaml
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
      containers:
      - name: app
        image: registry.example.com/app:1.4.2
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
    - CIS Kubernetes Benchmark 5.2.7
    """
    if pod.is_windows() or pod.in_user_namespace():
        return
    uid, path, inherited = _effective_int(pod, c, "runAsUser")
    if uid == 0:
        how = "inherits runAsUser=0 from the pod's securityContext" if inherited else "sets securityContext.runAsUser=0"
        yield Violation(f"{c.label()} {how} and runs as root", path)


LOW_ID_LIMIT = 10000


@check(
    id="KF-POD-009",
    name="low-uid-gid",
    title="Container runs with a UID or GID below 10000",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD, mitre=("T1611",), owasp=("K01",),
        trivy=("KSV-0020", "KSV-0021"), checkov=("CKV_K8S_40",),
    ),
    remediation="Run the container with a UID and GID of 10000 or more (runAsUser: 10001, runAsGroup: 10001), outside the ranges the node's own accounts use.",
)
def low_uid_gid(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose effective `runAsUser` or `runAsGroup` (the container's value, else
    the pod's) is between 1 and 9999. ID 0 is left to other checks: UID 0 is KF-POD-008
    (`run-as-uid-zero`) and GID 0 is KF-POD-022 (`root-group`), so one setting never produces
    two findings. Unset values are not flagged: the image decides, and kubefort does not guess
    what its `USER` is.

    Pods with `spec.hostUsers: false` are exempt (in a user namespace, IDs are remapped to a
    range of their own on the node), and so are Windows pods (`spec.os.name: windows`).

    This check and KF-POD-022 were kept apart on purpose: low IDs are common and low-risk (a
    hygiene finding many teams will disable), while the root group grants real access, and a
    team should be able to turn one off without losing the other.

    ## Why is this bad?
    Linux distributions give IDs below 1000 to system services and IDs from 1000 up to human
    users; node images add their own service accounts there. Containers share the node's kernel
    and, through hostPath volumes or after an escape, its files: a container process whose UID
    or GID matches a node account can read and write that account's files. IDs of 10000 and
    above stay clear of these ranges.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        runAsUser: 1000
        runAsGroup: 1000
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        runAsUser: 10001
        runAsGroup: 10001
    ```

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
    - https://kubernetes.io/docs/concepts/workloads/pods/user-namespaces/
    """
    if pod.is_windows() or pod.in_user_namespace():
        return
    for field, what in (("runAsUser", "UID"), ("runAsGroup", "GID")):
        value, path, inherited = _effective_int(pod, c, field)
        if value is not None and 0 < value < LOW_ID_LIMIT:
            src = f"inherited {field}={value} from the pod" if inherited else f"{field}={value}"
            yield Violation(f"{c.label()} runs with {what} {value} ({src}), below {LOW_ID_LIMIT}", path)


def _drop_all_message(c: ContainerView, drop: list[str]) -> str:
    near = [d for d in drop if d.upper() in ("ALL", "CAP_ALL")]
    if near:
        return (
            f"{c.label()} drops {near[0]!r} but not \"ALL\": the runtime accepts other spellings, but Pod Security "
            "admission (restricted) compares the exact, case-sensitive string \"ALL\""
        )
    if drop:
        return f"{c.label()} drops only {', '.join(drop)}; securityContext.capabilities.drop does not contain \"ALL\""
    return f"{c.label()} does not drop any capabilities (securityContext.capabilities.drop lacks \"ALL\")"


@check(
    id="KF-POD-010",
    name="capabilities-not-dropped",
    title="Container does not drop all capabilities",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        cis=("5.2.9",), nsa=NSA_POD, pss=("restricted/capabilities_restricted",), mitre=("T1068", "T1611"), owasp=("K01",),
        trivy=("KSV-0003", "KSV-0004"), checkov=("CKV_K8S_37",), kubescape=("C-0201", "C-0220"),
        polaris=("insecureCapabilities",),
    ),
    remediation="Set securityContext.capabilities.drop: [\"ALL\"] and add back only what the container needs (usually nothing, at most NET_BIND_SERVICE).",
)
def capabilities_not_dropped(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
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
    drop = c.str_list("securityContext", "capabilities", "drop")
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
    return n[4:] if n.startswith("CAP_") else n


@check(
    id="KF-POD-011",
    name="dangerous-capability-added",
    title="Container adds a dangerous capability",
    severity=Severity.HIGH,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD, pss=("baseline/capabilities_baseline",), mitre=("T1611", "T1068"), owasp=("K01",),
        trivy=("KSV-0005", "KSV-0120", "KSV-0119"), checkov=("CKV_K8S_39",), kubescape=("C-0046",),
        polaris=("dangerousCapabilities",),
    ),
    remediation="Remove the dangerous capabilities from securityContext.capabilities.add; move node-level work (networking, devices, tracing) into a dedicated, reviewed component.",
)
def dangerous_capability_added(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
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
    for i, cap in enumerate(c.str_list("securityContext", "capabilities", "add")):
        norm = normalize_capability(cap)
        if norm in DANGEROUS_CAPABILITIES and norm not in found:
            found[norm] = i
    if found:
        names = ", ".join(f"{n} ({DANGEROUS_CAPABILITIES[n]})" for n in found)
        yield Violation(f"{c.label()} adds {names}", path + (next(iter(found.values())),))


SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
SECCOMP_CONFINED = ("RuntimeDefault", "Localhost")


def _seccomp_annotation_verdict(value: str) -> str | None:
    """None when the legacy annotation value confines the container, else what is wrong with it."""
    if value in ("runtime/default", "docker/default") or (value.startswith("localhost/") and len(value) > len("localhost/")):
        return None
    if value == "unconfined":
        return "is unconfined"
    return f"is {value!r}, not runtime/default, docker/default or localhost/<profile>"


@check(
    id="KF-POD-012",
    name="seccomp-unconfined",
    title="Container runs without a seccomp profile",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        cis=("5.6.2",), nsa=NSA_POD, pss=("baseline/seccompProfile_baseline", "restricted/seccompProfile_restricted"),
        mitre=("T1611", "T1068"), owasp=("K01",),
        trivy=("KSV-0030", "KSV-0104"), checkov=("CKV_K8S_31",), kubescape=("C-0210", "C-0055"), polaris=("linuxHardening",),
    ),
    remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod (or Localhost with a reviewed profile), and remove any Unconfined override.",
)
def seccomp_unconfined(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose effective seccomp profile is missing or `Unconfined`. The profile is
    resolved the way the API server and kubelet do: the container's
    `securityContext.seccompProfile`, else the legacy annotation
    `container.seccomp.security.alpha.kubernetes.io/<container name>`, else the pod's
    `securityContext.seccompProfile`, else the legacy annotation
    `seccomp.security.alpha.kubernetes.io/pod`. (The API server copies a legacy annotation into
    the matching field when it creates the pod and the field is unset.)

    Passing values: `RuntimeDefault` and `Localhost` (fields, case-sensitive), `runtime/default`,
    `docker/default` and `localhost/<profile>` (annotations). `Unconfined`, `unconfined`, an
    empty annotation and unknown values fail; so does a container for which nothing is set,
    because Kubernetes then runs it `Unconfined` unless the kubelet enables `seccompDefault`,
    which a manifest cannot show. Pods with `spec.os.name: windows` are exempt, as in the Pod
    Security Standards from policy v1.25.

    This is the restricted PSS rule (`seccompProfile_restricted`, which also covers the baseline
    rule that forbids `Unconfined`), evaluated per container. For an Argo Workflows template,
    the workflow's `spec.securityContext` is the pod-level one unless the template sets its own.

    ## Why is this bad?
    Seccomp is the filter between a container and the ~400 system calls of the node's shared
    kernel. `RuntimeDefault` blocks the calls behind most container escapes and kernel exploits
    (`unshare`, `keyctl`, `bpf`, `mount`, `ptrace` of other namespaces ...). Without it, a
    single kernel bug reachable from user space is an escape to the node (MITRE ATT&CK T1611).

    ## Example
    ```yaml
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.4.2
        securityContext:
          seccompProfile:
            type: Unconfined
    ```

    ## How to fix
    ```yaml
    spec:
      securityContext:
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: app
        image: registry.example.com/app:1.4.2
    ```

    ## References
    - https://kubernetes.io/docs/tutorials/security/seccomp/
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
    - CIS Kubernetes Benchmark 5.6.2

    ## Known limitations
    A node whose kubelet runs with `seccompDefault: true` applies `RuntimeDefault` to containers
    that set nothing; kubefort cannot see node configuration, so set the profile explicitly.
    """
    if pod.is_windows():
        return
    is_set, kind, path = _profile_type(c, "securityContext", "seccompProfile")
    where = "its"
    if not is_set:
        # legacy annotations: the container's applies before the pod's field, the pod's last
        for key, pod_field_next in ((SECCOMP_CONTAINER_ANNOTATION + c.name, True), (SECCOMP_POD_ANNOTATION, False)):
            value, apath = _annotation(pod, key)
            if value is not None:
                problem = _seccomp_annotation_verdict(value)
                if problem:
                    yield Violation(f"{c.label()}: annotation {key} {problem}", apath)
                return
            if pod_field_next:
                is_set, kind, ppath = _profile_type(pod.scope("securityContext"), "securityContext", "seccompProfile")
                if is_set:
                    path, where = ppath, "the pod's"
                    break
        else:
            yield Violation(
                f"{c.label()}: no seccomp profile is set on the container or the pod "
                "(it runs Unconfined unless the kubelet enables seccompDefault)",
                path,
            )
            return
    if kind == "Unconfined":
        yield Violation(f"{c.label()}: {where} securityContext.seccompProfile.type is Unconfined", path)
    elif kind not in SECCOMP_CONFINED:
        yield Violation(
            f"{c.label()}: {where} securityContext.seccompProfile.type is {kind!r}, not RuntimeDefault or Localhost "
            "(values are case-sensitive)",
            path,
        )


APPARMOR_CONTAINER_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@check(
    id="KF-POD-013",
    name="apparmor-unconfined",
    title="Container runs with AppArmor explicitly disabled",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD, pss=("baseline/appArmorProfile",), mitre=("T1611", "T1562.001"), owasp=("K01",),
        trivy=("KSV-0002",), kubescape=("C-0055",), polaris=("linuxHardening",),
    ),
    remediation="Remove the Unconfined AppArmor profile: leave it unset (the runtime default applies) or set appArmorProfile.type: RuntimeDefault or Localhost.",
)
def apparmor_unconfined(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose AppArmor profile is explicitly disabled. The profile is resolved as
    the API server and kubelet do: the container's `securityContext.appArmorProfile.type`, else
    the legacy annotation `container.apparmor.security.beta.kubernetes.io/<container name>`,
    else the pod's `securityContext.appArmorProfile.type`.

    `Unconfined` (field) and `unconfined` (annotation) fail, and so do values the Pod Security
    Standards (baseline `appArmorProfile`) do not allow (anything but `RuntimeDefault` and
    `Localhost`, or `runtime/default`, `localhost/<profile>` and empty for the annotation).

    **Unset passes, by design.** On nodes with AppArmor, the runtime applies its default profile
    when nothing is set; on nodes without AppArmor (many distributions use SELinux instead, or
    nothing), no setting has any effect. Failing every pod that does not name a profile would be
    noise on most clusters, so only an explicit opt-out is reported.

    ## Why is this bad?
    The runtime's default AppArmor profile denies writes to `/proc` and `/sys`, mounts, and
    access to the kernel's most dangerous interfaces. Turning it off removes a layer that stops
    several known container escapes, and is usually done to make something privileged work
    (MITRE ATT&CK T1562.001, Impair Defenses; T1611, Escape to Host).

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        appArmorProfile:
          type: Unconfined
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        appArmorProfile:
          type: RuntimeDefault
    ```

    ## References
    - https://kubernetes.io/docs/tutorials/security/apparmor/
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    """
    is_set, kind, path = _profile_type(c, "securityContext", "appArmorProfile")
    where = "sets"
    if not is_set:
        value, apath = _annotation(pod, APPARMOR_CONTAINER_ANNOTATION + c.name)
        if value is not None:
            if value == "unconfined":
                yield Violation(f"{c.label()}: annotation {APPARMOR_CONTAINER_ANNOTATION}{c.name} is unconfined", apath)
            elif value not in ("", "runtime/default") and not value.startswith("localhost/"):
                yield Violation(f"{c.label()}: annotation {APPARMOR_CONTAINER_ANNOTATION}{c.name} is {value!r}, not runtime/default or localhost/<profile>", apath)
            return
        is_set, kind, path = _profile_type(pod.scope("securityContext"), "securityContext", "appArmorProfile")
        where = "inherits the pod's"
        if not is_set:
            return
    if kind == "Unconfined":
        yield Violation(f"{c.label()} {where} securityContext.appArmorProfile.type=Unconfined", path)
    elif kind not in ("RuntimeDefault", "Localhost"):
        yield Violation(f"{c.label()} {where} securityContext.appArmorProfile.type={kind!r}, not RuntimeDefault or Localhost (values are case-sensitive)", path)


# ---------------------------------------------------------------- host paths (KF-POD-014, 015)

# Directories whose whole tree is sensitive (Linux paths after normalisation, /var/run read as /run).
SENSITIVE_HOST_TREES: dict[str, str] = {
    "/etc": "node configuration and credentials",
    "/proc": "host process and kernel interfaces",
    "/sys": "kernel and device interfaces",
    "/dev": "host devices",
    "/boot": "kernel and boot loader",
    "/root": "root's home directory",
    "/home": "home directories on the node",
    "/var/lib/kubelet/pods": "every pod's volumes, including Secrets and service account tokens",
    "/var/lib/kubelet/plugins_registry": "kubelet plugin registration sockets",
    "/var/lib/kubelet/device-plugins": "kubelet device plugin sockets",
    "/var/lib/kubelet/plugins": "the sockets of every CSI driver on the node",
    "/var/lib/kubelet": "kubelet state and credentials, including every pod's Secrets and service account tokens",
    "/var/lib/docker": "container runtime state",
    "/var/lib/containerd": "container runtime state",
    "/var/lib/containers": "container runtime state",
    "/var/lib/etcd": "etcd data, holding every Secret of the cluster",
    "/var/lib/cloud": "cloud-init data (instance user data and credentials)",
    "/run/containerd": "container runtime socket directory",
    "/run/crio": "container runtime socket directory",
    "/run/docker": "container runtime state",
    "/run/podman": "container runtime socket directory",
}
# Files under a sensitive tree that are public by nature (time zone, CA bundles, OS identity, name
# resolution, account names); writing to them is KF-POD-015's concern.
HARMLESS_HOST_PATHS: tuple[str, ...] = (
    "/etc/localtime", "/etc/timezone", "/etc/machine-id", "/etc/os-release", "/etc/lsb-release", "/etc/hostname",
    "/etc/ssl/certs", "/etc/pki/tls/certs", "/etc/pki/ca-trust/extracted", "/etc/ca-certificates",
    "/etc/resolv.conf", "/etc/hosts", "/etc/passwd", "/etc/group",
)
# A CSI driver exposes its socket in its own directory below this one (the standard CSI node layout).
CSI_PLUGIN_DIRS = "/var/lib/kubelet/plugins"
RUNTIME_SOCKETS = frozenset({"docker.sock", "containerd.sock", "crio.sock", "dockershim.sock", "cri-dockerd.sock", "podman.sock"})
# Path components that name per-user credential stores wherever they are (~/.aws style).
CREDENTIAL_DIRS: dict[tuple[str, ...], str] = {
    (".aws",): "AWS credentials", (".azure",): "Azure credentials", (".config", "gcloud"): "Google Cloud credentials",
    (".kube",): "kubeconfig credentials", (".docker",): "registry credentials", (".ssh",): "SSH keys",
}
WINDOWS_SENSITIVE: dict[str, str] = {
    "//./pipe/docker_engine": "container runtime named pipe",
    "//./pipe/containerd-containerd": "container runtime named pipe",
}
WINDOWS_SENSITIVE_TREES: dict[str, str] = {
    "windows": "the Windows system directory",
    "var/lib/kubelet": "kubelet state, including every pod's secrets and service account tokens",
    "programdata/docker": "container runtime state",
}
_DRIVE = re.compile(r"^([a-z]):(/|$)")


def normalize_host_path(path: str) -> str | None:
    """A hostPath as the node resolves it, for comparison: absolute, no `.`/`..`, no doubled or trailing
    slashes, `/var/run` read as `/run` (a symlink on every current distribution). Windows paths are lower
    case with forward slashes. None for relative paths (the API server rejects them)."""
    p = path.strip()
    if re.match(r"^[A-Za-z]:([\\/]|$)", p) or p.startswith(("\\\\", "//")) and "\\" in p:
        w = p.replace("\\", "/").lower()
        if w.startswith("//"):  # device or UNC path (\\.\pipe\docker_engine): keep its "." host part
            return "//" + re.sub("/+", "/", w[2:]).rstrip("/")
        return posixpath.normpath("/" + w).lstrip("/")
    if not p.startswith("/"):
        return None
    p = posixpath.normpath("/" + p.lstrip("/"))  # normpath keeps a leading "//"; strip it first
    if p == "/var/run" or p.startswith("/var/run/"):
        p = "/run" + p[len("/var/run"):]
    return p


def _under(path: str, tree: str) -> bool:
    return path == tree or path.startswith(tree.rstrip("/") + "/")


def sensitive_host_path(path: str) -> str | None:
    """Why a hostPath is sensitive, or None. Matching is by whole path components, never by string prefix."""
    p = normalize_host_path(path)
    if p is None:
        return None
    m = _DRIVE.match(p)
    if m or p.startswith("//"):
        if p in WINDOWS_SENSITIVE:
            return WINDOWS_SENSITIVE[p]
        if m:
            rest = p[2:].strip("/")
            if not rest:
                return f"the node's entire {m.group(1).upper()}: drive"
            for tree, why in WINDOWS_SENSITIVE_TREES.items():
                if _under(rest, tree):
                    return why
                if _under(tree, rest):
                    return f"contains {m.group(1).upper()}:\\{tree.replace('/', chr(92))} ({why})"
        return None
    if p == "/":
        return "the node's entire root filesystem"
    parts = tuple(x for x in p.split("/") if x)
    if parts[-1] in RUNTIME_SOCKETS:
        return "container runtime socket: full control of every container on the node"
    for seq, why in CREDENTIAL_DIRS.items():
        n = len(seq)
        if any(parts[i : i + n] == seq for i in range(len(parts) - n + 1)):
            return why
    if any(_under(p, h) for h in HARMLESS_HOST_PATHS):
        return None
    if p.startswith(CSI_PLUGIN_DIRS + "/"):
        return None  # one driver's own socket directory, not the node's
    for tree, why in SENSITIVE_HOST_TREES.items():
        if _under(p, tree):
            return why
    if p == "/run":
        return "the node's runtime sockets and state (docker.sock, containerd, CRI-O)"
    for tree, why in SENSITIVE_HOST_TREES.items():
        if _under(tree, p):  # an ancestor: mounting /var exposes /var/lib/kubelet
            return f"contains {tree} ({why})"
    return None


def pod_volumes(pod: PodView) -> Iterator[tuple[int, dict[str, Any], Path_]]:
    """(index, volume, path) for every volume of the pod, in every scope; wrong types raise."""
    for view in pod.scopes():
        for i, vol in enumerate(view.list("volumes")):
            vpath = view.at("volumes") + (i,)
            yield i, _need(vol, dict, "a volume mapping", vpath), vpath


def _host_path_volumes(pod: PodView) -> Iterator[tuple[int, str, Any, Path_]]:
    """(index, volume name, hostPath.path, path of hostPath.path) for every hostPath volume; wrong types raise."""
    for i, vol, vpath in pod_volumes(pod):
        hp = vol.get("hostPath")
        if hp is None:
            continue
        _need(hp, dict, "a mapping", vpath + ("hostPath",))
        name = _opt(vol.get("name"), str, "a string", vpath + ("name",)) or f"#{i}"
        hpath = _need(hp.get("path"), str, "a string", vpath + ("hostPath", "path"))
        yield i, name, hpath, vpath + ("hostPath", "path")


@check(
    id="KF-POD-014",
    name="sensitive-host-path",
    title="Pod mounts a sensitive host path",
    severity=Severity.HIGH,
    target="pod",
    mappings=Mappings(
        cis=("5.2.11",), nsa=NSA_HOST, pss=("baseline/hostPathVolumes",), mitre=("T1611", "T1552.001"), owasp=("K01",),
        trivy=("KSV-0121", "KSV-0006"), checkov=("CKV_K8S_27",), kubescape=("C-0074", "C-0020", "C-0048"),
        kube_linter=("sensitive-host-mounts", "docker-sock"), polaris=("hostPathSet",),
    ),
    remediation="Replace the hostPath volume with an emptyDir, ConfigMap, Secret, projected or CSI volume; if host access is unavoidable, mount the narrowest file read-only in a dedicated, reviewed DaemonSet.",
)
def sensitive_host_path_volume(pod: PodView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags hostPath volumes that expose sensitive parts of the node. The message names each
    volume, its path and why it matters. Sensitive are:

    - container runtime sockets anywhere (`docker.sock`, `containerd.sock`, `crio.sock`,
      `dockershim.sock`, `cri-dockerd.sock`, `podman.sock`) and the Windows runtime named pipes;
    - `/`, and these directories with everything below them: `/etc`, `/proc`, `/sys`, `/dev`,
      `/boot`, `/root`, `/home`, `/var/lib/kubelet` (except a CSI driver's own socket directory
      `/var/lib/kubelet/plugins/<driver>`, the standard CSI layout), `/var/lib/docker`, `/var/lib/containerd`,
      `/var/lib/containers`, `/var/lib/etcd`, `/var/lib/cloud`, `/run/containerd`, `/run/crio`,
      `/run/docker`, `/run/podman` (`/var/run` is read as `/run`);
    - any ancestor of those (`/var`, `/var/lib`, `/run`): mounting it exposes them too;
    - per-user credential stores wherever they are: `.aws`, `.azure`, `.config/gcloud`,
      `.kube`, `.docker`, `.ssh`;
    - on Windows nodes, a drive root, `\\Windows`, `\\var\\lib\\kubelet`, `\\ProgramData\\docker`.

    Paths are normalised before matching (`//`, `.`, `..` and trailing slashes removed) and
    compared by whole path components, so `/etcd-data` is not `/etc` and `/var/lib/../..//etc/`
    is. Public files under `/etc` are not flagged: `/etc/localtime`, `/etc/timezone`,
    `/etc/machine-id`, `/etc/os-release`, `/etc/lsb-release`, `/etc/hostname`, `/etc/resolv.conf`,
    `/etc/hosts`, `/etc/passwd`, `/etc/group` and the CA bundles `/etc/ssl/certs`,
    `/etc/pki/tls/certs`, `/etc/pki/ca-trust/extracted`, `/etc/ca-certificates`.
    Whether the mount is read-only is KF-POD-015's concern; reading these paths is already
    dangerous. For an Argo Workflows template, the workflow's `spec.volumes` (added to every
    pod of the workflow) are checked too.

    ## Why is this bad?
    The runtime socket is root on the node: whoever reaches it starts a privileged container.
    `/var/lib/kubelet` holds the secrets and service account tokens of every pod on the node,
    `/etc` the kubelet's credentials and the node's configuration, `/proc` and `/sys` the
    kernel's control interfaces, `/var/lib/etcd` every Secret of the cluster, and credential
    directories the node's cloud identity (MITRE ATT&CK T1611, Escape to Host; T1552.001,
    Credentials In Files).

    ## Example
    ```yaml
    spec:
      containers:
      - name: agent
        image: registry.example.com/agent:2.0
        volumeMounts:
        - {name: docker, mountPath: /var/run/docker.sock}
      volumes:
      - name: docker
        hostPath:
          path: /var/run/docker.sock
    ```

    ## How to fix
    Use an API instead of the node: the Kubernetes API for pod metadata, a CSI driver for
    storage, a build service (Kaniko, BuildKit rootless) instead of the Docker socket.
    ```yaml
    spec:
      volumes:
      - name: scratch
        emptyDir: {}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - CIS Kubernetes Benchmark 5.2.11
    """
    for _i, name, hpath, path in _host_path_volumes(pod):
        why = sensitive_host_path(hpath)
        if why:
            yield Violation(f"volume {name!r} mounts host path {hpath!r}: {why}", path)


@check(
    id="KF-POD-015",
    name="writable-host-path",
    title="Container mounts a hostPath volume writable",
    severity=Severity.HIGH,
    target="container",
    mappings=Mappings(
        cis=("5.2.11",), nsa=NSA_HOST, pss=("baseline/hostPathVolumes",), mitre=("T1611",), owasp=("K01",),
        kubescape=("C-0045",), kube_linter=("writable-host-mount",),
    ),
    remediation="Set readOnly: true on every volumeMount of a hostPath volume, or replace the hostPath with a volume type that does not touch the node.",
)
def writable_host_path(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers that mount a hostPath volume of the pod without `readOnly: true` on the
    `volumeMounts` entry (unset means writable). Every container kind is checked, and every
    mount of the same volume is reported.

    ## Why is this bad?
    A writable host directory lets the container change the node: drop a binary where the node
    or another pod executes it, replace configuration, write through symlinks it plants (a
    writable `/var/log` mount, for example, lets the container make the kubelet read any host
    file). It is also a persistence channel that outlives the pod (MITRE ATT&CK T1611, Escape to
    Host).

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      volumeMounts:
      - name: data
        mountPath: /data
    volumes:
    - name: data
      hostPath:
        path: /srv/data
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      volumeMounts:
      - name: data
        mountPath: /data
        readOnly: true
    ```
    Better, replace the hostPath with a PersistentVolumeClaim.

    ## References
    - https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
    - https://kubernetes.io/docs/concepts/storage/volumes/#read-only-mounts

    ## Known limitations
    `readOnly: true` is not recursive on kernels or runtimes without `recursiveReadOnly`
    support: mounts below the hostPath (for example under `/var/lib/kubelet/pods`) can stay
    writable unless `recursiveReadOnly: Enabled` is also set.
    """
    host = {name: hpath for _i, name, hpath, _p in _host_path_volumes(pod)}
    if not host:
        return
    for j, m in enumerate(c.list("volumeMounts")):
        mpath = c.at("volumeMounts") + (j,)
        _need(m, dict, "a volumeMount mapping", mpath)
        name = _opt(m.get("name"), str, "a string", mpath + ("name",))
        if name not in host:
            continue
        read_only = _opt(m.get("readOnly"), bool, "a boolean", mpath + ("readOnly",))
        if read_only is not True:
            where = _opt(m.get("mountPath"), str, "a string", mpath + ("mountPath",)) or "?"
            state = "readOnly: false" if read_only is False else "without readOnly: true"
            yield Violation(f"{c.label()} mounts hostPath volume {name!r} ({host[name]}) at {where} {state}", mpath + ("readOnly",))


@check(
    id="KF-POD-016",
    name="host-port",
    title="Container binds a port on the node (hostPort)",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        cis=("5.2.12",), nsa=NSA_POD, pss=("baseline/hostPorts",), mitre=("T1133", "T1599"), owasp=("K01",),
        trivy=("KSV-0024",), checkov=("CKV_K8S_26",), kubescape=("C-0044", "C-0204"), polaris=("hostPortSet",),
    ),
    remediation="Remove ports[].hostPort and expose the container through a Service (ClusterIP, NodePort or LoadBalancer) instead.",
)
def host_port(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers with a non-zero `ports[].hostPort`, in every container kind. The message
    lists every host port.

    ## Why is this bad?
    A hostPort publishes the container on the node's own IP address, beside the kubelet and
    other node services: it bypasses the Service layer, is often missed by NetworkPolicies and
    cloud firewall reviews, and pins the pod to nodes where the port is free. It widens what
    the outside can reach (MITRE ATT&CK T1133, External Remote Services).

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      ports:
      - containerPort: 8080
        hostPort: 8080
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      ports:
      - containerPort: 8080
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: app}
    spec:
      selector: {app: app}
      ports: [{port: 80, targetPort: 8080}]
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - https://kubernetes.io/docs/concepts/configuration/overview/#services
    - CIS Kubernetes Benchmark 5.2.12

    ## Known limitations
    For pods with `hostNetwork: true` the API server defaults `hostPort` to `containerPort`;
    such pods are reported by KF-POD-004 (`host-network-namespace`), not here.
    """
    ports: list[tuple[int, Path_]] = []
    for j, p in enumerate(c.list("ports")):
        ppath = c.at("ports") + (j,)
        _need(p, dict, "a port mapping", ppath)
        hp = _opt(p.get("hostPort"), int, "an integer", ppath + ("hostPort",))
        if hp:
            ports.append((hp, ppath + ("hostPort",)))
    if ports:
        yield Violation(f"{c.label()} binds host port{'s' if len(ports) > 1 else ''} {', '.join(str(n) for n, _ in ports)}", ports[0][1])


@check(
    id="KF-POD-017",
    name="shared-process-namespace",
    title="Containers of the pod share one process namespace",
    severity=Severity.LOW,
    target="pod",
    mappings=Mappings(nsa=NSA_POD, mitre=("T1057", "T1552.007"), owasp=("K01",)),
    remediation="Remove spec.shareProcessNamespace (it defaults to false); use an ephemeral debug container with --target when a process needs inspecting.",
)
def shared_process_namespace(pod: PodView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags pods with `spec.shareProcessNamespace: true`.

    ## Why is this bad?
    Every container of the pod then sees every other container's processes: it can signal them,
    read their command lines and environment through `/proc/<pid>/environ` (where secrets
    passed as environment variables live), and reach their filesystems through
    `/proc/<pid>/root`. A compromised sidecar becomes a compromised application, and the
    reverse (MITRE ATT&CK T1057, Process Discovery; T1552.007, Container API credentials).
    The pause process also becomes PID 1 of every container, which changes signal handling.

    ## Example
    ```yaml
    spec:
      shareProcessNamespace: true
      containers:
      - {name: app, image: registry.example.com/app:1.4.2}
      - {name: proxy, image: registry.example.com/proxy:3.1}
    ```

    ## How to fix
    ```yaml
    spec:
      containers:
      - {name: app, image: registry.example.com/app:1.4.2}
      - {name: proxy, image: registry.example.com/proxy:3.1}
    ```

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/share-process-namespace/
    """
    if pod.spec.bool("shareProcessNamespace"):
        yield Violation("pod sets shareProcessNamespace=true: its containers see and can signal each other's processes", pod.spec.at("shareProcessNamespace"))


@check(
    id="KF-POD-018",
    name="unmasked-proc-mount",
    title="Container mounts /proc unmasked",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD, pss=("baseline/procMount", "restricted/procMount_restricted"), mitre=("T1611",), owasp=("K01",),
        trivy=("KSV-0027",), kubescape=("C-0211",), kube_linter=("unsafe-proc-mount",), polaris=("procMount",),
    ),
    remediation="Remove securityContext.procMount (or set it to Default); if nested containers need it, run the pod in a user namespace with hostUsers: false.",
)
def unmasked_proc_mount(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
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
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",  # v1.0
    "net.ipv4.ip_local_reserved_ports",  # v1.27
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",  # v1.29
    "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",  # v1.32
    "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat",  # v1.37
})


@check(
    id="KF-POD-019",
    name="unsafe-sysctls",
    title="Pod sets sysctls outside the safe set",
    severity=Severity.MEDIUM,
    target="pod",
    mappings=Mappings(
        nsa=NSA_POD, pss=("baseline/sysctls",), mitre=("T1611", "T1499"), owasp=("K01",),
        trivy=("KSV-0026",), kubescape=("C-0211",), kube_linter=("unsafe-sysctls",),
    ),
    remediation="Remove the unsafe sysctls from spec.securityContext.sysctls; tune the node itself, or run such workloads on dedicated nodes whose kubelet allows those sysctls.",
)
def unsafe_sysctls(pod: PodView, ctx: object) -> Iterator[Violation]:
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
        _need(item, dict, "a sysctl mapping", ipath)
        name = _need(item.get("name"), str, "a string", ipath + ("name",))
        if name not in SAFE_SYSCTLS:
            bad.append((name, ipath + ("name",)))
    if bad:
        yield Violation(f"pod sets sysctls outside the safe set: {', '.join(n for n, _ in bad)}", bad[0][1])


SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def _selinux_violations(view: Any, who: str) -> Iterator[Violation]:
    if view.get("securityContext", "seLinuxOptions") is None:
        return
    view.mapping("securityContext", "seLinuxOptions")
    view.str("securityContext", "seLinuxOptions", "level")  # never restricted, but must decode
    se_type = view.str("securityContext", "seLinuxOptions", "type")
    if (se_type or "") not in SELINUX_TYPES:
        yield Violation(f"{who} sets seLinuxOptions.type={se_type!r} (allowed: container_t, container_init_t, container_kvm_t, container_engine_t)", view.at("securityContext", "seLinuxOptions", "type"))
    for field in ("user", "role"):
        v = view.str("securityContext", "seLinuxOptions", field)
        if v:
            yield Violation(f"{who} sets seLinuxOptions.{field}={v!r} (must be empty)", view.at("securityContext", "seLinuxOptions", field))


@check(
    id="KF-POD-020",
    name="selinux-custom-options",
    title="Pod sets a custom SELinux type, user or role",
    severity=Severity.MEDIUM,
    target="pod",
    mappings=Mappings(
        nsa=NSA_POD, pss=("baseline/seLinuxOptions",), mitre=("T1611", "T1562.001"), owasp=("K01",),
        trivy=("KSV-0025",), kubescape=("C-0211",),
    ),
    remediation="Remove seLinuxOptions.type, user and role (keep only level if you need MCS categories); use one of the container_* types if a type must be set.",
)
def selinux_custom_options(pod: PodView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Applies the Pod Security Standards baseline `seLinuxOptions` control at the latest policy
    version, exactly: in `spec.securityContext.seLinuxOptions` and in every container's
    (init, regular and ephemeral), `type` must be empty or one of `container_t`,
    `container_init_t`, `container_kvm_t`, `container_engine_t` (values are case-sensitive),
    and `user` and `role` must be empty. `level` is not restricted. As in PSS, a pod-level value
    is reported even if every container overrides it. The message lists every offending field.

    ## Why is this bad?
    On SELinux nodes, `container_t` is what confines a container to its own files.
    Other types (`spc_t`, `unconfined_t`, a host daemon's type) run the container with the
    rights of that domain, often unconfined; a custom user or role changes which domains it may
    enter. Either turns off the protection that stops a compromised container from touching host
    files (MITRE ATT&CK T1562.001, Impair Defenses; T1611, Escape to Host).

    ## Example
    ```yaml
    spec:
      securityContext:
        seLinuxOptions:
          type: spc_t
    ```

    ## How to fix
    ```yaml
    spec:
      securityContext:
        seLinuxOptions:
          level: "s0:c123,c456"   # MCS level is allowed
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/#assign-selinux-labels-to-a-container
    """
    yield from _selinux_violations(pod.scope("securityContext"), "pod")
    for c in pod.containers():
        yield from _selinux_violations(c, c.label())


@check(
    id="KF-POD-021",
    name="windows-host-process",
    title="Windows HostProcess container",
    severity=Severity.HIGH,
    target="pod",
    mappings=Mappings(
        cis=("5.2.10",), nsa=NSA_POD, pss=("baseline/windowsHostProcess",), mitre=("T1611",), owasp=("K01",),
        trivy=("KSV-0103",), kubescape=("C-0202", "C-0211"), polaris=("hostProcess",),
    ),
    remediation="Remove windowsOptions.hostProcess from the pod and its containers; run node administration outside the cluster's workloads or in a tightly scoped, reviewed DaemonSet.",
)
def windows_host_process(pod: PodView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Applies the Pod Security Standards baseline `windowsHostProcess` control: flags
    `securityContext.windowsOptions.hostProcess: true` on the pod or on any container (init,
    regular and ephemeral). The message lists every place it is set.

    ## Why is this bad?
    A HostProcess container is not a container: it runs as a process directly on the Windows
    node, in the host's network and filesystem, usually as `NT AUTHORITY\\SYSTEM`. It is the
    Windows equivalent of a privileged container with every host namespace (MITRE ATT&CK
    T1611, Escape to Host).

    ## Example
    ```yaml
    spec:
      securityContext:
        windowsOptions:
          hostProcess: true
          runAsUserName: "NT AUTHORITY\\SYSTEM"
      hostNetwork: true
    ```

    ## How to fix
    ```yaml
    spec:
      securityContext:
        windowsOptions:
          runAsUserName: "ContainerUser"
    ```

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/create-hostprocess-pod/
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - CIS Kubernetes Benchmark 5.2.10
    """
    scope = pod.scope("securityContext")
    if scope.bool("securityContext", "windowsOptions", "hostProcess"):
        yield Violation("pod sets securityContext.windowsOptions.hostProcess=true", scope.at("securityContext", "windowsOptions", "hostProcess"))
    for c in pod.containers():
        if c.bool("securityContext", "windowsOptions", "hostProcess"):
            yield Violation(f"{c.label()} sets securityContext.windowsOptions.hostProcess=true", c.at("securityContext", "windowsOptions", "hostProcess"))


@check(
    id="KF-POD-022",
    name="root-group",
    title="Pod or container runs with the root group (GID 0)",
    severity=Severity.LOW,
    target="pod",
    mappings=Mappings(nsa=NSA_POD, mitre=("T1611", "T1068"), owasp=("K01",), trivy=("KSV-0116",), kubescape=("C-0013",)),
    remediation="Use a non-zero GID (10000 or more) for runAsGroup and fsGroup, and remove 0 from supplementalGroups.",
)
def root_group(pod: PodView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags pods whose processes get GID 0 (the root group):

    - a container's effective `runAsGroup` is 0 (set on the container, or set on the pod and not
      overridden by the container; a pod-level 0 that every container overrides is not reported);
    - `spec.securityContext.fsGroup` is 0 (it is added to every container process and owns the
      pod's volumes);
    - `spec.securityContext.supplementalGroups` contains 0.

    Pods with `spec.hostUsers: false` (user namespaces) and Windows pods are exempt. This was
    the optional "Non-root groups" control of the first Pod Security Standards drafts; the
    current PSS have no such rule, so this check has no PSS mapping. It is kept apart from
    KF-POD-009 (`low-uid-gid`), which only reports non-zero IDs below 10000.

    ## Why is this bad?
    Many files on the node and in images are group-owned by root and group-writable or
    group-readable (`/etc/shadow` on some distributions, device nodes, runtime state). A process
    in GID 0 gets that access through any hostPath mount or after an escape, and files it creates
    in shared volumes become writable by every root-group process (MITRE ATT&CK T1068).

    ## Example
    ```yaml
    spec:
      securityContext:
        runAsUser: 10001
        runAsGroup: 0
        fsGroup: 0
    ```

    ## How to fix
    ```yaml
    spec:
      securityContext:
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
    ```

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/
    """
    if pod.is_windows() or pod.in_user_namespace():
        return
    scope = pod.scope("securityContext")
    pod_group = scope.int("securityContext", "runAsGroup")
    inheriting: list[str] = []
    for c in pod.containers():
        own = c.int("securityContext", "runAsGroup")
        if own == 0:
            yield Violation(f"{c.label()} sets securityContext.runAsGroup=0", c.at("securityContext", "runAsGroup"))
        elif own is None and pod_group == 0:
            inheriting.append(c.label())
    if inheriting:
        yield Violation(f"pod sets securityContext.runAsGroup=0, inherited by {', '.join(inheriting)}", scope.at("securityContext", "runAsGroup"))
    if scope.int("securityContext", "fsGroup") == 0:
        yield Violation("pod sets securityContext.fsGroup=0: GID 0 is added to every container and owns the pod's volumes", scope.at("securityContext", "fsGroup"))
    for i, g in enumerate(scope.list("securityContext", "supplementalGroups")):
        if _need(g, int, "an integer", scope.at("securityContext", "supplementalGroups") + (i,)) == 0:
            yield Violation("pod lists GID 0 in securityContext.supplementalGroups", scope.at("securityContext", "supplementalGroups") + (i,))
