"""A node's real configuration, read from a root directory (`/` on the node, or a copied tree).

`load_node(root)` discovers what the components actually run with and returns ordinary loaded
inputs for the engine:

* `NodeComponent` objects (apiVersion node.kubefort.io/v1alpha1), one per component found:
  kube-apiserver, kube-controller-manager, kube-scheduler and etcd from their static-pod manifests
  or `/proc/<pid>/cmdline` (`control_plane`); the kubelet from `/proc` or its systemd unit and
  drop-ins (`systemd`), plus its `--config` file and `--config-dir` drop-ins (`kubelet`);
  kube-proxy from `/proc` (`kube_proxy`); k3s/RKE2 from /etc/rancher/<dist>/config.yaml (`layouts`).
* `NodeFile` objects for the files the CIS benchmark protects (`files`), with the validity of every
  certificate in certificates and kubeconfigs (`x509`).
* The encryption provider config and the audit policy named by the API server's flags, loaded
  as ordinary manifests (their own kinds, exact line numbers).

A file that a flag names but that cannot be read becomes a KF-INPUT not-evaluated outcome (or the
reason a setting cannot be judged); a component that is not on the node yields nothing.

Each NodeComponent's violations point at `argv[i]`, `config...` or `env...`; `NodeLoad.relocate`
turns those paths back into the file and line the setting came from (`emit`).
"""

from __future__ import annotations

from kubefort.loaders.manifests import LoadProblem
from kubefort.loaders.node.load import load_node
from kubefort.loaders.node.result import NodeLoad
from kubefort.loaders.node.systemd import parse_env_file
from kubefort.loaders.node.x509 import cert_info, kubeconfig_certs, pem_certs

__all__ = ["LoadProblem", "NodeLoad", "cert_info", "kubeconfig_certs", "load_node", "parse_env_file", "pem_certs"]
