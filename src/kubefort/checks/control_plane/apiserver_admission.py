"""KF-CP: the API server's admission plugins (020, 026..031)."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.control_plane.common import API_REF, admission_plugins, api, plugin_enabled, plugin_not_disabled
from kubefort.checks.node_common import NODE_KINDS, node_meta, pod_example, viol
from kubefort.model import CheckContext, Resource, Severity, Violation
from kubefort.registry import check


@check(
    id="KF-CP-020",
    name="apiserver-service-external-ips-allowed",
    title="API server lets Services set externalIPs (DenyServiceExternalIPs is off)",
    verified="API server keeps Services from setting externalIPs (DenyServiceExternalIPs is on)",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Add DenyServiceExternalIPs to --enable-admission-plugins (and review the Services that already set externalIPs).",
    **node_meta(
        cis=("1.2.3",),
        manual=True,
        peers={"trivy": ("KCV-0003",), "kubescape": ("C-0283",)},
        mitre=("T1557",),
        what="Flags an API server without the `DenyServiceExternalIPs` admission plugin.",
        why="Anyone allowed to create a Service can claim any IP in `externalIPs` and intercept traffic meant for it "
        "(CVE-2020-8554); the plugin rejects new uses of the field.",
        example=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction"),
        fix=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction,DenyServiceExternalIPs"),
        refs=(
            API_REF,
            "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#denyserviceexternalips",
        ),
    ),
)
def apiserver_service_external_ips_allowed(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from plugin_enabled(res, "DenyServiceExternalIPs")


@check(
    id="KF-CP-026",
    name="apiserver-event-rate-limit-missing",
    title="API server does not rate-limit events (EventRateLimit is off)",
    verified="API server rate-limits events (EventRateLimit is on)",
    severity=Severity.LOW,
    target="object",
    kinds=NODE_KINDS,
    remediation="Add EventRateLimit to --enable-admission-plugins and configure its limits with --admission-control-config-file.",
    **node_meta(
        cis=("1.2.9",),
        manual=True,
        peers={"trivy": ("KCV-0010",), "checkov": ("CKV_K8S_78",), "kubescape": ("C-0121",)},
        owasp=("K09",),
        what="Flags an API server without the `EventRateLimit` admission plugin.",
        why="A flood of Events from one namespace or user fills etcd and slows the API server for everyone.",
        example=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction"),
        fix=pod_example(
            "kube-apiserver",
            "--enable-admission-plugins=NodeRestriction,EventRateLimit",
            "--admission-control-config-file=/etc/kubernetes/admission.yaml",
        ),
        refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#eventratelimit"),
        extra="CIS leaves the limits to the operator (manual); kubefort checks that the plugin is on, not its configuration.",
    ),
)
def apiserver_event_rate_limit_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from plugin_enabled(res, "EventRateLimit")


@check(
    id="KF-CP-027",
    name="apiserver-always-admit",
    title="API server enables the AlwaysAdmit admission plugin",
    verified="API server leaves the AlwaysAdmit admission plugin off",
    severity=Severity.CRITICAL,
    target="object",
    kinds=NODE_KINDS,
    remediation="Remove AlwaysAdmit from --enable-admission-plugins.",
    **node_meta(
        cis=("1.2.10",),
        peers={"trivy": ("KCV-0011",), "checkov": ("CKV_K8S_79",), "kubescape": ("C-0122",)},
        what="Flags `AlwaysAdmit` in `--enable-admission-plugins` (or the deprecated `--admission-control`).",
        why="AlwaysAdmit (deprecated) admits every request, so admission chains that enforce policy stop meaning anything.",
        example=pod_example("kube-apiserver", "--enable-admission-plugins=AlwaysAdmit,NodeRestriction"),
        fix=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction"),
        refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#alwaysadmit"),
    ),
)
def apiserver_always_admit(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    v = api(res)
    enabled, _ = admission_plugins(v)
    if "AlwaysAdmit" in enabled:
        yield viol(v, "the AlwaysAdmit admission plugin is enabled", enabled["AlwaysAdmit"])


@check(
    id="KF-CP-028",
    name="apiserver-always-pull-images-missing",
    title="API server does not force image pulls (AlwaysPullImages is off)",
    verified="API server forces image pulls (AlwaysPullImages is on)",
    severity=Severity.LOW,
    target="object",
    kinds=NODE_KINDS,
    remediation="Add AlwaysPullImages to --enable-admission-plugins (on multi-tenant clusters).",
    **node_meta(
        cis=("1.2.11",),
        manual=True,
        peers={"trivy": ("KCV-0012",), "checkov": ("CKV_K8S_80",), "kubescape": ("C-0123",)},
        owasp=("K08", "K09"),
        what="Flags an API server without the `AlwaysPullImages` admission plugin.",
        why="Without it a pod can use a private image another tenant already pulled onto the node, skipping the registry's "
        "authorization (its pull secret).",
        example=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction"),
        fix=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction,AlwaysPullImages"),
        refs=(
            API_REF,
            "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#alwayspullimages",
        ),
        extra="CIS marks it manual: it makes every pod start depend on the registry. On single-tenant clusters an exception with "
        "a reason is appropriate.",
    ),
)
def apiserver_always_pull_images_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from plugin_enabled(res, "AlwaysPullImages")


@check(
    id="KF-CP-029",
    name="apiserver-serviceaccount-plugin-disabled",
    title="API server disables the ServiceAccount admission plugin",
    verified="API server keeps the ServiceAccount admission plugin on",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Remove ServiceAccount from --disable-admission-plugins.",
    **node_meta(
        cis=("1.2.12",),
        peers={"trivy": ("KCV-0014",), "checkov": ("CKV_K8S_82",), "kubescape": ("C-0125",)},
        what="Flags `ServiceAccount` in `--disable-admission-plugins`.",
        why="The plugin makes sure pods run as a service account that exists in their namespace and mounts bound tokens; "
        "without it pods can name service accounts that do not exist yet and tokens are not managed.",
        example=pod_example("kube-apiserver", "--disable-admission-plugins=ServiceAccount"),
        fix=pod_example("kube-apiserver", "# no --disable-admission-plugins"),
        refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#serviceaccount"),
    ),
)
def apiserver_serviceaccount_plugin_disabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from plugin_not_disabled(res, "ServiceAccount")


@check(
    id="KF-CP-030",
    name="apiserver-namespace-lifecycle-disabled",
    title="API server disables the NamespaceLifecycle admission plugin",
    verified="API server keeps the NamespaceLifecycle admission plugin on",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Remove NamespaceLifecycle from --disable-admission-plugins.",
    **node_meta(
        cis=("1.2.13",),
        peers={"trivy": ("KCV-0015",), "checkov": ("CKV_K8S_83",), "kubescape": ("C-0126",)},
        what="Flags `NamespaceLifecycle` in `--disable-admission-plugins`.",
        why="The plugin refuses objects in namespaces that are being deleted or do not exist and protects default, kube-system "
        "and kube-public from deletion.",
        example=pod_example("kube-apiserver", "--disable-admission-plugins=NamespaceLifecycle"),
        fix=pod_example("kube-apiserver", "# no --disable-admission-plugins"),
        refs=(
            API_REF,
            "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#namespacelifecycle",
        ),
    ),
)
def apiserver_namespace_lifecycle_disabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from plugin_not_disabled(res, "NamespaceLifecycle")


@check(
    id="KF-CP-031",
    name="apiserver-node-restriction-missing",
    title="API server does not restrict kubelets (NodeRestriction is off)",
    verified="API server restricts kubelets (NodeRestriction is on)",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Add NodeRestriction to --enable-admission-plugins (and keep Node in --authorization-mode).",
    **node_meta(
        cis=("1.2.14",),
        peers={"trivy": ("KCV-0016",), "checkov": ("CKV_K8S_85",), "kubescape": ("C-0127",)},
        what="Flags an API server without the `NodeRestriction` admission plugin.",
        why="NodeRestriction limits each kubelet to modifying its own Node object and the pods bound to it; without it one "
        "compromised node relabels other nodes to attract sensitive workloads.",
        example=pod_example("kube-apiserver", "--enable-admission-plugins=DenyServiceExternalIPs"),
        fix=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction,DenyServiceExternalIPs"),
        refs=(
            API_REF,
            "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#noderestriction",
        ),
    ),
)
def apiserver_node_restriction_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from plugin_enabled(res, "NodeRestriction")
