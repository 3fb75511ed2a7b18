"""The address rules on their own: parties, ids, verification, rate limits and the diverse routing table."""

from __future__ import annotations

import os

from kademlia.node import Node

from ggen_desktop.core.node_id import make_node_id
from ggen_desktop.net.address_policy import AddressPolicy, is_ip_literal, peer_key
from ggen_desktop.net.address_validation import AddressValidation, answer_budget
from ggen_desktop.net.request_limits import PROBE_INTERVAL_S, REQUEST_BURST, RequestLimits
from ggen_desktop.net.routing_table import MAX_PER_GROUP_IN_BUCKET, DiverseRoutingTable
from tests.helpers.clock import ManualClock

STRICT = AddressPolicy(enforce_node_ids_on_private=True)
LENIENT = AddressPolicy()


def test_parties_are_ips_and_networks_unless_an_exempt_address_is_trusted_per_port() -> None:
    assert STRICT.party("127.1.2.3", 4000) == STRICT.party("127.1.2.3", 5000) == "127.1.2.3"
    assert STRICT.group("127.1.2.3", 4000) == "127.1.2.0/24"
    assert LENIENT.party("127.1.2.3", 4000) == LENIENT.group("127.1.2.3", 4000) == "127.1.2.3:4000"
    assert LENIENT.party("203.0.113.9", 4000) == "203.0.113.9"  # a public address is always one party
    assert LENIENT.group("::ffff:203.0.113.9", 1) == "203.0.113.0/24"
    assert peer_key("2001:db8::1", 4000) == "[2001:db8::1]:4000"


def test_ids_must_conform_to_public_addresses_and_to_private_ones_when_enforced() -> None:
    own = make_node_id("127.5.5.5")
    assert STRICT.conforms(own, "127.5.5.5") and not STRICT.conforms(own, "127.5.6.5")
    assert LENIENT.conforms(os.urandom(20), "127.5.6.5")
    assert not LENIENT.conforms(b"\x00" * 20, "203.0.113.9")


def test_our_id_is_chosen_for_the_address_we_listen_on() -> None:
    chosen = STRICT.own_id(None, "127.7.7.7")
    assert chosen is not None and STRICT.conforms(chosen, "127.7.7.7")
    assert STRICT.own_id(chosen, "127.7.7.7") == chosen  # a conforming saved id is kept
    assert STRICT.own_id(chosen, "127.8.8.8") != chosen  # another address: a new id
    assert LENIENT.own_id(None, "127.0.0.1") is None  # any id will do: the server picks one
    saved = os.urandom(20)
    assert LENIENT.own_id(saved, "0.0.0.0") == saved and LENIENT.own_id(saved, "localhost") == saved
    assert is_ip_literal("127.0.0.1") and not is_ip_literal("localhost") and not is_ip_literal(7)


def test_an_address_is_verified_by_a_token_of_its_ip_for_a_while() -> None:
    clock = ManualClock(1000.0)
    validation = AddressValidation(STRICT, ttl=600, clock=clock)
    assert not validation.is_verified("127.1.1.1", 4000)
    token = validation.token_for("127.1.1.1")
    assert not validation.accept_token(token, "127.1.1.2", 4000)  # bound to the IP
    assert validation.accept_token(token, "127.1.1.1", 5000)  # not to the port
    assert validation.is_verified("127.1.1.1", 4000)
    clock.now += 601
    assert not validation.is_verified("127.1.1.1", 4000)
    assert answer_budget(100) == 100


def test_verified_addresses_are_bounded() -> None:
    validation = AddressValidation(STRICT, capacity=100)
    for i in range(1000):
        validation.mark_verified(f"10.0.{i // 256}.{i % 256}", 1)
    assert len(validation) == 100 and validation.is_verified("10.0.3.231", 1)


def test_requests_and_probes_are_limited_per_party() -> None:
    clock = ManualClock(1000.0)
    limits = RequestLimits(STRICT, clock=clock)
    allowed = sum(limits.allow_request("127.9.9.9", port) for port in range(int(REQUEST_BURST) + 50))
    assert allowed == REQUEST_BURST  # every port of one IP is one party
    assert limits.allow_request("127.9.10.9", 1)  # another network has its own buckets
    assert limits.allow_probe("127.9.9.9", 1) and not limits.allow_probe("127.9.9.9", 2)
    clock.now += PROBE_INTERVAL_S
    assert limits.allow_probe("127.9.9.9", 1)


def table(policy: AddressPolicy = STRICT, ksize: int = 20) -> DiverseRoutingTable:
    return DiverseRoutingTable(None, ksize, Node(make_node_id("127.1.0.1")), policy)


def test_one_contact_per_ip_and_two_per_network_in_a_bucket() -> None:
    router = table()
    first = Node(make_node_id("127.66.0.1", 0), "127.66.0.1", 4000)
    assert router.add_contact(first)
    assert not router.add_contact(Node(make_node_id("127.66.0.1", 1), "127.66.0.1", 4001))  # same IP
    admitted = [router.add_contact(Node(make_node_id(f"127.66.0.{h}"), f"127.66.0.{h}", 4000)) for h in range(2, 6)]
    assert admitted == [True] * (MAX_PER_GROUP_IN_BUCKET - 1) + [False] * (5 - MAX_PER_GROUP_IN_BUCKET)
    assert router.add_contact(Node(make_node_id("127.67.0.1"), "127.67.0.1", 4000))  # another /24
    assert not router.add_contact(Node(os.urandom(20), "127.68.0.1", 4000))  # a non-conforming id
    assert router.refused == 5


def test_an_address_that_answers_with_a_new_id_replaces_its_old_entry_but_an_id_keeps_its_address() -> None:
    router = table()
    old = Node(make_node_id("127.66.0.1", 0), "127.66.0.1", 4000)
    assert router.add_contact(old)
    renewed = Node(make_node_id("127.66.0.1", 1), "127.66.0.1", 4000)  # the same host restarted
    assert router.add_contact(renewed)
    assert router.contact_at("127.66.0.1", 4000) is renewed and not router.holds(old)
    thief = Node(renewed.id, "127.66.0.1", 4001)  # its id, from another port
    assert not router.add_contact(thief) and router.holds(renewed)
