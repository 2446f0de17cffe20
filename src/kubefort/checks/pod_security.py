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
    if pod.spec.str("os", "name") == "windows":
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
    if pod.spec.str("os", "name") == "windows":
        return
    own = c.bool("securityContext", "runAsNonRoot")
    if own is True:
        return
    if own is False:
        yield Violation(f"{c.label()} sets securityContext.runAsNonRoot=false", c.at("securityContext", "runAsNonRoot"))
        return
    if pod.spec.bool("securityContext", "runAsNonRoot") is True:
        return
    yield Violation(
        f"{c.label()}: runAsNonRoot is set to true neither on the container nor on the pod",
        c.at("securityContext", "runAsNonRoot"),
    )
