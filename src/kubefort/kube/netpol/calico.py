"""Calico network policy (`projectcalico.org/v3` and its CRD form `crd.projectcalico.org/v1`):
the model and its semantics (`calico_parse` parses). NetworkPolicy (namespaced),
GlobalNetworkPolicy (cluster-scoped) and Tier, read into frozen dataclasses with upstream's
defaults and validation. The engine builds on this exact model:
`calico_engine.py` evaluates it (tiers, orders, actions) for the fast engine and for explain.

Sources (projectcalico/calico, Apache-2.0, commit 87c15906, Aug 2026, i.e. v3.32+):
`api/pkg/apis/projectcalico/v3/{networkpolicy,globalnetworkpolicy,policy_common,tier}.go` (the
types, their CRD markers and CEL rules), `api/pkg/lib/numorstring/{protocol,port,uint8orstring}.go`
(protocol and port syntax), `api/pkg/defaults/networkpolicy.go` (defaulting of `types`),
`libcalico-go/lib/validator/v3/validator.go` (validateRule, validateEntityRule, validatePort,
validateProtocol, validateHTTPRule, validate(Global)NetworkPolicy(Spec), validateTier, name
regexes), `libcalico-go/lib/backend/k8s/resources/resources.go` (reading the CRD form:
`projectcalico.org/metadata` annotation, `default.` name prefix),
`libcalico-go/lib/backend/syncersv1/updateprocessors/{networkpolicyprocessor,
globalnetworkpolicyprocessor,rules,selectors}.go` (the selectors Felix finally evaluates),
`felix/calc/policy_sorter.go` (order: missing = +Inf, ties by "name/namespace/kind"),
`felix/calc/event_sequencer.go` (which policies a workload gets).

The model:

* `CalicoPolicy`: kind (NetworkPolicy, GlobalNetworkPolicy), namespace (None for a GNP), name,
  tier ("default" when absent), order (None = +Inf, applied last), the raw selector texts and
  the effective endpoint selector Felix evaluates (`selects`), types, ordered ingress/egress
  `CalicoRule`s, doNotTrack / preDNAT / applyOnForward (GNP only);
* `types` absent: Ingress, or Egress when there are egress rules and no ingress rules, or both
  when both kinds are present (defaults.defaultPolicyTypesField, applied by the Calico API
  server / client on create). A `crd.projectcalico.org/v1` object written straight to the CRD is
  not defaulted: Felix reads no types as Ingress AND Egress (ExtractPolicyMetadata); kubefort
  applies that to the CRD form (`types_defaulted` records which rule was used);
* `CalicoRule`: action Allow / Deny / Pass / Log, protocol and notProtocol as numbers (TCP 6,
  UDP 17, ICMP 1, ICMPv6 58, SCTP 132, UDPLite 136; names are case-sensitive, "6" is a number),
  icmp / notICMP (type, code) recorded, ipVersion, source / destination `EntityRule`s, `http`
  recorded (Felix's iptables/nftables/BPF rules do not match HTTP: only Dikastes/Envoy with
  application layer policy enforces it; at L4 the rule matches as if it were absent);
* `EntityRule`: nets and notNets (CIDRs, strictly masked), selector, notSelector,
  namespaceSelector, serviceAccounts (names, selector), ports and notPorts (`CalicoPort`: a
  number, "lo:hi", or a port name), services (name, namespace) recorded: a destination service
  matches the addresses AND ports of the Service's endpoints (EndpointSlices), a source service
  the addresses of its endpoints; `selector` is the effective expression upstream builds
  (`updateprocessors.GetEntityRuleSelector`: serviceAccounts become
  `projectcalico.org/serviceaccount in {...}` and `pcsa.`-prefixed labels, namespaceSelector
  `pcns.`-prefixed labels with `all()` -> `has(projectcalico.org/namespace)` and `global()` ->
  `!has(projectcalico.org/namespace)` replaced in the printed text, string literals included,
  as upstream does; in a NetworkPolicy, as soon as any of selector, notSelector,
  serviceAccounts or namespaceSelector is set, endpoints are limited to the policy's namespace
  unless namespaceSelector says otherwise); None = no constraint;
* `CalicoTier`: name, order (None = +Inf), defaultAction Deny (default) or Pass.
* doNotTrack and preDNAT policies are rendered only into host endpoints' untracked / pre-DNAT
  chains (event_sequencer.tierInfoToProtoTierInfo): they never decide pod traffic.
  applyOnForward adds a policy to host endpoints' forward chains too; for pods it changes
  nothing. kubefort models pods, so for reachability only policies with neither flag count
  (`CalicoPolicy.applies_to_pods`).

Names: the NetworkPolicy regex allows one dot (`tier.name`, the pre-v3.32 form, no longer
required) and `knp.default.` / `ossg.default.` prefixes; a GNP name is a DNS label with at most
one dot. The CRD form's name is the v3 name from the `projectcalico.org/metadata` annotation
when it has one, else the object name minus a `default.` prefix when the tier is default.

Everything upstream's validator or the CRD schema (with its CEL rules) rejects raises
PolicyError with the field path. Null fields are absent. Two refusals go beyond upstream's
validation, for objects upstream accepts but cannot run: a selector field of only blanks (valid,
it means all()) that the update processors concatenate into "( ) && ...", which Felix's parser
rejects (active_rules_calculator.go and rule_scanner.go panic on it); and a NetworkPolicy
`spec.namespaceSelector` (not a field of the kind: strict field validation, kubectl's default,
refuses it, a lenient client has it dropped silently). `types: []` is read as absent.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from kubefort.kube.netpol.calico_selector import (
    Node,
)
from kubefort.kube.pods import api_group
from kubefort.model import Path_, Resource

GROUP, CRD_GROUP = "projectcalico.org", "crd.projectcalico.org"
NP, GNP, KNP, TIER = "NetworkPolicy", "GlobalNetworkPolicy", "KubernetesNetworkPolicy", "Tier"
ACTIONS = ("Allow", "Deny", "Pass", "Log")
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58, "SCTP": 132, "UDPLite": 136}
PORT_PROTOCOLS = frozenset({6, 17, 132})  # Protocol.SupportsPorts
DEFAULT_TIER, KUBE_ADMIN_TIER, KUBE_BASELINE_TIER = "default", "kube-admin", "kube-baseline"
# built-in tiers: (order, defaultAction), enforced by the Tier CRD's CEL rules
BUILTIN_TIERS = {
    DEFAULT_TIER: (1_000_000.0, "Deny"),
    KUBE_ADMIN_TIER: (1_000.0, "Pass"),
    KUBE_BASELINE_TIER: (10_000_000.0, "Pass"),
}
LABEL_NAMESPACE = "projectcalico.org/namespace"
LABEL_SERVICE_ACCOUNT = "projectcalico.org/serviceaccount"
LABEL_ORCHESTRATOR = "projectcalico.org/orchestrator"
NAME_LABEL = "projectcalico.org/name"  # on namespace (pcns.) and service account (pcsa.) profiles
NS_PREFIX, SA_PREFIX = "pcns.", "pcsa."
METADATA_ANNOTATION = "projectcalico.org/metadata"
MAX_SELECTOR = 1024  # kubebuilder MaxLength on every selector field

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + r"(\." + _LABEL + ")*"
NAME_RE = re.compile(f"^{_SUBDOMAIN}$")
TIER_NAME_RE = re.compile(f"^{_LABEL}$")
NP_NAME_RE = re.compile(f"^(({_LABEL})(\\.{_LABEL})?|((?:knp|ossg)\\.default\\.({_SUBDOMAIN})))$")
GNP_NAME_RE = re.compile(f"^({_LABEL}\\.)?{_LABEL}$")


@dataclass(frozen=True, slots=True)
class CalicoPort:
    """One entry of ports / notPorts: lo..hi, or a named port (lo = hi = 0)."""

    lo: int = 0
    hi: int = 0
    name: str | None = None


@dataclass(frozen=True, slots=True)
class EntityRule:
    nets: tuple[str, ...] = ()
    not_nets: tuple[str, ...] = ()
    selector_text: str = ""
    not_selector_text: str = ""
    namespace_selector_text: str = ""
    sa_names: tuple[str, ...] = ()
    sa_selector_text: str = ""
    has_service_accounts: bool = False
    ports: tuple[CalicoPort, ...] = ()
    not_ports: tuple[CalicoPort, ...] = ()
    service: tuple[str, str] | None = None  # (name, namespace; "" = the policy's namespace)
    selector: Node | None = None  # effective: see the module docstring (None: no constraint)
    not_selector: Node | None = None
    path: Path_ = ()


@dataclass(frozen=True, slots=True)
class CalicoRule:
    direction: str  # "ingress" | "egress"
    index: int
    action: str  # Allow | Deny | Pass | Log
    protocol: int | None
    not_protocol: int | None
    ip_version: int | None
    icmp: tuple[int | None, int | None] | None  # (type, code)
    not_icmp: tuple[int | None, int | None] | None
    source: EntityRule
    destination: EntityRule
    http: bool = False  # recorded; not matched at L4
    path: Path_ = ()


@dataclass(frozen=True, slots=True)
class CalicoPolicy:
    kind: str  # NetworkPolicy | GlobalNetworkPolicy
    namespace: str | None
    name: str
    tier: str
    order: float | None  # None: +Inf (applied after every ordered policy of the tier)
    selector_text: str
    namespace_selector_text: str  # GNP only
    sa_selector_text: str
    selects: Node  # the effective endpoint selector Felix evaluates
    types: frozenset[str]
    types_defaulted: str  # "given" | "api" (defaultPolicyTypesField) | "felix" (CRD form, none: both)
    ingress: tuple[CalicoRule, ...]
    egress: tuple[CalicoRule, ...]
    do_not_track: bool = False
    pre_dnat: bool = False
    apply_on_forward: bool = False
    resource: Resource | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    @property
    def sort_key(self) -> tuple[float, str]:
        """Felix's order within a tier (PolKVLess): order (+Inf when absent), then
        "name/namespace/kind" as a string."""
        return (math.inf if self.order is None else self.order, f"{self.name}/{self.namespace or ''}/{self.kind}")

    @property
    def applies_to_pods(self) -> bool:
        return not (self.do_not_track or self.pre_dnat)

    def rules(self, direction: str) -> tuple[CalicoRule, ...]:
        return self.ingress if direction == "ingress" else self.egress

    def governs(self, direction: str) -> bool:
        return ("Ingress" if direction == "ingress" else "Egress") in self.types


@dataclass(frozen=True, slots=True)
class CalicoTier:
    name: str
    order: float | None  # None: +Inf
    default_action: str  # Deny | Pass
    resource: Resource | None = None

    @property
    def sort_key(self) -> tuple[float, str]:
        """TierLess: order (+Inf when absent), then name."""
        return (math.inf if self.order is None else self.order, self.name)


def is_calico_kind(api_version: str, kind: str) -> bool:
    return api_group(api_version) in (GROUP, CRD_GROUP) and kind in (NP, GNP, TIER)
