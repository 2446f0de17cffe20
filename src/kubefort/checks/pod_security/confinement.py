"""Kernel confinement: KF-POD-012 seccomp, KF-POD-013 AppArmor, KF-POD-020 SELinux."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubefort.checks.pod_security.common import NSA_POD, annotation, pod_profile_type, profile_type
from kubefort.kube.pods import ContainerView, PodView
from kubefort.model import CheckContext, Path_, Severity, Violation
from kubefort.registry import Mappings, check

SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
SECCOMP_CONFINED = ("RuntimeDefault", "Localhost")


def ignored_seccomp_annotations(pod: PodView, c: ContainerView) -> list[tuple[str, str, Path_]]:
    """The legacy seccomp annotations that would have applied to `c` (its own, then the pod's):
    (key, value, path). Since Kubernetes 1.27 they have no effect at all: the kubelet stopped
    reading them in 1.25 and the API server stopped copying them into `seccompProfile` in 1.27
    (kubernetes/kubernetes#109819, #114947); only the fields count."""
    found = []
    for key in (SECCOMP_CONTAINER_ANNOTATION + c.name, SECCOMP_POD_ANNOTATION):
        value = pod.annotations().get(key)
        if isinstance(value, str):  # only mentioned in a message: any other type is not worth a not-evaluated
            found.append((key, value, annotation(pod, key)[1]))
    return found


@check(
    id="KF-POD-012",
    name="seccomp-unconfined",
    title="Container runs without a seccomp profile",
    verified="Container runs with a seccomp profile",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        cis=("5.6.2",),
        nsa=NSA_POD,
        pss=("baseline/seccompProfile_baseline", "restricted/seccompProfile_restricted"),
        mitre=("T1611", "T1068"),
        owasp=("K01",),
        trivy=("KSV-0030", "KSV-0104"),
        checkov=("CKV_K8S_31",),
        kubescape=("C-0210", "C-0055"),
        polaris=("linuxHardening",),
    ),
    remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod (or Localhost with a reviewed profile), and remove any Unconfined override; replace legacy seccomp annotations by the field.",
)
def seccomp_unconfined(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose effective seccomp profile is missing or `Unconfined`. The profile is
    resolved as the kubelet does: the container's `securityContext.seccompProfile`, else the
    pod's `securityContext.seccompProfile`.

    Passing values: `RuntimeDefault` and `Localhost` (case-sensitive). `Unconfined`, other
    spellings and unknown values fail; so does a container for which nothing is set, because
    Kubernetes then runs it `Unconfined` unless the kubelet enables `seccompDefault`, which a
    manifest cannot show. Pods with `spec.os.name: windows` are exempt, as in the Pod Security
    Standards from policy v1.25.

    **The legacy annotations are ignored.** `seccomp.security.alpha.kubernetes.io/pod` and
    `container.seccomp.security.alpha.kubernetes.io/<container>` have had no effect since
    Kubernetes 1.27: the kubelet stopped reading them in 1.25, and from 1.27 the API server no
    longer copies them into the fields when a pod is created (kubernetes/kubernetes#114947). A
    container configured only by annotation runs `Unconfined` on every supported version, so
    it fails, and the message names the annotation that is being ignored.

    This is the restricted PSS rule at the current policy versions (`seccompProfile_restricted`,
    which also covers the baseline rule that forbids `Unconfined`), evaluated per container: a
    container fails exactly when kubefort's own PSS evaluation (KF-PSS checks, `--pss`) reports
    that container's `seccompProfile`. PSS also rejects a pod-level `Unconfined` that every
    container overrides; no container runs unconfined then, so this check passes them. For an
    Argo Workflows template, the workflow's `spec.securityContext` is the pod-level one unless
    the template sets its own.

    ## Why is this bad?
    Seccomp is the filter between a container and the ~400 system calls of the node's shared
    kernel. `RuntimeDefault` blocks the calls behind most container escapes and kernel exploits
    (`unshare`, `keyctl`, `bpf`, `mount`, `ptrace` of other namespaces ...). Without it, a
    single kernel bug reachable from user space is an escape to the node (MITRE ATT&CK T1611).

    ## Example
    ```yaml
    metadata:
      annotations:
        seccomp.security.alpha.kubernetes.io/pod: runtime/default   # ignored since 1.27
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
    - https://kubernetes.io/docs/reference/labels-annotations-taints/#seccomp-security-alpha-kubernetes-io-pod
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
    - CIS Kubernetes Benchmark 5.6.2

    ## Known limitations
    A node whose kubelet runs with `seccompDefault: true` applies `RuntimeDefault` to containers
    that set nothing; kubefort cannot see node configuration, so set the profile explicitly.
    """
    if pod.is_windows():
        return
    is_set, kind, path = profile_type(c, "securityContext", "seccompProfile")
    where = "its"
    if not is_set:
        is_set, kind, ppath = pod_profile_type(pod, "seccompProfile")
        if is_set:
            path, where = ppath, "the pod's"
    if not is_set:
        ignored = ignored_seccomp_annotations(pod, c)
        message = f"{c.label()}: no seccomp profile is set on the container or the pod"
        if ignored:
            shown = " and ".join(f"{k}={v!r}" for k, v, _ in ignored)
            what = "annotations" if len(ignored) > 1 else "annotation"
            verb = "are" if len(ignored) > 1 else "is"
            message += (
                f": the legacy {what} {shown} {verb} ignored since Kubernetes 1.27 (no longer copied into "
                "securityContext.seccompProfile), so it runs Unconfined"
            )
            path = ignored[0][2]
        else:
            message += " (it runs Unconfined unless the kubelet enables seccompDefault)"
        yield Violation(message, path)
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
    verified="Container keeps AppArmor on",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD,
        pss=("baseline/appArmorProfile",),
        mitre=("T1611", "T1562.001"),
        owasp=("K01",),
        trivy=("KSV-0002",),
        kubescape=("C-0055",),
        polaris=("linuxHardening",),
    ),
    remediation="Remove the Unconfined AppArmor profile: leave it unset (the runtime default applies) or set appArmorProfile.type: RuntimeDefault or Localhost.",
)
def apparmor_unconfined(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
    is_set, kind, path = profile_type(c, "securityContext", "appArmorProfile")
    where = "sets"
    if not is_set:
        value, apath = annotation(pod, APPARMOR_CONTAINER_ANNOTATION + c.name)
        if value is not None:
            if value == "unconfined":
                yield Violation(f"{c.label()}: annotation {APPARMOR_CONTAINER_ANNOTATION}{c.name} is unconfined", apath)
            elif value not in ("", "runtime/default") and not value.startswith("localhost/"):
                yield Violation(
                    f"{c.label()}: annotation {APPARMOR_CONTAINER_ANNOTATION}{c.name} is {value!r}, not runtime/default or localhost/<profile>",
                    apath,
                )
            return
        is_set, kind, path = pod_profile_type(pod, "appArmorProfile")
        where = "inherits the pod's"
        if not is_set:
            return
    if kind == "Unconfined":
        yield Violation(f"{c.label()} {where} securityContext.appArmorProfile.type=Unconfined", path)
    elif kind not in ("RuntimeDefault", "Localhost"):
        yield Violation(
            f"{c.label()} {where} securityContext.appArmorProfile.type={kind!r}, not RuntimeDefault or Localhost (values are case-sensitive)",
            path,
        )


SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def _selinux_violations(view: Any, who: str) -> Iterator[Violation]:
    if view.get("securityContext", "seLinuxOptions") is None:
        return
    view.mapping("securityContext", "seLinuxOptions")
    view.str("securityContext", "seLinuxOptions", "level")  # never restricted, but must decode
    se_type = view.str("securityContext", "seLinuxOptions", "type")
    if (se_type or "") not in SELINUX_TYPES:
        yield Violation(
            f"{who} sets seLinuxOptions.type={se_type!r} (allowed: container_t, container_init_t, container_kvm_t, container_engine_t)",
            view.at("securityContext", "seLinuxOptions", "type"),
        )
    for field in ("user", "role"):
        v = view.str("securityContext", "seLinuxOptions", field)
        if v:
            yield Violation(
                f"{who} sets seLinuxOptions.{field}={v!r} (must be empty)",
                view.at("securityContext", "seLinuxOptions", field),
            )


@check(
    id="KF-POD-020",
    name="selinux-custom-options",
    title="Pod sets a custom SELinux type, user or role",
    verified="Pod sets no custom SELinux type, user or role",
    severity=Severity.MEDIUM,
    target="pod",
    mappings=Mappings(
        nsa=NSA_POD,
        pss=("baseline/seLinuxOptions",),
        mitre=("T1611", "T1562.001"),
        owasp=("K01",),
        trivy=("KSV-0025",),
        kubescape=("C-0211",),
    ),
    remediation="Remove seLinuxOptions.type, user and role (keep only level if you need MCS categories); use one of the container_* types if a type must be set.",
)
def selinux_custom_options(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
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
