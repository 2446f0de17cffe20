"""KF-CP: TLS between the control-plane components: kubelet and etcd client certificates and CAs
(021, 022, 039..042), cipher suites (045), minimum TLS version (060), certificate expiry (061)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from kubefort.checks.control_plane.common import API_REF, api, flags_set
from kubefort.checks.node_common import FILE_KINDS, NODE_KINDS, node_meta, pod_example, viol
from kubefort.kube.flags import ComponentView, component_view, is_node_object
from kubefort.kube.pods import type_name
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Resource, Severity, Violation
from kubefort.registry import check
from kubefort.wording import plural


@check(
    id="KF-CP-021",
    name="apiserver-kubelet-client-cert-missing",
    title="API server presents no client certificate to kubelets",
    verified="API server presents a client certificate to kubelets",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --kubelet-client-certificate and --kubelet-client-key to a client certificate the kubelets trust.",
    **node_meta(
        cis=("1.2.4",),
        peers={"trivy": ("KCV-0005",), "checkov": ("CKV_K8S_72",), "kubescape": ("C-0116",)},
        what="Flags an API server without `--kubelet-client-certificate` or `--kubelet-client-key`.",
        why="Without a client certificate the API server cannot authenticate to the kubelets, so kubelets have to accept "
        "unauthenticated requests for exec, logs and port-forward to work.",
        example=pod_example(
            "kube-apiserver", "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt"
        ),
        fix=pod_example(
            "kube-apiserver",
            "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
            "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
        ),
        refs=(API_REF, "https://kubernetes.io/docs/concepts/security/controlling-access/"),
    ),
)
def apiserver_kubelet_client_cert_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-apiserver", "kubelet-client-certificate", "kubelet-client-key")


@check(
    id="KF-CP-022",
    name="apiserver-kubelet-ca-missing",
    title="API server does not verify kubelet serving certificates",
    verified="API server verifies kubelet serving certificates",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --kubelet-certificate-authority to the CA that signs the kubelets' serving certificates (enable serverTLSBootstrap on the kubelets).",
    **node_meta(
        cis=("1.2.5",),
        peers={"trivy": ("KCV-0006",), "checkov": ("CKV_K8S_73",), "kubescape": ("C-0117",)},
        mitre=("T1557",),
        what="Flags an API server without `--kubelet-certificate-authority`.",
        why="The API server then connects to kubelets without checking their certificates, so anyone on the path between "
        "them can impersonate a kubelet and read exec sessions, logs and the credentials sent through them.",
        example=pod_example(
            "kube-apiserver", "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt"
        ),
        fix=pod_example("kube-apiserver", "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt"),
        refs=(
            API_REF,
            "https://kubernetes.io/docs/reference/access-authn-authz/kubelet-tls-bootstrapping/#certificate-rotation",
        ),
    ),
)
def apiserver_kubelet_ca_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-apiserver", "kubelet-certificate-authority")


@check(
    id="KF-CP-039",
    name="apiserver-etcd-client-cert-missing",
    title="API server does not authenticate to etcd with a client certificate",
    verified="API server authenticates to etcd with a client certificate",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --etcd-certfile and --etcd-keyfile to a client certificate etcd trusts (and enable etcd --client-cert-auth).",
    **node_meta(
        cis=("1.2.23",),
        peers={"trivy": ("KCV-0026",), "checkov": ("CKV_K8S_99",), "kubescape": ("C-0137",)},
        what="Flags an API server without `--etcd-certfile` or `--etcd-keyfile`.",
        why="etcd holds every Secret; if the API server needs no certificate to reach it, nothing else does either.",
        example=pod_example("kube-apiserver", "--etcd-servers=https://127.0.0.1:2379"),
        fix=pod_example(
            "kube-apiserver",
            "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
            "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
        ),
        refs=(API_REF, "https://etcd.io/docs/v3.5/op-guide/security/"),
    ),
)
def apiserver_etcd_client_cert_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-apiserver", "etcd-certfile", "etcd-keyfile")


@check(
    id="KF-CP-040",
    name="apiserver-tls-cert-missing",
    title="API server serves TLS without an explicit certificate",
    verified="API server serves TLS with an explicit certificate",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --tls-cert-file and --tls-private-key-file to a certificate signed by the cluster CA.",
    **node_meta(
        cis=("1.2.24",),
        peers={"trivy": ("KCV-0027",), "checkov": ("CKV_K8S_100",), "kubescape": ("C-0138",)},
        mitre=("T1557",),
        what="Flags an API server without `--tls-cert-file` or `--tls-private-key-file`.",
        why="Without them the API server generates a self-signed certificate that clients cannot verify, which trains them to skip verification.",
        example=pod_example("kube-apiserver", "--secure-port=6443"),
        fix=pod_example(
            "kube-apiserver",
            "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
            "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
        ),
        refs=(API_REF,),
    ),
)
def apiserver_tls_cert_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-apiserver", "tls-cert-file", "tls-private-key-file")


@check(
    id="KF-CP-041",
    name="apiserver-client-ca-missing",
    title="API server trusts no client CA",
    verified="API server trusts a client CA",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --client-ca-file to the cluster CA certificate.",
    **node_meta(
        cis=("1.2.25",),
        peers={"trivy": ("KCV-0028",), "kubescape": ("C-0139",)},
        owasp=("K06", "K09"),
        what="Flags an API server without `--client-ca-file`.",
        why="Without a client CA no client certificate is accepted, so kubelets and controllers cannot authenticate with "
        "certificates and weaker credentials take their place.",
        example=pod_example("kube-apiserver", "--secure-port=6443"),
        fix=pod_example("kube-apiserver", "--client-ca-file=/etc/kubernetes/pki/ca.crt"),
        refs=(API_REF,),
    ),
)
def apiserver_client_ca_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-apiserver", "client-ca-file")


@check(
    id="KF-CP-042",
    name="apiserver-etcd-ca-missing",
    title="API server does not verify etcd's certificate",
    verified="API server verifies etcd's certificate",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --etcd-cafile to the CA that signs etcd's serving certificate.",
    **node_meta(
        cis=("1.2.26",),
        peers={"trivy": ("KCV-0029",), "checkov": ("CKV_K8S_102",), "kubescape": ("C-0140",)},
        mitre=("T1557",),
        what="Flags an API server without `--etcd-cafile`.",
        why="Without it the API server cannot tell the real etcd from an impostor that records every Secret written to it.",
        example=pod_example("kube-apiserver", "--etcd-servers=https://10.0.0.5:2379"),
        fix=pod_example("kube-apiserver", "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt"),
        refs=(API_REF,),
    ),
)
def apiserver_etcd_ca_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-apiserver", "etcd-cafile")


CIS_CIPHERS_APISERVER = frozenset(
    {
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    }
)


def cipher_violations(
    v: ComponentView, allowed: frozenset[str], flag: str = "tls-cipher-suites"
) -> Iterator[Violation]:
    items, given = v.items(flag)
    if not given:
        yield viol(v, f"--{flag} is not set; the defaults include CBC-mode suites", v.missing)
        return
    weak = [(c, p) for c, p in items if c not in allowed]
    if weak:
        yield viol(v, f"--{flag} includes suites outside the strong list: {', '.join(c for c, _ in weak)}", weak[0][1])


@check(
    id="KF-CP-045",
    name="apiserver-weak-tls-cipher-suites",
    title="API server allows weak TLS cipher suites",
    verified="API server allows only strong TLS cipher suites",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --tls-cipher-suites to ECDHE/AEAD suites only (see the list in the documentation).",
    **node_meta(
        cis=("1.2.29",),
        manual=True,
        peers={"checkov": ("CKV_K8S_105",), "kubescape": ("C-0277", "C-0143")},
        mitre=("T1557",),
        what="Flags an API server whose `--tls-cipher-suites` is absent or lists a suite outside CIS's strong list: "
        + ", ".join(sorted(CIS_CIPHERS_APISERVER))
        + ".",
        why="Without ECDHE there is no forward secrecy, and CBC suites are prone to padding-oracle attacks.",
        example=pod_example(
            "kube-apiserver", "--tls-cipher-suites=TLS_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        ),
        fix=pod_example(
            "kube-apiserver",
            "--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ),
        refs=(API_REF,),
    ),
)
def apiserver_weak_tls_cipher_suites(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from cipher_violations(api(res), CIS_CIPHERS_APISERVER)


WEAK_TLS = {"VersionTLS10": "TLS 1.0", "VersionTLS11": "TLS 1.1"}


@check(
    id="KF-CP-060",
    name="control-plane-weak-tls-min-version",
    title="Control-plane component accepts TLS 1.0 or 1.1",
    verified="Control-plane component accepts TLS 1.2 or later only",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Remove --tls-min-version or set it to VersionTLS12 or VersionTLS13.",
    **node_meta(
        peers={},
        mitre=("T1557",),
        what="Flags kube-apiserver, kube-controller-manager or kube-scheduler started with `--tls-min-version=VersionTLS10` or "
        "`VersionTLS11`. Without the flag they accept TLS 1.2 and later, which passes.",
        why="TLS 1.0 and 1.1 are deprecated (RFC 8996): they depend on SHA-1 and CBC constructions with known attacks.",
        example=pod_example("kube-apiserver", "--tls-min-version=VersionTLS10"),
        fix=pod_example("kube-apiserver", "--tls-min-version=VersionTLS12"),
        refs=(API_REF, "RFC 8996: Deprecating TLS 1.0 and TLS 1.1"),
    ),
)
def control_plane_weak_tls_min_version(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    for comp in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        try:
            v = component_view(res, comp)
        except NotApplicable:
            continue
        if v.last("tls-min-version") is None:
            return  # the default is TLS 1.2 for every Kubernetes server
        value, p = v.string("tls-min-version")
        if value in WEAK_TLS:
            yield viol(v, f"--tls-min-version={value} accepts {WEAK_TLS[value]}", p)
        return
    raise NotApplicable()


@dataclass(frozen=True, slots=True)
class CertificateExpiryOptions:
    """Settings of KF-CP-061."""

    days: int = 30  # fail when a certificate expires within this many days


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")


@check(
    id="KF-CP-061",
    name="certificate-expiring",
    title="A node certificate has expired or expires soon",
    verified="Certificates in the file are valid and not about to expire",
    severity=Severity.MEDIUM,
    target="object",
    kinds=FILE_KINDS,
    remediation="Renew the certificate (kubeadm: `kubeadm certs renew all` and restart the control-plane pods; kubelets: enable rotateCertificates).",
    options=CertificateExpiryOptions,
    **node_meta(
        peers={},
        owasp=("K09",),
        what="Reads every certificate `kubefort node` finds: PKI files, files named by certificate flags, and the certificates "
        "embedded in kubeconfigs (client-certificate-data, certificate-authority-data). Flags a file when one of them has "
        "expired or expires within `days` (default 30).",
        why="An expired certificate stops the control plane or a node (kubeadm certificates last one year). Under time pressure, "
        "renewals tend to be done with shortcuts such as long-lived certificates or verification turned off.",
        example="```console\n$ kubeadm certs check-expiration\nCERTIFICATE   EXPIRES                  RESIDUAL TIME\nadmin.conf    Jan 02, 2025 10:00 UTC   <invalid>\n```",
        fix="```console\n$ kubeadm certs renew all && systemctl restart kubelet\n```",
        refs=("https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/",),
        extra="## Options\n- `days` (int, default 30): how many days before expiry a certificate is reported.\n\n"
        "## Not evaluated when\nA certificate file cannot be read or parsed.",
    ),
)
def certificate_expiring(res: Resource, ctx: CheckContext[CertificateExpiryOptions]) -> Iterator[Violation]:
    if not is_node_object(res, "NodeFile"):
        raise NotApplicable()
    obj = res.obj
    if isinstance(obj.get("certificateError"), str):
        raise NotEvaluated(obj["certificateError"], ("path",))
    certs = obj.get("certificates")
    if not isinstance(certs, list) or not certs:
        raise NotApplicable()
    days = ctx.options.days
    now = dt.datetime.now(dt.UTC)
    bad: list[str] = []
    for i, c in enumerate(certs):
        if not isinstance(c, dict):
            raise NotEvaluated(f"certificates[{i}] is {type_name(c)}, expected a mapping", ("certificates", i))
        if isinstance(c.get("error"), str):
            raise NotEvaluated(f"{c.get('source')}: {c['error']}", ("certificates", i))
        try:
            end = _parse_time(str(c.get("notAfter")))
        except ValueError:
            raise NotEvaluated(
                f"certificates[{i}].notAfter is {c.get('notAfter')!r}, expected 2006-01-02T15:04:05Z",
                ("certificates", i, "notAfter"),
            ) from None
        who = f"{c.get('source')}" + (f" ({c['subject']})" if c.get("subject") else "")
        left = end - now
        if left.total_seconds() <= 0:
            bad.append(f"{who} expired on {end:%Y-%m-%d}")
        elif left <= dt.timedelta(days=days):
            bad.append(f"{who} expires on {end:%Y-%m-%d}, in {plural(left.days, 'day')}")
    if bad:
        yield Violation(f"{obj.get('path')}: " + "; ".join(bad), ("certificates",))
