"""KF-KUBELET: the kubelet's effective settings (CIS 4.2), its files (CIS 4.1) and kube-proxy (CIS 4.3).

A kubelet setting is read as the kubelet reads it: an explicit command-line flag wins, then the
`--config` file with its `--config-dir` drop-ins, then the kubelet's default, which depends on how
it starts (with a config file: KubeletConfiguration v1beta1 defaults, secure; without: the legacy
command-line defaults, with anonymous auth, AlwaysAllow and the read-only port 10255). Zero
values in the config file (`streamingConnectionIdleTimeout: 0s`, `authorization.mode: ""`) are
replaced by the defaults, as the kubelet does: kubeadm writes such zeros, which is why other
tools report false FAILs.

The checks run on `NodeComponent` kubelets (`kubefort node`) and on `KubeletConfiguration`
documents in `kubefort scan` input (the file alone: flags that may override it are unknown there).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from kubefort.checks.node_common import file_mode_check, file_owner_check, node_meta
from kubefort.kube.flags import KubeletSetting, KubeletView, Setting, go_duration, is_node_object, kubelet_view
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Path_, Resource, Severity, Violation
from kubefort.registry import check

KINDS = ("NodeComponent", "KubeletConfiguration")
KUBELET_REF = "https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/"
FLAGS_REF = "https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/"
NSA_NODE = ("NSA-CISA Kubernetes Hardening Guide: worker node protection",)

ANONYMOUS = KubeletSetting("anonymous-auth", ("authentication", "anonymous", "enabled"), "bool", False, True)
AUTHZ_MODE = KubeletSetting(
    "authorization-mode", ("authorization", "mode"), "str", "Webhook", "AlwaysAllow", zero_default=True
)
CLIENT_CA = KubeletSetting("client-ca-file", ("authentication", "x509", "clientCAFile"), "str", "", "")
READ_ONLY_PORT = KubeletSetting("read-only-port", ("readOnlyPort",), "int", 0, 10255)
STREAM_TIMEOUT = KubeletSetting(
    "streaming-connection-idle-timeout",
    ("streamingConnectionIdleTimeout",),
    "duration",
    "4h0m0s",
    "4h0m0s",
    zero_default=True,
)
IPTABLES_CHAINS = KubeletSetting("make-iptables-util-chains", ("makeIPTablesUtilChains",), "bool", True, True)
TLS_CERT = KubeletSetting("tls-cert-file", ("tlsCertFile",), "str", "", "")
TLS_KEY = KubeletSetting("tls-private-key-file", ("tlsPrivateKeyFile",), "str", "", "")
SERVER_BOOTSTRAP = KubeletSetting("rotate-server-certificates", ("serverTLSBootstrap",), "bool", False, False)
ROTATE = KubeletSetting("rotate-certificates", ("rotateCertificates",), "bool", False, False)
CIPHERS = KubeletSetting("tls-cipher-suites", ("tlsCipherSuites",), "list", [], [])
TLS_MIN = KubeletSetting("tls-min-version", ("tlsMinVersion",), "str", "", "")
PIDS = KubeletSetting("pod-max-pids", ("podPidsLimit",), "int", -1, -1)
SECCOMP = KubeletSetting("seccomp-default", ("seccompDefault",), "bool", False, False)
KERNEL_DEFAULTS = KubeletSetting("protect-kernel-defaults", ("protectKernelDefaults",), "bool", False, False)


def kubelet_example(*lines: str) -> str:
    return "\n".join(
        [
            "```yaml",
            "# the file the kubelet's --config names (kubeadm: /var/lib/kubelet/config.yaml)",
            "apiVersion: kubelet.config.k8s.io/v1beta1",
            "kind: KubeletConfiguration",
            *lines,
            "```",
        ]
    )


def _fmt(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def said(kv: KubeletView, s: Setting, what: str) -> str:
    """A message naming where a value comes from: the flag, the config file, or the default."""
    if s.origin == "flag":
        return f"{s.spelled} on the kubelet's command line: {what}"
    if s.origin == "config":
        return f"{s.spelled} in the kubelet config: {what}"
    if s.spelled != "the default":
        return f"{s.spelled}: {what}"
    if kv.uses_config:
        return f"{what}: not set, and the kubelet's default is {_fmt(s.value)}"
    return f"{what}: not set, and without --config the kubelet's command-line default is {_fmt(s.value)}"


def v(res: Resource, s: KubeletSetting) -> tuple[KubeletView, Setting]:
    kv = kubelet_view(res)
    return kv, kv.get(s)


def out(kv: KubeletView, message: str, path: Path_) -> Violation:
    return Violation(message, path, **kv.kw())


# ---------------------------------------------------------------------------------------------
# 4.1 worker node files
# ---------------------------------------------------------------------------------------------
SERVICE_WHY = (
    "The kubelet's systemd unit and drop-ins decide its flags: whoever can edit them turns off authentication or "
    "authorization at the next restart, and the kubelet runs as root."
)
KCFG_WHY = (
    "The kubelet kubeconfig holds the node's client certificate: whoever reads it acts as the node (system:node), "
    "which reads the Secrets of every pod scheduled there."
)
CONF_WHY = "The kubelet config file sets its authentication, authorization and ports; whoever edits it controls the next kubelet start."
CA_WHY = (
    "The kubelet trusts every client certificate signed by this CA: a replaced CA file lets an attacker's certificate "
    "drive the kubelet API (exec, logs, port-forward)."
)
PROXY_WHY = "The kube-proxy kubeconfig holds its credentials, which can list Services and Endpoints cluster-wide and whose node rules route traffic."

file_mode_check(
    id="KF-KUBELET-001",
    name="kubelet-service-permissive-mode",
    title="The kubelet service file (systemd unit or drop-in) is more permissive than 600",
    severity=Severity.MEDIUM,
    role="kubelet-service",
    limit=0o600,
    what_file="the kubelet service file (systemd unit or drop-in)",
    why=SERVICE_WHY,
    cis=("4.1.1",),
    peers={"kubescape": ("C-0162",), "trivy": ("KCV-0069",)},
    example_path="/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    mitre=(),
)
file_owner_check(
    id="KF-KUBELET-002",
    name="kubelet-service-not-root-owned",
    title="The kubelet service file (systemd unit or drop-in) is not owned by root:root",
    severity=Severity.MEDIUM,
    role="kubelet-service",
    what_file="the kubelet service file (systemd unit or drop-in)",
    why=SERVICE_WHY,
    cis=("4.1.2",),
    peers={"kubescape": ("C-0163",), "trivy": ("KCV-0070",)},
    example_path="/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    mitre=(),
)
file_mode_check(
    id="KF-KUBELET-003",
    name="kube-proxy-kubeconfig-permissive-mode",
    title="The kube-proxy kubeconfig is more permissive than 600",
    severity=Severity.MEDIUM,
    role="kube-proxy-kubeconfig",
    limit=0o600,
    what_file="the kube-proxy kubeconfig",
    why=PROXY_WHY,
    cis=("4.1.3",),
    peers={"kubescape": ("C-0164",), "trivy": ("KCV-0071",)},
    manual=True,
    example_path="/etc/kubernetes/proxy.conf",
    mitre=("T1552.001",),
)
file_owner_check(
    id="KF-KUBELET-004",
    name="kube-proxy-kubeconfig-not-root-owned",
    title="The kube-proxy kubeconfig is not owned by root:root",
    severity=Severity.MEDIUM,
    role="kube-proxy-kubeconfig",
    what_file="the kube-proxy kubeconfig",
    why=PROXY_WHY,
    cis=("4.1.4",),
    peers={"kubescape": ("C-0165",), "trivy": ("KCV-0072",)},
    manual=True,
    example_path="/etc/kubernetes/proxy.conf",
    mitre=("T1552.001",),
)
file_mode_check(
    id="KF-KUBELET-005",
    name="kubelet-kubeconfig-permissive-mode",
    title="The kubelet kubeconfig (kubelet.conf, the kubelet's --kubeconfig) is more permissive than 600",
    severity=Severity.HIGH,
    role="kubelet-kubeconfig",
    limit=0o600,
    what_file="the kubelet kubeconfig (kubelet.conf, the kubelet's --kubeconfig)",
    why=KCFG_WHY,
    cis=("4.1.5",),
    peers={"kubescape": ("C-0166",), "trivy": ("KCV-0073",)},
    example_path="/etc/kubernetes/kubelet.conf",
    mitre=("T1552.001",),
)
file_owner_check(
    id="KF-KUBELET-006",
    name="kubelet-kubeconfig-not-root-owned",
    title="The kubelet kubeconfig (kubelet.conf, the kubelet's --kubeconfig) is not owned by root:root",
    severity=Severity.HIGH,
    role="kubelet-kubeconfig",
    what_file="the kubelet kubeconfig (kubelet.conf, the kubelet's --kubeconfig)",
    why=KCFG_WHY,
    cis=("4.1.6",),
    peers={"kubescape": ("C-0167",), "trivy": ("KCV-0074",)},
    example_path="/etc/kubernetes/kubelet.conf",
    mitre=("T1552.001",),
)
file_mode_check(
    id="KF-KUBELET-007",
    name="kubelet-client-ca-permissive-mode",
    title="The kubelet client CA file (authentication.x509.clientCAFile) is more permissive than 644",
    severity=Severity.MEDIUM,
    role="kubelet-client-ca",
    limit=0o644,
    what_file="the kubelet client CA file (authentication.x509.clientCAFile)",
    why=CA_WHY,
    cis=("4.1.7",),
    peers={"kubescape": ("C-0168",), "trivy": ("KCV-0075",)},
    manual=True,
    example_path="/etc/kubernetes/pki/ca.crt",
    mitre=(),
)
file_owner_check(
    id="KF-KUBELET-008",
    name="kubelet-client-ca-not-root-owned",
    title="The kubelet client CA file (authentication.x509.clientCAFile) is not owned by root:root",
    severity=Severity.MEDIUM,
    role="kubelet-client-ca",
    what_file="the kubelet client CA file (authentication.x509.clientCAFile)",
    why=CA_WHY,
    cis=("4.1.8",),
    peers={"kubescape": ("C-0169",), "trivy": ("KCV-0076",)},
    manual=True,
    example_path="/etc/kubernetes/pki/ca.crt",
    mitre=(),
)
file_mode_check(
    id="KF-KUBELET-009",
    name="kubelet-config-permissive-mode",
    title="The kubelet config file (--config and --config-dir drop-ins) is more permissive than 600",
    severity=Severity.HIGH,
    role="kubelet-config",
    limit=0o600,
    what_file="the kubelet config file (--config and --config-dir drop-ins)",
    why=CONF_WHY,
    cis=("4.1.9",),
    peers={"kubescape": ("C-0170",), "trivy": ("KCV-0077",)},
    example_path="/var/lib/kubelet/config.yaml",
    mitre=(),
)
file_owner_check(
    id="KF-KUBELET-010",
    name="kubelet-config-not-root-owned",
    title="The kubelet config file (--config and --config-dir drop-ins) is not owned by root:root",
    severity=Severity.HIGH,
    role="kubelet-config",
    what_file="the kubelet config file (--config and --config-dir drop-ins)",
    why=CONF_WHY,
    cis=("4.1.10",),
    peers={"kubescape": ("C-0171",), "trivy": ("KCV-0078",)},
    example_path="/var/lib/kubelet/config.yaml",
    mitre=(),
)


# ---------------------------------------------------------------------------------------------
# 4.2 kubelet settings
# ---------------------------------------------------------------------------------------------
_EFFECTIVE = (
    "Reads the effective value: `{flag}` on the command line, else `{key}` in the config file(s), else the "
    "default ({dc} with a config file, {df} without)."
)


def _what(s: KubeletSetting, text: str) -> str:
    return (
        text
        + " "
        + _EFFECTIVE.format(
            flag=f"--{s.flag}", key=".".join(s.config), dc=repr(s.default_config), df=repr(s.default_flags)
        )
    )


@check(
    id="KF-KUBELET-011",
    name="kubelet-anonymous-auth",
    title="Kubelet accepts anonymous requests",
    severity=Severity.CRITICAL,
    target="object",
    kinds=KINDS,
    remediation="Set authentication.anonymous.enabled: false in the kubelet config (or --anonymous-auth=false).",
    **node_meta(
        cis=("4.2.1",),
        peers={"trivy": ("KCV-0079",), "checkov": ("CKV_K8S_138",), "kubescape": ("C-0172", "C-0069")},
        nsa=NSA_NODE,
        mitre=("T1078", "T1609"),
        owasp=("K06", "K09"),
        what=_what(ANONYMOUS, "Flags a kubelet that authenticates unauthenticated requests as `system:anonymous`."),
        why="The kubelet API on port 10250 runs commands in containers and reads logs and pod specs. With anonymous auth (and "
        "AlwaysAllow authorization) anyone who reaches the node port owns every pod on the node.",
        example=kubelet_example("authentication:", "  anonymous:", "    enabled: true"),
        fix=kubelet_example("authentication:", "  anonymous:", "    enabled: false", "  webhook:", "    enabled: true"),
        refs=(KUBELET_REF, "https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/"),
    ),
)
def kubelet_anonymous_auth(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, ANONYMOUS)
    if s.value is True:
        yield out(kv, said(kv, s, "anonymous requests are accepted"), s.path)


@check(
    id="KF-KUBELET-012",
    name="kubelet-authorization-always-allow",
    title="Kubelet authorizes every request (AlwaysAllow)",
    severity=Severity.CRITICAL,
    target="object",
    kinds=KINDS,
    remediation="Set authorization.mode: Webhook in the kubelet config (or --authorization-mode=Webhook).",
    **node_meta(
        cis=("4.2.2",),
        peers={"trivy": ("KCV-0080",), "checkov": ("CKV_K8S_139",), "kubescape": ("C-0173",)},
        nsa=NSA_NODE,
        mitre=("T1609",),
        owasp=("K03", "K09"),
        what=_what(AUTHZ_MODE, "Flags a kubelet whose authorization mode is `AlwaysAllow`."),
        why="With AlwaysAllow any authenticated (or anonymous) caller may exec into every container on the node; Webhook asks "
        "the API server (SubjectAccessReview) instead.",
        example=kubelet_example("authorization:", "  mode: AlwaysAllow"),
        fix=kubelet_example("authorization:", "  mode: Webhook"),
        refs=(
            KUBELET_REF,
            "https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/#kubelet-authorization",
        ),
    ),
)
def kubelet_authorization_always_allow(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, AUTHZ_MODE)
    if s.value == "AlwaysAllow":
        yield out(kv, said(kv, s, "every request is authorized"), s.path)


@check(
    id="KF-KUBELET-013",
    name="kubelet-client-ca-missing",
    title="Kubelet verifies no client certificates",
    severity=Severity.HIGH,
    target="object",
    kinds=KINDS,
    remediation="Set authentication.x509.clientCAFile to the cluster CA (or --client-ca-file).",
    **node_meta(
        cis=("4.2.3",),
        peers={"trivy": ("KCV-0081",), "checkov": ("CKV_K8S_140",), "kubescape": ("C-0174", "C-0070")},
        nsa=NSA_NODE,
        owasp=("K06", "K09"),
        what=_what(CLIENT_CA, "Flags a kubelet without a client CA file."),
        why="Without a client CA the kubelet cannot authenticate the API server's client certificate, so its API is served to "
        "anonymous callers or not at all.",
        example=kubelet_example("authentication:", "  x509: {}"),
        fix=kubelet_example("authentication:", "  x509:", "    clientCAFile: /etc/kubernetes/pki/ca.crt"),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_client_ca_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, CLIENT_CA)
    if not s.value:
        yield out(
            kv,
            said(kv, s, "no client CA file")
            if s.origin != "default"
            else "no client CA file is set (authentication.x509.clientCAFile / --client-ca-file)",
            s.path,
        )


@check(
    id="KF-KUBELET-014",
    name="kubelet-read-only-port-open",
    title="Kubelet serves its unauthenticated read-only port",
    severity=Severity.HIGH,
    target="object",
    kinds=KINDS,
    remediation="Set readOnlyPort: 0 in the kubelet config (or --read-only-port=0).",
    **node_meta(
        cis=("4.2.4",),
        manual=True,
        peers={"trivy": ("KCV-0082",), "checkov": ("CKV_K8S_141",), "kubescape": ("C-0175",)},
        nsa=NSA_NODE,
        mitre=("T1613",),
        owasp=("K07", "K09"),
        what=_what(READ_ONLY_PORT, "Flags a kubelet whose read-only port is not 0."),
        why="The read-only port (10255) answers without authentication: pod specs with their environment variables, node "
        "metrics and more, to anyone who can reach the node.",
        example=kubelet_example("readOnlyPort: 10255"),
        fix=kubelet_example("readOnlyPort: 0"),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_read_only_port_open(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, READ_ONLY_PORT)
    if s.value != 0:
        yield out(kv, said(kv, s, f"the unauthenticated read-only port {s.value} is open"), s.path)


@check(
    id="KF-KUBELET-015",
    name="kubelet-streaming-timeout-disabled",
    title="Kubelet streaming connections never time out",
    severity=Severity.LOW,
    target="object",
    kinds=KINDS,
    remediation="Remove --streaming-connection-idle-timeout=0 (or set it, or streamingConnectionIdleTimeout, to a duration such as 5m).",
    **node_meta(
        cis=("4.2.5",),
        manual=True,
        peers={"trivy": ("KCV-0085",), "checkov": ("CKV_K8S_143",), "kubescape": ("C-0176",)},
        nsa=NSA_NODE,
        what=_what(STREAM_TIMEOUT, "Flags a kubelet whose streaming idle timeout is 0 (no timeout).")
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
    severity=Severity.LOW,
    target="object",
    kinds=KINDS,
    remediation="Remove makeIPTablesUtilChains: false (the default, true, is right).",
    **node_meta(
        cis=("4.2.6",),
        peers={"trivy": ("KCV-0084",), "checkov": ("CKV_K8S_145",), "kubescape": ("C-0178",)},
        nsa=NSA_NODE,
        what=_what(IPTABLES_CHAINS, "Flags a kubelet with `makeIPTablesUtilChains` false."),
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
    id="KF-KUBELET-018",
    name="kubelet-serving-cert-self-signed",
    title="Kubelet serves TLS with a self-signed certificate",
    severity=Severity.MEDIUM,
    target="object",
    kinds=KINDS,
    remediation="Set tlsCertFile and tlsPrivateKeyFile, or serverTLSBootstrap: true so the kubelet gets its serving certificate from the cluster CA.",
    **node_meta(
        cis=("4.2.9",),
        manual=True,
        peers={"trivy": ("KCV-0088", "KCV-0089"), "checkov": ("CKV_K8S_148",), "kubescape": ("C-0181",)},
        nsa=NSA_NODE,
        mitre=("T1557",),
        what="Flags a kubelet that has neither `tlsCertFile` and `tlsPrivateKeyFile` (or `--tls-cert-file`/`--tls-private-key-file`) nor "
        "`serverTLSBootstrap: true` (`--rotate-server-certificates`): it then generates a self-signed serving certificate.",
        why="A self-signed serving certificate cannot be verified by the API server (KF-CP-022), so the API server-to-kubelet "
        "channel is open to impersonation.",
        example=kubelet_example("rotateCertificates: true"),
        fix=kubelet_example("serverTLSBootstrap: true   # then approve the kubelet-serving CSRs"),
        refs=(
            KUBELET_REF,
            "https://kubernetes.io/docs/reference/access-authn-authz/kubelet-tls-bootstrapping/#certificate-rotation",
        ),
        extra='CIS asks for the two files "as appropriate"; kubefort also accepts serverTLSBootstrap, the documented way to get '
        "CA-signed, rotated serving certificates.",
    ),
)
def kubelet_serving_cert_self_signed(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv = kubelet_view(res)
    boot = kv.get(SERVER_BOOTSTRAP)
    if boot.value is True:
        return
    cert, key = kv.get(TLS_CERT), kv.get(TLS_KEY)
    if not cert.value or not key.value:
        missing = [n for n, s in (("tlsCertFile", cert), ("tlsPrivateKeyFile", key)) if not s.value]
        yield out(
            kv,
            f"{' and '.join(missing)} not set and serverTLSBootstrap is off: the kubelet serves a self-signed certificate",
            boot.path,
        )


@check(
    id="KF-KUBELET-019",
    name="kubelet-certificate-rotation-disabled",
    title="Kubelet client certificate rotation is turned off",
    severity=Severity.MEDIUM,
    target="object",
    kinds=KINDS,
    remediation="Set rotateCertificates: true (or remove --rotate-certificates=false).",
    **node_meta(
        cis=("4.2.10",),
        peers={"trivy": ("KCV-0090",), "checkov": ("CKV_K8S_149",), "kubescape": ("C-0182",)},
        nsa=NSA_NODE,
        what="Flags a kubelet where `rotateCertificates: false` or `--rotate-certificates=false` is set explicitly. As in the CIS "
        "text, leaving it unset passes (although the kubelet's own default is false; kubeadm sets true).",
        why="Without rotation the node's client certificate is long-lived and, when it expires, someone installs a new one by hand.",
        example=kubelet_example("rotateCertificates: false"),
        fix=kubelet_example("rotateCertificates: true"),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_certificate_rotation_disabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, ROTATE)
    if s.origin != "default" and s.value is False:
        yield out(kv, said(kv, s, "client certificate rotation is off"), s.path)


@check(
    id="KF-KUBELET-020",
    name="kubelet-server-cert-rotation-gate-disabled",
    title="Kubelet disables the RotateKubeletServerCertificate feature gate",
    severity=Severity.MEDIUM,
    target="object",
    kinds=KINDS,
    remediation="Remove RotateKubeletServerCertificate=false from --feature-gates and from featureGates in the kubelet config.",
    **node_meta(
        cis=("4.2.11",),
        manual=True,
        peers={"trivy": ("KCV-0091",), "kubescape": ("C-0183",)},
        nsa=NSA_NODE,
        what="Flags `RotateKubeletServerCertificate=false` in the kubelet's `--feature-gates` or config `featureGates` "
        "(flags win per key, as the kubelet merges them).",
        why="With the gate off the kubelet cannot request and rotate a CA-signed serving certificate.",
        example=kubelet_example("featureGates:", "  RotateKubeletServerCertificate: false"),
        fix=kubelet_example("featureGates: {}"),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_server_cert_rotation_gate_disabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv = kubelet_view(res)
    s = kv.feature_gate("RotateKubeletServerCertificate")
    if s is not None and s.value is False:
        yield out(kv, f"{s.spelled}: the kubelet cannot rotate its serving certificate", s.path)


CIS_CIPHERS_KUBELET = frozenset(
    {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    }
)


@check(
    id="KF-KUBELET-021",
    name="kubelet-weak-tls-cipher-suites",
    title="Kubelet allows weak TLS cipher suites",
    severity=Severity.MEDIUM,
    target="object",
    kinds=KINDS,
    remediation="Set tlsCipherSuites to the strong ECDHE/AEAD suites listed in the documentation.",
    **node_meta(
        cis=("4.2.12",),
        manual=True,
        peers={"trivy": ("KCV-0092",), "checkov": ("CKV_K8S_151",), "kubescape": ("C-0184",)},
        nsa=NSA_NODE,
        mitre=("T1557",),
        what="Flags a kubelet whose `tlsCipherSuites` (`--tls-cipher-suites`) is unset or lists a suite outside CIS's list: "
        + ", ".join(sorted(CIS_CIPHERS_KUBELET))
        + ".",
        why="Without ECDHE there is no forward secrecy; CBC suites are prone to padding-oracle attacks.",
        example=kubelet_example("tlsCipherSuites: [TLS_RSA_WITH_AES_128_CBC_SHA]"),
        fix=kubelet_example(
            "tlsCipherSuites:",
            "- TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "- TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "- TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "- TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_weak_tls_cipher_suites(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, CIPHERS)
    items = s.value if isinstance(s.value, list) else []
    if not items:
        yield out(kv, "tlsCipherSuites is not set; the defaults include CBC-mode suites", s.path)
        return
    weak = [c for c in items if c not in CIS_CIPHERS_KUBELET]
    if weak:
        yield out(kv, f"tlsCipherSuites includes suites outside the strong list: {', '.join(map(str, weak))}", s.path)


@check(
    id="KF-KUBELET-022",
    name="kubelet-pod-pids-unlimited",
    title="Kubelet does not limit processes per pod",
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
        what=_what(PIDS, "Flags a kubelet whose `podPidsLimit` is unset, zero or negative (no limit)."),
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
        what=_what(SECCOMP, "Flags a kubelet whose `seccompDefault` is not true.")
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


# ---------------------------------------------------------------------------------------------
# 4.3 kube-proxy, and settings beyond CIS
# ---------------------------------------------------------------------------------------------
def _metrics_address(res: Resource) -> tuple[str | None, Any, str]:
    if res.id.kind == "KubeProxyConfiguration" and res.id.api_version.startswith("kubeproxy.config.k8s.io/"):
        value = res.obj.get("metricsBindAddress")
        return (value if isinstance(value, str) else None), ("metricsBindAddress",), "metricsBindAddress"
    if is_node_object(res, "NodeComponent") and res.obj.get("component") == "kube-proxy":
        from kubefort.kube.flags import component_view

        view = component_view(res, "kube-proxy")
        if view.last("config") is not None:  # kube-proxy ignores most flags when a config file is given
            cfg = res.obj.get("config")
            if not isinstance(cfg, dict):
                raise NotEvaluated(
                    str(res.obj.get("configError") or "kube-proxy's --config file is not part of the input"),
                    view.at(view.last("config")),
                )
            value = cfg.get("metricsBindAddress")
            return (value if isinstance(value, str) else None), ("config", "metricsBindAddress"), "metricsBindAddress"
        value, p = view.string("metrics-bind-address")
        return value, p, "--metrics-bind-address"
    raise NotApplicable()


def is_loopback(addr: str) -> bool:
    host = addr
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        if "/" in host:
            net = ipaddress.ip_network(host, strict=False)
            loopback = ipaddress.ip_network("127.0.0.0/8" if net.version == 4 else "::1/128")
            return net.version == loopback.version and net.subnet_of(loopback)  # type: ignore[arg-type]
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@check(
    id="KF-KUBELET-024",
    name="kube-proxy-metrics-exposed",
    title="kube-proxy serves metrics beyond loopback",
    severity=Severity.LOW,
    target="object",
    kinds=("NodeComponent", "KubeProxyConfiguration"),
    remediation="Set metricsBindAddress to 127.0.0.1:10249 (or leave it empty for that default) and scrape through a local agent.",
    **node_meta(
        cis=("4.3.1",),
        peers={"kubescape": ("C-0291",)},
        nsa=NSA_NODE,
        owasp=("K07", "K09"),
        what="Flags a kube-proxy whose `metricsBindAddress` (`--metrics-bind-address` when it runs without `--config`) is not a "
        "loopback address. Empty or unset means 127.0.0.1:10249 and passes.",
        why="kube-proxy's metrics and debug endpoints reveal Services, endpoints and the node's proxy state to anything that can reach the node.",
        example="```yaml\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmetricsBindAddress: 0.0.0.0:10249\n```",
        fix="```yaml\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmetricsBindAddress: 127.0.0.1:10249\n```",
        refs=("https://kubernetes.io/docs/reference/config-api/kube-proxy-config.v1alpha1/",),
    ),
)
def kube_proxy_metrics_exposed(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    value, path, name = _metrics_address(res)
    if value and not is_loopback(value):
        yield Violation(f"{name} {value} is not a loopback address", path)


@check(
    id="KF-KUBELET-025",
    name="kubelet-weak-tls-min-version",
    title="Kubelet accepts TLS 1.0 or 1.1",
    severity=Severity.MEDIUM,
    target="object",
    kinds=KINDS,
    remediation="Remove tlsMinVersion (the default is TLS 1.2) or set it to VersionTLS12 or VersionTLS13.",
    **node_meta(
        peers={},
        nsa=NSA_NODE,
        mitre=("T1557",),
        what=_what(
            TLS_MIN,
            "Flags a kubelet whose `tlsMinVersion` is VersionTLS10 or VersionTLS11 (unset means TLS 1.2, which passes).",
        ),
        why="TLS 1.0 and 1.1 are deprecated (RFC 8996) and rely on constructions with known attacks.",
        example=kubelet_example("tlsMinVersion: VersionTLS10"),
        fix=kubelet_example("tlsMinVersion: VersionTLS12"),
        refs=(KUBELET_REF, "RFC 8996"),
    ),
)
def kubelet_weak_tls_min_version(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, TLS_MIN)
    if s.value in ("VersionTLS10", "VersionTLS11"):
        yield out(kv, said(kv, s, f"the kubelet accepts TLS {'1.0' if s.value.endswith('10') else '1.1'}"), s.path)


@check(
    id="KF-KUBELET-026",
    name="kubelet-kernel-defaults-unprotected",
    title="Kubelet does not protect kernel tunables",
    severity=Severity.LOW,
    target="object",
    kinds=KINDS,
    remediation="Set protectKernelDefaults: true (after setting the sysctls the kubelet expects, such as vm.overcommit_memory=1 and kernel.panic=10).",
    **node_meta(
        peers={"trivy": ("KCV-0083",), "checkov": ("CKV_K8S_144",), "kubescape": ("C-0177",)},
        nsa=NSA_NODE,
        what=_what(
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
