"""Gossip from strangers: an `announce` is heard only from a routing contact, at its rate, within 3 hops.

Before, 20 `announce` datagrams made a victim's search for "rust" return 20
attacker records and ask no peer, also after a restart.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.node_id import make_node_id
from ggen_desktop.core.query import Query
from ggen_desktop.net.node import MarketplaceNode
from tests.helpers.packages import make_record
from tests.net.attacks.conftest import Hosts, served, taken_in, until
from tests.net.raw_peer import RawPeer

pytestmark = pytest.mark.asyncio


async def results(node: MarketplaceNode) -> set[tuple[str, str, str]]:
    trace = await node.search(Query(text="rust")).wait()
    return set(trace.hits)


async def flood(victim: MarketplaceNode, sender: RawPeer, count: int, records: list[bytes]) -> None:
    """`count` announcements, each with a fresh message id, then wait until the victim has dealt with them."""
    before = taken_in(victim)
    for start in range(0, count, 100):
        for i in range(start, min(start + 100, count)):
            sender.request(victim.address, "announce", [sender.id, os.urandom(16), 3, records[i % len(records)]])
        # The victim reads them before more are sent: a receive buffer overflow would hide the attack.
        await served(victim, before + min(start + 100, count))


async def test_announcements_from_non_contacts_change_no_search_result(hosts: Hosts, publisher) -> None:
    nodes = await hosts.network(3)
    await nodes[0].publish(make_record("honest/rust-cli", "Rust CLI", publisher, tags=("rust",)))
    victim = nodes[2]
    baseline = await results(victim)
    heard = victim.transport_stats()["announcements_received"]  # the honest publisher's own gossip
    attacker_key = Ed25519PrivateKey.generate()
    records = [make_record(f"evil/rust-{i}", "Rust", attacker_key, tags=("rust",)).encoded for i in range(20)]

    stranger = hosts.raw("127.66.5.1", node_id=make_node_id("127.66.5.1"), answer_pings=False)  # never answers
    await flood(victim, stranger, 20, records)
    after_twenty = await results(victim)

    impostor = hosts.raw("127.66.5.2", node_id=os.urandom(20))  # answers probes, but its id is not its address's
    serving = asyncio.ensure_future(impostor.serve_for(10))
    await flood(victim, impostor, 5000, records)
    serving.cancel()
    after_flood = await results(victim)
    stats = victim.transport_stats()
    print(f"gossip flood: {stats['announcements_refused']} announcements refused, {stats['dropped_rate_limited']} "
          f"dropped by the rate limit, {stats['announcements_received'] - heard} heard; results {len(baseline)} -> "
          f"{len(after_twenty)} -> {len(after_flood)}")
    assert after_twenty == after_flood == baseline
    assert stats["announcements_received"] == heard
    assert not [r for r in victim.discovered.records() if r.package.id.namespace == "evil"]
    assert stats["dropped_rate_limited"] > 0  # most of the 5,000 were not even decoded


async def test_a_contacts_gossip_is_heard_at_its_rate(hosts: Hosts, publisher) -> None:
    """A contact is heard, but only ANNOUNCE_BURST at once: a contact cannot fill the discovered list."""
    victim = await hosts.node()
    contact = hosts.raw("127.66.5.3", node_id=make_node_id("127.66.5.3"))
    assert await contact.call(victim.address, "ping", [contact.id]) == victim.node_id
    await until(lambda: victim.protocol.router.contact_at(*contact.address) is not None, what="the contact added")
    key = Ed25519PrivateKey.generate()
    heard = 0
    for i in range(40):
        record = make_record(f"chatty/rust-{i}", "Rust", key, tags=("rust",)).encoded
        heard += await contact.call(victim.address, "announce", [contact.id, os.urandom(16), 0, record]) is True
    print(f"gossip from a contact: {heard} of 40 announcements heard in a burst")
    assert 0 < heard <= 12 and len(victim.discovered.records()) == heard
