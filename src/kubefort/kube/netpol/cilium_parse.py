"""Parsing of Cilium policies into the model of `kubefort.kube.netpol.cilium` (whose docstring
gives the semantics and the upstream sources): the CRD schema's and the agent's `Sanitize()`
validation, with the path of the offending field on every refusal.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kubefort.kube.netpol.cidr import cidr_range
from kubefort.kube.netpol.cilium import (
    AUTH_MODES,
    CCNP,
    CNP,
    DNS1123_SUB,
    ENTITIES,
    EXTENDED_PROTOCOLS,
    GROUP,
    L4_PROTOCOLS,
    MAX_PORTS,
    CiliumPeer,
    CiliumPolicy,
    CiliumPort,
    CiliumPortRule,
    CiliumRule,
    CiliumSpec,
    cilium_selector,
    peer_selector,
    selector_keys,
    subject_selector,
)
from kubefort.kube.netpol.model import PolicyError, checked_list, checked_map, need
from kubefort.kube.netpol.ports import (
    Ranges,
    ranges_minus,
)
from kubefort.kube.pods import type_name
from kubefort.model import Path_, Resource, format_path

_SVC_NAME = re.compile(r"^([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$")  # pkg/iana: IsSvcName
# the CRD's port pattern, unanchored between its alternatives exactly as written upstream
_CRD_PORT = re.compile(
    r"^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
    r"|([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$"
)
_FQDN_NAME = re.compile(r"^([-a-zA-Z0-9_]+[.]?)+$")
_FQDN_PATTERN = re.compile(r"^([-a-zA-Z0-9_*]+[.]?)+$")
# the CRD's pattern for an ICMP type (icmp.go): a number 0-255 or a message name
_ICMP_TYPE = re.compile(
    r"^([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]|EchoReply|DestinationUnreachable|Redirect|Echo|RouterAdvertisement"
    r"|RouterSelection|TimeExceeded|ParameterProblem|Timestamp|TimestampReply|Photuris|ExtendedEchoRequest|ExtendedEcho Reply"
    r"|PacketTooBig|EchoRequest|MulticastListenerQuery|MulticastListenerReport|MulticastListenerDone|RouterSolicitation"
    r"|NeighborSolicitation|NeighborAdvertisement|RedirectMessage|RouterRenumbering|ICMPNodeInformationQuery"
    r"|ICMPNodeInformationResponse|InverseNeighborDiscoverySolicitation|InverseNeighborDiscoveryAdvertisement"
    r"|HomeAgentAddressDiscoveryRequest|HomeAgentAddressDiscoveryReply|MobilePrefixSolicitation|MobilePrefixAdvertisement"
    r"|DuplicateAddressRequestCodeSuffix|DuplicateAddressConfirmationCodeSuffix)$"
)


# -- parsing -----------------------------------------------------------------------------------


def _str(v: Any, path: Path_) -> str:
    need(isinstance(v, str), f"is {type_name(v)}, expected a string", path)
    return str(v)


def _prefix(text: str, path: Path_) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """netip.ParsePrefix (host bits allowed, no zones) and the CRD's `format: cidr`."""
    need("/" in text and "%" not in text, f"is {text!r}, not a CIDR", path)
    addr, _, bits = text.partition("/")
    need(bits.isdigit() and (bits == "0" or not bits.startswith("0")), f"is {text!r}, not a CIDR", path)
    try:
        ipaddress.ip_address(addr)
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PolicyError(f"{format_path(path)} is {text!r}, not a CIDR", path) from None


def _cidr_peer(text: Any, path: Path_) -> CiliumPeer:
    s = _str(text, path)
    need(s != "", "is empty; IP must be specified", path)
    _prefix(s, path)
    return CiliumPeer("cidr", cidr=s, block=(cidr_range(s),), path=path)


def _cidr_set_peer(v: Any, path: Path_) -> CiliumPeer:
    m = checked_map(v, path)
    given = [k for k in ("cidr", "cidrGroupRef", "cidrGroupSelector") if m.get(k) not in (None, "")]
    need(len(given) == 1, "must set exactly one of cidr, cidrGroupRef, cidrGroupSelector", path)
    field = given[0]
    if field == "cidrGroupRef":
        ref = _str(m[field], path + (field,))
        need(len(ref) <= 253 and bool(DNS1123_SUB.match(ref)), "is not a DNS subdomain", path + (field,))
        return CiliumPeer("cidrGroup", name=ref, path=path)
    if field == "cidrGroupSelector":
        return CiliumPeer("cidrGroup", selector=cilium_selector(m[field], path + (field,)), path=path)
    text = _str(m["cidr"], path + ("cidr",))
    net = _prefix(text, path + ("cidr",))
    block: Ranges = (cidr_range(text),)
    excepts = []
    for i, ex in enumerate(checked_list(m.get("except"), path + ("except",))):
        ep = path + ("except", i)
        ex_s = _str(ex, ep)
        ex_net = _prefix(ex_s, ep)
        # CIDRRule.sanitize: same family, the allow prefix holds the except's address and is not longer
        need(
            ex_net.version == net.version
            and ex_net.prefixlen >= net.prefixlen
            and ipaddress.ip_address(ex_s.partition("/")[0]) in net,
            f"is not contained in {text}",
            ep,
        )
        excepts.append(ex_s)
        block = ranges_minus(block, (cidr_range(ex_s),))
    return CiliumPeer("cidr", cidr=text, excepts=tuple(excepts), block=block, path=path)


def _service_peer(v: Any, path: Path_) -> CiliumPeer:
    m = checked_map(v, path)
    if m.get("k8sServiceSelector") is not None:
        p = path + ("k8sServiceSelector",)
        s = checked_map(m["k8sServiceSelector"], p)
        need(s.get("selector") is not None, "needs selector", p)
        ns = _str(s.get("namespace") or "", p + ("namespace",))
        return CiliumPeer(
            "service", selector=cilium_selector(s["selector"], p + ("selector",)), namespace=ns, path=path
        )
    need(m.get("k8sService") is not None, "needs k8sService or k8sServiceSelector", path)
    p = path + ("k8sService",)
    s = checked_map(m["k8sService"], p)
    name = _str(s.get("serviceName") or "", p + ("serviceName",))
    return CiliumPeer("service", name=name, namespace=_str(s.get("namespace") or "", p + ("namespace",)), path=path)


def _fqdn_peer(v: Any, path: Path_) -> CiliumPeer:
    m = checked_map(v, path)
    given = [k for k in ("matchName", "matchPattern") if m.get(k) is not None]
    need(len(given) == 1, "must set exactly one of matchName, matchPattern", path)
    k = given[0]
    text = _str(m[k], path + (k,))
    pat = _FQDN_NAME if k == "matchName" else _FQDN_PATTERN
    need(len(text) <= 255 and bool(pat.match(text)), f"is {text!r}, not a DNS {k[5:].lower()}", path + (k,))
    return CiliumPeer(
        "fqdn", name=text if k == "matchName" else None, pattern=text if k == "matchPattern" else None, path=path
    )


def parse_port_text(text: str) -> tuple[int, str | None]:
    """PortProtocol.sanitize: an IANA service name (lower-cased) or Go's ParseUint(text, 0, 16):
    decimal, a leading 0 meaning octal, `_` between digits. Raises ValueError."""
    if 0 < len(text) <= 15 and _SVC_NAME.match(text):
        return 0, text.lower()
    digits = text
    if "__" in digits or digits.startswith("_") or digits.endswith("_"):
        raise ValueError(f"{text!r} is not a port")
    digits = digits.replace("_", "")
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"{text!r} is not a port")
    base = 8 if len(digits) > 1 and digits.startswith("0") else 10
    n = int(digits, base)
    if n > 65535:
        raise ValueError(f"{text!r} is above 65535")
    return n, None


def _port(v: Any, path: Path_, dns: bool) -> CiliumPort:
    m = checked_map(v, path)
    raw = m.get("port")
    text = _str(raw if raw is not None else "", path + ("port",))
    proto = _str(m.get("protocol") or "ANY", path + ("protocol",))
    need(proto in L4_PROTOCOLS, f"is {proto!r}; one of {', '.join(L4_PROTOCOLS)}", path + ("protocol",))
    end = m.get("endPort", 0) or 0
    need(
        isinstance(end, int) and not isinstance(end, bool) and 0 <= end <= 65535,
        "is not an integer 0-65535",
        path + ("endPort",),
    )
    # the agent's default enable-extended-ip-protocols: false, so a port is always needed
    need(text != "", "is empty; port must be specified", path + ("port",))
    need(bool(_CRD_PORT.match(text)), f"is {text!r}; a port number or name", path + ("port",))
    try:
        num, name = parse_port_text(text)
    except ValueError as exc:
        raise PolicyError(f"{format_path(path + ('port',))} unable to parse port: {exc}", path + ("port",)) from None
    if name is None:
        need(text == "0" or proto not in EXTENDED_PROTOCOLS, f"must be empty or 0 for {proto}", path + ("port",))
        need(not (dns and end > num), "sets a range; DNS rules do not support port ranges", path)
    return CiliumPort(num, int(end), name, proto)


def _l7(v: Any, path: Path_, ports: tuple[CiliumPort, ...], ingress: bool, host: bool) -> tuple[tuple[str, int], ...]:
    """L7Rules (v1.20: http or dns; the Kafka and generic l7proto rules were removed)."""
    m = checked_map(v, path)
    for gone in ("kafka", "l7proto", "l7"):
        need(
            m.get(gone) is None, "is not supported by Cilium 1.20 (removed); kubefort does not model it", path + (gone,)
        )
    found = [(k, len(checked_list(m[k], path + (k,)))) for k in ("http", "dns") if m.get(k) is not None]
    need(len(found) <= 1, "sets several L7 protocols in one rule", path)
    if not found or found[0][1] == 0:
        return ()
    kind = found[0][0]
    need(not (ingress and kind == "dns"), "has DNS rules; they are not allowed on ingress", path + (kind,))
    need(not (host and (ingress or kind == "http")), "has L7 rules a host policy does not support", path + (kind,))
    need(bool(ports) or kind != "dns", "needs ports (53) for DNS rules", path)
    need(all(p.name is not None or p.port != 0 for p in ports), "uses port 0 with L7 rules", path)
    if kind == "http":
        need(all(p.protocol == "TCP" for p in ports), "applies L7 rules to a protocol other than TCP", path)
    return tuple(found)


def _port_rule(v: Any, path: Path_, ingress: bool, deny: bool, host: bool) -> CiliumPortRule:
    m = checked_map(v, path)
    rules = m.get("rules") if not deny else None
    dns = isinstance(rules, dict) and bool(rules.get("dns"))
    ports = tuple(
        _port(x, path + ("ports", i), dns)
        for i, x in enumerate(checked_list(m.get("ports"), path + ("ports",), MAX_PORTS))
    )
    if deny:
        return CiliumPortRule(ports)
    names = tuple(
        _str(x, path + ("serverNames", i))
        for i, x in enumerate(checked_list(m.get("serverNames"), path + ("serverNames",)))
    )
    need(all(names), "holds an empty server name", path + ("serverNames",))
    l7 = _l7(rules, path + ("rules",), ports, ingress, host) if rules is not None else ()
    need(
        not (names and l7 and m.get("terminatingTLS") is None),
        "sets serverNames with L7 rules and no terminatingTLS",
        path,
    )
    listener = None
    if m.get("listener") is not None:
        lm = checked_map(m["listener"], path + ("listener",))
        listener = _str(lm.get("name") or "", path + ("listener", "name"))
        need(not ingress, "sets a listener on ingress", path + ("listener",))
        need(not l7, "sets a listener with L7 rules", path + ("listener",))
    return CiliumPortRule(ports, l7, names, listener)


def _icmp_rule(v: Any, path: Path_) -> CiliumPortRule:
    m = checked_map(v, path)
    fields = []
    for i, f in enumerate(checked_list(m.get("fields"), path + ("fields",), MAX_PORTS)):
        fp = path + ("fields", i)
        fm = checked_map(f, fp)
        family = fm.get("family") or "IPv4"
        need(family in ("IPv4", "IPv6"), f"has family {family!r}; IPv4 or IPv6", fp)
        t = fm.get("type")
        ok = (isinstance(t, int) and not isinstance(t, bool) and 0 <= t <= 255) or (
            isinstance(t, str) and bool(_ICMP_TYPE.match(t))
        )
        need(ok, f"has type {t!r}; 0-255 or an ICMP message name", fp)
        fields.append((str(family), str(t)))
    return CiliumPortRule(icmp=tuple(fields))


_PEER_FIELDS = {
    "ingress": ("fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromNodes", "fromGroups"),
    "egress": ("toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toServices", "toGroups", "toNodes", "toFQDNs"),
}


def _rule(
    v: Any, path: Path_, direction: str, deny: bool, index: int, namespace: str | None, subject_init: bool, host: bool
) -> CiliumRule:
    r = checked_map(v, path)
    ingress = direction == "ingress"
    fields = [f for f in _PEER_FIELDS[direction] if not (deny and f == "toFQDNs")]
    lists = {f: checked_list(r.get(f), path + (f,)) for f in fields}
    given = [f for f in fields if lists[f]]
    need(len(given) <= 1, f"combines {' and '.join(given)}; Cilium supports one kind of peer per rule", path)
    req = "fromRequires" if ingress else "toRequires"
    need(
        not checked_list(r.get(req), path + (req,)),
        "is set; it was removed in Cilium 1.19 (the CRD allows no items) and kubefort does not model it",
        path + (req,),
    )
    nodes = "fromNodes" if ingress else "toNodes"
    need(
        not lists[nodes],
        "needs the agent flag enable-node-selector-labels (off by default) and selects nodes kubefort does not model",
        path + (nodes,),
    )
    peers: list[CiliumPeer] = []
    for f in given:
        for j, x in enumerate(lists[f]):
            p = path + (f, j)
            if f in ("fromEndpoints", "toEndpoints"):
                sel = peer_selector(cilium_selector(x, p), namespace, subject_init)
                peers.append(CiliumPeer("endpoints", selector=sel, path=p))
            elif f in ("fromEntities", "toEntities"):
                need(x in ENTITIES, f"is {x!r}; one of {', '.join(ENTITIES)}", p)
                peers.append(CiliumPeer("entity", name=str(x), path=p))
            elif f in ("fromCIDR", "toCIDR"):
                peers.append(_cidr_peer(x, p))
            elif f in ("fromCIDRSet", "toCIDRSet"):
                peers.append(_cidr_set_peer(x, p))
            elif f == "toServices":
                peers.append(_service_peer(x, p))
            elif f == "toFQDNs":
                peers.append(_fqdn_peer(x, p))
            else:  # fromGroups / toGroups
                need(isinstance(x, dict), f"is {type_name(x)}, expected a mapping", p)
                peers.append(CiliumPeer("group", name=str(sorted(x)), path=p))
    # mergeEndpointSelectors: an L3 list given empty selects nothing
    empty_given = any(
        r.get(f) is not None and lists[f] == []
        for f in fields
        if "Services" not in f and "FQDN" not in f and "Groups" not in f
    )
    l3: tuple[CiliumPeer, ...] | None = () if empty_given else (tuple(peers) if peers else None)
    to_ports = checked_list(r.get("toPorts"), path + ("toPorts",))
    icmps = checked_list(r.get("icmps"), path + ("icmps",))
    need(not (icmps and to_ports), "sets icmps together with toPorts; use separate rules", path)
    ports = tuple(_port_rule(x, path + ("toPorts", i), ingress, deny, host) for i, x in enumerate(to_ports))
    ports += tuple(_icmp_rule(x, path + ("icmps", i)) for i, x in enumerate(icmps))
    auth = None
    if not deny and r.get("authentication") is not None:
        am = checked_map(r["authentication"], path + ("authentication",))
        auth = am.get("mode")
        need(auth in AUTH_MODES, f"has mode {auth!r}; one of {', '.join(AUTH_MODES)}", path + ("authentication",))
    return CiliumRule(direction, deny, index, l3, ports, auth, path)


def _bool_or_none(v: Any, path: Path_) -> bool | None:
    need(v is None or isinstance(v, bool), f"is {type_name(v)}, expected a boolean", path)
    return v if isinstance(v, bool) else None


def parse_spec(v: Any, path: Path_, kind: str, namespace: str | None) -> CiliumSpec:
    """One rule (`api.Rule`) as `Parse` reads it: Sanitize, then ParseToCiliumRule."""
    r = checked_map(v, path)
    need(isinstance(v, dict), "is not a mapping", path)
    sections = {f: checked_list(r.get(f), path + (f,)) for f in ("ingress", "ingressDeny", "egress", "egressDeny")}
    need(any(sections.values()), "must have at least one of ingress, ingressDeny, egress, egressDeny", path)
    es, ns_ = r.get("endpointSelector"), r.get("nodeSelector")
    need(es is not None or ns_ is not None, "must have one of endpointSelector or nodeSelector", path)
    need(es is None or ns_ is None, "cannot have both endpointSelector and nodeSelector", path)
    need(ns_ is None or kind == CCNP, "cannot have nodeSelector in a CiliumNetworkPolicy", path + ("nodeSelector",))
    host = ns_ is not None
    subject = node = None
    if host:
        node = cilium_selector(ns_, path + ("nodeSelector",))
    else:
        subject = subject_selector(cilium_selector(es, path + ("endpointSelector",)), namespace)
    subject_init = subject is not None and "reserved:init" in selector_keys(subject)
    dd = checked_map(r.get("enableDefaultDeny"), path + ("enableDefaultDeny",))
    dd_in = _bool_or_none(dd.get("ingress"), path + ("enableDefaultDeny", "ingress"))
    dd_eg = _bool_or_none(dd.get("egress"), path + ("enableDefaultDeny", "egress"))
    rules = {
        f: tuple(
            _rule(
                x,
                path + (f, i),
                f.removesuffix("Deny"),
                f.endswith("Deny"),
                i,
                namespace,
                subject_init,
                host,
            )
            for i, x in enumerate(items)
        )
        for f, items in sections.items()
    }
    desc = r.get("description") or ""
    need(isinstance(desc, str), "is not a string", path + ("description",))
    return CiliumSpec(
        None if path[-1] == "spec" else int(path[-1]),
        subject,
        node,
        rules["ingress"],
        rules["ingressDeny"],
        rules["egress"],
        rules["egressDeny"],
        True if dd_in is None else dd_in,
        True if dd_eg is None else dd_eg,
        desc,
        path,
    )


def parse_cilium_policy(res: Resource) -> CiliumPolicy:
    """A CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy. Raises PolicyError when the API
    server (the CRD schema) or the agent (Sanitize, Parse) would reject it."""
    kind = res.id.kind
    need(
        res.id.api_version == f"{GROUP}/v2",
        f"is {res.id.api_version!r}; kubefort reads {kind} in {GROUP}/v2",
        ("apiVersion",),
    )
    need(kind in (CNP, CCNP), f"is {kind!r}, not a Cilium network policy", ("kind",))
    need(bool(res.id.name), "must have a name", ("metadata", "name"))
    namespace = (res.id.namespace or "default") if kind == CNP else None
    spec, specs = res.obj.get("spec"), res.obj.get("specs")
    need(spec is not None or specs is not None, "and specs are both missing: empty policy", ("spec",))
    out: list[CiliumSpec] = []
    if spec is not None:
        need(isinstance(spec, dict), f"is {type_name(spec)}, expected a rule", ("spec",))
        out.append(parse_spec(spec, ("spec",), kind, namespace))
    for i, x in enumerate(checked_list(specs, ("specs",))):
        need(isinstance(x, dict), f"is {type_name(x)}, expected a rule", ("specs", i))
        out.append(parse_spec(x, ("specs", i), kind, namespace))
    return CiliumPolicy(kind, namespace, res.id.name, tuple(out), res)
