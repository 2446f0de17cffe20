"""User and group IDs: KF-POD-006 runAsNonRoot, KF-POD-008 UID 0, KF-POD-009 low UIDs/GIDs, KF-POD-022 the root group."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.pod_security.common import NSA_POD, effective_int
from kubefort.kube.pods import ContainerView, PodView, need
from kubefort.model import CheckContext, Severity, Violation
from kubefort.registry import Mappings, check


@check(
    id="KF-POD-006",
    name="run-as-non-root-not-enforced",
    title="Container may run as root",
    verified="Container must run as non-root (runAsNonRoot)",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        cis=("5.2.7",),
        nsa=NSA_POD,
        pss=("restricted/runAsNonRoot",),
        mitre=("T1611",),
        owasp=("K01",),
        trivy=("KSV-0012",),
        checkov=("CKV_K8S_23",),
        kubescape=("C-0013",),
        kube_linter=("run-as-non-root",),
        polaris=("runAsRootAllowed",),
    ),
    remediation="Set securityContext.runAsNonRoot: true on the pod (or every container) and build images with a non-root USER.",
)
def run_as_non_root_not_enforced(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
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


@check(
    id="KF-POD-008",
    name="run-as-uid-zero",
    title="Container runs as UID 0 (root) explicitly",
    verified="Container does not set UID 0 (root)",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        cis=("5.2.7",),
        nsa=NSA_POD,
        pss=("restricted/runAsUser",),
        mitre=("T1611", "T1068"),
        owasp=("K01",),
        trivy=("KSV-0105",),
        kubescape=("C-0013",),
    ),
    remediation="Remove runAsUser: 0 and run the container as a non-root UID (runAsUser: 10001, runAsNonRoot: true), with an image built for it.",
)
def run_as_uid_zero(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
    uid, path, inherited = effective_int(pod, c, "runAsUser")
    if uid == 0:
        how = "inherits runAsUser=0 from the pod's securityContext" if inherited else "sets securityContext.runAsUser=0"
        yield Violation(f"{c.label()} {how} and runs as root", path)


LOW_ID_LIMIT = 10000


@check(
    id="KF-POD-009",
    name="low-uid-gid",
    title="Container runs with a UID or GID below 10000",
    verified="Container sets no UID or GID between 1 and 9999",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD,
        mitre=("T1611",),
        owasp=("K01",),
        trivy=("KSV-0020", "KSV-0021"),
        checkov=("CKV_K8S_40",),
    ),
    remediation="Run the container with a UID and GID of 10000 or more (runAsUser: 10001, runAsGroup: 10001), outside the ranges the node's own accounts use.",
)
def low_uid_gid(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
        value, path, inherited = effective_int(pod, c, field)
        if value is not None and 0 < value < LOW_ID_LIMIT:
            src = f"inherited {field}={value} from the pod" if inherited else f"{field}={value}"
            yield Violation(f"{c.label()} runs with {what} {value} ({src}), below {LOW_ID_LIMIT}", path)


@check(
    id="KF-POD-022",
    name="root-group",
    title="Pod or container runs with the root group (GID 0)",
    verified="Pod and containers run without the root group (GID 0)",
    severity=Severity.LOW,
    target="pod",
    mappings=Mappings(
        nsa=NSA_POD, mitre=("T1611", "T1068"), owasp=("K01",), trivy=("KSV-0116",), kubescape=("C-0013",)
    ),
    remediation="Use a non-zero GID (10000 or more) for runAsGroup and fsGroup, and remove 0 from supplementalGroups.",
)
def root_group(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
        yield Violation(
            f"pod sets securityContext.runAsGroup=0, inherited by {', '.join(inheriting)}",
            scope.at("securityContext", "runAsGroup"),
        )
    if scope.int("securityContext", "fsGroup") == 0:
        yield Violation(
            "pod sets securityContext.fsGroup=0: GID 0 is added to every container and owns the pod's volumes",
            scope.at("securityContext", "fsGroup"),
        )
    for i, g in enumerate(scope.list("securityContext", "supplementalGroups")):
        if need(g, int, "an integer", scope.at("securityContext", "supplementalGroups") + (i,)) == 0:
            yield Violation(
                "pod lists GID 0 in securityContext.supplementalGroups",
                scope.at("securityContext", "supplementalGroups") + (i,),
            )
