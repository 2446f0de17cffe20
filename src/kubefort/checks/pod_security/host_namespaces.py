"""The host's namespaces: KF-POD-002..004 (hostPID, hostIPC, hostNetwork), KF-POD-016 host ports,
KF-POD-017 a shared process namespace, KF-POD-021 Windows host-process containers."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.pod_security.common import NSA_POD
from kubefort.kube.pods import ContainerView, PodView, need, optional
from kubefort.model import CheckContext, Path_, Severity, Violation
from kubefort.registry import Mappings, check


def _host_namespace(pod: PodView, field: str) -> Iterator[Violation]:
    if pod.spec.bool(field):
        yield Violation(f"pod sets {field}=true", pod.spec.at(field))


@check(
    id="KF-POD-002",
    name="host-pid-namespace",
    title="Pod shares the node's process namespace",
    verified="Pod has its own process namespace (hostPID is off)",
    severity=Severity.HIGH,
    target="pod",
    mappings=Mappings(
        cis=("5.2.3",),
        nsa=NSA_POD,
        pss=("baseline/hostNamespaces",),
        mitre=("T1611", "T1057"),
        owasp=("K01",),
        trivy=("KSV-0010",),
        checkov=("CKV_K8S_17",),
        kubescape=("C-0038", "C-0275"),
        kube_linter=("host-pid",),
        polaris=("hostPIDSet",),
    ),
    remediation="Remove spec.hostPID (it defaults to false).",
)
def host_pid_namespace(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
    verified="Pod has its own IPC namespace (hostIPC is off)",
    severity=Severity.HIGH,
    target="pod",
    mappings=Mappings(
        cis=("5.2.4",),
        nsa=NSA_POD,
        pss=("baseline/hostNamespaces",),
        mitre=("T1611",),
        owasp=("K01",),
        trivy=("KSV-0008",),
        checkov=("CKV_K8S_18",),
        kubescape=("C-0038", "C-0276"),
        kube_linter=("host-ipc",),
        polaris=("hostIPCSet",),
    ),
    remediation="Remove spec.hostIPC (it defaults to false).",
)
def host_ipc_namespace(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
    verified="Pod has its own network namespace (hostNetwork is off)",
    severity=Severity.HIGH,
    target="pod",
    mappings=Mappings(
        cis=("5.2.5",),
        nsa=NSA_POD,
        pss=("baseline/hostNamespaces",),
        mitre=("T1611", "T1557"),
        owasp=("K01",),
        trivy=("KSV-0009",),
        checkov=("CKV_K8S_19",),
        kubescape=("C-0041",),
        kube_linter=("host-network",),
        polaris=("hostNetworkSet",),
    ),
    remediation="Remove spec.hostNetwork; expose the workload through a Service instead.",
)
def host_network_namespace(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
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


def _host_ports(c: ContainerView) -> list[tuple[int, Path_]]:
    plain = c.plain_ports()
    if plain is None:
        return host_ports_checked(c)
    return [(p["hostPort"], c.at("ports", j, "hostPort")) for j, p in enumerate(plain) if p.get("hostPort")]


def host_ports_checked(c: ContainerView) -> list[tuple[int, Path_]]:
    """The non-zero host ports of the container, entry by entry: NotEvaluated for the first entry
    that is not a mapping or whose hostPort is not an integer."""
    ports: list[tuple[int, Path_]] = []
    for j, p in enumerate(c.list("ports")):
        ppath = c.at("ports") + (j,)
        need(p, dict, "a port mapping", ppath)
        hp = optional(p.get("hostPort"), int, "an integer", ppath + ("hostPort",))
        if hp:
            ports.append((hp, ppath + ("hostPort",)))
    return ports


@check(
    id="KF-POD-016",
    name="host-port",
    title="Container binds a port on the node (hostPort)",
    verified="Container binds no port on the node (no hostPort)",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        cis=("5.2.12",),
        nsa=NSA_POD,
        pss=("baseline/hostPorts",),
        mitre=("T1133", "T1599"),
        owasp=("K01",),
        trivy=("KSV-0024",),
        checkov=("CKV_K8S_26",),
        kubescape=("C-0044", "C-0204"),
        polaris=("hostPortSet",),
    ),
    remediation="Remove ports[].hostPort and expose the container through a Service (ClusterIP, NodePort or LoadBalancer) instead.",
)
def host_port(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
    ports = _host_ports(c)
    if ports:
        yield Violation(
            f"{c.label()} binds host port{'s' if len(ports) > 1 else ''} {', '.join(str(n) for n, _ in ports)}",
            ports[0][1],
        )


@check(
    id="KF-POD-017",
    name="shared-process-namespace",
    title="Containers of the pod share one process namespace",
    verified="Each container of the pod has its own process namespace",
    severity=Severity.LOW,
    target="pod",
    mappings=Mappings(nsa=NSA_POD, mitre=("T1057", "T1552.007"), owasp=("K01",)),
    remediation="Remove spec.shareProcessNamespace (it defaults to false); use an ephemeral debug container with --target when a process needs inspecting.",
)
def shared_process_namespace(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
        yield Violation(
            "pod sets shareProcessNamespace=true: its containers see and can signal each other's processes",
            pod.spec.at("shareProcessNamespace"),
        )


@check(
    id="KF-POD-021",
    name="windows-host-process",
    title="Windows HostProcess container",
    verified="Pod runs no Windows HostProcess container",
    severity=Severity.HIGH,
    target="pod",
    mappings=Mappings(
        cis=("5.2.10",),
        nsa=NSA_POD,
        pss=("baseline/windowsHostProcess",),
        mitre=("T1611",),
        owasp=("K01",),
        trivy=("KSV-0103",),
        kubescape=("C-0202", "C-0211"),
        polaris=("hostProcess",),
    ),
    remediation="Remove windowsOptions.hostProcess from the pod and its containers; run node administration outside the cluster's workloads or in a tightly scoped, reviewed DaemonSet.",
)
def windows_host_process(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
        yield Violation(
            "pod sets securityContext.windowsOptions.hostProcess=true",
            scope.at("securityContext", "windowsOptions", "hostProcess"),
        )
    for c in pod.containers():
        if c.bool("securityContext", "windowsOptions", "hostProcess"):
            yield Violation(
                f"{c.label()} sets securityContext.windowsOptions.hostProcess=true",
                c.at("securityContext", "windowsOptions", "hostProcess"),
            )
