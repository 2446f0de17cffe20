"""Cilium network policy (`cilium.io/v2` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy):
the model and its semantics; `cilium_parse` parses it, with the CRD schema's and the agent's
`Sanitize()` validation.

Sources (cilium/cilium v1.20.2, Apache-2.0; read from the Go module, quoted nowhere):
`pkg/k8s/apis/cilium.io/v2/cnp_types.go`, `ccnp_types.go` (`spec` and/or `specs`, `Parse`),
`pkg/k8s/apis/cilium.io/client/crds/v2/ciliumnetworkpolicies.yaml` (the CRD schema: enums,
patterns, `format: cidr`, `maxItems`), `pkg/policy/api/rule.go`, `ingress.go`, `egress.go`,
`l4.go`, `cidr.go`, `entity.go`, `icmp.go`, `service.go`, `fqdn.go`, `selector.go`,
`rule_validation.go` (`Rule.Sanitize`), `utils.go` (`ParseL4Proto`), `pkg/iana/svcname.go`,
`pkg/labels/labels.go` and `validation.go` (label sources, `IsValidCiliumLabelKey`),
`pkg/k8s/apis/cilium.io/utils/utils.go` (`ParseToCiliumRule`: the namespace rules),
`pkg/k8s/apis/cilium.io/const.go` (label names), `pkg/policy/utils/parserules.go` (a rule's
peers and ports as the repository reads them), `pkg/option` and `pkg/defaults` (the defaults
assumed below), Documentation/security/policy/layer3.rst, layer4.rst, deny.rst.

A policy holds one rule (`spec`) and/or a list (`specs`); each rule becomes a `CiliumSpec`:

* subject: `endpointSelector` (pods), or `nodeSelector` (CCNP only: a host policy, which applies
  to nodes, never to pods; recorded, and kubefort judges no traffic with it). In a CNP the
  subject always gets `k8s:io.kubernetes.pod.namespace=<policy namespace>` (replacing any value
  the selector gives that key); a CCNP subject is taken as written.
* `ingress`, `ingressDeny`, `egress`, `egressDeny`: `CiliumRule`s. A rule's peers are one kind of
  L3 member (the agent rejects two kinds in one rule): `fromEndpoints`/`toEndpoints` (selectors),
  `fromEntities`/`toEntities`, `fromCIDR`/`toCIDR`, `fromCIDRSet`/`toCIDRSet` (with `except`;
  or a `cidrGroupRef`/`cidrGroupSelector`, recorded, matching no endpoint kubefort models),
  `toServices` (recorded: resolved against Service objects, see `CiliumPeer`), `toFQDNs` and
  `fromGroups`/`toGroups` (recorded: their addresses are known only at runtime, they match no
  endpoint kubefort models). `peers` is None when no L3 member is given (then the rule matches
  every peer if it has ports, none if it has none) and () when one is given as an empty list
  (it matches nothing: `mergeEndpointSelectors`).
* endpoint peers in a CNP are restricted to the policy's namespace unless the selector names
  `io.kubernetes.pod.namespace` or a namespace label (`io.cilium.k8s.namespace.labels.*`); in a
  CCNP they are restricted to pods (`k8s:io.kubernetes.pod.namespace` Exists); selectors naming a
  `reserved:` label are taken as written.
* ports: `toPorts[].ports[]` (port number, `0` = every port, an IANA name resolved on the
  destination, `endPort` for a range, protocol TCP/UDP/SCTP or ANY = those three; the extended IP
  protocols VRRP, IGMP, GRE, IPIP, IPV6, ESP, AH are recorded and match no TCP/UDP/SCTP traffic);
  `rules` (L7: HTTP, DNS) are recorded and shown, reachability is judged at L3/L4 (the proxy
  then filters requests); `icmps` are recorded and match no TCP/UDP/SCTP traffic. A rule with
  peers and neither `toPorts` nor `icmps` allows every port of every protocol.
* `authentication` is recorded (mutual authentication happens after the policy allows).
* `enableDefaultDeny`: absent means true for a direction the rule has entries for (the agent's
  default `enable-non-default-deny-policies: true`).
* `fromRequires`/`toRequires` were label constraints AND-ed to the peers of every rule selecting
  the same endpoints (they granted nothing on their own); deprecated in Cilium 1.17 and removed
  in 1.19, the CRD now allows no items: a non-empty list is rejected here.
* `fromNodes`/`toNodes` need the agent flag `enable-node-selector-labels` (off by default; the
  agent rejects the rule without it) and select nodes kubefort does not model: rejected here
  (not evaluated), never guessed.

Label selectors (`EndpointSelector`): metav1.LabelSelector semantics (`kubefort.kube.selectors`,
whose parsing is reused), with Cilium's keys: a key may carry a source, `source:key`; a key
without one is `any:key`. `k8s:` matches only labels from Kubernetes, `any:` labels of any source,
`reserved:` the reserved identities (`reserved:host`, `reserved:world`, ...). Keys and values are
validated as Cilium does (`IsValidCiliumLabelKey`: an alphanumeric source, then a Kubernetes
label key; values are label values). A pod's labels as policy sees them (`identity_labels`): its
own labels (minus `io.cilium.k8s*` and minus the ones the agent's default identity-label filter
drops, e.g. `pod-template-hash`, `controller-revision-hash`, `kubernetes.io/*`), plus
`io.kubernetes.pod.namespace`, `io.cilium.k8s.policy.serviceaccount`,
`io.cilium.k8s.policy.cluster` and `io.cilium.k8s.namespace.labels.<key>` for every label of its
namespace, all from source `k8s`.

Null fields are absent (the API server prunes them); validation raises `PolicyError` with the
path of the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubefort.kube.netpol.model import PolicyError, Workload, need
from kubefort.kube.netpol.ports import (
    ALL_PORTS,
    NO_PORTS,
    PROTOCOLS,
    PortSet,
    Ranges,
    port_set,
    ports_union,
)
from kubefort.kube.pods import api_group
from kubefort.kube.selectors import Requirement, Selector, SelectorError, parse_selector
from kubefort.model import Path_, Resource

GROUP = "cilium.io"
CNP, CCNP = "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"
DEFAULT_CLUSTER = "default"  # the agent's default cluster-name

NS_LABEL = "io.kubernetes.pod.namespace"
SA_LABEL = "io.cilium.k8s.policy.serviceaccount"
CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"
NS_LABELS_PREFIX = "io.cilium.k8s.namespace.labels."
K8S_NS = "k8s:" + NS_LABEL

# the CRD's enum (entity.go); world-ipv4 and world-ipv6 pass Sanitize but not the API server
ENTITIES = tuple(
    "all world cluster cluster-mesh host init ingress unmanaged remote-node health none kube-apiserver".split()  # noqa: SIM905
)
# what each entity endpoint kubefort knows is matched by (entity.go: EntitySelectorMapping,
# InitEntities): pods are `cluster`, external addresses `world`
CLUSTER_ENTITIES = ("host", "remote-node", "init", "ingress", "health", "unmanaged", "kube-apiserver")
EXTENDED_PROTOCOLS = ("VRRP", "IGMP", "GRE", "IPIP", "IPV6", "ESP", "AH")
L4_PROTOCOLS = ("TCP", "UDP", "SCTP", *EXTENDED_PROTOCOLS, "ANY")  # the CRD's enum (l4.go)
AUTH_MODES = ("disabled", "required", "test-always-fail")
MAX_PORTS = 40  # rule_validation.go: maxPorts, maxICMPFields

_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SOURCE = re.compile(r"^[A-Za-z0-9]+$")

# the agent's default identity-label filter (pkg/labelsfilter: defaultLabelPrefixCfg): a label is
# kept unless an ignore pattern matches at the start of its key and no include pattern matches a
# longer start (regular expressions, matched from the first character)
_INCLUDE = tuple(
    re.compile(re.escape(p))
    for p in (NS_LABEL, "io.cilium.k8s.namespace.labels", "app.kubernetes.io", CLUSTER_LABEL, SA_LABEL)
)
_IGNORE = tuple(
    re.compile(p)
    for p in (  # noqa: SIM905 - the patterns of defaultLabelPrefixCfg, in its order
        r"io\.kubernetes kubernetes\.io statefulset\.kubernetes\.io/pod-name apps\.kubernetes\.io/pod-index "
        r"batch\.kubernetes\.io/job-completion-index batch\.kubernetes\.io/controller-uid .*beta\.kubernetes\.io k8s\.io "
        r"pod-template-generation pod-template-hash controller-revision-hash controller-uid annotation.* etcd_node "
        r"topology\.kubernetes\.io"
    ).split()
)


# -- labels ------------------------------------------------------------------------------------
def _prefix_len(patterns: tuple[re.Pattern[str], ...], key: str) -> int:
    """Length of the longest start of `key` a pattern matches (0: none). Go's FindStringIndex
    takes the leftmost match; it counts only when that match starts at the first character."""
    best = 0
    for p in patterns:
        m = p.search(key)
        if m is not None and m.start() == 0:
            best = max(best, m.end() or 0)
    return best


def identity_label(key: str) -> bool:
    """Does the agent's default label filter keep this Kubernetes label key in the identity?"""
    ignored = min((n for n in (_prefix_len((p,), key) for p in _IGNORE) if n), default=0)
    return ignored == 0 or _prefix_len(_INCLUDE, key) > ignored


def identity_labels(
    labels: Mapping[str, str],
    namespace: str,
    ns_labels: Mapping[str, str],
    service_account: str | None = "default",
    cluster: str = DEFAULT_CLUSTER,
) -> dict[str, str]:
    """A pod's labels as Cilium policy sees them, keyed `k8s:key` and `any:key` (a pod's labels
    all come from Kubernetes, so both spellings hold the same value). `ns_labels` are the
    namespace's labels (with `kubernetes.io/metadata.name`); SanitizePodLabels and the default
    identity-label filter."""
    out = {k: v for k, v in labels.items() if not k.startswith("io.cilium.k8s")}
    for k, v in ns_labels.items():
        out[NS_LABELS_PREFIX + k] = v
    out[NS_LABEL] = namespace
    if service_account:
        out[SA_LABEL] = service_account
    else:
        out.pop(SA_LABEL, None)
    out[CLUSTER_LABEL] = cluster
    return {f"{src}:{k}": v for k, v in out.items() if identity_label(k) for src in ("k8s", "any")}


def entity_labels(entity: str) -> dict[str, str]:
    """The labels of a reserved identity (`host`, `remote-node`, `world`, ...)."""
    return {f"reserved:{entity}": "", f"any:{entity}": ""}


def normalize_key(key: str) -> str:
    """`app` -> `any:app`; `k8s:app` stays; `$host` -> `reserved:host` (labels.go: parseSource)."""
    if key.startswith("$"):
        return "reserved:" + key[1:]
    return key if ":" in key else "any:" + key


def _label_key_errors(key: str) -> str | None:
    parts = key.split(":")
    if len(parts) > 2:
        return "may hold ':' once, after a label source"
    if len(parts) == 2 and not _SOURCE.match(parts[0]):
        return "has a label source that is not alphanumeric"
    name = parts[-1]
    prefix, _, local = name.rpartition("/")
    if "/" in name and not (prefix and len(prefix) <= 253 and DNS1123_SUB.match(prefix)):
        return "has a prefix that is not a DNS subdomain"
    if not (local and len(local) <= 63 and _LABEL_NAME.match(local)):
        return "is not a valid label key"
    return None


def _label_value_ok(v: str) -> bool:
    return v == "" or (len(v) <= 63 and bool(_LABEL_NAME.match(v)))


def cilium_selector(v: Any, path: Path_) -> Selector:
    """An EndpointSelector: parsed and validated (EndpointSelector.Sanitize), keys normalized to
    `source:key`. Raises PolicyError (a SelectorError's message and path for structural faults)."""
    try:
        sel = parse_selector(v, path)
    except SelectorError as exc:
        raise PolicyError(exc.reason, exc.path) from None
    labels: dict[str, str] = {}
    for k, x in sel.labels:
        p = path + ("matchLabels", k)
        err = _label_key_errors(k)
        need(err is None, f"key {err}", p)
        need(_label_value_ok(x), f"has {x!r}, not a valid label value", p)
        nk = normalize_key(k)
        # NewESFromK8sLabelSelector fills a Go map: two spellings of one key keep either value
        need(nk not in labels or labels[nk] == x, f"names {nk} twice with different values", p)
        labels[nk] = x
    exprs: list[Requirement] = []
    for i, (k, op, vals) in enumerate(sel.exprs):
        p = path + ("matchExpressions", i)
        err = _label_key_errors(k)
        need(err is None, f"key {k!r} {err}", p)
        need(all(_label_value_ok(x) for x in vals), "values must be valid label values", p)
        exprs.append((normalize_key(k), op, vals))
    return Selector(tuple(sorted(labels.items())), tuple(exprs))


def selector_keys(sel: Selector) -> list[str]:
    return [k for k, _ in sel.labels] + [k for k, _, _ in sel.exprs]


def subject_selector(sel: Selector, namespace: str | None) -> Selector:
    """ParseToCiliumRule: a CNP's endpointSelector always holds its namespace."""
    if namespace is None:
        return sel
    labels = dict(sel.labels)
    labels[K8S_NS] = namespace
    return Selector(tuple(sorted(labels.items())), sel.exprs)


def peer_selector(sel: Selector, namespace: str | None, subject_init: bool = False) -> Selector:
    """getEndpointSelector: the namespace a peer selector is restricted to (module docstring)."""
    keys = selector_keys(sel)
    if any(k.startswith("reserved:") for k in keys) or K8S_NS in keys or "any:" + NS_LABEL in keys:
        return sel
    if namespace is None:
        if subject_init:  # a policy for initializing endpoints (no labels yet): no namespace added
            return sel
        return Selector(sel.labels, (*sel.exprs, (K8S_NS, "Exists", ())))
    if any(k.startswith(("k8s:" + NS_LABELS_PREFIX, "any:" + NS_LABELS_PREFIX)) for k in keys):
        return sel
    labels = dict(sel.labels)
    labels[K8S_NS] = namespace
    return Selector(tuple(sorted(labels.items())), sel.exprs)


# -- the model ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CiliumPort:
    """One `toPorts[].ports[]` entry, as Sanitize leaves it."""

    port: int = 0  # 0: every port (and for a named port)
    end_port: int = 0  # a range port..end_port when above port
    name: str | None = None  # an IANA service name, lower-cased: the destination's container port
    protocol: str = "ANY"

    @property
    def protocols(self) -> tuple[str, ...]:
        """The TCP/UDP/SCTP protocols it matches (ANY: all three; extended IP protocols: none)."""
        if self.protocol == "ANY":
            return PROTOCOLS
        return (self.protocol,) if self.protocol in PROTOCOLS else ()

    def ports(self) -> PortSet:
        """The ports given by number (a named port resolves per destination)."""
        out = NO_PORTS
        if self.name is not None:
            return out
        lo, hi = (1, 65535) if self.port == 0 else (self.port, max(self.port, self.end_port))
        for proto in self.protocols:
            out = ports_union(out, port_set(proto, lo, hi))
        return out


@dataclass(frozen=True, slots=True)
class CiliumPortRule:
    """One `toPorts` entry (or one `icmps` entry, `icmp` set): its ports and what it records."""

    ports: tuple[CiliumPort, ...] = ()
    l7: tuple[tuple[str, int], ...] = ()  # ("http", number of rules), ("dns", n): shown, judged at L3/L4
    server_names: tuple[str, ...] = ()
    listener: str | None = None
    icmp: tuple[tuple[str, str], ...] | None = None  # (family, type) fields of an `icmps` entry


@dataclass(frozen=True, slots=True)
class CiliumPeer:
    """One L3 peer.

    kind "endpoints": `selector` is the effective selector (namespace rules applied) over
    `identity_labels`/`entity_labels`. "entity": `name`. "cidr": `cidr` with `block` (the range
    minus `except`: external addresses only, never pods). "cidrGroup": `name` (a cidrGroupRef) or
    `selector` (a cidrGroupSelector) naming CiliumCIDRGroups: no endpoint. "service": `name`
    (k8sService) or `selector` (k8sServiceSelector, over the Service's own labels, sources
    ignored), `namespace` ("" or absent: every namespace, even in a CNP): it stands for the pods
    selected by the matching Services' selectors (selector-less Services: their backend
    addresses, unknown). "fqdn": `name` (matchName) or `pattern`; "group": a cloud provider
    group: addresses known only at runtime, no endpoint."""

    kind: str
    selector: Selector | None = None
    name: str | None = None
    pattern: str | None = None
    namespace: str | None = None
    cidr: str | None = None
    excepts: tuple[str, ...] = ()
    block: Ranges = ()
    path: Path_ = ()

    @property
    def resolved(self) -> bool:
        """False for peers whose endpoints kubefort cannot know from the objects it reads."""
        return self.kind in ("endpoints", "entity", "cidr")

    def matches_labels(self, labels: Mapping[str, str]) -> bool:
        """An endpoints peer against an endpoint's labels (`identity_labels`, `entity_labels`)."""
        return self.kind == "endpoints" and self.selector is not None and self.selector.matches(labels)

    def matches_entity(self, entity: str) -> bool:
        """Does this peer match a reserved entity endpoint ("pod" for pods, "world" for external
        addresses, else one of CLUSTER_ENTITIES)? entity.go: `all` is every identity; `cluster`
        and `cluster-mesh` hold pods and every cluster entity; `none` nothing."""
        if self.kind != "entity" or self.name is None:
            return False
        n = self.name
        if n == "all":
            return True
        if n in ("cluster", "cluster-mesh"):
            return entity != "world"
        return n == entity

    def overlaps(self, lo: int, hi: int) -> bool:
        return any(a <= hi and lo <= b for a, b in self.block)


@dataclass(frozen=True, slots=True)
class CiliumRule:
    direction: str  # "ingress" | "egress"
    deny: bool
    index: int
    peers: tuple[CiliumPeer, ...] | None  # None: no L3 member given; (): one given empty (matches nothing)
    ports: tuple[CiliumPortRule, ...]  # toPorts entries, then icmps entries
    auth: str | None = None  # authentication.mode (allow rules)
    path: Path_ = ()

    @property
    def field(self) -> str:
        return self.direction + ("Deny" if self.deny else "")

    @property
    def l3_any(self) -> bool:
        """No L3 member and some ports: every peer (PolicyEntry.L3 empty: wildcard)."""
        return self.peers is None and bool(self.ports)

    @property
    def effective(self) -> bool:
        """Can this rule match any traffic? (L3 nil or empty with no ports: it only isolates.)"""
        return self.l3_any or bool(self.peers)

    def static_ports(self) -> PortSet:
        """The TCP/UDP/SCTP ports it matches by number; every port when it has peers and no ports."""
        if not self.ports:
            return ALL_PORTS
        out = NO_PORTS
        for pr in self.ports:
            for p in pr.ports:
                out = ports_union(out, p.ports())
        return out

    def named_ports(self) -> tuple[tuple[str, str], ...]:
        """(name, protocol) pairs, ANY expanded to TCP, UDP and SCTP."""
        return tuple(
            (p.name, proto) for pr in self.ports for p in pr.ports if p.name is not None for proto in p.protocols
        )

    def ports_for(self, dst: Workload | None) -> PortSet:
        """The ports this rule matches towards `dst` (None: an external or entity peer: names never resolve)."""
        ps = self.static_ports()
        for name, proto in self.named_ports():
            for num in dst.resolve(name, proto) if dst is not None else ():
                ps = ports_union(ps, port_set(proto, num, num))
        return ps

    @property
    def l7(self) -> tuple[tuple[str, int], ...]:
        return tuple(x for pr in self.ports for x in pr.l7)


@dataclass(slots=True)
class CiliumSpec:
    """One rule of a policy (`spec`, or `specs[index]`)."""

    index: int | None  # None: `spec`
    subject: Selector | None  # the effective endpointSelector (None: a node policy)
    node: Selector | None  # nodeSelector: a host policy (CCNP), never applied to pods
    ingress: tuple[CiliumRule, ...]
    ingress_deny: tuple[CiliumRule, ...]
    egress: tuple[CiliumRule, ...]
    egress_deny: tuple[CiliumRule, ...]
    default_deny_ingress: bool
    default_deny_egress: bool
    description: str = ""
    path: Path_ = ()

    def allows(self, direction: str) -> tuple[CiliumRule, ...]:
        return self.ingress if direction == "ingress" else self.egress

    def denies(self, direction: str) -> tuple[CiliumRule, ...]:
        return self.ingress_deny if direction == "ingress" else self.egress_deny

    def affects(self, direction: str) -> bool:
        """Has this rule entries of that direction (so it is part of the endpoint's policy)?"""
        return bool(self.allows(direction) or self.denies(direction))

    def default_deny(self, direction: str) -> bool:
        """Does it put the endpoints it selects in default deny for that direction?"""
        flag = self.default_deny_ingress if direction == "ingress" else self.default_deny_egress
        return self.affects(direction) and flag

    def selects(self, labels: Mapping[str, str]) -> bool:
        """Does the subject select an endpoint with these labels (`identity_labels`)? Node
        policies select no pod."""
        return self.subject is not None and self.subject.matches(labels)


@dataclass(slots=True)
class CiliumPolicy:
    kind: str  # CiliumNetworkPolicy | CiliumClusterwideNetworkPolicy
    namespace: str | None  # None: cluster-wide
    name: str
    specs: tuple[CiliumSpec, ...]
    resource: Resource | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


def is_cilium_kind(api_version: str, kind: str) -> bool:
    return api_group(api_version) == GROUP and kind in (CNP, CCNP)
