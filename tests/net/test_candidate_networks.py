"""A lookup's view of its candidates' networks: one place per /24, and whose word a contact rests on."""

from __future__ import annotations

import os

from kademlia.node import Node

from ggen_desktop.net.address_policy import AddressPolicy
from ggen_desktop.net.candidate_networks import CandidateNetworks

STRICT = AddressPolicy(enforce_node_ids_on_private=True)


def node(ip: str) -> Node:
    return Node(os.urandom(20), ip, 4000)


def test_a_contact_named_by_one_network_alone_is_not_corroborated_until_a_second_network_names_it() -> None:
    networks = CandidateNetworks(STRICT)
    table, sybil, sybil_twin, honest = node("127.1.1.1"), node("127.66.3.1"), node("127.66.3.2"), node("127.2.2.1")
    invented = node("127.67.0.1")
    for known in (table, sybil, sybil_twin, honest):
        networks.add(known, None)
    assert networks.corroborated(table)  # it came from the routing table: it answered us before
    networks.add(invented, sybil)
    assert not networks.corroborated(invented)
    networks.named_again(invented, sybil_twin)  # the same /24 naming it again is the same word
    assert not networks.corroborated(invented)
    networks.named_again(invented, honest)
    assert networks.corroborated(invented)
    networks.clear()
    networks.add(invented, sybil)
    assert not networks.corroborated(invented)
