"""Every built-in check, imported explicitly (one module per ID area).

| module            | IDs          | what it looks at                                   |
|-------------------|--------------|----------------------------------------------------|
| input.py          | KF-INPUT-*   | files that cannot be read, parsed or rendered       |
| meta.py           | KF-META-*    | kubefort's own annotations on objects               |
| pod_security.py   | KF-POD-*     | pod and container security settings                 |
| images.py         | KF-IMG-*     | container image references                          |
| secrets.py        | KF-SEC-*     | credentials in manifests                            |
| resources.py      | KF-RES-*     | resource requests, limits, quotas and LimitRanges   |
| pss.py            | KF-PSS-*     | Pod Security admission verdicts (exact, versioned)  |
| psa.py            | KF-PSA-*     | namespaces' Pod Security labels, and their workloads |
| workload.py       | KF-WL-*      | service account use, removed API versions           |
| rbac.py           | KF-RBAC-*    | risky grants and escalation paths (kube/rbac.py)     |
| network.py        | KF-NET-*     | NetworkPolicy coverage and reachability (kube/netpol.py) |
| control_plane.py  | KF-CP-*      | API server, controller manager, scheduler, control-plane files, encryption, audit policy, certificates |
| etcd.py           | KF-ETCD-*    | etcd TLS and client auth, its manifest and data dir  |
| cluster.py        | KF-CLU-*     | live-cluster versions (end of life, CVEs, skew), runtimes, anonymous API access |
| kubelet.py        | KF-KUBELET-* | kubelet effective settings and files, kube-proxy     |
"""

from kubefort.checks import cluster, control_plane, etcd, images, input, kubelet, meta, network, pod_security, psa, pss, rbac, resources, secrets, workload  # noqa: F401
