"""Who counts as one party on the network, and which node ids a party may use (BEP 42).

A node id is a claim; the address a datagram came from is not. So every
per-peer limit (requests, probes, routing slots, reputation) is keyed by the
address: the IP and its network group (/24, IPv6 /48), as libtorrent does. A
node id must conform to its IP (BEP 42), so a host cannot choose where it sits
in the key space.

Loopback and private addresses are exempt by default, as in BEP 42: their
hosts cannot know their external address, and one machine may run many nodes
on 127.0.0.1 (the demo runs two dozen). For them each port counts as a host
and a network of its own, and any id is accepted. `enforce_node_ids_on_private`
applies the public rules to them too, so tests on 127.x.y.z can stand for
distinct hosts and /24s.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from functools import lru_cache

from ggen_desktop.core.address import address_group, canonical_ip
from ggen_desktop.core.node_id import exempt, id_conforms, make_node_id

log = logging.getLogger(__name__)


def peer_key(ip: str, port: int) -> str:
    """How a peer is named in the reputation book: its address, never its claimed node id."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def is_ip_literal(text: object) -> bool:
    """An IP address written out (contacts from answers must be: a host name would be resolved)."""
    return isinstance(text, str) and _parses_as_ip(text)


@lru_cache(maxsize=8192)
def _parses_as_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=8192)
def _address_keys(ip: str) -> tuple[str, str, bool]:
    """(canonical IP, network group, exempt) of an address: parsed once, since every datagram needs them."""
    return canonical_ip(ip), address_group(ip), exempt(ip)


@dataclass(frozen=True)
class AddressPolicy:
    """The party, group and id rules for peer addresses; `strict(ip)` says whether BEP 42 applies."""

    enforce_node_ids_on_private: bool = False

    def strict(self, ip: str) -> bool:
        """True when `ip` is held to the public rules: one party per IP, ids bound to it."""
        return self.enforce_node_ids_on_private or not _address_keys(ip)[2]

    def party(self, ip: str, port: int) -> str:
        """The unit of per-peer limits: the IP, or for an exempt address each port."""
        return _address_keys(ip)[0] if self.strict(ip) else peer_key(ip, port)

    def group(self, ip: str, port: int) -> str:
        """The network a party belongs to (its /24 or /48); an exempt address's port is its own network."""
        return _address_keys(ip)[1] if self.strict(ip) else peer_key(ip, port)

    def conforms(self, node_id: bytes, ip: str) -> bool:
        """Whether a peer at `ip` may use `node_id` as a routing contact."""
        return not self.strict(ip) or id_conforms(node_id, ip, enforce_on_private=True)

    def own_id(self, current: bytes | None, ip: str) -> bytes | None:
        """The id for our node listening on `ip`: `current` if it conforms, else a new conforming one.

        None (let the server choose) when there is no id yet and any id would do. A host name or an
        unspecified address (0.0.0.0) says nothing of how peers see us, so `current` is kept.
        """
        if not is_ip_literal(ip) or ipaddress.ip_address(ip).is_unspecified:
            return current
        if current is not None and self.conforms(current, ip):
            return current
        if current is None and not self.strict(ip):
            return None
        if current is not None:
            log.info("node id %s does not conform to %s (BEP 42); taking a new one", current.hex()[:12], ip)
        return make_node_id(ip)
