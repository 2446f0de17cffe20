"""KF-CP-001..017: the control-plane files (CIS 1.1): static-pod manifests, the CNI configuration,
the control-plane kubeconfigs and the PKI directory. One literal call per check (its source)."""

from __future__ import annotations

from kubefort.checks.node_common import file_mode_check, file_owner_check
from kubefort.model import Severity

MANIFEST_WHY = (
    "The static-pod manifest is the component's whole configuration: whoever can write it changes the "
    "component's flags (turns off authorization, adds a token file) and the kubelet restarts it at once; "
    "read access exposes the flags and file paths an attacker needs."
)


def kubeconfig_why(who: str) -> str:
    return (
        "The kubeconfig holds a client certificate and key: whoever reads it acts as that identity against the API server"
        f" ({who})."
    )


file_mode_check(
    id="KF-CP-001",
    name="apiserver-manifest-permissive-mode",
    title="kube-apiserver static-pod manifest is more permissive than 600",
    severity=Severity.HIGH,
    role="kube-apiserver-manifest",
    limit=0o600,
    what_file="the kube-apiserver static-pod manifest",
    why=MANIFEST_WHY,
    cis=("1.1.1",),
    peers={"kubescape": ("C-0092",), "trivy": ("KCV-0048",)},
    example_path="/etc/kubernetes/manifests/kube-apiserver.yaml",
)
file_owner_check(
    id="KF-CP-002",
    name="apiserver-manifest-not-root-owned",
    title="kube-apiserver static-pod manifest is not owned by root:root",
    severity=Severity.HIGH,
    role="kube-apiserver-manifest",
    what_file="the kube-apiserver static-pod manifest",
    why=MANIFEST_WHY + " A non-root owner can rewrite it without any privilege.",
    cis=("1.1.2",),
    peers={"kubescape": ("C-0093",), "trivy": ("KCV-0049",)},
    example_path="/etc/kubernetes/manifests/kube-apiserver.yaml",
)
file_mode_check(
    id="KF-CP-003",
    name="controller-manager-manifest-permissive-mode",
    title="kube-controller-manager static-pod manifest is more permissive than 600",
    severity=Severity.HIGH,
    role="kube-controller-manager-manifest",
    limit=0o600,
    what_file="the kube-controller-manager static-pod manifest",
    why=MANIFEST_WHY,
    cis=("1.1.3",),
    peers={"kubescape": ("C-0094",), "trivy": ("KCV-0050",)},
    example_path="/etc/kubernetes/manifests/kube-controller-manager.yaml",
)
file_owner_check(
    id="KF-CP-004",
    name="controller-manager-manifest-not-root-owned",
    title="kube-controller-manager static-pod manifest is not owned by root:root",
    severity=Severity.HIGH,
    role="kube-controller-manager-manifest",
    what_file="the kube-controller-manager static-pod manifest",
    why=MANIFEST_WHY + " A non-root owner can rewrite it without any privilege.",
    cis=("1.1.4",),
    peers={"kubescape": ("C-0095",), "trivy": ("KCV-0051",)},
    example_path="/etc/kubernetes/manifests/kube-controller-manager.yaml",
)
file_mode_check(
    id="KF-CP-005",
    name="scheduler-manifest-permissive-mode",
    title="kube-scheduler static-pod manifest is more permissive than 600",
    severity=Severity.HIGH,
    role="kube-scheduler-manifest",
    limit=0o600,
    what_file="the kube-scheduler static-pod manifest",
    why=MANIFEST_WHY,
    cis=("1.1.5",),
    peers={"kubescape": ("C-0096",), "trivy": ("KCV-0052",)},
    example_path="/etc/kubernetes/manifests/kube-scheduler.yaml",
)
file_owner_check(
    id="KF-CP-006",
    name="scheduler-manifest-not-root-owned",
    title="kube-scheduler static-pod manifest is not owned by root:root",
    severity=Severity.HIGH,
    role="kube-scheduler-manifest",
    what_file="the kube-scheduler static-pod manifest",
    why=MANIFEST_WHY + " A non-root owner can rewrite it without any privilege.",
    cis=("1.1.6",),
    peers={"kubescape": ("C-0097",), "trivy": ("KCV-0053",)},
    example_path="/etc/kubernetes/manifests/kube-scheduler.yaml",
)
file_mode_check(
    id="KF-CP-007",
    name="cni-config-permissive-mode",
    title="CNI configuration file is more permissive than 600",
    severity=Severity.MEDIUM,
    role="cni-config",
    limit=0o600,
    what_file="a CNI configuration file (/etc/cni/net.d, the kubelet's --cni-conf-dir)",
    why="The CNI configuration decides how every pod is wired to the network; a writable file lets a local user "
    "re-route pod traffic or disable network policy enforcement, and it may hold credentials for the CNI's datastore.",
    cis=("1.1.9",),
    manual=True,
    peers={"kubescape": ("C-0100",), "trivy": ("KCV-0056",)},
    example_path="/etc/cni/net.d/10-calico.conflist",
    mitre=(),
)
file_owner_check(
    id="KF-CP-008",
    name="cni-config-not-root-owned",
    title="CNI configuration file is not owned by root:root",
    severity=Severity.MEDIUM,
    role="cni-config",
    what_file="a CNI configuration file",
    why="A CNI configuration owned by another user can be rewritten by that user without privileges, which re-routes pod traffic.",
    cis=("1.1.10",),
    manual=True,
    peers={"kubescape": ("C-0101",), "trivy": ("KCV-0057",)},
    example_path="/etc/cni/net.d/10-calico.conflist",
    mitre=(),
)
file_mode_check(
    id="KF-CP-009",
    name="admin-kubeconfig-permissive-mode",
    title="The admin kubeconfig (admin.conf, super-admin.conf) is more permissive than 600",
    severity=Severity.CRITICAL,
    role="admin-kubeconfig",
    limit=0o600,
    what_file="the admin kubeconfig (admin.conf, super-admin.conf)",
    why=kubeconfig_why("cluster-admin; super-admin.conf even bypasses RBAC through system:masters"),
    cis=("1.1.13",),
    peers={"kubescape": ("C-0104",), "trivy": ("KCV-0060",)},
    example_path="/etc/kubernetes/admin.conf",
)
file_owner_check(
    id="KF-CP-010",
    name="admin-kubeconfig-not-root-owned",
    title="The admin kubeconfig (admin.conf, super-admin.conf) is not owned by root:root",
    severity=Severity.CRITICAL,
    role="admin-kubeconfig",
    what_file="the admin kubeconfig (admin.conf, super-admin.conf)",
    why=kubeconfig_why("cluster-admin; super-admin.conf even bypasses RBAC through system:masters")
    + " Its owner can read it.",
    cis=("1.1.14",),
    peers={"kubescape": ("C-0105",), "trivy": ("KCV-0061",)},
    example_path="/etc/kubernetes/admin.conf",
)
file_mode_check(
    id="KF-CP-011",
    name="scheduler-kubeconfig-permissive-mode",
    title="The scheduler kubeconfig (scheduler.conf) is more permissive than 600",
    severity=Severity.HIGH,
    role="scheduler-kubeconfig",
    limit=0o600,
    what_file="the scheduler kubeconfig (scheduler.conf)",
    why=kubeconfig_why("system:kube-scheduler, which binds pods to nodes"),
    cis=("1.1.15",),
    peers={"kubescape": ("C-0106",), "trivy": ("KCV-0062",)},
    example_path="/etc/kubernetes/scheduler.conf",
)
file_owner_check(
    id="KF-CP-012",
    name="scheduler-kubeconfig-not-root-owned",
    title="The scheduler kubeconfig (scheduler.conf) is not owned by root:root",
    severity=Severity.HIGH,
    role="scheduler-kubeconfig",
    what_file="the scheduler kubeconfig (scheduler.conf)",
    why=kubeconfig_why("system:kube-scheduler, which binds pods to nodes") + " Its owner can read it.",
    cis=("1.1.16",),
    peers={"kubescape": ("C-0107",), "trivy": ("KCV-0063",)},
    example_path="/etc/kubernetes/scheduler.conf",
)
file_mode_check(
    id="KF-CP-013",
    name="controller-manager-kubeconfig-permissive-mode",
    title="The controller-manager kubeconfig (controller-manager.conf) is more permissive than 600",
    severity=Severity.HIGH,
    role="controller-manager-kubeconfig",
    limit=0o600,
    what_file="the controller-manager kubeconfig (controller-manager.conf)",
    why=kubeconfig_why("system:kube-controller-manager, which reads every Secret"),
    cis=("1.1.17",),
    peers={"kubescape": ("C-0108",), "trivy": ("KCV-0064",)},
    example_path="/etc/kubernetes/controller-manager.conf",
)
file_owner_check(
    id="KF-CP-014",
    name="controller-manager-kubeconfig-not-root-owned",
    title="The controller-manager kubeconfig (controller-manager.conf) is not owned by root:root",
    severity=Severity.HIGH,
    role="controller-manager-kubeconfig",
    what_file="the controller-manager kubeconfig (controller-manager.conf)",
    why=kubeconfig_why("system:kube-controller-manager, which reads every Secret") + " Its owner can read it.",
    cis=("1.1.18",),
    peers={"kubescape": ("C-0109",), "trivy": ("KCV-0065",)},
    example_path="/etc/kubernetes/controller-manager.conf",
)
file_owner_check(
    id="KF-CP-015",
    name="pki-not-root-owned",
    title="A file or directory under the Kubernetes PKI directory is not owned by root:root",
    severity=Severity.HIGH,
    role="pki",
    what_file="the PKI directory (/etc/kubernetes/pki) or a file in it",
    why="The PKI directory holds the cluster CA keys, the service-account signing key and the etcd keys: "
    "their owner can mint any identity in the cluster.",
    cis=("1.1.19",),
    peers={"kubescape": ("C-0110",), "trivy": ("KCV-0066",)},
    example_path="/etc/kubernetes/pki/ca.key",
)
file_mode_check(
    id="KF-CP-016",
    name="pki-certificate-permissive-mode",
    title="A PKI certificate file is more permissive than 644",
    severity=Severity.MEDIUM,
    role="pki-cert",
    limit=0o644,
    what_file="a certificate file (*.crt) under the PKI directory",
    why="Certificates are public, but a group- or world-writable certificate can be replaced: a swapped CA "
    "certificate makes components trust an attacker's certificates.",
    cis=("1.1.20",),
    manual=True,
    peers={"kubescape": ("C-0111",), "trivy": ("KCV-0068",)},
    example_path="/etc/kubernetes/pki/apiserver.crt",
    mitre=(),
)
file_mode_check(
    id="KF-CP-017",
    name="pki-key-permissive-mode",
    title="A PKI private key file is more permissive than 600",
    severity=Severity.CRITICAL,
    role="pki-key",
    limit=0o600,
    what_file="a private key file (*.key) under the PKI directory",
    why="Whoever reads ca.key signs client certificates for any user or group (system:masters included); sa.key "
    "mints service-account tokens; etcd keys open the datastore with every Secret.",
    cis=("1.1.21",),
    manual=True,
    peers={"kubescape": ("C-0112",), "trivy": ("KCV-0067",)},
    example_path="/etc/kubernetes/pki/ca.key",
)
