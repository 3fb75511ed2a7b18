"""Node ids bound to addresses (BitTorrent BEP 42), so a host cannot pick where it sits in the DHT.

A conforming id's top 21 bits are the top 21 bits of
`crc32c((ip & mask) | (r << shift))`, where `r` is the low 3 bits of the id's
last byte: mask 0x030f3fff and shift 29 over the 4 bytes of an IPv4 address,
mask 0x0103070f1f3f7fff and shift 61 over the first 8 bytes of an IPv6 one. One
IPv4 address thus gets 8 id prefixes out of 2**21, and a /24 only a few more,
so a sybil cannot place ids next to a key it wants to capture. Local and
private addresses are exempt (their hosts cannot know their external address),
unless the caller enforces the rule for them too (tests on loopback do).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from ipaddress import IPv4Address

from crc32c import crc32c

from ggen_desktop.core.address import IPAddress, parse_ip

NODE_ID_BYTES = 20
PREFIX_BITS = 21
IPV4_MASK = 0x030F3FFF
IPV6_MASK = 0x0103070F1F3F7FFF
# BEP 42's exempt IPv4 ranges; for IPv6 the loopback, link-local and unique-local ranges.
EXEMPT_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8",
              "::1/128", "fe80::/10", "fc00::/7")
)


def exempt(ip: str | IPAddress) -> bool:
    """True for a local or private address, from which BEP 42 accepts any node id."""
    address = parse_ip(ip)
    return any(address in network for network in EXEMPT_NETWORKS)


def _prefix_crc(address: IPAddress, rand: int) -> int:
    r = rand & 0x7
    if isinstance(address, IPv4Address):
        masked = (int(address) & IPV4_MASK) | (r << 29)
        return crc32c(masked.to_bytes(4, "big"))
    masked = ((int(address) >> 64) & IPV6_MASK) | (r << 61)
    return crc32c(masked.to_bytes(8, "big"))


def make_node_id(ip: str | IPAddress, rand: int | None = None) -> bytes:
    """A random node id that conforms to BEP 42 for `ip`; `rand` (0-255) is its last byte."""
    if rand is None:
        rand = secrets.randbelow(256)
    if not 0 <= rand <= 0xFF:
        raise ValueError(f"rand must be a byte (0-255), got {rand}")
    crc = _prefix_crc(parse_ip(ip), rand)
    body = bytearray(os.urandom(NODE_ID_BYTES))
    body[0] = (crc >> 24) & 0xFF
    body[1] = (crc >> 16) & 0xFF
    body[2] = ((crc >> 8) & 0xF8) | (body[2] & 0x07)
    body[19] = rand
    return bytes(body)


def id_conforms(node_id: object, ip: str | IPAddress, enforce_on_private: bool = False) -> bool:
    """Whether a peer at `ip` may use `node_id` (anything a datagram carried; never raises for it).

    Exempt addresses pass unless `enforce_on_private` is set.
    """
    if not isinstance(node_id, bytes) or len(node_id) != NODE_ID_BYTES:
        return False
    address = parse_ip(ip)
    if not enforce_on_private and exempt(address):
        return True
    crc = _prefix_crc(address, node_id[19])
    return (node_id[0] == (crc >> 24) & 0xFF
            and node_id[1] == (crc >> 16) & 0xFF
            and (node_id[2] ^ (crc >> 8)) & 0xF8 == 0)
