"""KF-KUBELET 018..021, 025: the kubelet's TLS: serving certificate, certificate rotation, cipher
suites and minimum TLS version."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.kubelet.common import (
    CIPHERS,
    KINDS,
    KUBELET_REF,
    NSA_NODE,
    ROTATE,
    SERVER_BOOTSTRAP,
    TLS_CERT,
    TLS_KEY,
    TLS_MIN,
    effective_what,
    kubelet_example,
    out,
    said,
    v,
)
from kubefort.checks.node_common import node_meta
from kubefort.kube.flags import kubelet_view
from kubefort.model import CheckContext, Resource, Severity, Violation
from kubefort.registry import check


@check(
    id="KF-KUBELET-018",
    name="kubelet-serving-cert-self-signed",
    title="Kubelet serves TLS with a self-signed certificate",
    verified="Kubelet serves TLS with a configured or rotated certificate, not a self-signed one",
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
    verified="Kubelet client certificate rotation is on",
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
    verified="Kubelet keeps the RotateKubeletServerCertificate feature gate on",
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
    verified="Kubelet allows only strong TLS cipher suites",
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
    id="KF-KUBELET-025",
    name="kubelet-weak-tls-min-version",
    title="Kubelet accepts TLS 1.0 or 1.1",
    verified="Kubelet accepts TLS 1.2 or later only",
    severity=Severity.MEDIUM,
    target="object",
    kinds=KINDS,
    remediation="Remove tlsMinVersion (the default is TLS 1.2) or set it to VersionTLS12 or VersionTLS13.",
    **node_meta(
        peers={},
        nsa=NSA_NODE,
        mitre=("T1557",),
        what=effective_what(
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
