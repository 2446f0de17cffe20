"""KF-KUBELET 001..010: worker node files (CIS 4.1): the kubelet service, kubeconfigs, client CA
and config file modes and owners."""

from __future__ import annotations

from kubefort.checks.node_common import file_mode_check, file_owner_check
from kubefort.model import Severity

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
