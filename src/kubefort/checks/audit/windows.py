"""Bounded state for the stateful KF-AUDIT checks (020..024): LRU maps, per-key clocks that never
run backwards, address sets, principal patterns.

Every structure here has a fixed upper bound on entries, so a check's `ctx.scratch` stays within a
known size whatever the log holds (a flood of distinct principals or addresses evicts the least
recently seen ones first).

Time in a window is the event's own `stageTimestamp`. Logs are read in order, but timestamps can
go backwards (several API servers writing one log, clock steps). A per-key clock keeps a key's
times non-decreasing: an event stamped before one already seen for the same key counts at that
later time, so a window is never negative and a late event never reopens a closed one.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

from kubefort.audit.event import AuditEvent
from kubefort.model import NotEvaluated

K = TypeVar("K")
V = TypeVar("V")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ADDRESS_CACHE = 4096  # source addresses whose verdict a NetSet remembers


class LRU(Generic[K, V]):
    """A mapping of at most `cap` entries; `put` and `get` make an entry the most recent, and the
    least recent is dropped when the cap is passed (`evicted` counts them)."""

    __slots__ = ("cap", "data", "evicted")

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("an LRU holds at least one entry")
        self.cap = cap
        self.data: OrderedDict[K, V] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def get(self, key: K) -> V | None:
        v = self.data.get(key)
        if v is not None:
            self.data.move_to_end(key)
        return v

    def put(self, key: K, value: V) -> None:
        data = self.data
        data[key] = value
        data.move_to_end(key)
        while len(data) > self.cap:
            data.popitem(last=False)
            self.evicted += 1


def event_time(ev: AuditEvent, check: str) -> float:
    """The event's stageTimestamp as Unix time; NotEvaluated when it has none a window can use."""
    t = ev.time
    if t is None:
        what = f"{ev.stage_timestamp!r} is not a timestamp" if ev.stage_timestamp else "is missing"
        raise NotEvaluated(f"stageTimestamp {what}: {check} places events in time windows")
    return t


def clamp(t: float, last: float | None) -> float:
    """The time a key's event counts at: its own, or the key's latest if it is stamped earlier."""
    return t if last is None or t > last else last


# -- addresses ------------------------------------------------------------------------------------
def parse_networks(option: str, cidrs: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs from an option (host bits allowed: `10.0.0.7/8` is 10.0.0.0/8); ValueError naming it."""
    out = []
    for c in cidrs:
        try:
            out.append(ipaddress.ip_network(c.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{option}: {c!r} is not a CIDR (for example 10.0.0.0/8 or fd00::/8)") from None
    return tuple(out)


def parse_address(text: str) -> IPAddress | None:
    """An address as the API server writes it in sourceIPs (None if it is not one). IPv4-mapped
    IPv6 addresses are their IPv4 address."""
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class NetSet:
    """Networks to test source addresses against, with a bounded cache of verdicts (the same
    few addresses repeat through a log). `loopback` also admits 127.0.0.0/8 and ::1."""

    __slots__ = ("cache", "loopback", "networks")

    def __init__(self, networks: tuple[Network, ...], loopback: bool = False) -> None:
        self.networks = networks
        self.loopback = loopback
        self.cache: dict[str, bool | None] = {}

    def __bool__(self) -> bool:
        return bool(self.networks)

    def admits(self, text: str) -> bool | None:
        """Whether the address is inside (None: not an address)."""
        cache = self.cache
        if text in cache:
            return cache[text]
        ip = parse_address(text)
        verdict = None if ip is None else (self.loopback and ip.is_loopback) or any(ip in n for n in self.networks)
        if len(cache) >= ADDRESS_CACHE:
            cache.clear()
        cache[text] = verdict
        return verdict

    def outside(self, ev: AuditEvent) -> list[str]:
        """The event's source addresses outside the networks; NotEvaluated when it records none
        or one that is not an address."""
        if not ev.source_ips:
            raise NotEvaluated("the event records no sourceIPs")
        out = []
        for i, text in enumerate(ev.source_ips):
            v = self.admits(text)
            if v is None:
                raise NotEvaluated(f"sourceIPs[{i}] {text!r} is not an IP address")
            if not v:
                out.append(text)
        return out


# -- principals -----------------------------------------------------------------------------------
def principal_groups(ev: AuditEvent) -> tuple[str, ...]:
    """The groups of the identity the request acted as (the impersonated one's when impersonating)."""
    return ev.impersonated_groups if ev.impersonated_user else ev.groups


class Principals:
    """User-name patterns (shell wildcards: `system:serviceaccount:vault:*`) and group names, as
    the options of the audit checks write them (the same form as `trusted_users`/`trusted_groups`)."""

    __slots__ = ("exact", "groups", "patterns")

    def __init__(self, users: Iterable[str] = (), groups: Iterable[str] = ()) -> None:
        users = tuple(users)
        self.exact = frozenset(u for u in users if not any(c in u for c in "*?["))
        self.patterns = tuple(u for u in users if u not in self.exact)
        self.groups = frozenset(groups)

    def __bool__(self) -> bool:
        return bool(self.exact or self.patterns or self.groups)

    def match(self, user: str, groups: Iterable[str]) -> bool:
        if user in self.exact or (self.patterns and any(fnmatch.fnmatchcase(user, p) for p in self.patterns)):
            return True
        return bool(self.groups) and not self.groups.isdisjoint(groups)


def positive(option: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{option}: {value} must be at least 1")
