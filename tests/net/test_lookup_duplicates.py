"""A lookup reads a set of records every replica holds once, and verifies the same record bytes once."""

from __future__ import annotations

import asyncio
import time

import pytest
from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.search import QueryTrace
from ggen_desktop.net.lookup import _Read, _Request, start_lookup
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.record_digests import set_digest
from ggen_desktop.net.stall_rule import MIN_STALL_S
from ggen_desktop.net.storage import keyword_key
from tests.helpers.packages import big_record
from tests.net.conftest import Network, forget_locally
from tests.net.test_hardening import RawPeer


@pytest.mark.asyncio
async def test_identical_replicas_are_read_once_and_records_verified_once(network: Network, publisher) -> None:
    nodes = await network(8)
    records = [big_record(f"acme/widget{i:02}", publisher) for i in range(30)]  # three pages of about ten
    for record in records:
        await nodes[0].publish(record)
    searcher = nodes[-1]
    forget_locally(searcher)
    config = QueryConfig(default_timeout=5.0, max_results=100, fan_out=3)

    trace = await searcher.search(Query(text="widget"), config).wait()
    assert set(trace.hits) == {r.identity for r in records}
    assert trace.answering_peers == 7  # every other node holds the same 30 records
    # Only the first pages of the peers asked before any answer came repeat each other (fan_out of them,
    # about ten records each), then one replica's further pages; every page of every replica would be 210.
    assert trace.received <= len(records) + (config.fan_out - 1) * 15
    assert trace.verified == len(records)

    forget_locally(searcher)
    again = await searcher.search(Query(text="widget"), config).wait()
    assert set(again.hits) == {r.identity for r in records}
    assert again.received >= len(records) and again.verified == 0  # the same bytes are not verified twice


@pytest.mark.asyncio
async def test_a_replica_names_its_set_and_sends_no_records_of_a_set_the_searcher_has(network: Network,
                                                                                      publisher) -> None:
    node = (await network(1))[0]
    key = keyword_key("widget")
    records = [big_record(f"acme/widget{i:02}", publisher) for i in range(12)]  # two pages
    for record in records:
        node.storage.put(key, record)
    raw = RawPeer()

    async def search(query: dict[str, object], page: int) -> object:
        """The node's answer, once this raw peer has met its address challenge with the token it gives (other
        datagrams, such as the node's own pings, are skipped)."""
        token: list[bytes] = []
        while True:
            msg_id = raw.request(node.address, "search", [raw.id, key, query, page, *token])
            while True:
                header, payload = await raw.receive()
                if header == b"\x01" + msg_id:
                    break
            if isinstance(payload, dict) and set(payload) == {"token"} and not token:
                token = [payload["token"]]
                continue
            return payload

    try:
        query = Query(text="widget").to_dict()
        first = await search(query, 0)
        assert isinstance(first, dict) and first["count"] == 12 and first["next"] and first["records"]
        assert first["set"] == set_digest(r.encoded for r in records)
        same = await search({**query, "have": [first["set"]]}, 0)
        assert isinstance(same, dict) and same["same"] is True and same["records"] == [] and same["next"] is None
        for junk in ("x", [1, 2], [b"short"]):  # what a peer cannot read is ignored, never an error
            answer = await search({**query, "have": junk}, 0)
            assert isinstance(answer, dict) and answer["records"] == first["records"]
        later = await search({**query, "have": [first["set"]]}, first["next"])
        assert isinstance(later, dict) and later["records"] and "set" not in later  # a later page is just a page
    finally:
        raw.sock.close()


@pytest.mark.asyncio
async def test_when_the_peer_reading_a_set_goes_silent_another_holder_of_the_set_is_read(network: Network,
                                                                                       publisher) -> None:
    nodes = await network(5)
    key = keyword_key("widget")
    records = [big_record(f"acme/widget{i:02}", publisher) for i in range(25)]  # three pages
    holders, searcher = nodes[:4], nodes[-1]
    for holder in holders:
        for record in records:
            holder.storage.put(key, record)
    silenced: list[str] = []

    def silent_after_first_page(node: MarketplaceNode) -> None:
        """The first peer asked for a later page of the set answers it never (it went away mid-read)."""
        original = node.protocol.rpc_search

        async def answer(sender: tuple[str, int], nodeid: bytes, key: bytes, query: dict[str, object],
                         page: int) -> object:
            if page > 0 and not silenced:
                silenced.append(node.node_id_hex)
                await asyncio.Event().wait()
            return original(sender, nodeid, key, query, page)

        node.protocol.rpc_search = answer  # type: ignore[method-assign,assignment]

    for holder in holders:
        silent_after_first_page(holder)
    forget_locally(searcher)
    trace = await searcher.search(Query(text="widget"), QueryConfig(default_timeout=5.0, max_results=100)).wait()
    assert len(silenced) == 1
    assert set(trace.hits) == {r.identity for r in records}
    assert trace.received <= 2 * len(records) + 3 * 10  # one set read about twice, never once per replica



@pytest.mark.asyncio
async def test_a_page_of_a_set_is_judged_by_the_clock_alone_not_by_smaller_answers_that_overtake_it(
        network: Network) -> None:
    """A page of records is slower to build and carry than the answers of peers that hold nothing; those
    overtaking it are no evidence that its holder went silent. Read as a stall, the set went to another
    holder and was read again from its first page: 4-5x the time through the GUI's real node path."""
    searcher = (await network(1))[0]
    lookup = start_lookup(searcher.protocol, keyword_key("widget"), QueryTrace(Query(text="widget")),
                          lambda _node, _records: False, QueryConfig(), searcher.ksize, searcher.verified)
    holder = Node(bytes(20), "127.0.0.2", 4000)
    sent = time.monotonic()
    page = _Request(_Read(holder, page=10, pages_read=1, set=bytes(32)), sent)
    first = _Request(_Read(holder), sent)
    lookup.stall.observe(0.001, sent_at=sent)  # a small answer, sent with them, came back in 1 ms
    assert lookup._stalls_at(first) < sent + 0.01  # RACK: a first request is passed once overtaken
    assert lookup._stalls_at(page) == sent + lookup.stall.stall_after(holder)  # a page waits for its clock
    assert lookup._stalls_at(page) >= sent + MIN_STALL_S

