"""KF-RBAC: risky grants, judged on bindings (who gets what) with the exact RBAC semantics of kube/rbac/.

Every binding check resolves the binding's role (bootstrap roles included, aggregation applied) and
reports the subjects, the binding, the role and the exact rule. Bindings labelled
`kubernetes.io/bootstrapping: rbac-defaults` are the cluster's own defaults: out of scope.
A binding whose role is neither in the scan nor a bootstrap role cannot be judged: not evaluated.

| module              | IDs                                                                     |
|---------------------|-------------------------------------------------------------------------|
| wildcards.py        | 001 cluster-admin (*/*/*) binding, 002 wildcard rule                    |
| escalation.py       | 003 escalate/bind, 004 impersonate, 015 RBAC write, 020 escalation path to cluster-admin |
| credentials.py      | 005 Secrets read cluster-wide, 006 Secrets read in a namespace, 012 CSR approval |
| workloads.py        | 007 workload create, 008 pods/exec and attach, 009 pods/portforward, 010 nodes/proxy, 013 admission webhooks, 014 PersistentVolume create |
| subjects.py         | 016 unauthenticated callers, 017 system:authenticated, 018 default ServiceAccount |
| service_accounts.py | 011 serviceaccounts/token create, 019 workload with a privileged ServiceAccount token |
| common.py           | helpers shared by the modules above: `policy_for`, the risk tables and `risky`, `resolve` |
"""

from kubefort.checks.rbac import (
    credentials,
    escalation,
    service_accounts,
    subjects,
    wildcards,
    workloads,
)
from kubefort.checks.rbac.common import ALL_RISKS, policy_for, risky
from kubefort.checks.rbac.escalation import paths_by_subject

__all__ = [
    "ALL_RISKS",
    "credentials",
    "escalation",
    "paths_by_subject",
    "policy_for",
    "risky",
    "service_accounts",
    "subjects",
    "wildcards",
    "workloads",
]
