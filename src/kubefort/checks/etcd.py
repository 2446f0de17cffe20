"""KF-ETCD: etcd's TLS and client authentication (CIS 2.x), its manifest and data directory (CIS 1.1.7,
1.1.8, 1.1.11, 1.1.12).

Settings are read the way etcd reads them: `--config-file` replaces everything else; otherwise a
command-line flag wins over its `ETCD_<NAME>` environment variable.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.node_common import NODE_KINDS, file_mode_check, file_owner_check, node_meta, pod_example, viol
from kubefort.kube.flags import component_view, etcd_bool, etcd_str
from kubefort.model import CheckContext, Resource, Severity, Violation
from kubefort.registry import check

ETCD_REF = "https://etcd.io/docs/v3.5/op-guide/configuration/"
SEC_REF = "https://etcd.io/docs/v3.5/op-guide/security/"
NSA_ETCD = ("NSA-CISA Kubernetes Hardening Guide: etcd",)

_MANIFEST_WHY = (
    "The etcd static-pod manifest decides whether etcd requires client certificates and where its data lives; "
    "whoever can change it opens the datastore that holds every Secret, and the kubelet applies the change at once."
)
file_mode_check(
    id="KF-ETCD-001",
    name="etcd-manifest-permissive-mode",
    title="etcd static-pod manifest is more permissive than 600",
    severity=Severity.HIGH,
    role="etcd-manifest",
    limit=0o600,
    what_file="the etcd static-pod manifest",
    why=_MANIFEST_WHY,
    cis=("1.1.7",),
    peers={"kubescape": ("C-0098",), "trivy": ("KCV-0054",)},
    example_path="/etc/kubernetes/manifests/etcd.yaml",
)
file_owner_check(
    id="KF-ETCD-002",
    name="etcd-manifest-not-root-owned",
    title="etcd static-pod manifest is not owned by root:root",
    severity=Severity.HIGH,
    role="etcd-manifest",
    what_file="the etcd static-pod manifest",
    why=_MANIFEST_WHY,
    cis=("1.1.8",),
    peers={"kubescape": ("C-0099",), "trivy": ("KCV-0055",)},
    example_path="/etc/kubernetes/manifests/etcd.yaml",
)
file_mode_check(
    id="KF-ETCD-003",
    name="etcd-data-dir-permissive-mode",
    title="etcd data directory is more permissive than 700",
    severity=Severity.HIGH,
    role="etcd-data-dir",
    limit=0o700,
    what_file="the etcd data directory (--data-dir)",
    why="The data directory holds the whole cluster state, Secrets included (in plain text unless encryption at rest is "
    "on); any local user who can read it copies the database.",
    cis=("1.1.11",),
    peers={"kubescape": ("C-0102",), "trivy": ("KCV-0058",)},
    example_path="/var/lib/etcd",
    mitre=("T1552",),
)
file_owner_check(
    id="KF-ETCD-004",
    name="etcd-data-dir-not-etcd-owned",
    title="etcd data directory is not owned by etcd:etcd",
    severity=Severity.MEDIUM,
    role="etcd-data-dir",
    what_file="the etcd data directory (--data-dir)",
    owner="etcd",
    why="CIS expects a dedicated etcd user so that etcd runs without root and nothing else owns its data. kubeadm runs "
    "etcd as root with root-owned data, which this control reports.",
    cis=("1.1.12",),
    peers={"kubescape": ("C-0103",), "trivy": ("KCV-0059",)},
    example_path="/var/lib/etcd",
    mitre=(),
)


def etcd_flags_set(res: Resource, *flags: str) -> Iterator[Violation]:
    """Each of `flags` must be set (as a flag, an ETCD_ variable or a config-file key)."""
    v = component_view(res, "etcd")
    for f in flags:
        value, p = etcd_str(v, f)
        if not value:
            yield viol(v, f"--{f} is not set (nor its ETCD_ variable or config-file key)", p)


def etcd_flag_true(res: Resource, flag: str) -> Iterator[Violation]:
    """A client-certificate flag (default false) must be true."""
    v = component_view(res, "etcd")
    on, p = etcd_bool(v, flag, False)
    if not on:
        who = "peers" if flag.startswith("peer-") else "clients"
        yield viol(v, f"--{flag} is not true: etcd accepts {who} without a certificate", p)


def etcd_flag_false(res: Resource, flag: str) -> Iterator[Violation]:
    """An auto-TLS flag (default false) must not be true."""
    v = component_view(res, "etcd")
    on, p = etcd_bool(v, flag, False)
    if on:
        yield viol(v, f"--{flag}=true: etcd generates self-signed certificates", p)


@check(
    id="KF-ETCD-005",
    name="etcd-tls-cert-missing",
    title="etcd serves clients without a configured certificate",
    verified="etcd serves clients with a configured certificate",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --cert-file and --key-file (and serve https:// client URLs).",
    **node_meta(
        cis=("2.1",),
        peers={"trivy": ("KCV-0042",), "checkov": ("CKV_K8S_116",), "kubescape": ("C-0153",)},
        nsa=NSA_ETCD,
        mitre=("T1557",),
        what="Flags etcd without `--cert-file` or `--key-file` (nor `ETCD_CERT_FILE`/`ETCD_KEY_FILE`, nor the config file's "
        "`client-transport-security`).",
        why="Without a certificate etcd talks plain HTTP: every Secret the API server reads or writes crosses the network in clear text.",
        example=pod_example("etcd", "--listen-client-urls=http://0.0.0.0:2379"),
        fix=pod_example(
            "etcd",
            "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
            "--key-file=/etc/kubernetes/pki/etcd/server.key",
            "--listen-client-urls=https://127.0.0.1:2379",
        ),
        refs=(SEC_REF, ETCD_REF),
    ),
)
def etcd_tls_cert_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from etcd_flags_set(res, "cert-file", "key-file")


@check(
    id="KF-ETCD-006",
    name="etcd-client-cert-auth-disabled",
    title="etcd accepts clients without certificates",
    verified="etcd requires client certificates",
    severity=Severity.CRITICAL,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --client-cert-auth=true and --trusted-ca-file.",
    **node_meta(
        cis=("2.2",),
        peers={"trivy": ("KCV-0043",), "checkov": ("CKV_K8S_117",), "kubescape": ("C-0154",)},
        nsa=NSA_ETCD,
        mitre=("T1552",),
        owasp=("K06", "K09"),
        what="Flags etcd whose `--client-cert-auth` is false or absent (default false).",
        why="Anyone who reaches etcd's client port reads and writes the whole cluster state, Secrets and RBAC included, "
        "bypassing the API server's authentication, authorization and audit.",
        example=pod_example("etcd", "--cert-file=/etc/kubernetes/pki/etcd/server.crt"),
        fix=pod_example("etcd", "--client-cert-auth=true", "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt"),
        refs=(SEC_REF,),
    ),
)
def etcd_client_cert_auth_disabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from etcd_flag_true(res, "client-cert-auth")


@check(
    id="KF-ETCD-007",
    name="etcd-auto-tls",
    title="etcd uses self-signed client certificates (auto-tls)",
    verified="etcd uses configured client certificates (no auto-tls)",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Remove --auto-tls (or set it to false) and configure --cert-file/--key-file from the etcd CA.",
    **node_meta(
        cis=("2.3",),
        peers={"trivy": ("KCV-0044",), "checkov": ("CKV_K8S_118",), "kubescape": ("C-0155",)},
        nsa=NSA_ETCD,
        mitre=("T1557",),
        what="Flags etcd with `--auto-tls=true`.",
        why="Auto-generated certificates cannot be verified by clients, so TLS gives no protection against impersonation.",
        example=pod_example("etcd", "--auto-tls=true"),
        fix=pod_example("etcd", "--auto-tls=false", "--cert-file=/etc/kubernetes/pki/etcd/server.crt"),
        refs=(SEC_REF,),
    ),
)
def etcd_auto_tls(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from etcd_flag_false(res, "auto-tls")


@check(
    id="KF-ETCD-008",
    name="etcd-peer-tls-cert-missing",
    title="etcd peers talk without a configured certificate",
    verified="etcd peers talk with a configured certificate",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --peer-cert-file and --peer-key-file.",
    **node_meta(
        cis=("2.4",),
        peers={"trivy": ("KCV-0045",), "checkov": ("CKV_K8S_119",), "kubescape": ("C-0156",)},
        nsa=NSA_ETCD,
        mitre=("T1557",),
        what="Flags etcd without `--peer-cert-file` or `--peer-key-file` (nor their ETCD_ variables or config-file keys).",
        why="Peer traffic replicates every write; without TLS it crosses the network in clear text.",
        example=pod_example("etcd", "--listen-peer-urls=http://10.0.0.10:2380"),
        fix=pod_example(
            "etcd",
            "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
            "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
        ),
        refs=(SEC_REF,),
    ),
)
def etcd_peer_tls_cert_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from etcd_flags_set(res, "peer-cert-file", "peer-key-file")


@check(
    id="KF-ETCD-009",
    name="etcd-peer-client-cert-auth-disabled",
    title="etcd accepts peers without certificates",
    verified="etcd requires peer certificates",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --peer-client-cert-auth=true and --peer-trusted-ca-file.",
    **node_meta(
        cis=("2.5",),
        peers={"trivy": ("KCV-0046",), "checkov": ("CKV_K8S_121",), "kubescape": ("C-0157",)},
        nsa=NSA_ETCD,
        what="Flags etcd whose `--peer-client-cert-auth` is false or absent (default false).",
        why="Anyone who reaches the peer port can join the cluster as a member and receive every write.",
        example=pod_example("etcd", "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt"),
        fix=pod_example(
            "etcd", "--peer-client-cert-auth=true", "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt"
        ),
        refs=(SEC_REF,),
    ),
)
def etcd_peer_client_cert_auth_disabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from etcd_flag_true(res, "peer-client-cert-auth")


@check(
    id="KF-ETCD-010",
    name="etcd-peer-auto-tls",
    title="etcd uses self-signed peer certificates (peer-auto-tls)",
    verified="etcd uses configured peer certificates (no peer-auto-tls)",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Remove --peer-auto-tls (or set it to false) and configure peer certificates from the etcd CA.",
    **node_meta(
        cis=("2.6",),
        peers={"trivy": ("KCV-0047",), "kubescape": ("C-0158",)},
        nsa=NSA_ETCD,
        mitre=("T1557",),
        what="Flags etcd with `--peer-auto-tls=true`.",
        why="Self-signed peer certificates cannot be verified, so a rogue member is indistinguishable from a real one.",
        example=pod_example("etcd", "--peer-auto-tls=true"),
        fix=pod_example("etcd", "--peer-auto-tls=false", "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt"),
        refs=(SEC_REF,),
    ),
)
def etcd_peer_auto_tls(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from etcd_flag_false(res, "peer-auto-tls")


@check(
    id="KF-ETCD-011",
    name="etcd-trusted-ca-missing",
    title="etcd trusts no client CA",
    verified="etcd trusts a client CA",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --trusted-ca-file to a CA dedicated to etcd (not the cluster CA).",
    **node_meta(
        cis=("2.7",),
        manual=True,
        peers={"kubescape": ("C-0159",)},
        nsa=NSA_ETCD,
        what="Flags etcd without `--trusted-ca-file` (nor `ETCD_TRUSTED_CA_FILE` or the config-file key).",
        why="Client-certificate authentication needs a CA to verify against; if it is the cluster CA, every certificate the "
        "cluster issues (kubelets, users) also opens etcd.",
        example=pod_example("etcd", "--client-cert-auth=true"),
        fix=pod_example("etcd", "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt"),
        refs=(SEC_REF,),
        extra="CIS also asks that this CA be separate from the Kubernetes CA; kubefort lists that half as a manual control "
        "(`kubefort node --list-manual`).",
    ),
)
def etcd_trusted_ca_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from etcd_flags_set(res, "trusted-ca-file")
