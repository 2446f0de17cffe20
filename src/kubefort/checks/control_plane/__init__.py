"""KF-CP: the control plane: kube-apiserver, kube-controller-manager and kube-scheduler flags,
the control-plane files (CIS 1.1, 1.2, 1.3, 1.4, 3.2), encryption at rest, audit policy, TLS and
certificate expiry.

Flag checks run on static-pod manifests in `kubefort scan` input (a Pod whose container runs the
component) and on the `NodeComponent` objects `kubefort node` builds from what a node runs. File
checks run on `NodeFile` objects (`kubefort node` only). Each check judges the value the component
actually uses: the flag when given, else the component's compiled-in default.

| module                          | KF-CP IDs                                                        |
|---------------------------------|------------------------------------------------------------------|
| files.py                        | 001..017 control-plane file modes and owners (CIS 1.1)           |
| apiserver_access.py             | 018, 019 authentication; 023..025 authorizers; 032 profiling; 037, 038, 046 service-account tokens |
| apiserver_admission.py          | 020, 026..031 admission plugins                                  |
| tls.py                          | 021, 022, 039..042 kubelet/etcd/client TLS; 045 cipher suites; 060 TLS version; 061 certificate expiry |
| encryption.py                   | 043 encryption flag; 044, 059 EncryptionConfiguration            |
| audit.py                        | 033..036, 056 audit flags; 057, 058 audit Policy                 |
| controller_manager_scheduler.py | 047..053 kube-controller-manager; 054, 055 kube-scheduler        |
| common.py                       | helpers shared by these modules (node-wide helpers: checks/node_common.py) |
"""

from kubefort.checks.control_plane import (
    apiserver_access,
    apiserver_admission,
    audit,
    controller_manager_scheduler,
    encryption,
    files,
    tls,
)
from kubefort.checks.control_plane.tls import CertificateExpiryOptions

__all__ = [
    "CertificateExpiryOptions",
    "apiserver_access",
    "apiserver_admission",
    "audit",
    "controller_manager_scheduler",
    "encryption",
    "files",
    "tls",
]
