"""Port sets: one tuple of inclusive ranges per protocol, in PROTOCOLS order (hashable, canonical)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

PROTOCOLS = ("TCP", "UDP", "SCTP")
Ranges = tuple[tuple[int, int], ...]
PortSet = tuple[Ranges, Ranges, Ranges]
FULL: Ranges = ((1, 65535),)
ALL_PORTS: PortSet = (FULL, FULL, FULL)
NO_PORTS: PortSet = ((), (), ())


def _merge(rs: Iterable[tuple[int, int]]) -> Ranges:
    out: list[list[int]] = []
    for lo, hi in sorted(rs):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def _inter(a: Ranges, b: Ranges) -> Ranges:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def ranges_minus(a: Ranges, b: Ranges) -> Ranges:
    """a \\ b, for sorted disjoint inclusive ranges."""
    out: list[tuple[int, int]] = []
    for lo, hi in a:
        for blo, bhi in b:
            if bhi < lo or blo > hi:
                continue
            if blo > lo:
                out.append((lo, blo - 1))
            lo = bhi + 1
            if lo > hi:
                break
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


@lru_cache(maxsize=1 << 16)
def ports_union(a: PortSet, b: PortSet) -> PortSet:
    """a ∪ b."""
    if a == NO_PORTS or b == ALL_PORTS:
        return b
    if b == NO_PORTS or a == ALL_PORTS:
        return a
    return (_merge(a[0] + b[0]), _merge(a[1] + b[1]), _merge(a[2] + b[2]))


@lru_cache(maxsize=1 << 16)
def ports_inter(a: PortSet, b: PortSet) -> PortSet:
    """a ∩ b."""
    if a == ALL_PORTS:
        return b
    if b == ALL_PORTS:
        return a
    return (_inter(a[0], b[0]), _inter(a[1], b[1]), _inter(a[2], b[2]))


def ports_minus(a: PortSet, b: PortSet) -> PortSet:
    """a \\ b."""
    return (ranges_minus(a[0], b[0]), ranges_minus(a[1], b[1]), ranges_minus(a[2], b[2]))


def port_set(proto: str, lo: int = 1, hi: int = 65535) -> PortSet:
    """The ports lo..hi of one protocol."""
    i = PROTOCOLS.index(proto)
    return tuple(((lo, hi),) if k == i else () for k in range(3))  # type: ignore[return-value]


def ports_contain(ps: PortSet, port: int, proto: str) -> bool:
    return any(lo <= port <= hi for lo, hi in ps[PROTOCOLS.index(proto)])


def ports_json(ps: PortSet) -> dict[str, list[str]]:
    """{"TCP": ["80", "8000-8080"], ...}; a whole protocol is ["1-65535"]."""
    return {
        p: [f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in r] for p, r in zip(PROTOCOLS, ps, strict=False) if r
    }


def format_ports(ps: PortSet) -> str:
    """ "all", "none" or e.g. "TCP/80,443 UDP/53" ("TCP/*" for every TCP port)."""
    if ps == ALL_PORTS:
        return "all"
    if ps == NO_PORTS:
        return "none"
    return " ".join(
        f"{p}/" + ("*" if r == FULL else ",".join(v))
        for (p, v), r in zip(ports_json(ps).items(), (x for x in ps if x), strict=False)
    )


def parse_port(text: str) -> tuple[int, str]:
    """ "80", "80/TCP", "53/udp" -> (80, "TCP"), (53, "UDP"). Raises ValueError."""
    num, _, proto = text.partition("/")
    proto = (proto or "TCP").upper()
    if proto not in PROTOCOLS or not num.isdigit() or not 1 <= int(num) <= 65535:
        raise ValueError(f"{text!r} is not PORT[/TCP|UDP|SCTP] with PORT in 1-65535")
    return int(num), proto
