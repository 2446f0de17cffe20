"""KF-CP: kube-controller-manager (047..053) and kube-scheduler (054, 055) flags (CIS 1.3, 1.4)."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.control_plane.common import KCM_REF, PROFILING_WHY, SCHED_REF, bool_flag, flags_set
from kubefort.checks.node_common import NODE_KINDS, node_meta, pod_example, viol
from kubefort.kube.flags import ComponentView, component_view
from kubefort.model import CheckContext, Resource, Severity, Violation
from kubefort.registry import check


def _kcm(res: Resource) -> ComponentView:
    return component_view(res, "kube-controller-manager")


@check(
    id="KF-CP-047",
    name="controller-manager-terminated-pod-gc-unset",
    title="Controller manager has no explicit terminated-pod GC threshold",
    verified="Controller manager sets an explicit terminated-pod GC threshold",
    severity=Severity.INFO,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --terminated-pod-gc-threshold to a value that suits the cluster (for example 10).",
    **node_meta(
        cis=("1.3.1",),
        manual=True,
        peers={"trivy": ("KCV-0033",), "checkov": ("CKV_K8S_106",), "kubescape": ("C-0144",)},
        what="Flags a kube-controller-manager without `--terminated-pod-gc-threshold` (its default keeps 12500 finished pods).",
        why="Thousands of finished pods weigh on etcd and the API server, which degrades the whole control plane.",
        example=pod_example("kube-controller-manager", "--use-service-account-credentials=true"),
        fix=pod_example("kube-controller-manager", "--terminated-pod-gc-threshold=10"),
        refs=(KCM_REF,),
    ),
)
def controller_manager_terminated_pod_gc_unset(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-controller-manager", "terminated-pod-gc-threshold")


@check(
    id="KF-CP-048",
    name="controller-manager-profiling-enabled",
    title="Controller manager exposes profiling endpoints",
    verified="Controller manager keeps its profiling endpoints off",
    severity=Severity.LOW,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --profiling=false.",
    **node_meta(
        cis=("1.3.2",),
        peers={"trivy": ("KCV-0034",), "checkov": ("CKV_K8S_107",), "kubescape": ("C-0145",)},
        what="Flags a kube-controller-manager with `--profiling` true or absent (default true).",
        why=PROFILING_WHY,
        example=pod_example("kube-controller-manager", "--bind-address=127.0.0.1"),
        fix=pod_example("kube-controller-manager", "--profiling=false"),
        refs=(KCM_REF,),
    ),
)
def controller_manager_profiling_enabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from bool_flag(res, "kube-controller-manager", "profiling", False, True, "profiling is on by default")


@check(
    id="KF-CP-049",
    name="controller-manager-shared-credentials",
    title="Controllers share the controller manager's credentials",
    verified="Controllers run with their own service-account credentials",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --use-service-account-credentials=true.",
    **node_meta(
        cis=("1.3.3",),
        peers={"trivy": ("KCV-0035",), "checkov": ("CKV_K8S_108",), "kubescape": ("C-0146",)},
        owasp=("K03", "K09"),
        what="Flags a kube-controller-manager with `--use-service-account-credentials` false or absent (default false).",
        why="Without it every controller runs with the controller manager's own, very broad identity; with it each controller "
        "uses its own service account and only the permissions its role grants.",
        example=pod_example("kube-controller-manager", "--bind-address=127.0.0.1"),
        fix=pod_example("kube-controller-manager", "--use-service-account-credentials=true"),
        refs=(KCM_REF, "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#controller-roles"),
    ),
)
def controller_manager_shared_credentials(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from bool_flag(
        res,
        "kube-controller-manager",
        "use-service-account-credentials",
        True,
        False,
        "controllers share one identity by default",
    )


@check(
    id="KF-CP-050",
    name="controller-manager-sa-signing-key-missing",
    title="Controller manager has no service-account signing key",
    verified="Controller manager has a service-account signing key",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --service-account-private-key-file to the key matching the API server's --service-account-key-file.",
    **node_meta(
        cis=("1.3.4",),
        peers={"trivy": ("KCV-0036",), "checkov": ("CKV_K8S_110",), "kubescape": ("C-0147",)},
        what="Flags a kube-controller-manager without `--service-account-private-key-file`.",
        why="Without a dedicated key service-account token Secrets are not signed with a key that can be rotated independently.",
        example=pod_example("kube-controller-manager", "--use-service-account-credentials=true"),
        fix=pod_example("kube-controller-manager", "--service-account-private-key-file=/etc/kubernetes/pki/sa.key"),
        refs=(KCM_REF,),
    ),
)
def controller_manager_sa_signing_key_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-controller-manager", "service-account-private-key-file")


@check(
    id="KF-CP-051",
    name="controller-manager-root-ca-missing",
    title="Controller manager does not publish the cluster root CA",
    verified="Controller manager publishes the cluster root CA",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --root-ca-file to the cluster CA certificate.",
    **node_meta(
        cis=("1.3.5",),
        peers={"trivy": ("KCV-0037",), "checkov": ("CKV_K8S_111",), "kubescape": ("C-0148",)},
        mitre=("T1557",),
        what="Flags a kube-controller-manager without `--root-ca-file`.",
        why="Pods then get no CA bundle with their service-account credentials and cannot verify the API server they talk to.",
        example=pod_example("kube-controller-manager", "--use-service-account-credentials=true"),
        fix=pod_example("kube-controller-manager", "--root-ca-file=/etc/kubernetes/pki/ca.crt"),
        refs=(KCM_REF,),
    ),
)
def controller_manager_root_ca_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-controller-manager", "root-ca-file")


@check(
    id="KF-CP-052",
    name="controller-manager-kubelet-cert-rotation-disabled",
    title="Controller manager disables kubelet serving-certificate rotation",
    verified="Controller manager keeps kubelet serving-certificate rotation on",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Remove RotateKubeletServerCertificate=false from --feature-gates.",
    **node_meta(
        cis=("1.3.6",),
        peers={"trivy": ("KCV-0038",), "checkov": ("CKV_K8S_112",), "kubescape": ("C-0149",)},
        what="Flags `RotateKubeletServerCertificate=false` in the controller manager's `--feature-gates`.",
        why="Kubelet serving certificates then cannot be renewed through the certificates API and end up long-lived or self-signed.",
        example=pod_example("kube-controller-manager", "--feature-gates=RotateKubeletServerCertificate=false"),
        fix=pod_example("kube-controller-manager", "# no RotateKubeletServerCertificate=false"),
        refs=(KCM_REF,),
    ),
)
def controller_manager_kubelet_cert_rotation_disabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    v = _kcm(res)
    g = v.gates().get("RotateKubeletServerCertificate")
    if g is not None and g[0] is False:
        yield viol(v, "--feature-gates sets RotateKubeletServerCertificate=false", g[1])


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def loopback_bind(res: Resource, component: str) -> Iterator[Violation]:
    """The component's --bind-address must be given and a loopback address."""
    v = component_view(res, component)
    addr, p = v.string("bind-address")
    if addr is None:
        yield viol(v, "--bind-address is not set; it defaults to 0.0.0.0 (every interface)", p)
    elif addr.strip("[]") not in LOOPBACK:
        yield viol(v, f"--bind-address={addr} is not a loopback address", p)


_BIND_EXTRA = (
    "kube-bench also passes an absent `--bind-address`; the components' default is `0.0.0.0`, so kubefort "
    'follows the CIS title ("set to 127.0.0.1") and fails it.'
)


@check(
    id="KF-CP-053",
    name="controller-manager-bind-address-exposed",
    title="Controller manager listens beyond loopback",
    verified="Controller manager listens on loopback only",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --bind-address=127.0.0.1.",
    **node_meta(
        cis=("1.3.7",),
        peers={"trivy": ("KCV-0039",), "checkov": ("CKV_K8S_113",), "kubescape": ("C-0150",)},
        owasp=("K07", "K09"),
        what="Flags a kube-controller-manager whose `--bind-address` is absent (default 0.0.0.0) or not a loopback address.",
        why="The controller manager's secure port serves health, metrics and debug endpoints; on every interface it is reachable from pods and the network.",
        example=pod_example("kube-controller-manager", "--bind-address=0.0.0.0"),
        fix=pod_example("kube-controller-manager", "--bind-address=127.0.0.1"),
        refs=(KCM_REF,),
        extra=_BIND_EXTRA,
    ),
)
def controller_manager_bind_address_exposed(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from loopback_bind(res, "kube-controller-manager")


@check(
    id="KF-CP-054",
    name="scheduler-profiling-enabled",
    title="Scheduler exposes profiling endpoints",
    verified="Scheduler keeps its profiling endpoints off",
    severity=Severity.LOW,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --profiling=false.",
    **node_meta(
        cis=("1.4.1",),
        peers={"trivy": ("KCV-0040",), "checkov": ("CKV_K8S_114",), "kubescape": ("C-0151",)},
        what="Flags a kube-scheduler with `--profiling` true or absent (default true).",
        why=PROFILING_WHY,
        example=pod_example("kube-scheduler", "--bind-address=127.0.0.1"),
        fix=pod_example("kube-scheduler", "--profiling=false"),
        refs=(SCHED_REF,),
    ),
)
def scheduler_profiling_enabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from bool_flag(res, "kube-scheduler", "profiling", False, True, "profiling is on by default")


@check(
    id="KF-CP-055",
    name="scheduler-bind-address-exposed",
    title="Scheduler listens beyond loopback",
    verified="Scheduler listens on loopback only",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --bind-address=127.0.0.1.",
    **node_meta(
        cis=("1.4.2",),
        peers={"trivy": ("KCV-0041",), "checkov": ("CKV_K8S_115",), "kubescape": ("C-0152",)},
        owasp=("K07", "K09"),
        what="Flags a kube-scheduler whose `--bind-address` is absent (default 0.0.0.0) or not a loopback address.",
        why="The scheduler's secure port serves health, metrics and debug endpoints; on every interface it is reachable from pods and the network.",
        example=pod_example("kube-scheduler", "--bind-address=0.0.0.0"),
        fix=pod_example("kube-scheduler", "--bind-address=127.0.0.1"),
        refs=(SCHED_REF,),
        extra=_BIND_EXTRA,
    ),
)
def scheduler_bind_address_exposed(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from loopback_bind(res, "kube-scheduler")
