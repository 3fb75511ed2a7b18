"""Reflection: what a node sends to an address that has not shown it receives there.

Before, a 76-byte `search` with a forged source brought 41,656 bytes to that
address (548x), and a forged 50-byte `ping` with a new id next to stored keys
brought 33 KB of hand-over stores (667x). A forged datagram is one whose source
never reads or answers: here it is sent from the victim's own socket, which
then only counts what arrives.
"""

from __future__ import annotations

import pytest
import umsgpack
from kademlia.node import Node

from ggen_desktop.core.node_id import make_node_id
from ggen_desktop.core.query import Query
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import keyword_key, package_dht_key
from tests.helpers.packages import big_record, make_record
from tests.net.attacks.conftest import Hosts, served, taken_in
from tests.net.raw_peer import REQ, RawPeer

pytestmark = pytest.mark.asyncio

WIDGETS = 64  # big records under one keyword: an unguarded search page is ~40 KB


async def holding_victim(hosts: Hosts, publisher: object) -> MarketplaceNode:
    """A node holding a full search page (~40 KB) and 20 contacts (a whole contact list is ~800 bytes)."""
    victim = await hosts.node()
    for n in range(20):
        ip = f"127.20.{n}.1"
        victim.protocol.router.add_contact(Node(make_node_id(ip), ip, 4000 + n))
    for i in range(WIDGETS):
        victim.storage.put(keyword_key("widget"), big_record(f"acme/w{i}", publisher))  # type: ignore[arg-type]
    victim.storage.put(package_dht_key("acme/cli"), make_record("acme/cli", "CLI", publisher))  # type: ignore[arg-type]
    return victim


def requests(sender_id: bytes, record: bytes) -> dict[str, list[object]]:
    """One request of each kind, as [name, args]."""
    query = Query(tags=("widget",)).to_dict()
    return {
        "ping (new id, hand-over)": ["ping", [sender_id]],
        "find_node": ["find_node", [sender_id, keyword_key("widget")]],
        "find_value": ["find_value", [sender_id, package_dht_key("acme/cli")]],
        "search": ["search", [sender_id, keyword_key("widget"), query, 0]],
        "store": ["store", [sender_id, package_dht_key("acme/tool"), record]],
        "stun": ["stun", []],  # its answer (the sender's address) is larger than the request
    }


def names_of_requests(datagrams: list[bytes]) -> list[str]:
    return [umsgpack.unpackb(d[21:])[0] for d in datagrams if d[:1] == REQ]


async def test_an_unverified_source_gets_at_most_three_times_its_datagram(hosts: Hosts, publisher) -> None:
    victim = await holding_victim(hosts, publisher)
    record = make_record("acme/tool", "Tool", publisher).encoded
    ratios = {}
    for n, (kind, (name, args)) in enumerate(requests(b"", record).items(), start=1):
        source = hosts.raw(f"127.66.0.{n}", answer_pings=False)  # a fresh address, never verified
        if args:
            args[0] = make_node_id(source.address[0])  # a conforming id: a candidate contact
        total = taken_in(victim) + 1
        source.request(victim.address, name, args)  # type: ignore[arg-type]
        await served(victim, total)
        got = source.drain()
        assert names_of_requests(got) in ([], ["ping"])  # at most the probe; never a hand-over store
        ratios[kind] = source.bytes_received / source.bytes_sent
    print("answer/request bytes for an unverified source:", {k: round(v, 2) for k, v in ratios.items()})
    assert max(ratios.values()) <= 3
    assert victim.transport_stats()["handover_records"] == 0


async def test_a_forged_source_receives_less_than_the_forger_sent(hosts: Hosts, publisher) -> None:
    victim = await holding_victim(hosts, publisher)
    target = hosts.raw("127.66.1.1", answer_pings=False)  # the reflection's victim: reads nothing, answers nothing
    record = make_record("acme/tool", "Tool", publisher).encoded
    per_kind = {}
    for kind, (name, args) in requests(b"", record).items():
        before_sent, before_received = target.bytes_sent, target.bytes_received
        total = taken_in(victim) + 40
        for rand in range(40):
            if args:
                args[0] = make_node_id(target.address[0], rand)  # a fresh, conforming id each time
            target.request(victim.address, name, args)  # type: ignore[arg-type]
        await served(victim, total)
        assert "store" not in names_of_requests(target.drain())  # no hand-over to a forged newcomer
        per_kind[kind] = (target.bytes_received - before_received) / (target.bytes_sent - before_sent)
    overall = target.bytes_received / target.bytes_sent
    print(f"forged source: {target.bytes_sent} bytes forged, {target.bytes_received} reflected ({overall:.2f}x);",
          {k: round(v, 2) for k, v in per_kind.items()})
    assert overall <= 1 and max(per_kind.values()) <= 1
    assert victim.transport_stats()["handover_records"] == 0


async def test_a_verified_peer_gets_whole_pages(hosts: Hosts, publisher) -> None:
    """The same search from a peer that answers the probe (or sends back its token) gets the full page."""
    victim = await holding_victim(hosts, publisher)
    peer: RawPeer = hosts.raw("127.66.2.1", node_id=make_node_id("127.66.2.1"))
    answer = await peer.call(victim.address, "search", [peer.id, keyword_key("widget"), Query(tags=("widget",)).to_dict(), 0])
    assert len(answer["records"]) > 8 and peer.last_answer_bytes > 30_000
    assert await peer.call(victim.address, "stun", []) == list(peer.address)  # and learns its address
