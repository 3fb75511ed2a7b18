"""Hostile input on the wire: every bad datagram is dropped and counted, and the node keeps answering."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import umsgpack
from kademlia.network import Server
from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.protocol import HANDOVER_SCAN_SLICE, MAX_ANSWER_BYTES, MAX_HANDOVER, MAX_HANDOVERS
from ggen_desktop.net.storage import MAX_PER_KEY, keyword_key, package_dht_key
from tests.helpers.packages import big_record, make_record
from tests.helpers.waiting import wait_until
from tests.net.conftest import FAST, Network

REQ, RESP = b"\x00", b"\x01"


class RawPeer:
    """A bare UDP socket that speaks the wire format by hand."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.id = os.urandom(20)

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        self.sock.sendto(data, to)

    def request(self, to: tuple[str, int], name: str, args: list[object]) -> bytes:
        msg_id = os.urandom(20)
        self.send(REQ + msg_id + umsgpack.packb([name, args]), to)
        return msg_id

    async def receive(self, timeout: float = 1.0) -> tuple[bytes, object]:
        data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.sock, 65535), timeout)
        return data[:21], umsgpack.unpackb(data[21:])

    async def call(self, to: tuple[str, int], name: str, args: list[object], timeout: float = 1.0) -> object:
        msg_id = self.request(to, name, args)
        header, payload = await self.receive(timeout)
        assert header == RESP + msg_id
        return payload


@pytest_asyncio.fixture
async def node() -> AsyncIterator[MarketplaceNode]:
    node = MarketplaceNode(query_config=FAST)
    await node.start()
    yield node
    await node.stop()


@pytest.fixture
def raw() -> RawPeer:
    peer = RawPeer()
    yield peer
    peer.sock.close()


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
    are checked, a malformed call gets an error marker, the record is verified, one server per name."""
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    malformed = await raw.call(node.address, "announce", [raw.id, b"short", 0, record.encoded])
    assert malformed == {"error": "malformed arguments"}
    assert await raw.call(node.address, "announce", [raw.id, os.urandom(16), 0, b"not a record"]) is False
    assert node.reputation.peers[raw.id.hex()].invalid_records == 1
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
    stats = node.reputation.peers[raw.id.hex()]
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
        spoofer.sock.close()


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
    stats = searcher.reputation.peers[liar.node_id_hex]
    assert stats.invalid_records == 2 and stats.is_avoided()
    assert searcher.reputation.score(liar.node_id_hex) < searcher.reputation.score(honest.node_id_hex)
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
        msg_id = raw.request(holder.address, "search", [raw.id, key, Query(tags=("widget",)).to_dict(), page])
        data = b""
        while data[:21] != RESP + msg_id:  # the holder may also hand records over to this new contact
            data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(raw.sock, 65535), 1)
        assert len(data) < MAX_ANSWER_BYTES
        page = umsgpack.unpackb(data[21:])["next"]
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
    router = node.protocol.router
    newcomers = [MarketplaceNode(query_config=FAST) for _ in range(MAX_HANDOVERS + 3)]
    try:
        for newcomer in newcomers:
            await newcomer.start()
        for newcomer in newcomers:
            for contact in node.protocol.known_nodes():
                router.remove_contact(contact)  # each one is then owed every record
            node.protocol.welcome_if_new(Node(newcomer.node_id, *newcomer.address))
        assert len(node.protocol._handovers) == MAX_HANDOVERS
        await asyncio.gather(*node.protocol._handovers)
        assert [len(n.storage) for n in newcomers] == [40] * MAX_HANDOVERS + [0] * 3
        assert node.transport_stats()["handovers_skipped"] == 3
    finally:
        for newcomer in newcomers:
            await newcomer.stop()


@pytest.mark.asyncio
async def test_scanning_many_keys_for_a_new_neighbour_lets_the_loop_run(node: MarketplaceNode, publisher) -> None:
    """The §2.5 scan over every stored key is off the caller's path and runs a slice per loop turn."""
    for i in range(2000):
        record = make_record(f"acme/many-{i}", "Tool", publisher)
        node.storage.put(package_dht_key(str(record.package.id)), record)
    newcomer = MarketplaceNode(query_config=FAST)
    await newcomer.start()
    scanned: list[bytes] = []
    owed = node.protocol._owed
    node.protocol._owed = lambda new, key, contacts: scanned.append(key) or owed(new, key, contacts)  # type: ignore[method-assign]
    try:
        node.protocol.welcome_if_new(Node(newcomer.node_id, *newcomer.address))
        assert scanned == []  # nothing scanned while the caller (an RPC handler) waits
        (handover,) = node.protocol._handovers
        await asyncio.sleep(0)
        assert len(scanned) == HANDOVER_SCAN_SLICE  # one slice, then the loop runs other work
        await asyncio.sleep(0)
        assert len(scanned) == 2 * HANDOVER_SCAN_SLICE
        await handover
        assert len(newcomer.storage) == MAX_HANDOVER  # owed every key (no closer contacts), capped
    finally:
        await newcomer.stop()
