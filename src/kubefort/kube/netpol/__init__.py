"""Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), exactly, over the objects of a scan.

Endpoints are workloads (every pod-bearing object; its pod template labels stand in for its pods)
and external peers (named address ranges: `internet` 0.0.0.0/0, `cloud-metadata`
169.254.169.254/32, and user CIDRs). A connection (src, dst, port, protocol) is allowed when the
source's egress and the destination's ingress both allow it:

* a direction is open for a pod that no policy of that type selects (isolation per direction);
* policies are additive: any rule of any policy selecting the pod may allow the traffic;
* `policyTypes` defaults to Ingress, plus Egress when `egress` has at least one rule;
* `from`/`to` absent or empty matches every peer; `ports` absent or empty matches every port;
  `ingress: []` (or absent) allows nothing; `ingress: [{}]` allows everything;
* a peer with `podSelector` only selects pods of the policy's namespace; with `namespaceSelector`
  only, every pod of the matching namespaces; with both, the matching pods of those namespaces;
* `ipBlock` (minus `except`) matches external peers only (pod IPs are unknown before runtime);
* a named port resolves on the destination pod: a container port of that name and protocol;
* `endPort` makes a range; protocols TCP (default), UDP and SCTP;
* namespace labels are those of the Namespace objects in the scan plus the automatic
  `kubernetes.io/metadata.name`; a namespace that is referenced but not defined has only that label.

A workload with `hostNetwork: true` is the node's identity: no policy selects it, no pod or
namespace selector matches it, and a pod always reaches, and is reached from, its own node under
NetworkPolicy (Cilium and Calico: as docs/netpol.md says).

An external peer is an address range: a port counts as allowed to or from it when at least one
address of the range is allowed on it.

Two evaluators share this model: `Analysis` (fast: selector matches as bitsets over workloads,
rule sets grouped into per-pod profiles, the dense matrix filled with NumPy) and the test suite's
`tests/netpol_reference.py` (slow, written straight from the API reference), which a property
test holds equal. Label selectors are parsed and defined by `kubefort.kube.selectors`; the
bitset evaluation in `analysis.py` (`Analysis.sel_bits`) computes the same matches for many
workloads at once.

| concern                                                           | module        |
|-------------------------------------------------------------------|---------------|
| port sets: algebra, formatting, `PORT[/PROTO]` parsing            | `ports.py`    |
| address ranges of CIDRs                                           | `cidr.py`     |
| the model: policies, rules, peers, workloads, external peers      | `model.py`    |
| reading objects into the model (the API server's validation)      | `parse.py`    |
| `Cluster`: a scan's model, direct matching and endpoint lookup    | `cluster.py`  |
| the fast engine: `Analysis` (bitsets, profiles), `Matrix`, `diff` | `analysis.py` |
| `explain_side`: the policies and rules deciding one pair          | `explain.py`  |
| cluster-wide tiers (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy): model, parsing, validation | `admin.py` |
| the fast engine's profiles with those tiers (first match, conflicts) | `tiers.py`    |
| Calico policies and tiers: selector language, model, parsing | `calico_selector.py`, `calico.py`, `calico_parse.py` |
| the fast engine's Calico layer (Calico tiers, NetworkPolicy and the Admin tiers as Felix runs them) | `calico_engine.py` |
| Cilium policies: identity labels, model, parsing | `cilium.py`, `cilium_parse.py` |
| the fast engine's Cilium layer (CNP, CCNP and NetworkPolicy as Cilium composes them) | `cilium_engine.py` |

With cluster-wide policies, each direction is decided tier by tier: the Admin tier's first
matching rule (Allow, Deny, or Pass to what follows), then NetworkPolicy (for an isolated pod),
then the Baseline tier (for a pod no NetworkPolicy isolates), else allowed (docs/netpol.md).

With Cilium policies in the scan, the NetworkPolicy tier is replaced by Cilium's layer: every rule
selecting a pod in a direction (CNP, CCNP, NetworkPolicy) adds to it, deny rules win, default
deny is on unless every entry disables it (`cilium_engine.py`, docs/netpol.md).

With Calico policies or tiers in the scan (and no Cilium policy: then Cilium judges and Calico
objects are problems), each direction goes through Calico's tiers in order: first matching rule
(Allow, Deny, Pass to the next tier, Log goes on), a tier's defaultAction when nothing decided,
the namespace profile's allow after the tiers; NetworkPolicy is in the default tier, the
Admin/Baseline tiers are kube-admin/kube-baseline (`calico_engine.py`, docs/netpol.md).

Every public name of these modules is re-exported here: import from `kubefort.kube.netpol`. The
Calico and Cilium modules are imported from their own modules.
"""

from __future__ import annotations

from kubefort.kube.netpol.admin import AdminPeer, AdminPolicy, AdminPort, AdminRule, parse_admin_policy
from kubefort.kube.netpol.analysis import Analysis, Matrix, bit_indexes, diff
from kubefort.kube.netpol.cidr import V6, cidr_prefix, cidr_range
from kubefort.kube.netpol.cluster import Cluster
from kubefort.kube.netpol.explain import Decision, Side, explain_side
from kubefort.kube.netpol.model import (
    DEFAULT_EXTERNALS,
    DEFAULT_NAMESPACE,
    NAME_LABEL,
    SYSTEM_NAMESPACES,
    External,
    Peer,
    Policy,
    PolicyError,
    PortRule,
    Problem,
    Rule,
    Workload,
)
from kubefort.kube.netpol.parse import parse_policy, str_map, workloads_of
from kubefort.kube.netpol.ports import (
    ALL_PORTS,
    FULL,
    NO_PORTS,
    PROTOCOLS,
    PortSet,
    Ranges,
    format_ports,
    parse_port,
    port_set,
    ports_contain,
    ports_inter,
    ports_json,
    ports_minus,
    ports_union,
    ranges_minus,
)

__all__ = [
    "ALL_PORTS",
    "DEFAULT_EXTERNALS",
    "DEFAULT_NAMESPACE",
    "FULL",
    "NAME_LABEL",
    "NO_PORTS",
    "PROTOCOLS",
    "SYSTEM_NAMESPACES",
    "V6",
    "AdminPeer",
    "AdminPolicy",
    "AdminPort",
    "AdminRule",
    "Analysis",
    "Cluster",
    "Decision",
    "External",
    "Matrix",
    "Peer",
    "Policy",
    "PolicyError",
    "PortRule",
    "PortSet",
    "Problem",
    "Ranges",
    "Rule",
    "Side",
    "Workload",
    "bit_indexes",
    "cidr_prefix",
    "cidr_range",
    "diff",
    "explain_side",
    "format_ports",
    "parse_admin_policy",
    "parse_policy",
    "parse_port",
    "port_set",
    "ports_contain",
    "ports_inter",
    "ports_json",
    "ports_minus",
    "ports_union",
    "ranges_minus",
    "str_map",
    "workloads_of",
]
