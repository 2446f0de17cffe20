"""KF-RBAC: risky grants, judged on bindings (who gets what) with the exact RBAC semantics of kube/rbac/.

Every binding check resolves the binding's role (default roles of the chosen Kubernetes release
included, aggregation applied) and reports the subjects, the binding, the role and the exact rule.
An input object with the name of one of the release's default roles or bindings is taken as the
API server reconciles it (kube/rbac/reconcile.py) and judged on what differs from the default: its
extra subjects with every rule, its default subjects with the rules beyond the default. An
unchanged default is the cluster's own: out of scope. A binding whose role is neither in the scan
nor a default role cannot be judged: not evaluated. `RbacOptions.kubernetes_version` (the scan's
`--kubernetes-version`) chooses the release; by default the cluster's (ClusterInfo), else the newest.

| module              | IDs                                                                     |
|---------------------|-------------------------------------------------------------------------|
| wildcards.py        | 001 cluster-admin (*/*/*) binding, 002 wildcard rule                    |
| escalation.py       | 003 escalate/bind, 004 impersonate, 015 RBAC write, 020 escalation path to cluster-admin |
| credentials.py      | 005 Secrets read cluster-wide, 006 Secrets read in a namespace, 012 CSR approval |
| workloads.py        | 007 workload create, 008 pods/exec and attach, 009 pods/portforward, 010 nodes/proxy, 013 admission webhooks, 014 PersistentVolume create |
| subjects.py         | 016 unauthenticated callers, 017 system:authenticated, 018 default ServiceAccount |
| service_accounts.py | 011 serviceaccounts/token create, 019 workload with a privileged ServiceAccount token |
| aggregation.py      | 021 aggregated ClusterRole that also writes its own rules               |
| extra.py            | 030 system:masters binding, 031 deleting events, 032 kube-system ConfigMap writes, 033 networking writes, 034 EKS aws-auth writes |
| common.py           | helpers shared by the modules above: `policy_for`, the risk tables and `risky`, `resolve` |
"""

from kubefort.checks.rbac import (
    aggregation,
    credentials,
    escalation,
    extra,
    service_accounts,
    subjects,
    wildcards,
    workloads,
)
from kubefort.checks.rbac.common import ALL_RISKS, policy_for, risky
from kubefort.checks.rbac.escalation import paths_by_subject

__all__ = [
    "ALL_RISKS",
    "aggregation",
    "credentials",
    "escalation",
    "extra",
    "paths_by_subject",
    "policy_for",
    "risky",
    "service_accounts",
    "subjects",
    "wildcards",
    "workloads",
]
