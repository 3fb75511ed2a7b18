"""No lock-step: finding the k closest nodes (join, store placement) streams past dead contacts.

kademlia's `NodeSpiderCrawl` waited for each round's slowest peer, so a round
that met a dead contact lasted its whole 2 s timeout, and it returned dead
nodes among "the closest" (stores then went to them). The streaming node
lookup keeps asking live peers while a dead one's request stalls, and returns
only nodes that answered.
"""

from __future__ import annotations

import hashlib
import time

import pytest
from kademlia.node import Node

from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.node_lookup import NodeLookup
from ggen_desktop.net.protocol import DEFAULT_RPC_TIMEOUT
from ggen_desktop.net.storage import record_keys
from tests.helpers.packages import make_record
from tests.helpers.waiting import wait_until
from tests.net.conftest import FAST, Network

pytestmark = pytest.mark.asyncio

FAST_ENOUGH_S = DEFAULT_RPC_TIMEOUT / 2  # the lock-step crawl waited at least one timeout per dead contact met


def closest(nodes: list[MarketplaceNode], key: bytes, count: int) -> list[MarketplaceNode]:
    target = Node(key)
    return sorted(nodes, key=lambda n: target.distance_to(Node(n.node_id)))[:count]


async def test_the_node_lookup_returns_only_nodes_that_answered_closest_first(network: Network, silent_peer) -> None:
    nodes = await network(10)
    asker, dead = nodes[0], nodes[7:]
    for node in dead:
        await node.stop()  # they stay in everyone's routing tables
    asker.protocol.router.add_contact(silent_peer)  # open socket, never answers
    assert {n.node_id for n in dead} <= {n.id for n in asker.protocol.known_nodes()}
    target = Node(hashlib.sha1(b"a key").digest())

    began = time.monotonic()
    found = await NodeLookup(asker.protocol, target, ksize=20, fan_out=3).run()
    took = time.monotonic() - began

    live = {n.node_id for n in nodes[1:7]}
    assert {n.id for n in found} == live  # every live node, and no dead or silent one
    assert [n.id for n in found] == sorted((n.id for n in found), key=lambda i: target.distance_to(Node(i)))
    assert took < FAST_ENOUGH_S, f"the lookup took {took:.2f} s: it waited for dead contacts"


async def test_a_publish_with_dead_closest_nodes_stores_on_every_live_closest_node_without_waiting_for_them(
        network: Network, publisher) -> None:
    nodes = await network(16)  # k = 20: every live node is among the closest to every key
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    keys = record_keys(record)
    dead = closest(nodes[1:], keys[0], 4)  # the package key's closest peers crash
    for node in dead:
        await node.stop()  # they stay in everyone's routing tables
    live = [n for n in nodes if n not in dead]
    author = live[0]

    began = time.monotonic()
    report = await author.publish(record)
    took = time.monotonic() - began

    for key in keys:
        missing = [n.node_id_hex[:8] for n in live if record not in n.storage.records(key)]
        assert not missing, f"live nodes without a copy under {key.hex()[:8]}: {missing}"
    assert all(k.asked == k.stored == len(live) - 1 for k in report.per_key)  # no store went to a dead node
    assert took < FAST_ENOUGH_S, f"the publish took {took:.2f} s: it waited for dead nodes"


async def test_a_join_with_dead_contacts_to_ask_finishes_without_waiting_for_their_timeouts(
        network: Network, silent_peer) -> None:
    nodes = await network(6)
    gone = nodes[4:]
    for node in gone:
        await node.stop()
    joiner = MarketplaceNode(query_config=FAST)
    try:
        began = time.monotonic()
        await joiner.start(0, [*(n.address for n in gone), (silent_peer.ip, silent_peer.port), nodes[1].address])
        took = time.monotonic() - began
        assert joiner.joined
        await wait_until(lambda: {n.node_id_hex for n in nodes[:4]} <= {c[0] for c in joiner.contacts()},
                         "the live nodes becoming contacts")
        assert took < FAST_ENOUGH_S, f"the join took {took:.2f} s: it waited for dead contacts"
    finally:
        await joiner.stop()


async def test_a_peer_that_never_heard_of_us_answers_a_find_node_with_a_full_contact_list(network: Network) -> None:
    """An unverified address gets no more bytes than it sent: a bare find_node (77 bytes) got one contact
    back, so every first hop of a lookup learned almost nothing. The request is padded instead."""
    nodes = await network(8)
    stranger = MarketplaceNode(query_config=FAST)
    try:
        await stranger.start(0, [])  # knows nobody, and nobody has verified its address
        peer = Node(nodes[0].node_id, *nodes[0].address)
        assert not nodes[0].protocol.validation.is_verified(*stranger.address)
        ok, contacts = await stranger.protocol.call_find_node(peer, Node(hashlib.sha1(b"a key").digest()))
        assert ok and len(contacts) == len(nodes) - 1  # all it knows but the stranger itself
    finally:
        await stranger.stop()
