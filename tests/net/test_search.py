"""Progressive search on real networks: churn, plain kademlia peers, cancel and timeout isolation."""

from __future__ import annotations

import asyncio
import time

import pytest
from kademlia.network import Server
from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.search import THIS_NODE_SOURCE, QueryStatus, QueryTrace
from ggen_desktop.net.address_policy import peer_key
from ggen_desktop.net.errors import AmbiguousPublisher
from ggen_desktop.net.node import MarketplaceNode, NodeError
from ggen_desktop.net.storage import keyword_key, package_dht_key
from tests.helpers.packages import make_record
from tests.helpers.waiting import wait_until
from tests.net.conftest import FAST, Network, forget_locally, slow_search


async def search_afresh(searcher: MarketplaceNode, text: str, **config: object) -> tuple[QueryTrace, float]:
    """Search from a node that has forgotten what it knew: (trace, seconds taken)."""
    forget_locally(searcher)
    started = time.monotonic()
    trace = await searcher.search(Query(text=text), QueryConfig(**config)).wait()  # type: ignore[arg-type]
    return trace, time.monotonic() - started


@pytest.mark.asyncio
@pytest.mark.slow
async def test_every_match_is_found_after_a_fifth_of_32_nodes_stop(network: Network, publisher) -> None:
    nodes = await network(32, ksize=6)
    records = [make_record(f"acme/widget{i}", f"Widget number {i}", publisher, tags=("widget",)) for i in range(10)]
    for i, record in enumerate(records):
        await nodes[i].publish(record)
    searcher = nodes[-1]
    # Stop the nodes closest to the keyword first (they hold the records), then others: 6 of 32.
    target = Node(keyword_key("widget"))
    by_distance = sorted(nodes[:-1], key=lambda n: target.distance_to(Node(n.node_id)))
    doomed = by_distance[:3] + by_distance[-3:]
    for node in doomed:
        await node.stop()
    forget_locally(searcher)
    started = time.monotonic()
    trace = await searcher.search(Query(text="widget"), QueryConfig(default_timeout=5, max_results=50)).wait()
    assert trace.status is QueryStatus.FINISHED
    assert {h.record.identity for h in trace.hits.values()} == {r.identity for r in records}
    assert all(h.sources - {THIS_NODE_SOURCE} for h in trace.hits.values())
    assert time.monotonic() - started < 3
    dead = {n.node_id_hex for n in doomed}
    assert not any(trace.peers[p].answered_at_ms for p in dead if p in trace.peers)


@pytest.mark.asyncio
async def test_a_plain_kademlia_server_in_the_network_does_not_stall_searches(network: Network, publisher) -> None:
    nodes = await network(6)
    plain = Server()
    await plain.listen(0, "127.0.0.1")
    try:
        plain_address = plain.transport.get_extra_info("sockname")
        await plain.bootstrap([nodes[0].address])
        for node in nodes:  # make sure every one of ours has it as a contact
            await node.server.bootstrap_node(plain_address)
        record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
        report = await nodes[0].publish(record)
        assert report.replicas == 6  # the plain node stores bytes happily too
        # a list value from the plain node is refused, nothing crashes
        ok, stored = await plain.protocol.store(nodes[1].address, plain.node.id, keyword_key("widget"), [1, 2])
        assert ok and stored is False
        trace, seconds = await search_afresh(nodes[-1], "widget", default_timeout=5)
        assert trace.status is QueryStatus.FINISHED
        assert list(trace.hits) == [record.identity]
        assert seconds < 1.5  # never waits out the plain node's silence
    finally:
        plain.stop()


@pytest.mark.asyncio
async def test_a_silent_peer_loses_reputation_and_does_not_hold_the_search(network: Network, publisher,
                                                                          silent_peer: Node) -> None:
    nodes = await network(4)
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    await nodes[0].publish(record)
    searcher = nodes[-1]
    searcher.protocol.router.add_contact(silent_peer)
    silent = peer_key(silent_peer.ip, silent_peer.port)
    before = searcher.reputation.score(silent)
    trace, seconds = await search_afresh(searcher, "widget", default_timeout=1.0)
    assert list(trace.hits) == [record.identity]
    assert seconds < 0.9  # finished without waiting for the silent peer
    # its request times out after the 1 s per-request default
    await wait_until(lambda: silent in searcher.reputation.peers and searcher.reputation.peers[silent].timeouts >= 1,
                     "the silent peer's request to time out")
    stats = searcher.reputation.peers[silent]
    assert stats.timeouts >= 1 and stats.successes == 0
    assert searcher.reputation.score(silent) < before


@pytest.mark.asyncio
async def test_cancelled_query_yields_nothing_more_and_never_leaks(network: Network, publisher) -> None:
    nodes = await network(3)
    old = make_record("acme/old-widget", "Old widget", publisher, tags=("widget",))
    new = make_record("acme/gadget", "Gadget", publisher, tags=("gadget",))
    await nodes[0].publish(old)
    await nodes[0].publish(new)
    searcher = nodes[2]
    forget_locally(searcher)
    for node in nodes[:2]:
        slow_search(node, 0.3)
    first = searcher.search(Query(text="widget"))
    await asyncio.sleep(0.05)
    first.cancel()
    assert first.trace.status is QueryStatus.CANCELLED
    assert [e async for e in first] == []
    for node in nodes[:2]:
        node.protocol.rpc_search = type(node.protocol).rpc_search.__get__(node.protocol)  # type: ignore[method-assign]
    second = searcher.search(Query(text="gadget"))
    events = [e async for e in second]
    await wait_until(lambda: searcher.transport_stats()["dropped_unexpected"] >= 1,
                     "the slow answers to the cancelled query to arrive (and be dropped)")
    assert first.trace.hits == {}
    assert {e.hit.record.identity for e in events} == {new.identity}
    assert set((await second.wait()).hits) == {new.identity}
    snapshot = searcher.metrics.snapshot()
    assert (snapshot.total, snapshot.cancelled, snapshot.successful, snapshot.in_flight) == (2, 1, 1, 0)
    assert searcher.transport_stats()["dropped_unexpected"] >= 1


@pytest.mark.asyncio
async def test_timed_out_query_keeps_partial_results_and_ignores_late_answers(network: Network, publisher) -> None:
    nodes = await network(3)
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    await nodes[0].publish(record)
    searcher = nodes[2]
    forget_locally(searcher)
    slow_search(nodes[1], 0.6)
    slow_search(nodes[0], 0.6)
    handle = searcher.search(Query(text="widget"), QueryConfig(default_timeout=0.3, grace_period=0.2))
    trace = await handle.wait()
    assert trace.status is QueryStatus.TIMED_OUT
    assert trace.hits == {}
    assert handle.query_id in searcher.tracked_queries()
    await wait_until(lambda: handle.query_id not in searcher.tracked_queries(), "timeout + grace to pass")
    assert trace.hits == {}  # late answers were dropped, not merged
    assert searcher.metrics.timed_out == 1 and searcher.metrics.in_flight == 0


@pytest.mark.asyncio
async def test_early_exit_at_max_results_and_registry_operations(network: Network, publisher) -> None:
    nodes = await network(4)
    for version in ("1.0.0", "1.2.0", "1.10.0"):
        await nodes[0].publish(make_record("acme/widget", "Widget", publisher, version=version, tags=("widget",)))
    other = make_record("other/widget", "Widget", tags=("widget",))
    await nodes[1].publish(other)
    same_name_other_key = make_record("acme/widget", "Widget", version="9.0.0", tags=("widget",))
    await nodes[1].publish(same_name_other_key)
    searcher = nodes[3]
    forget_locally(searcher)
    trace = await searcher.search(Query(text="widget"), QueryConfig(default_timeout=3, max_results=2)).wait()
    assert trace.status is QueryStatus.FINISHED and trace.result_count == 2
    forget_locally(searcher)
    versions = await searcher.list_versions("acme/widget", publisher=make_fp(publisher))
    assert [str(r.package.version) for r in versions] == ["1.10.0", "1.2.0", "1.0.0"]
    assert str((await searcher.get_package("acme/widget", make_fp(publisher))).package.version) == "1.10.0"
    assert str((await searcher.get_package("acme/widget", version="1.2.0")).package.version) == "1.2.0"  # one key
    with pytest.raises(AmbiguousPublisher, match=r"acme/widget is published by 2 different keys"):
        await searcher.get_package("acme/widget")  # was: the other key's 9.0.0, "the newest from any publisher"
    with pytest.raises(AmbiguousPublisher):
        await searcher.metadata("acme/widget")
    assert (await searcher.get_package("acme/widget", same_name_other_key.fingerprint)) == same_name_other_key
    assert await searcher.exists("other/widget") and not await searcher.exists("nobody/nothing")
    assert nodes[0].delete("acme/widget", "1.0.0") == 1 and nodes[0].delete("acme/widget") == 2


def make_fp(key: object) -> str:
    from ggen_desktop.core.record import fingerprint, public_key_bytes

    return fingerprint(public_key_bytes(key))  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_announcements_reach_neighbours_verified(network: Network, publisher) -> None:
    nodes = await network(5)
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    await nodes[0].publish(record)
    await wait_until(lambda: any(record.identity in n.discovered for n in nodes[1:]), "the announcement to arrive")
    assert all(n.transport_stats()["announcements_received"] <= 1 for n in nodes)


@pytest.mark.asyncio
async def test_publish_with_every_neighbour_dead_is_a_clear_node_error(network: Network, publisher,
                                                                      silent_peer: Node) -> None:
    """kademlia's Server.set raises ValueError here (max() of no nodes); ours says what happened."""
    lone = (await network(1))[0]
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    with pytest.raises(NodeError, match="this node knows no peers"):
        await lone.publish(record)
    lone.protocol.router.add_contact(silent_peer)
    with pytest.raises(NodeError, match=r"no peer stored acme/widget 1\.0\.0 \(every neighbour failed to answer\)"):
        await lone.publish(record)
    assert [m.record for m in lone.my_packages()] == [record]  # kept, to be published again


@pytest.mark.asyncio
async def test_my_packages_are_republished_every_interval(network: Network, publisher) -> None:
    """§2.5: the original publisher stores its records again before they expire."""
    peers = await network(2)
    node = MarketplaceNode(query_config=FAST, republish_interval=0.3, republish_check=0.1)
    await node.start(0, [peers[0].address])
    try:
        record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
        first = (await node.publish(record)).replicas
        for peer in peers:
            forget_locally(peer)
        await wait_until(lambda: all(record in peer.storage.records(package_dht_key("acme/widget")) for peer in peers),
                         "the republish to store the record again")
        assert node.my_packages()[0].replicas == first == 2
        assert node.my_packages()[0].last_republished_at > node.my_packages()[0].published_at
    finally:
        await node.stop()


@pytest.mark.asyncio
async def test_a_node_finds_by_id_a_package_it_holds_only_as_a_replica(network: Network, publisher) -> None:
    """A replica stored here for the DHT is this node's answer for the package's key (the lookup never asks
    itself): `fetch` run inside the node that holds the only copy must find it."""
    _, holder = await network(2)
    record = make_record("acme/held", "Held", publisher)
    holder.storage.put(package_dht_key("acme/held"), record)
    assert holder.local_search(Query(text="acme/held")) == []  # not my package, not discovered
    assert await holder.get_package("acme/held") == record
