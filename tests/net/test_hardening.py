"""Hostile input on the wire: every bad datagram is dropped and counted, and the node keeps answering."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import umsgpack
from kademlia.network import Server
from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.net.address_policy import peer_key
from ggen_desktop.net.handover import HANDOVER_SCAN_SLICE, MAX_HANDOVER, MAX_HANDOVERS
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.rpc_transport import MAX_ANSWER_BYTES
from ggen_desktop.net.storage import MAX_PER_KEY, keyword_key, package_dht_key
from tests.helpers.packages import big_record, make_record
from tests.helpers.waiting import wait_until
from tests.net.conftest import FAST, Network
from tests.net.raw_peer import REQ, RESP, RawPeer


@pytest_asyncio.fixture
async def node() -> AsyncIterator[MarketplaceNode]:
    node = MarketplaceNode(query_config=FAST)
    await node.start()
    yield node
    await node.stop()


@pytest.fixture
def raw() -> Iterator[RawPeer]:
    peer = RawPeer()
    yield peer
    peer.close()


async def until(predicate: object, seconds: float = 2.0) -> None:
    """Wait for a condition the node reaches on its own (an answered probe), or fail."""
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def become_contact(node: MarketplaceNode, peer: RawPeer) -> None:
    """Ping the node and answer its probe, as a real peer joining does."""
    assert await peer.call(node.address, "ping", [peer.id]) == node.node_id
    await until(lambda: node.protocol.router.holds(Node(peer.id, *peer.address)))


@pytest.mark.asyncio
async def test_malformed_and_oversized_datagrams_are_dropped_and_counted(node: MarketplaceNode, raw: RawPeer) -> None:
    to = node.address
    raw.send(b"\x00short", to)  # too short
    raw.send(b"\x07" + os.urandom(40), to)  # unknown kind
    raw.send(REQ + os.urandom(20) + b"\xc1\xc1", to)  # not msgpack
    raw.send(REQ + os.urandom(20) + umsgpack.packb({"not": "a list"}), to)  # wrong shape
    raw.send(REQ + os.urandom(20) + umsgpack.packb(["ping", [b"short id"]]), to)  # bad argument
    raw.send(REQ + os.urandom(20) + umsgpack.packb(["ping", [raw.id]]) + b"x" * 9000, to)  # over 8 KiB
    raw.request(to, "shutdown", [raw.id])  # no such RPC
    raw.request(to, "__init__", [])  # not an RPC either
    assert await raw.call(to, "ping", [raw.id]) == node.node_id  # still answering
    stats = node.transport_stats()
    assert stats["dropped_malformed"] == 5
    assert stats["dropped_oversized"] == 1
    assert stats["dropped_unknown_rpc"] == 2
    assert stats["handler_errors"] == 0


@pytest.mark.asyncio
async def test_our_rpcs_answer_an_error_marker_instead_of_silence(node: MarketplaceNode, raw: RawPeer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bad_query = await raw.call(node.address, "search", [raw.id, package_dht_key("a/b"), {"limit": "lots"}, 0])
    assert "error" in bad_query  # type: ignore[operator]

    def explode(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(node.storage, "search", explode)
    crashed = await raw.call(node.address, "search", [raw.id, package_dht_key("a/b"), {}, 0])
    assert crashed == {"error": "internal error"}
    assert node.transport_stats()["handler_errors"] == 1
    assert await raw.call(node.address, "ping", [raw.id]) == node.node_id


@pytest.mark.asyncio
async def test_the_announce_rpc_is_served_through_the_protocols_registry(node: MarketplaceNode, raw: RawPeer,
                                                                       publisher) -> None:
    """The announcer registers `announce` with the protocol (which imports nothing of it): its arguments
    are checked, a malformed call gets an error marker, the record is verified, one server per name.
    Only a routing contact is heard, and only with at most 3 hops."""
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    assert await raw.call(node.address, "announce", [raw.id, os.urandom(16), 0, record.encoded],
                          meet_challenge=False) is False  # not a contact yet
    assert node.transport_stats()["announcements_refused"] == 1
    await become_contact(node, raw)
    malformed = await raw.call(node.address, "announce", [raw.id, b"short", 0, record.encoded])
    assert malformed == {"error": "malformed arguments"}
    too_far = await raw.call(node.address, "announce", [raw.id, os.urandom(16), 4, record.encoded])
    assert too_far == {"error": "malformed arguments"}
    assert await raw.call(node.address, "announce", [raw.id, os.urandom(16), 0, b"not a record"]) is False
    assert node.reputation.peers[peer_key(*raw.address)].invalid_records == 1
    assert await raw.call(node.address, "announce", [raw.id, os.urandom(16), 0, record.encoded]) is True
    assert node.local_search(Query(text="widget")) == [record]
    assert node.transport_stats()["announcements_received"] == 1
    with pytest.raises(ValueError, match="'announce' is already served"):
        node.protocol.register_rpc("announce", (), lambda sender: None)


@pytest.mark.asyncio
async def test_forged_tampered_misfiled_and_list_values_are_refused(node: MarketplaceNode, raw: RawPeer,
                                                                   publisher) -> None:
    record = make_record("acme/cli", "CLI tool", publisher)
    key = package_dht_key("acme/cli")
    tampered = record.encoded.replace(b"CLI tool", b"CLI fool")
    forged = make_record("acme/cli", "CLI tool", publisher).encoded  # valid, but re-signed below
    forged = forged[: forged.index(b'"signature":"') + 13] + b"A" * 86 + forged[forged.index(b'"signature":"') + 99:]
    oversized = b"{" + b" " * 5000 + b"}"
    for value in ([1, 2, 3], "text", tampered, forged, oversized):
        assert await raw.call(node.address, "store", [raw.id, key, value]) is False
    assert await raw.call(node.address, "store", [raw.id, keyword_key("database"), record.encoded]) is False
    assert len(node.storage) == 0
    stats = node.reputation.peers[peer_key(*raw.address)]  # the address, not the id it claims
    assert stats.invalid_records == 6 and stats.is_avoided()
    assert await raw.call(node.address, "store", [raw.id, key, record.encoded]) is True
    assert node.storage.records(key) == [record]


@pytest.mark.asyncio
async def test_a_response_from_another_address_is_refused(node: MarketplaceNode, raw: RawPeer) -> None:
    spoofer = RawPeer()
    try:
        future = node.protocol.request(raw.address, "ping", [node.node_id], timeout=2.0)
        header, _ = await raw.receive()
        msg_id = header[1:]
        spoofer.send(RESP + msg_id + umsgpack.packb(b"S" * 20), node.address)
        await wait_until(lambda: node.transport_stats()["dropped_spoofed"] == 1, "the spoofed answer to be dropped")
        assert not future.done()
        raw.send(RESP + msg_id + umsgpack.packb(raw.id), node.address)
        assert await asyncio.wait_for(future, 1) == (True, raw.id)
        raw.send(RESP + msg_id + umsgpack.packb(raw.id), node.address)  # a replay
        await wait_until(lambda: node.transport_stats()["dropped_unexpected"] == 1, "the replay to be dropped")
    finally:
        spoofer.close()


@pytest.mark.asyncio
async def test_per_request_timeout_and_no_remote_call_by_typo(node: MarketplaceNode, raw: RawPeer) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await node.protocol.request(raw.address, "ping", [node.node_id], timeout=0.2) == (False, None)
    assert loop.time() - started < 0.5
    assert node.transport_stats()["timeouts"] == 1
    with pytest.raises(AttributeError):
        node.protocol.pnig  # noqa: B018  (rpcudp would have sent this to the network)
    with pytest.raises(ValueError, match="not an RPC"):
        node.protocol.request(raw.address, "pnig", [])


@pytest.mark.asyncio
async def test_a_lying_peer_loses_reputation_and_its_records_are_dropped(network: Network, publisher) -> None:
    honest, liar, searcher = await network(3)
    good = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    await honest.publish(good)
    fake = make_record("evil/widget", "Widget", publisher, tags=("widget",)).encoded.replace(b"Widget", b"Wodget", 1)

    def lie(sender: object, nodeid: bytes, key: bytes, query: dict, page: int) -> dict:
        return {"records": [fake, b"garbage"], "next": None, "nodes": []}

    liar.protocol.rpc_search = lie  # type: ignore[method-assign]
    searcher.storage.clear()
    searcher.discovered.clear()
    trace = await searcher.search(Query(text="widget")).wait()
    assert list(trace.hits) == [good.identity]
    stats = searcher.reputation.peers[peer_key(*liar.address)]
    assert stats.invalid_records == 2 and stats.is_avoided()
    assert searcher.reputation.score(peer_key(*liar.address)) < searcher.reputation.score(peer_key(*honest.address))
    assert trace.peers[liar.node_id_hex].error == "2 invalid records"


@pytest.mark.asyncio
async def test_a_plain_kademlia_node_is_refused_bad_values_and_can_use_find_value(node: MarketplaceNode,
                                                                                 publisher) -> None:
    record = make_record("acme/cli", "CLI tool", publisher)
    node.storage.add(package_dht_key("acme/cli"), record.encoded)
    plain = Server()
    await plain.listen(0, "127.0.0.1")
    try:
        await plain.bootstrap([node.address])
        for value in (42, b"x" * 6000, [1, 2], {"a": 1}):  # 6000 bytes: under rpcudp's 8 KiB, over the record cap
            assert await plain.protocol.store(node.address, plain.node.id, package_dht_key("acme/cli"), value) == (True, False)
        stats = node.transport_stats()
        assert stats["records_invalid"] == 4 and stats["handler_errors"] == 0
        # kademlia's own get digests the key it is given: "pkg:acme/cli" is our package key
        assert await plain.get("pkg:acme/cli") == record.encoded
        assert node.storage.records(package_dht_key("acme/cli")) == [record]
    finally:
        plain.stop()


@pytest.mark.asyncio
async def test_a_full_key_is_answered_in_bounded_pages_and_found_whole(network: Network, raw: RawPeer,
                                                                       publisher) -> None:
    holder, searcher = await network(2)
    key = keyword_key("widget")
    records = [big_record(f"acme/t{i}", publisher) for i in range(MAX_PER_KEY)]
    for record in records:
        holder.storage.put(key, record)
    page: int | None = 0
    pages = 0
    while page is not None:
        answer = await raw.call(holder.address, "search", [raw.id, key, Query(tags=("widget",)).to_dict(), page])
        assert raw.last_answer_bytes < MAX_ANSWER_BYTES
        page = answer["next"]
        pages += 1
    assert pages > 16  # more than the old per-peer page limit
    handle = searcher.search(Query(tags=("widget",), limit=500), QueryConfig(default_timeout=5, max_results=500))
    trace = await handle.wait()
    while trace.more:  # a full key holds more than one page of results: the same search reads on
        handle = handle.more()
        trace = await handle.wait()
    assert {h.record.identity for h in trace.hits.values()} == {r.identity for r in records}
    assert holder.transport_stats()["answers_too_large"] == 0


@pytest.mark.asyncio
async def test_hand_over_to_new_neighbours_is_paced_and_bounded(node: MarketplaceNode, publisher) -> None:
    """§2.5 hands a new close node the values it should hold; a wave of joins must not become a flood."""
    records = [make_record(f"acme/t{i}", "Tool", publisher) for i in range(40)]
    for record in records:
        node.storage.add(package_dht_key(str(record.package.id)), record.encoded)
    newcomers = [MarketplaceNode(query_config=FAST) for _ in range(MAX_HANDOVERS + 3)]
    try:
        contacts = []
        for newcomer in newcomers:
            await newcomer.start()
            contacts.append(Node(newcomer.node_id, *newcomer.address))
            assert node.protocol.router.add_contact(contacts[-1])  # already held: no second hand-over later
        # As if each had just joined a node with no other contacts: each is owed every record.
        tasks = [node.protocol.handover.start(contact, []) for contact in contacts]
        assert [task is not None for task in tasks] == [True] * MAX_HANDOVERS + [False] * 3
        await asyncio.gather(*(task for task in tasks if task is not None))
        assert [len(n.storage) for n in newcomers] == [40] * MAX_HANDOVERS + [0] * 3
        assert node.transport_stats()["handovers_skipped"] == 3
    finally:
        for newcomer in newcomers:
            await newcomer.stop()


@pytest.mark.asyncio
async def test_scanning_many_keys_for_a_new_neighbour_lets_the_loop_run(node: MarketplaceNode, publisher) -> None:
    """The §2.5 scan is off the caller's path, runs a slice per loop turn and tests at most MAX_HANDOVER
    keys (those the key index says can be owed, nearest to the newcomer first)."""
    for i in range(2000):
        record = make_record(f"acme/many-{i}", "Tool", publisher)
        node.storage.put(package_dht_key(str(record.package.id)), record)
    newcomer = MarketplaceNode(query_config=FAST)
    await newcomer.start()
    handover = node.protocol.handover
    scanned: list[bytes] = []
    owed = handover.owed
    handover.owed = lambda new, key, contacts: scanned.append(key) or owed(new, key, contacts)  # type: ignore[method-assign]
    try:
        contact = Node(newcomer.node_id, *newcomer.address)
        assert node.protocol.router.add_contact(contact)  # already held: its probe answer starts nothing
        task = handover.start(contact, [])
        assert task is not None and scanned == []  # nothing scanned while the caller (an RPC handler) waits
        await asyncio.sleep(0)
        assert len(scanned) == HANDOVER_SCAN_SLICE  # one slice, then the loop runs other work
        await asyncio.sleep(0)
        assert len(scanned) == 2 * HANDOVER_SCAN_SLICE
        await task
        assert len(scanned) == MAX_HANDOVER  # not the 2,000 stored keys
        assert len(newcomer.storage) == MAX_HANDOVER  # owed every key (no closer contacts), capped
    finally:
        await newcomer.stop()


@pytest.mark.asyncio
async def test_a_hand_over_goes_only_to_a_contact_newly_placed_in_the_routing_table(publisher) -> None:
    """kademlia's `is_new_node` stays true for a peer that only reached a bucket's replacement list, so
    kademlia handed it every owed record again on each of its requests. With k = 1 and our id in the
    lower half, a second upper-half peer only reaches the replacement list: it is owed nothing, however
    close to the key, and however often it asks."""
    record = next(make_record(f"acme/up-{i}", "Tool", publisher) for i in range(64)
                  if package_dht_key(f"acme/up-{i}")[0] >= 0x80)
    key = package_dht_key(str(record.package.id))
    node = MarketplaceNode(query_config=FAST, ksize=1, node_id=b"\x00" * 20)
    first = MarketplaceNode(query_config=FAST, node_id=b"\xff" * 20)
    second = MarketplaceNode(query_config=FAST, node_id=bytes([key[0]]) + key[1:19] + bytes([key[19] ^ 1]))
    await node.start()
    node.storage.put(key, record)
    try:
        await first.start(0, [node.address])
        await until(lambda: len(first.storage) == 1)  # the first upper-half contact was owed it
        await second.start(0, [node.address])
        for _ in range(3):
            assert await second.protocol.request(node.address, "ping", [second.node_id]) == (True, node.node_id)
        assert node.protocol.router.is_new_node(Node(second.node_id, *second.address))  # kademlia's view
        await until(lambda: (second.address, second.node_id) in node.protocol._confirmed.items())
        assert not node.protocol.handover.tasks
        assert node.transport_stats()["handover_records"] == 1  # to the first only (the second may get
        # it from the first, which has room for it)
    finally:
        for peer in (node, first, second):
            await peer.stop()


@pytest.mark.asyncio
async def test_a_costly_request_from_an_unverified_address_is_challenged_and_sent_again_once(
        node: MarketplaceNode, raw: RawPeer, publisher) -> None:
    """A search page or a store needs a verified address: the first answer is a token, which our protocol
    sends back at once with the same request, so its caller sees only the real answer."""
    key = keyword_key("widget")
    node.storage.put(key, make_record("acme/widget", "Widget", publisher, tags=("widget",)))
    asker = MarketplaceNode(query_config=FAST)
    await asker.start()  # no bootstrap: the node has never heard of it
    try:
        ok, answer = await asker.protocol.request(node.address, "search", [asker.node_id, key, Query().to_dict(), 0])
        assert ok and len(answer["records"]) == 1
        assert node.transport_stats()["challenges_sent"] == 1
    finally:
        await asker.stop()
    stranger = RawPeer(answer_pings=False)
    try:
        stranger.tokens[node.address] = os.urandom(16)  # a token the node never gave
        assert await stranger.call(node.address, "search", [stranger.id, key, Query().to_dict(), 0],
                                   meet_challenge=False) == {"token": node.protocol.validation.token_for("127.0.0.1")}
        assert node.transport_stats()["tokens_refused"] == 1
    finally:
        stranger.close()
