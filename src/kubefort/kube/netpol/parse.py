"""Reading NetworkPolicies and pod-bearing objects into the model (with the API server's validation)."""

from __future__ import annotations

import re
from typing import Any

from kubefort.kube.netpol.cidr import cidr_prefix, cidr_range
from kubefort.kube.netpol.model import DEFAULT_NAMESPACE, Peer, Policy, PolicyError, PortRule, Rule, Workload, need
from kubefort.kube.netpol.ports import PROTOCOLS, Ranges, ranges_minus
from kubefort.kube.pods import find_pods, type_name
from kubefort.kube.selectors import parse_selector
from kubefort.model import Path_, Resource, format_path

_SVC_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")


def str_map(v: Any, path: Path_) -> dict[str, str]:
    """A labels mapping (None: empty; a null value is "", as the API server decodes map[string]string);
    raises PolicyError unless every key and value is a string."""
    if v is None:
        return {}
    need(isinstance(v, dict), f"is {type_name(v)}, expected a mapping", path)
    for k, x in v.items():
        need(
            isinstance(k, str) and (x is None or isinstance(x, str)),
            f"has {k!r}: {x!r}; keys and values must be strings",
            path,
        )
    return {k: x or "" for k, x in v.items()}


def _parse_peer(v: Any, path: Path_) -> Peer:
    need(isinstance(v, dict), f"is {type_name(v)}, expected a peer", path)
    pod, ns, ipb = v.get("podSelector"), v.get("namespaceSelector"), v.get("ipBlock")
    if ipb is not None:
        need(pod is None and ns is None, "sets ipBlock together with a selector; the API server rejects it", path)
        p = path + ("ipBlock",)
        need(isinstance(ipb, dict) and isinstance(ipb.get("cidr"), str), "needs cidr", p)
        try:
            first, last = cidr_range(ipb["cidr"])
            block: Ranges = ((first, last),)
            version, plen = cidr_prefix(ipb["cidr"])
            excepts = ipb.get("except")  # null is absent; 0, "" or false are not a list
            excepts = [] if excepts is None else excepts
            need(isinstance(excepts, list), f"is {type_name(excepts)}, expected a list", p + ("except",))
            for i, ex in enumerate(excepts):
                need(isinstance(ex, str), "is not a string", p + ("except", i))
                lo, hi = cidr_range(ex)
                ev, elen = cidr_prefix(ex)
                # each except is judged against cidr alone, as ValidateIPBlock does (the network
                # contains the except's address and its prefix is longer), never against what
                # earlier excepts left: they may overlap, nest or come in any order
                need(
                    ev == version and first <= lo and hi <= last and elen > plen,
                    "must be a strict subset of cidr",
                    p + ("except", i),
                )
                block = ranges_minus(block, ((lo, hi),))
        except ValueError as exc:
            raise PolicyError(f"{format_path(p)}: {exc}", p) from None
        return Peer(cidr=ipb["cidr"], block=block, path=path)
    need(pod is not None or ns is not None, "is empty; a peer needs podSelector, namespaceSelector or ipBlock", path)
    return Peer(
        parse_selector(pod, path + ("podSelector",)) if pod is not None else None,
        parse_selector(ns, path + ("namespaceSelector",)) if ns is not None else None,
        path=path,
    )


def _parse_port(v: Any, path: Path_) -> PortRule:
    need(isinstance(v, dict), f"is {type_name(v)}, expected a port", path)
    proto = v.get("protocol", "TCP") or "TCP"
    need(proto in PROTOCOLS, f"has protocol {proto!r}; TCP, UDP or SCTP", path)
    port, end = v.get("port"), v.get("endPort")
    if isinstance(port, int) and not isinstance(port, bool):
        need(1 <= port <= 65535, f"has port {port}; 1-65535", path)
    elif port is not None:
        need(
            isinstance(port, str) and bool(_SVC_NAME.match(port)) and "--" not in port,
            f"has port {port!r}; a number or an IANA service name",
            path,
        )
    if end is not None:
        need(isinstance(end, int) and not isinstance(end, bool), "endPort is not an integer", path)
        need(isinstance(port, int), "sets endPort without a numeric port", path)
        need(port <= end <= 65535, f"has endPort {end} below port {port} or above 65535", path)
    return PortRule(proto, port, end)


def _parse_rules(spec: dict[str, Any], direction: str) -> tuple[Rule, ...]:
    raw = spec.get(direction)
    path: Path_ = ("spec", direction)
    if raw is None:
        return ()
    need(isinstance(raw, list), f"is {type_name(raw)}, expected a list", path)
    peer_key = "from" if direction == "ingress" else "to"
    out = []
    for i, r in enumerate(raw):
        r = r if r is not None else {}
        need(isinstance(r, dict), "is not a mapping", path + (i,))
        peers, ports = r.get(peer_key), r.get("ports")  # null is absent; 0, "" or false are not lists
        peers, ports = [] if peers is None else peers, [] if ports is None else ports
        need(isinstance(peers, list) and isinstance(ports, list), f"{peer_key} and ports must be lists", path + (i,))
        out.append(
            Rule(
                direction,
                i,
                tuple(_parse_peer(p, path + (i, peer_key, j)) for j, p in enumerate(peers)) or None,
                tuple(_parse_port(p, path + (i, "ports", j)) for j, p in enumerate(ports)) or None,
                path + (i,),
            )
        )
    return tuple(out)


def parse_policy(res: Resource) -> Policy:
    """A NetworkPolicy with the API server's defaults applied. Raises PolicyError when invalid."""
    spec = res.obj.get("spec")
    if not isinstance(spec, dict):
        raise PolicyError("spec is missing or not a mapping", ("spec",))
    types = spec.get("policyTypes")  # null is absent; 0, "" or false are not a list
    types = [] if types is None else types
    need(
        isinstance(types, list) and all(t in ("Ingress", "Egress") for t in types),
        "may hold only Ingress and Egress",
        ("spec", "policyTypes"),
    )
    egress = _parse_rules(spec, "egress")
    if not types:  # SetDefaults_NetworkPolicy
        types = ["Ingress"] + (["Egress"] if egress else [])
    return Policy(
        res.id.namespace or DEFAULT_NAMESPACE,
        res.id.name,
        parse_selector(spec.get("podSelector"), ("spec", "podSelector")),
        frozenset(types),
        _parse_rules(spec, "ingress"),
        egress,
        res,
    )


def workloads_of(res: Resource, extra_paths: Any = None) -> list[Workload]:
    """The workloads of one object: one per pod spec it carries (`name#i` when there are several)."""
    out = []
    pods = find_pods(res, extra_paths)
    for i, pod in enumerate(pods):
        meta = pod.meta.data if pod.meta is not None else {}
        labels = str_map(meta.get("labels"), (pod.meta.path if pod.meta is not None else ()) + ("labels",))
        ports = []
        for _j, c in enumerate(pod.spec.list("containers")):
            cports = c.get("ports") if isinstance(c, dict) else None
            for _k, p in enumerate(cports if isinstance(cports, list) else []):
                num, proto = (
                    (p.get("containerPort"), p.get("protocol") or "TCP") if isinstance(p, dict) else (None, None)
                )
                # a port that is not a number (a template placeholder in a CRD) can never match: ignored
                if (
                    isinstance(p.get("name") if isinstance(p, dict) else None, str)
                    and isinstance(num, int)
                    and proto in PROTOCOLS
                ):
                    ports.append((p["name"], proto, num))
        name = res.id.name if len(pods) == 1 else f"{res.id.name}#{i}"
        host = pod.spec.data.get("hostNetwork")
        need(
            host is None or isinstance(host, bool),
            f"is {type_name(host)}, expected a boolean",
            (*pod.spec.path, "hostNetwork"),
        )
        ns = res.id.namespace or DEFAULT_NAMESPACE
        out.append(Workload(ns, res.id.kind, name, labels, () if host else tuple(ports), res, host is True))
    return out
