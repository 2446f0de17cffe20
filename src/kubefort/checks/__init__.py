"""Every built-in check, imported explicitly (one module or package per ID area).

Find a check from its ID: grep the literal ID (`grep -rn '"KF-CP-023"' src/kubefort/checks`), run
`kubefort explain KF-CP-023` (its `Source:` is the file and line), or read the tables below (the
packages list their modules per ID here and in their own `__init__.py`).

| module            | IDs          | what it looks at                                   |
|-------------------|--------------|----------------------------------------------------|
| input.py          | KF-INPUT-*   | files that cannot be read, parsed or rendered       |
| meta.py           | KF-META-*    | kubefort's own annotations on objects               |
| pod_security/     | KF-POD-*     | pod and container security settings: privileges.py (001, 005), host_namespaces.py (002-004, 016, 017, 021), users.py (006, 008, 009, 022), filesystem.py (007, 014, 015), capabilities.py (010, 011), confinement.py (012, 013, 020), kernel.py (018, 019), processes.py (023-025) |
| images.py         | KF-IMG-*     | container image references: tags, digests, pull policy (001-003) |
| image_registries.py | KF-IMG-*   | where images come from: allow-list, block-list, retired registries (004-006) |
| image_scans.py    | KF-IMG-*     | scan results (kubefort/images/): fixable vulnerabilities, missing and outdated scans (007-009); digests pods run (010) |
| image_signatures.py | KF-IMG-*   | cosign signatures by trusted keys (kubefort/images/verification.py): verified (011), pinned so they bind (012), required attestations (013) |
| secrets.py        | KF-SEC-*     | credentials in manifests                            |
| resources.py      | KF-RES-*     | resource requests, limits, quotas and LimitRanges (001-007) |
| resource_bounds.py | KF-RES-*    | configurable bounds on requests and limits (008-012) |
| pss.py            | KF-PSS-*     | Pod Security admission verdicts (exact, versioned)  |
| psa.py            | KF-PSA-*     | namespaces' Pod Security labels, and their workloads |
| workload.py       | KF-WL-*      | service account use, removed API versions (001-003)  |
| hygiene.py        | KF-WL-*      | namespace placement, naked pods, kube-system (004-006) |
| legacy.py         | KF-WL-*      | Helm v2 Tiller, an open Kubernetes Dashboard (007-009) |
| containers.py     | KF-WL-*      | probes, duplicate env vars, hostAliases (010-013)    |
| rbac/             | KF-RBAC-*    | risky grants and escalation paths (kube/rbac/): wildcards.py (001, 002), escalation.py (003, 004, 015, 020), credentials.py (005, 006, 012), workloads.py (007-010, 013, 014), subjects.py (016-018), service_accounts.py (011, 019); common.py holds the target tables |
| network/          | KF-NET-*     | NetworkPolicy coverage and reachability (kube/netpol/): coverage.py (001-003, 010), broad_rules.py (004, 005), reachability.py (006, 007), dangling.py (008, 009); common.py holds the engine model |
| control_plane/    | KF-CP-*      | control-plane files: files.py (001-017); API server: apiserver_access.py (018, 019, 023-025, 032, 037, 038, 046), apiserver_admission.py (020, 026-031); tls.py (021, 022, 039-042, 045, 060, 061); encryption.py (043, 044, 059); audit.py (033-036, 056-058); controller_manager_scheduler.py (047-055) |
| etcd.py           | KF-ETCD-*    | etcd TLS and client auth, its manifest and data dir  |
| cluster.py        | KF-CLU-*     | live-cluster versions (end of life, CVEs, skew), runtimes, anonymous API access |
| kubelet/          | KF-KUBELET-* | kubelet files and effective settings, kube-proxy: files.py (001-010), access.py (011-014), runtime.py (015-017, 022, 023, 026), tls.py (018-021, 025), kube_proxy.py (024); common.py holds the settings |
| audit/            | KF-AUDIT-*   | API-server audit events (kubefort/audit/): its `__init__.py` lists the modules and their IDs |
| node_common.py    | (helpers)    | shared by KF-CP, KF-ETCD, KF-KUBELET: `node_meta`, `file_mode_check`, `file_owner_check` |
"""

from kubefort.checks import (  # noqa: F401  (importing the modules registers their checks)
    cluster,
    containers,
    control_plane,
    etcd,
    hygiene,
    image_registries,
    image_scans,
    image_signatures,
    images,
    input,
    kubelet,
    legacy,
    meta,
    network,
    pod_security,
    psa,
    pss,
    rbac,
    resource_bounds,
    resources,
    secrets,
    workload,
)
from kubefort.registry import REGISTRY

# the KF-AUDIT checks (and the audit package they stand on) are imported the first time something
# asks for one of them: `kubefort audit`, an ID or name, `kubefort checks`; a manifest scan never does
REGISTRY.defer("KF-AUDIT-", "kubefort.checks.audit")
