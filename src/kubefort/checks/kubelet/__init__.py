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

| module        | KF-KUBELET IDs                                                                  |
|---------------|---------------------------------------------------------------------------------|
| files.py      | 001..010 worker node file modes and owners (CIS 4.1)                            |
| access.py     | 011 anonymous auth; 012 authorization mode; 013 client CA; 014 read-only port   |
| runtime.py    | 015 streaming timeout; 016 iptables chains; 017 hostname override; 022 pod PIDs; 023 seccomp default; 026 kernel defaults |
| tls.py        | 018 serving certificate; 019, 020 certificate rotation; 021 cipher suites; 025 TLS version |
| kube_proxy.py | 024 kube-proxy metrics address (CIS 4.3)                                        |
| common.py     | settings and message helpers shared by these modules (node-wide helpers: checks/node_common.py) |
"""

from kubefort.checks.kubelet import access, files, kube_proxy, runtime, tls

__all__ = ["access", "files", "kube_proxy", "runtime", "tls"]
