"""KF-AUDIT: detections on API-server audit events (`target="audit"`, run by `kubefort audit`).

| module        | IDs      | what it looks at                                      |
|---------------|----------|-------------------------------------------------------|
| access.py     | 001, 002, 009 | access into pods and nodes: exec, attach, port-forward; ephemeral containers; the kubelet API through nodes/proxy |
| workloads.py  | 003      | pods and workloads admitted with host-level privileges (the KF-POD checks on the recorded body) |
| rbac.py       | 004-006  | bindings to high-risk roles; RBAC changed by untrusted principals; escalate/bind |
| identity.py   | 007, 008 | impersonation; unauthenticated requests allowed        |
| defenses.py   | 010, 012 | admission webhooks and policies changed; Pod Security labels weakened |
| deletions.py  | 011, 014 | Events deleted (covering tracks); namespaces deleted   |
| credentials.py | 013, 015 | CSR approvals; ServiceAccount tokens minted           |
| common.py     | (helpers) | allowed/dry run, recorded bodies, trusted principals (`TrustOptions`), wording, services |
| secret_reads.py | 020    | Secrets read by principals that do not normally read them |
| networks.py   | 021-022  | requests from outside allowed networks; service-account tokens from unexpected addresses |
| bursts.py     | 023      | bursts of refused requests (401/403)                   |
| firstseen.py  | 024      | first-seen actions against the usage baseline          |

The event model, analyzer and services (`services.py`, `rbac_knowledge.py`) are in
`kubefort/audit/`; fixtures are
`tests/fixtures/audit/checks/<ID>.yaml` (tests/test_audit_checks.py).
"""

from kubefort.checks.audit import (  # noqa: F401  (importing the modules registers their checks)
    access,
    bursts,
    credentials,
    defenses,
    deletions,
    firstseen,
    identity,
    networks,
    rbac,
    secret_reads,
    workloads,
)
