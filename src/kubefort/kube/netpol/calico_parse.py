"""Parsing of Calico policies and tiers into the model of `kubefort.kube.netpol.calico` (whose
docstring gives the semantics, the upstream sources and the refusals): validation as the CRD
schema and Calico's validator do it, with the path of the offending field on every refusal.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import replace
from typing import Any

from kubefort.kube.netpol.calico import (
    ACTIONS,
    BUILTIN_TIERS,
    CRD_GROUP,
    DEFAULT_TIER,
    GNP,
    GNP_NAME_RE,
    GROUP,
    LABEL_NAMESPACE,
    LABEL_SERVICE_ACCOUNT,
    MAX_SELECTOR,
    METADATA_ANNOTATION,
    NAME_RE,
    NP,
    NP_NAME_RE,
    NS_PREFIX,
    PORT_PROTOCOLS,
    PROTOCOL_NUMBERS,
    SA_PREFIX,
    TIER_NAME_RE,
    CalicoPolicy,
    CalicoPort,
    CalicoRule,
    CalicoTier,
    EntityRule,
    is_calico_kind,
)
from kubefort.kube.netpol.calico_selector import (
    CalicoSelectorError,
    Node,
    parse_calico_selector,
    prefix_labels,
    tokenize,
)
from kubefort.kube.netpol.model import PolicyError, checked_list, checked_map, need
from kubefort.kube.pods import api_group, type_name
from kubefort.model import Path_, Resource, format_path

_PORT_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")  # numorstring.NamedPort
_IANA = re.compile(r"^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")  # k8s IsValidPortName
_QUALIFIED = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_DIGITS = re.compile(r"^[0-9]{1,9}$")  # longer: no port, and int() refuses very long ones
_RANGE = re.compile(r"^([0-9]{1,9}):([0-9]{1,9})$")


# -- helpers ------------------------------------------------------------------------------------


def _str(v: Any, path: Path_, limit: int | None = None) -> str:
    if v is None:
        return ""
    need(isinstance(v, str), f"is {type_name(v)}, expected a string", path)
    need(limit is None or len(v) <= limit, f"is longer than {limit} characters", path)
    return str(v)


def _bool(v: Any, path: Path_) -> bool:
    if v is None:
        return False
    need(isinstance(v, bool), f"is {type_name(v)}, expected true or false", path)
    return bool(v)


def _selector(text: str, path: Path_) -> Node:
    try:
        return parse_calico_selector(text, path)
    except CalicoSelectorError as exc:
        raise PolicyError(f"{format_path(path)} {exc.reason}", path) from None


def _sel_field(v: Any, path: Path_, global_ok: bool = False) -> str:
    """A selector field: a string of at most 1024 characters that parses; `global(` anywhere in
    the text is rejected unless allowed (the CEL rules test the text, string literals included)."""
    text = _str(v, path, MAX_SELECTOR)
    _selector(text, path)
    need(
        global_ok or "global(" not in text,
        "uses global(); global() can only be used in an EntityRule namespaceSelector",
        path,
    )
    return text


def _prefixed(text: str, prefix: str) -> str:
    """parseSelectorAttachPrefix: the canonical text with every label name prefixed."""
    return str(prefix_labels(parse_calico_selector(text), prefix))


def _append(current: str, new: str, prefix: str) -> str:
    """prefixAndAppendSelector."""
    if not new:
        return current
    p = _prefixed(new, prefix)
    return f"({current}) && {p}" if current else p


def _sa_selector(names: tuple[str, ...], selector: str) -> str:
    """parseServiceAccounts (a name holding a quote makes upstream's parse fail: it then drops
    the whole service-account constraint, as here)."""
    updated = _prefixed(selector, SA_PREFIX) if selector else ""
    if not names:
        return updated
    text = f"{LABEL_SERVICE_ACCOUNT} in {{ '" + "', '".join(names) + "' }"
    try:
        out = str(parse_calico_selector(text))
    except CalicoSelectorError:
        return ""
    return f"({updated}) && ({out})" if updated else out


def entity_selector(er: EntityRule, ns: str | None) -> str:
    """getEndpointSelector: the text of the positive selector of a source/destination ("": none)."""
    sa = _sa_selector(er.sa_names, er.sa_selector_text) if er.has_service_accounts else ""
    ns_sel = ""
    if er.namespace_selector_text:
        ns_sel = _prefixed(er.namespace_selector_text, NS_PREFIX)
        ns_sel = ns_sel.replace("all()", f"has({LABEL_NAMESPACE})").replace("global()", f"!has({LABEL_NAMESPACE})")
    elif ns:
        ns_sel = f"{LABEL_NAMESPACE} == '{ns}'"
    parts = [s for s in (sa, er.selector_text) if s]
    selector = parts[0] if len(parts) == 1 else "(" + ") && (".join(parts) + ")" if parts else ""
    if ns_sel and (selector or er.not_selector_text or er.namespace_selector_text):
        selector = f"({ns_sel}) && ({selector})" if selector else ns_sel
    return selector


def policy_selector(kind: str, ns: str | None, selector: str, ns_selector: str, sa_selector: str) -> str:
    """The selector text of Convert(Global)NetworkPolicyV3ToV1Value."""
    if kind == NP:
        ns_sel = f"{LABEL_NAMESPACE} == '{ns}'"
        selector = ns_sel if not selector else f"({selector}) && {ns_sel}"
        return _append(selector, sa_selector, SA_PREFIX)
    if ns_selector:
        selector = _append(selector, ns_selector, NS_PREFIX).replace("all()", f"has({LABEL_NAMESPACE})")
    if sa_selector:
        selector = _append(selector, sa_selector, SA_PREFIX).replace("all()", f"has({LABEL_SERVICE_ACCOUNT})")
    return selector


# -- rules --------------------------------------------------------------------------------------
def _protocol(v: Any, path: Path_) -> int | None:
    """numorstring.Protocol: 1-255 (a number or a string of digits) or one of the names."""
    if v is None:
        return None
    if isinstance(v, str) and _DIGITS.match(v) and int(v) <= 255:
        v = int(v)
    if isinstance(v, int) and not isinstance(v, bool):
        need(1 <= v <= 255, f"is {v}; protocol numbers are 1-255", path)
        return int(v)
    need(
        isinstance(v, str) and v in PROTOCOL_NUMBERS,
        f"is {v!r}; one of {', '.join(PROTOCOL_NUMBERS)} or 1-255 (case-sensitive)",
        path,
    )
    return PROTOCOL_NUMBERS[v]


def _port(v: Any, path: Path_) -> CalicoPort:
    """numorstring.Port plus validatePort / validatePortName."""
    if isinstance(v, int) and not isinstance(v, bool):
        need(1 <= v <= 65535, f"is {v}; port numbers are 1-65535", path)
        return CalicoPort(v, v)
    need(isinstance(v, str), f"is {type_name(v)}, expected a port number, range or name", path)
    if _DIGITS.match(v):
        n = int(v)
        need(1 <= n <= 65535, f"is {v}; port numbers are 1-65535", path)
        return CalicoPort(n, n)
    m = _RANGE.match(v)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        need(lo <= 65535 and hi <= 65535, f"is {v!r}; port numbers are 1-65535", path)
        need(lo <= hi, f"is {v!r}; the minimum is above the maximum", path)
        need(lo >= 1, f"is {v!r}; port numbers are 1-65535", path)
        return CalicoPort(lo, hi)
    need(
        bool(_PORT_NAME.match(v)) and bool(_IANA.match(v)) and "--" not in v,
        f"is {v!r}; not a port number, lo:hi range or IANA port name",
        path,
    )
    return CalicoPort(name=v)


def _icmp(v: Any, path: Path_) -> tuple[int | None, int | None] | None:
    if v is None:
        return None
    m = checked_map(v, path)
    t, c = m.get("type"), m.get("code")
    for key, x, hi in (("type", t, 254), ("code", c, 255)):
        need(
            x is None or (isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= hi),
            f"is {x!r}; 0-{hi}",
            path + (key,),
        )
    need(c is None or t is not None, "sets code without type", path)
    return t, c


def _nets(v: Any, path: Path_, negated: bool) -> tuple[str, ...]:
    items = checked_list(v, path, 256)
    need(len({str(x) for x in items}) == len(items), "repeats an item (a set)", path)
    for i, n in enumerate(items):
        p = path + (i,)
        need(isinstance(n, str) and "/" in n, "is not a CIDR", p)
        try:
            net = ipaddress.ip_network(n, strict=True)
        except ValueError:
            raise PolicyError(f"{format_path(p)} is not a strictly masked CIDR", p) from None
        need(
            not (negated and net.prefixlen == 0),
            "is a catch-all CIDR in a negated match (matches no traffic: the validator rejects it)",
            p,
        )
    return tuple(items)


def _entity(v: Any, path: Path_, ns: str | None) -> EntityRule:
    m = checked_map(v, path)
    nets = _nets(m.get("nets"), path + ("nets",), False)
    not_nets = _nets(m.get("notNets"), path + ("notNets",), True)
    sel = _sel_field(m.get("selector"), path + ("selector",))
    not_sel = _sel_field(m.get("notSelector"), path + ("notSelector",), global_ok=True)
    ns_sel = _sel_field(m.get("namespaceSelector"), path + ("namespaceSelector",), global_ok=True)
    if "global(" in ns_sel and ns_sel != "global()":
        toks = tokenize(ns_sel)
        need(
            len(toks) <= 2 and toks[0][0] == "global",
            "combines global() with other selectors (global() cannot be combined with other selectors)",
            path + ("namespaceSelector",),
        )
    sa = m.get("serviceAccounts")
    sa_names: tuple[str, ...] = ()
    sa_sel = ""
    if sa is not None:
        sam = checked_map(sa, path + ("serviceAccounts",))
        names = checked_list(sam.get("names"), path + ("serviceAccounts", "names"), 1 << 20)
        need(all(isinstance(x, str) for x in names), "must hold strings", path + ("serviceAccounts", "names"))
        need(len(set(names)) == len(names), "repeats an item (a set)", path + ("serviceAccounts", "names"))
        sa_names = tuple(names)
        sa_sel = _sel_field(sam.get("selector"), path + ("serviceAccounts", "selector"), global_ok=True)
    ports = tuple(
        _port(x, path + ("ports", i)) for i, x in enumerate(checked_list(m.get("ports"), path + ("ports",), 50))
    )
    not_ports = tuple(
        _port(x, path + ("notPorts", i))
        for i, x in enumerate(checked_list(m.get("notPorts"), path + ("notPorts",), 50))
    )
    service = None
    svc = m.get("services")
    if svc is not None:
        sm = checked_map(svc, path + ("services",))
        name = _str(sm.get("name"), path + ("services", "name"), 253)
        sns = _str(sm.get("namespace"), path + ("services", "namespace"), 253)
        sp = path + ("services",)
        need(name != "", "must specify a service name", sp)
        for x, key in ((name, "name"), (sns, "namespace")):
            need(x == "" or bool(NAME_RE.match(x)), "is not a DNS subdomain name", sp + (key,))
        need(not ns_sel, "cannot be set with namespaceSelector", sp)
        need(sa is None, "cannot be set with serviceAccounts", sp)
        need(not sel and not not_sel, "cannot be set with selector or notSelector", sp)
        need(not nets and not not_nets, "cannot be set with nets or notNets", sp)
        service = (name, sns)
    er = EntityRule(
        nets,
        not_nets,
        sel,
        not_sel,
        ns_sel,
        sa_names,
        sa_sel,
        sa is not None,
        ports,
        not_ports,
        service,
        path=path,
    )
    text = entity_selector(er, ns)
    if text and not_sel:  # rule_scanner.combineMatchesIfPossible: Felix parses them as one
        _effective(f"({text}) && (!({not_sel}))", path)
    return replace(
        er,
        selector=_effective(text, path) if text else None,
        not_selector=parse_calico_selector(not_sel) if not_sel else None,
    )


def _effective(text: str, path: Path_) -> Node:
    """A selector upstream builds by concatenating texts. A selector field of only blanks is
    valid (all()) but concatenates to "( )", which Felix cannot parse (it panics): refused."""
    try:
        return parse_calico_selector(text)
    except CalicoSelectorError as exc:
        raise PolicyError(
            f"{format_path(path)} combines to the selector {text!r}, which does not parse ({exc.detail}): "
            "a selector of only blanks breaks Felix's selector composition",
            path,
        ) from None


def _http(v: Any, path: Path_) -> bool:
    if v is None:
        return False
    m = checked_map(v, path)
    methods = checked_list(m.get("methods"), path + ("methods",), 20)
    need(len({str(x) for x in methods}) == len(methods), "has duplicate methods", path + ("methods",))
    for i, p in enumerate(checked_list(m.get("paths"), path + ("paths",), 20)):
        pp = path + ("paths", i)
        pm = checked_map(p, pp)
        exact, prefix = _str(pm.get("exact"), pp + ("exact",), 1024), _str(pm.get("prefix"), pp + ("prefix",), 1024)
        need(not (exact and prefix), "sets both exact and prefix", pp)
        x = exact or prefix
        need(x != "", "must set exact or prefix", pp)
        need(x.startswith("/") and not any(c in x for c in "? #"), "must start with / and hold no ?, # or space", pp)
    return True


def _rule_metadata(v: Any, path: Path_) -> None:
    """validateRuleMetadata: annotation keys are qualified names (checked lower-cased), 256 KiB in all."""
    ann = checked_map(checked_map(v, path).get("annotations"), path + ("annotations",))
    size = 0
    for k, x in ann.items():
        need(isinstance(k, str) and isinstance(x, str), f"has {k!r}: {x!r}; strings expected", path + ("annotations",))
        prefix, _, name = k.lower().rpartition("/")
        need(
            bool(_QUALIFIED.match(k.lower())) and len(name) <= 63 and len(prefix) <= 253,
            f"has key {k!r}; not a qualified name",
            path + ("annotations",),
        )
        size += len(k.encode()) + len(x.encode())
    need(size <= 256 * 1024, "are larger than 256 KiB in total", path + ("annotations",))


def _rule(v: Any, path: Path_, direction: str, index: int, ns: str | None) -> CalicoRule:
    m = checked_map(v, path)
    _rule_metadata(m.get("metadata"), path + ("metadata",))
    action = m.get("action")
    need(action in ACTIONS, f"is {action!r}; one of {', '.join(ACTIONS)}", path + ("action",))
    ipv = m.get("ipVersion")
    need(ipv is None or (ipv in (4, 6) and not isinstance(ipv, bool)), f"is {ipv!r}; 4 or 6", path + ("ipVersion",))
    proto = _protocol(m.get("protocol"), path + ("protocol",))
    not_proto = _protocol(m.get("notProtocol"), path + ("notProtocol",))
    icmp, not_icmp = _icmp(m.get("icmp"), path + ("icmp",)), _icmp(m.get("notICMP"), path + ("notICMP",))
    http = _http(m.get("http"), path + ("http",))
    need(not http or action == "Allow", "HTTP match is only valid on Allow rules", path + ("http",))
    need(not http or proto in (None, 6), "rules with HTTP match must have protocol TCP or unset", path + ("http",))
    need(not http or direction == "ingress", "is not allowed in egress rules (application layer policy)", path)
    need(icmp is None or proto in (1, 58), "ICMP fields require protocol to be ICMP or ICMPv6", path + ("icmp",))
    for key, p in (("protocol", proto), ("notProtocol", not_proto)):
        need(not (p == 1 and ipv not in (None, 4)), "ICMP requires ipVersion 4", path + (key,))
        need(not (p == 58 and ipv not in (None, 6)), "ICMPv6 requires ipVersion 6", path + (key,))
    src = _entity(m.get("source"), path + ("source",), ns)
    dst = _entity(m.get("destination"), path + ("destination",), ns)
    if dst.service is not None:
        need(not dst.ports and not dst.not_ports, "ports and notPorts cannot be specified with services", path)
    for er, side in ((src, "source"), (dst, "destination")):
        for key, ports in (("ports", er.ports), ("notPorts", er.not_ports)):
            if proto is None:
                need(
                    all(p.name for p in ports),
                    "rules with numeric port or port range must set protocol to TCP or UDP or SCTP",
                    path + (side, key),
                )
            else:
                need(
                    not ports or proto in PORT_PROTOCOLS,
                    "rules that specify ports must set protocol to TCP or UDP or SCTP",
                    path + (side, key),
                )
    # CIDRs: one IP version per rule, equal to ipVersion when given (scanNets)
    seen: set[int] = set()
    for er, side in ((src, "source"), (dst, "destination")):
        for key, nets in (("nets", er.nets), ("notNets", er.not_nets)):
            vs = {ipaddress.ip_network(n).version for n in nets}
            fp = path + (side, key)
            need(ipv is None or vs <= {ipv}, "rule IP version doesn't match CIDR version", fp)
            need(len(vs | seen) <= 1, "rule contains both IPv4 and IPv6 CIDRs", fp)
            seen |= vs
    return CalicoRule(direction, index, str(action), proto, not_proto, ipv, icmp, not_icmp, src, dst, http, path)


# -- objects ------------------------------------------------------------------------------------
def _name(res: Resource, tier: str) -> str:
    """The v3 name: the CRD form's metadata annotation, or its name minus `default.` (default tier)."""
    if api_group(res.id.api_version) != CRD_GROUP:
        return res.id.name
    meta = res.obj.get("metadata")
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    raw = ann.get(METADATA_ANNOTATION) if isinstance(ann, dict) else None
    if isinstance(raw, str):
        try:
            stored = json.loads(raw)
        except ValueError:
            stored = None
        if isinstance(stored, dict) and isinstance(stored.get("name"), str) and stored["name"]:
            return str(stored["name"])
    name = res.id.name
    return name.removeprefix("default.") if tier == DEFAULT_TIER else name


def _types(spec: dict[str, Any], crd: bool, n_in: int, n_eg: int) -> tuple[frozenset[str], str]:
    path: Path_ = ("spec", "types")
    raw = checked_list(spec.get("types"), path, 2)
    for i, t in enumerate(raw):
        need(t in ("Ingress", "Egress"), f"is {t!r}; Ingress or Egress", path + (i,))
    need(len(set(raw)) == len(raw), "specifies a type more than once", path)
    if raw:
        return frozenset(raw), "given"
    if crd:
        return frozenset({"Ingress", "Egress"}), "felix"
    if n_eg == 0:
        return frozenset({"Ingress"}), "api"
    return (frozenset({"Egress"}) if n_in == 0 else frozenset({"Ingress", "Egress"})), "api"


def parse_calico_policy(res: Resource) -> CalicoPolicy:
    """A Calico NetworkPolicy or GlobalNetworkPolicy (projectcalico.org/v3 or
    crd.projectcalico.org/v1). Raises PolicyError where upstream's validation rejects it."""
    group, kind = api_group(res.id.api_version), res.id.kind
    need(
        (group, res.id.api_version.rpartition("/")[2]) in ((GROUP, "v3"), (CRD_GROUP, "v1")),
        f"has no schema kubefort knows in {res.id.api_version} (projectcalico.org/v3, crd.projectcalico.org/v1)",
        ("apiVersion",),
    )
    need(kind in (NP, GNP), f"is {kind!r}; NetworkPolicy or GlobalNetworkPolicy", ("kind",))
    spec = res.obj.get("spec")
    if spec is None:
        spec = {}
    need(isinstance(spec, dict), f"is {type_name(spec)}, expected a mapping", ("spec",))
    tier = _str(spec.get("tier"), ("spec", "tier")) or DEFAULT_TIER
    need(bool(NAME_RE.match(tier)), "is not a valid tier name", ("spec", "tier"))
    name = _name(res, tier)
    need(len(name) <= 253, "is longer than 253 characters", ("metadata", "name"))
    need(
        bool((NP_NAME_RE if kind == NP else GNP_NAME_RE).match(name)),
        f"is {name!r}; not a valid {kind} name",
        ("metadata", "name"),
    )
    ns = (res.id.namespace or "default") if kind == NP else None
    order = spec.get("order")
    need(
        order is None or (isinstance(order, (int, float)) and not isinstance(order, bool) and math.isfinite(order)),
        f"is {order!r}; expected a number",
        ("spec", "order"),
    )
    sel = _sel_field(spec.get("selector"), ("spec", "selector"))
    sa_sel = _sel_field(spec.get("serviceAccountSelector"), ("spec", "serviceAccountSelector"))
    ns_sel = ""
    if kind == GNP:
        ns_sel = _sel_field(spec.get("namespaceSelector"), ("spec", "namespaceSelector"))
    else:
        need(spec.get("namespaceSelector") is None, "is not a NetworkPolicy field", ("spec", "namespaceSelector"))
    hints = checked_list(spec.get("performanceHints"), ("spec", "performanceHints"), 1 << 10)
    need(
        all(h == "AssumeNeededOnEveryNode" for h in hints) and len(set(hints)) == len(hints),
        "may hold AssumeNeededOnEveryNode once",
        ("spec", "performanceHints"),
    )
    rules: dict[str, tuple[CalicoRule, ...]] = {}
    for direction in ("ingress", "egress"):
        p: Path_ = ("spec", direction)
        rules[direction] = tuple(
            _rule(r, p + (i,), direction, i, ns) for i, r in enumerate(checked_list(spec.get(direction), p, 1024))
        )
        for r in rules[direction]:
            other = r.source if direction == "egress" else r.destination
            need(
                other.service is None,
                f"services are not allowed in {direction} rule {'source' if direction == 'egress' else 'destination'}",
                other.path + ("services",),
            )
            own = r.destination if direction == "egress" else r.source
            if kind == GNP and own.service is not None:
                need(own.service[1] != "", "must specify a namespace", own.path + ("services", "namespace"))
    types, how = _types(spec, group == CRD_GROUP, len(rules["ingress"]), len(rules["egress"]))
    dnt = _bool(spec.get("doNotTrack"), ("spec", "doNotTrack")) if kind == GNP else False
    pre = _bool(spec.get("preDNAT"), ("spec", "preDNAT")) if kind == GNP else False
    fwd = _bool(spec.get("applyOnForward"), ("spec", "applyOnForward")) if kind == GNP else False
    need(not (dnt and pre), "preDNAT and doNotTrack cannot both be true", ("spec",))
    need(not pre or not rules["egress"], "preDNAT policy cannot have any egress rules", ("spec", "egress"))
    need(
        not pre or "Egress" not in types or how != "given",
        "preDNAT policy cannot have 'Egress' type",
        ("spec", "types"),
    )
    need(fwd or not (dnt or pre), "applyOnForward must be true if either preDNAT or doNotTrack is true", ("spec",))
    text = policy_selector(kind, ns, sel, ns_sel, sa_sel)
    selects = _effective(text, ("spec", "selector"))
    return CalicoPolicy(
        kind,
        ns,
        name,
        tier,
        None if order is None else float(order),
        sel,
        ns_sel,
        sa_sel,
        selects,
        types,
        how,
        rules["ingress"],
        rules["egress"],
        dnt,
        pre,
        fwd,
        res,
    )


def parse_calico_tier(res: Resource) -> CalicoTier:
    """A Tier (projectcalico.org/v3 or crd.projectcalico.org/v1). Raises PolicyError."""
    name = res.id.name
    need(len(name) <= 63, "is longer than 63 characters", ("metadata", "name"))
    need(bool(TIER_NAME_RE.match(name)), f"is {name!r}; a tier name is a DNS label (no dots)", ("metadata", "name"))
    spec = checked_map(res.obj.get("spec"), ("spec",))
    order = spec.get("order")
    need(
        order is None or (isinstance(order, (int, float)) and not isinstance(order, bool) and math.isfinite(order)),
        f"is {order!r}; expected a number",
        ("spec", "order"),
    )
    action = spec.get("defaultAction") or "Deny"  # +kubebuilder:default=Deny
    need(action in ("Deny", "Pass"), f"is {action!r}; Deny or Pass", ("spec", "defaultAction"))
    if name in BUILTIN_TIERS:
        want_order, want_action = BUILTIN_TIERS[name]
        need(action == want_action, f"must be {want_action} for the {name!r} tier", ("spec", "defaultAction"))
        need(order == want_order, f"must be {want_order:g} for the {name!r} tier", ("spec", "order"))
    return CalicoTier(name, None if order is None else float(order), action, res)


__all__ = [
    "ACTIONS",
    "BUILTIN_TIERS",
    "CalicoPolicy",
    "CalicoPort",
    "CalicoRule",
    "CalicoTier",
    "EntityRule",
    "entity_selector",
    "is_calico_kind",
    "parse_calico_policy",
    "parse_calico_tier",
    "policy_selector",
]
