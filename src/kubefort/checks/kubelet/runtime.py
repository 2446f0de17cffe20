"""KF-KUBELET 015..017, 022, 023, 026: the kubelet's runtime settings: streaming timeout, iptables
chains, hostname override, pod PID limit, default seccomp profile, kernel tunables."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.kubelet.common import (
    FLAGS_REF,
    IPTABLES_CHAINS,
    KERNEL_DEFAULTS,
    KINDS,
    KUBELET_REF,
    NSA_NODE,
    PIDS,
    SECCOMP,
    STREAM_TIMEOUT,
    effective_what,
    kubelet_example,
    out,
    said,
    v,
)
from kubefort.checks.node_common import node_meta
from kubefort.kube.flags import go_duration, kubelet_view
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Resource, Severity, Violation
from kubefort.registry import check


@check(
    id="KF-KUBELET-015",
    name="kubelet-streaming-timeout-disabled",
    title="Kubelet streaming connections never time out",
    verified="Kubelet streaming connections time out",
    severity=Severity.LOW,
    target="object",
    kinds=KINDS,
    remediation="Remove --streaming-connection-idle-timeout=0 (or set it, or streamingConnectionIdleTimeout, to a duration such as 5m).",
    **node_meta(
        cis=("4.2.5",),
        manual=True,
        peers={"trivy": ("KCV-0085",), "checkov": ("CKV_K8S_143",), "kubescape": ("C-0176",)},
        nsa=NSA_NODE,
        what=effective_what(STREAM_TIMEOUT, "Flags a kubelet whose streaming idle timeout is 0 (no timeout).")
        + " A zero in the config file is replaced by the 4h default, as the kubelet does; only `--streaming-connection-idle-timeout=0` disables it.",
        why="Idle exec, attach and port-forward sessions then stay open forever and exhaust the node; a forgotten session is a "
        "ready-made foothold.",
        example="```console\n$ kubelet --streaming-connection-idle-timeout=0 ...\n```",
        fix=kubelet_example("streamingConnectionIdleTimeout: 5m"),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_streaming_timeout_disabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, STREAM_TIMEOUT)
    secs = go_duration(str(s.value))
    if secs is None:
        raise NotEvaluated(f"{s.spelled} is not a Go duration; the kubelet refuses it", s.path)
    if secs == 0:
        yield out(kv, said(kv, s, "streaming connections never time out"), s.path)


@check(
    id="KF-KUBELET-016",
    name="kubelet-iptables-util-chains-disabled",
    title="Kubelet does not manage its iptables chains",
    verified="Kubelet manages its iptables chains",
    severity=Severity.LOW,
    target="object",
    kinds=KINDS,
    remediation="Remove makeIPTablesUtilChains: false (the default, true, is right).",
    **node_meta(
        cis=("4.2.6",),
        peers={"trivy": ("KCV-0084",), "checkov": ("CKV_K8S_145",), "kubescape": ("C-0178",)},
        nsa=NSA_NODE,
        what=effective_what(IPTABLES_CHAINS, "Flags a kubelet with `makeIPTablesUtilChains` false."),
        why="The kubelet's utility chains drop the martian and marked packets that kube-proxy relies on; without them node "
        "networking and pod isolation drift out of sync.",
        example=kubelet_example("makeIPTablesUtilChains: false"),
        fix=kubelet_example("makeIPTablesUtilChains: true"),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_iptables_util_chains_disabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, IPTABLES_CHAINS)
    if s.value is False:
        yield out(kv, said(kv, s, "the kubelet does not manage its iptables chains"), s.path)


@check(
    id="KF-KUBELET-017",
    name="kubelet-hostname-override",
    title="Kubelet overrides its hostname",
    verified="Kubelet keeps the node's hostname",
    severity=Severity.LOW,
    target="object",
    kinds=("NodeComponent",),
    remediation="Remove --hostname-override (let the node name match the host name and its serving certificate).",
    **node_meta(
        cis=("4.2.7",),
        manual=True,
        peers={"trivy": ("KCV-0086",), "checkov": ("CKV_K8S_146",), "kubescape": ("C-0179",)},
        nsa=NSA_NODE,
        what="Flags a kubelet started with `--hostname-override` (a flag only; there is no config field).",
        why="An overridden name no longer matches the certificate's subject alternative names, which pushes operators to turn "
        "off TLS verification between the API server and the kubelet.",
        example="```console\n$ kubelet --hostname-override=worker-1 ...\n```",
        fix="```console\n$ kubelet ...   # without --hostname-override\n```",
        refs=(FLAGS_REF,),
        extra="Some cloud providers need it (CIS says so too): record an exception with the reason.",
    ),
)
def kubelet_hostname_override(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv = kubelet_view(res)
    if kv.flags is None:
        raise NotApplicable()
    f = kv.flags.last("hostname-override")
    if f is not None and f.value:
        yield out(kv, f"{f.spelled} on the kubelet's command line", kv.flags.at(f))


@check(
    id="KF-KUBELET-022",
    name="kubelet-pod-pids-unlimited",
    title="Kubelet does not limit processes per pod",
    verified="Kubelet limits processes per pod",
    severity=Severity.LOW,
    target="object",
    kinds=KINDS,
    remediation="Set podPidsLimit (or --pod-max-pids) to a positive number suited to the workloads, for example 4096.",
    **node_meta(
        cis=("4.2.13",),
        manual=True,
        peers={"kubescape": ("C-0284",)},
        nsa=NSA_NODE,
        owasp=("K09",),
        what=effective_what(PIDS, "Flags a kubelet whose `podPidsLimit` is unset, zero or negative (no limit)."),
        why="One pod forking without limit exhausts the node's PIDs, and every other pod and the kubelet itself stop being able "
        "to start processes.",
        example=kubelet_example("podPidsLimit: -1"),
        fix=kubelet_example("podPidsLimit: 4096"),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_pod_pids_unlimited(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, PIDS)
    if not isinstance(s.value, int) or s.value <= 0:
        yield out(kv, said(kv, s, "pods may create unlimited processes"), s.path)


@check(
    id="KF-KUBELET-023",
    name="kubelet-seccomp-default-off",
    title="Kubelet runs pods without a default seccomp profile",
    verified="Kubelet runs pods with a default seccomp profile",
    severity=Severity.MEDIUM,
    target="object",
    kinds=KINDS,
    remediation="Set seccompDefault: true in the kubelet config (or --seccomp-default).",
    **node_meta(
        cis=("4.2.14",),
        manual=True,
        peers={},
        nsa=NSA_NODE,
        mitre=("T1611",),
        owasp=("K01", "K09"),
        what=effective_what(SECCOMP, "Flags a kubelet whose `seccompDefault` is not true.")
        + " kube-bench only tests that the field is present; kubefort requires true.",
        why="Without it, every container that does not ask for a seccomp profile runs Unconfined: the full syscall surface of "
        "the kernel is open to it, which is how most container escapes start.",
        example=kubelet_example("seccompDefault: false"),
        fix=kubelet_example("seccompDefault: true"),
        refs=(
            KUBELET_REF,
            "https://kubernetes.io/docs/tutorials/security/seccomp/#enable-the-use-of-runtimedefault-as-the-default-seccomp-profile-for-all-workloads",
        ),
    ),
)
def kubelet_seccomp_default_off(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, SECCOMP)
    if s.value is not True:
        yield out(kv, said(kv, s, "containers without a profile run Unconfined"), s.path)


@check(
    id="KF-KUBELET-026",
    name="kubelet-kernel-defaults-unprotected",
    title="Kubelet does not protect kernel tunables",
    verified="Kubelet protects kernel tunables",
    severity=Severity.LOW,
    target="object",
    kinds=KINDS,
    remediation="Set protectKernelDefaults: true (after setting the sysctls the kubelet expects, such as vm.overcommit_memory=1 and kernel.panic=10).",
    **node_meta(
        peers={"trivy": ("KCV-0083",), "checkov": ("CKV_K8S_144",), "kubescape": ("C-0177",)},
        nsa=NSA_NODE,
        what=effective_what(
            KERNEL_DEFAULTS, "Flags a kubelet whose `protectKernelDefaults` is not true (CIS 1.23 and earlier: 4.2.6)."
        ),
        why="With it the kubelet refuses to start when kernel tunables differ from what it needs, instead of silently changing "
        "them or running on a kernel tuned against it.",
        example=kubelet_example("protectKernelDefaults: false"),
        fix=kubelet_example("protectKernelDefaults: true"),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_kernel_defaults_unprotected(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, KERNEL_DEFAULTS)
    if s.value is not True:
        yield out(kv, said(kv, s, "kernel tunables are not protected"), s.path)
