"""KF-POD-001 privileged containers and KF-POD-005 privilege escalation."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.pod_security.common import NSA_POD
from kubefort.kube.pods import ContainerView, PodView
from kubefort.model import CheckContext, Severity, Violation
from kubefort.registry import Mappings, check


@check(
    id="KF-POD-001",
    name="privileged-container",
    title="Container runs privileged",
    verified="Container runs unprivileged",
    severity=Severity.CRITICAL,
    target="container",
    mappings=Mappings(
        cis=("5.2.2",),
        nsa=NSA_POD,
        pss=("baseline/privileged",),
        mitre=("T1611",),
        owasp=("K01",),
        trivy=("KSV-0017",),
        checkov=("CKV_K8S_16",),
        kubescape=("C-0057",),
        kube_linter=("privileged-container",),
        polaris=("runAsPrivileged",),
    ),
    remediation="Remove securityContext.privileged (or set it to false) and grant only the capabilities the container needs.",
)
def privileged_container(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
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


@check(
    id="KF-POD-005",
    name="privilege-escalation-allowed",
    title="Container allows privilege escalation",
    verified="Container disallows privilege escalation",
    severity=Severity.HIGH,
    target="container",
    mappings=Mappings(
        cis=("5.2.6",),
        nsa=NSA_POD,
        pss=("restricted/allowPrivilegeEscalation",),
        mitre=("T1548",),
        owasp=("K01",),
        trivy=("KSV-0001",),
        checkov=("CKV_K8S_20",),
        kubescape=("C-0016",),
        kube_linter=("privilege-escalation-container",),
        polaris=("privilegeEscalationAllowed",),
    ),
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
)
def privilege_escalation_allowed(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
        yield Violation(
            f"{c.label()}: securityContext.allowPrivilegeEscalation is {state}",
            c.at("securityContext", "allowPrivilegeEscalation"),
        )
