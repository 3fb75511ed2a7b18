"""Peer addresses as the unit of trust: a node id is a claim, the address a datagram came from is not.

Every per-peer limit (rate, storage share, token) is keyed by the source IP or
by its network group: a /24 for IPv4, as libtorrent and BEP 42 treat one /24 as
one party, and a /48 for IPv6, because anyone can get a whole /48 for free from a
tunnel broker, so a /64 would hand one person 65,536 parties.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

IPAddress = IPv4Address | IPv6Address
IPV4_GROUP_PREFIX = 24
IPV6_GROUP_PREFIX = 48


def parse_ip(ip: str | IPAddress) -> IPAddress:
    """The address `ip` names; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 host it maps.

    Raises ValueError for anything that is not an IP address (a host name included).
    """
    if isinstance(ip, (IPv4Address, IPv6Address)):
        address: IPAddress = ip
    else:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError(f"not an IP address: {ip!r}") from None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def canonical_ip(ip: str | IPAddress) -> str:
    """One spelling per host, so '::ffff:127.0.0.1' and '127.0.0.1' share every limit."""
    return str(parse_ip(ip))


def address_group(ip: str | IPAddress) -> str:
    """The network an address belongs to for fairness: '203.0.113.0/24' or '2001:db8:1::/48'."""
    address = parse_ip(ip)
    prefix = IPV4_GROUP_PREFIX if isinstance(address, IPv4Address) else IPV6_GROUP_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
