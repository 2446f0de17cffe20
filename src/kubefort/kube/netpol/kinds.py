"""Network policy kinds other than `networking.k8s.io/v1` NetworkPolicy that CNIs enforce.

The engine models NetworkPolicy, the Network Policy API's cluster-wide tiers
(AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy: admin.py), Cilium's
CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy (cilium.py, cilium_engine.py) and Calico's
NetworkPolicy / GlobalNetworkPolicy / Tier (calico.py, calico_engine.py) exactly (a scan holding
both Cilium and Calico policies is judged as Cilium enforces it; its Calico objects are problems,
not evaluated). The kinds below also decide which connections a cluster allows, and kubefort does
not model them yet: a namespace they may govern is never judged as if they were absent. Each one found is a warning, and the KF-NET verdicts (and
`kubefort netpol` answers) for the namespaces it may affect are not evaluated, with its name.

(API group, kind) -> cluster-scoped: a cluster-scoped kind may govern every namespace.
"""

from __future__ import annotations

from kubefort.kube.pods import api_group
from kubefort.model import ResourceId

UNMODELLED: dict[tuple[str, str], bool] = {
    # Antrea
    ("crd.antrea.io", "NetworkPolicy"): False,
    ("crd.antrea.io", "ClusterNetworkPolicy"): True,
}

# CNI policy kinds the engine models beyond NetworkPolicy and the cluster-wide tiers
MODELLED: dict[tuple[str, str], bool] = {
    ("cilium.io", "CiliumNetworkPolicy"): False,
    ("cilium.io", "CiliumClusterwideNetworkPolicy"): True,
    # Calico: the projectcalico.org v3 API (API server) and the CRDs behind it
    ("projectcalico.org", "NetworkPolicy"): False,
    ("projectcalico.org", "GlobalNetworkPolicy"): True,
    ("projectcalico.org", "Tier"): True,
    ("crd.projectcalico.org", "NetworkPolicy"): False,
    ("crd.projectcalico.org", "GlobalNetworkPolicy"): True,
    ("crd.projectcalico.org", "Tier"): True,
}

# the kinds above, for the objects a check needs collected (`needs`); Services too, which
# Cilium's `toServices` peers name, and ServiceAccounts, whose labels Calico selectors read
KINDS: tuple[str, ...] = (*sorted({kind for _, kind in (*UNMODELLED, *MODELLED)}), "Service", "ServiceAccount")


def unmodelled(rid: ResourceId) -> bool | None:
    """None when `rid` is no unmodelled policy kind; else whether it is cluster-scoped."""
    return UNMODELLED.get((api_group(rid.api_version), rid.kind))


def describe(rid: ResourceId) -> str:
    """'CiliumNetworkPolicy shop/allow-web (cilium.io/v2)'."""
    name = f"{rid.namespace}/{rid.name}" if rid.namespace else rid.name
    return f"{rid.kind} {name} ({rid.api_version})"


def warning(rids: list[ResourceId]) -> str | None:
    """One warning naming the unmodelled policies among `rids` (None: there are none)."""
    found = [r for r in rids if unmodelled(r) is not None]
    if not found:
        return None
    shown = ", ".join(describe(r) for r in found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    return (
        f"{len(found)} network polic{'y' if len(found) == 1 else 'ies'} of a kind kubefort does not model yet "
        f"({shown}): the KF-NET verdicts of the namespaces they may govern are not evaluated"
    )
