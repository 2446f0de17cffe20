"""Address sets: IPv4 as 0..2**32-1, IPv6 above V6 (so that one integer line holds both)."""

from __future__ import annotations

import ipaddress

V6 = 1 << 32


def cidr_range(text: str) -> tuple[int, int]:
    """First and last address of a CIDR (host bits allowed, as the API server's sloppy parser does)."""
    net = ipaddress.ip_network(text.strip(), strict=False)
    base = V6 if net.version == 6 else 0
    return base + int(net.network_address), base + int(net.broadcast_address)


def cidr_prefix(text: str) -> tuple[int, int]:
    """(IP version, prefix length) of a CIDR."""
    net = ipaddress.ip_network(text.strip(), strict=False)
    return net.version, net.prefixlen
