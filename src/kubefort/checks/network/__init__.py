"""KF-NET: NetworkPolicy coverage and reachability, computed with the exact engine in kube/netpol/.

Scope: a namespace is *in scope* when the scan holds its Namespace object or a NetworkPolicy in it.
Namespace checks run on Namespace objects only; workload checks answer only in in-scope namespaces
(so scanning one Deployment reports nothing about namespaces it does not define). A namespace
holding a NetworkPolicy the API server would reject is not evaluated. See docs/netpol.md.
What is exposed outside the cluster (NodePort/LoadBalancer Services, Ingresses, Gateway API routes,
Istio VirtualServices) and what routes refer to is read once per scan by kube/exposure/; the
exposure and reference checks (011-018) do not depend on NetworkPolicy scope.

| module          | KF-NET IDs                                                                 |
|-----------------|----------------------------------------------------------------------------|
| coverage.py     | 001, 002 namespace default deny; 003 workload no policy selects; 010 exposed Service without ingress isolation |
| broad_rules.py  | 004 ingress from anywhere on every port; 005 egress to any address        |
| reachability.py | 006 cloud metadata endpoint reachable; 007 kube-system reachable beyond DNS |
| dangling.py     | 008 selector matching no workload; 009 named port no destination declares  |
| exposure.py     | 011 Ingress host without TLS; 012 Gateway serving routes over plain HTTP   |
| selectors.py    | 013 Service selecting no pod template; 014 controller selector not matching its template; 018 PDB selecting nothing |
| references.py   | 015 route to a missing Service; 016 route to a missing or refusing gateway; 017 HPA target missing |
| common.py       | helpers shared by the modules above: `Model` / `model` (one engine per scan), the tables, `labels_path` |
"""

from kubefort.checks.network import broad_rules, coverage, dangling, exposure, reachability, references, selectors
from kubefort.checks.network.common import DNS, METADATA, NEEDS, NSA, OWASP, Model, labels_path, model

_Model = Model  # the name before the split (tests/test_netpol_checks.py patches `network._Model.__init__`)

__all__ = [
    "DNS",
    "METADATA",
    "NEEDS",
    "NSA",
    "OWASP",
    "Model",
    "broad_rules",
    "coverage",
    "dangling",
    "exposure",
    "labels_path",
    "model",
    "reachability",
    "references",
    "selectors",
]
