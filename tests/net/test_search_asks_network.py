"""Every search asks the network: what this node already knows is shown first, marked, and never ends a search."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.search import THIS_NODE_SOURCE, QueryTrace
from ggen_desktop.net.search_handle import SearchHandle
from ggen_desktop.net.storage import keyword_key
from tests.helpers.packages import make_record
from tests.net.conftest import Network, forget_locally


async def all_pages(handle: SearchHandle, wanted: tuple[str, str, str]) -> QueryTrace:
    """Wait for a search, loading further pages while `wanted` is not among its results and more exist."""
    trace = await handle.wait()
    while wanted not in trace.hits and trace.more:
        handle = handle.more()
        trace = await handle.wait()
    return trace


def network_sources(trace: QueryTrace, identity: tuple[str, str, str], *peers: str) -> set[str]:
    """The sources of a hit that are answers of the given peers to this search."""
    return trace.hits[identity].sources & set(peers)


@pytest.mark.asyncio
async def test_a_repeated_search_asks_peers_and_finds_what_was_published_since(network: Network, publisher) -> None:
    nodes = await network(6)
    first = [make_record(f"acme/widget{i}", f"Widget {i}", publisher, tags=("widget",)) for i in range(3)]
    for record in first:
        await nodes[0].publish(record)
    searcher = nodes[-1]
    forget_locally(searcher)
    page = QueryConfig(default_timeout=3.0, max_results=3)
    trace = await searcher.search(Query(text="widget"), page).wait()
    assert set(trace.hits) == {r.identity for r in first}  # now known to the searcher (discovered)

    later = make_record("other/widget-late", "Late widget", tags=("widget",))
    await nodes[1].publish(later)
    searcher.storage._data.clear()  # the replica the publish left here is not what this test is about

    handle = searcher.search(Query(text="widget"), page)
    assert (await handle.wait()).peer_counts().asked >= 1  # though what it knows fills the page
    trace = await all_pages(handle, later.identity)
    assert later.identity in trace.hits
    peers = [n.node_id_hex for n in nodes[:-1]]
    assert network_sources(trace, later.identity, *peers)  # a peer's answer, not only gossip


@pytest.mark.asyncio
async def test_twenty_gossiped_records_do_not_end_a_search(network: Network, publisher) -> None:
    nodes = await network(5)
    honest = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    await nodes[0].publish(honest)
    searcher, gossiper = nodes[-1], nodes[1]
    forget_locally(searcher)
    spammer = Ed25519PrivateKey.generate()
    gossip = [make_record(f"spam/widget{i}", f"Widget {i}", spammer, tags=("widget",)) for i in range(20)]
    accepted_gossip = []
    for record in gossip:  # announced straight to the searcher, stored nowhere on the DHT
        ok, accepted = await gossiper.protocol.request(
            searcher.address, "announce", [gossiper.node_id, os.urandom(16), 0, record.encoded])
        assert ok
        if accepted is True:  # a burst from one contact is rate-limited: the rest are refused
            accepted_gossip.append(record)
    assert len(accepted_gossip) >= 5
    gossip = accepted_gossip

    # a page exactly as large as what the gossip told this node: still the network is asked
    handle = searcher.search(Query(text="widget"), QueryConfig(default_timeout=3.0, max_results=len(gossip)))
    trace = await handle.wait()
    assert trace.peer_counts().asked >= 1
    assert honest.identity in trace.hits
    assert network_sources(trace, honest.identity, *(n.node_id_hex for n in nodes[:-1]))
    while trace.more:  # known records are shown a page at a time too
        handle = handle.more()
        trace = await handle.wait()
    for record in gossip:  # shown, but as what the gossiper told this node: never as local, never as an answer
        sources = trace.hits[record.identity].sources
        assert len(sources) == 1 and THIS_NODE_SOURCE not in sources
        assert gossiper.node_id_hex in next(iter(sources)) and gossiper.node_id_hex not in sources


@pytest.mark.asyncio
async def test_this_nodes_own_replicas_are_its_answer_and_the_network_is_still_asked(network: Network,
                                                                                    publisher) -> None:
    nodes = await network(3)
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    await nodes[0].publish(record)  # k = 20: every node holds a replica, the searcher too
    searcher = nodes[-1]
    deadline = time.monotonic() + 5
    while record.identity not in searcher.discovered and time.monotonic() < deadline:
        await asyncio.sleep(0.01)  # the publisher's announcement arrives
    searcher.discovered.clear()  # held only as a replica for the network, not known to this node
    assert searcher.storage.records(keyword_key("widget")) == [record]

    trace = await searcher.search(Query(text="widget"), QueryConfig(default_timeout=3.0, max_results=1)).wait()
    assert trace.peer_counts().asked >= 1  # its replica filled the page, yet the network was asked
    hit = trace.hits[record.identity]
    assert searcher.node_id_hex in hit.sources and not hit.is_known  # this node's answer, not local knowledge
    assert " and this node's replicas in " in trace.summary()
