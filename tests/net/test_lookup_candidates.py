"""The lookup never gives up while usable candidates remain, and a slow peer is not a dead one."""

from __future__ import annotations

import time

import pytest
from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import QueryTrace
from ggen_desktop.net.address_policy import peer_key
from ggen_desktop.net.lookup import DISJOINT_PATHS, run_for, start_lookup
from ggen_desktop.net.storage import keyword_key
from tests.helpers.packages import make_record
from tests.helpers.waiting import wait_until
from tests.net.conftest import Network, forget_locally, slow_search


@pytest.mark.asyncio
async def test_avoided_nearest_candidates_leave_the_window_and_the_others_are_asked(network: Network, publisher) -> None:
    nodes = await network(12)
    searcher = nodes[-1]
    forget_locally(searcher)
    key = keyword_key("widget")
    target = Node(key)
    # contacts enter the routing table once they have answered a verifying ping
    await wait_until(lambda: len(searcher.protocol.known_nodes()) >= 9, "the searcher to know 9 contacts")
    candidates = sorted(searcher.protocol.known_nodes(), key=target.distance_to)
    fan_out = 3
    shunned = candidates[: 2 * fan_out]  # every one of the nearest few the lookup would choose among
    for contact in shunned[:fan_out]:
        searcher.set_peer_blocked(peer_key(contact.ip, contact.port), True)  # blocked by the user
    for contact in shunned[fan_out:]:
        searcher.reputation.record_invalid(peer_key(contact.ip, contact.port))  # avoided for sending invalid records
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    by_id = {n.node_id: n for n in nodes}
    for contact in candidates[2 * fan_out:]:
        by_id[contact.id].storage.put(key, record)  # the farther peers hold it

    trace = await searcher.search(Query(text="widget"), QueryConfig(default_timeout=3.0, fan_out=fan_out)).wait()
    assert list(trace.hits) == [record.identity]
    assert trace.peer_counts().asked >= 1
    assert not {c.id.hex() for c in shunned} & set(trace.peers)  # never asked


@pytest.mark.asyncio
async def test_a_peer_slower_than_usual_is_kept_and_its_late_answer_used(network: Network, publisher) -> None:
    nodes = await network(5)
    searcher, slow = nodes[-1], nodes[1]
    slow_id, slow_address = slow.node_id_hex, peer_key(*slow.address)
    await searcher.search(Query(text="warmup"), QueryConfig(default_timeout=3.0)).wait()
    usual = searcher.reputation.peers[slow_address]
    assert usual.avg_rtt_ms is not None and usual.avg_rtt_ms < 20  # it usually answers at once
    timeouts_before = usual.timeouts
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    forget_locally(searcher)
    slow.storage.put(keyword_key("widget"), record)  # only the slow peer holds it
    slow_search(slow, 0.15)

    trace = await searcher.search(Query(text="widget"), QueryConfig(default_timeout=3.0)).wait()
    assert list(trace.hits) == [record.identity]
    assert trace.hits[record.identity].sources == {slow_id}
    assert not trace.peers[slow_id].timed_out
    assert searcher.reputation.peers[slow_address].timeouts == timeouts_before
    assert slow_id in {n.id.hex() for n in searcher.protocol.known_nodes()}  # still a contact


@pytest.mark.asyncio
async def test_a_silent_peer_with_no_history_is_judged_against_this_lookups_round_trips(network: Network, publisher,
                                                                                      silent_peer: Node) -> None:
    """A never-measured peer that does not answer stops holding the lookup after a few of the round trips the
    other peers took (floor 50 ms), not after a fixed half second."""
    nodes = await network(4)
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    await nodes[0].publish(record)
    searcher = nodes[-1]
    searcher.protocol.router.add_contact(silent_peer)
    forget_locally(searcher)
    started = time.monotonic()
    trace = await searcher.search(Query(text="widget"), QueryConfig(default_timeout=3.0, fan_out=3)).wait()
    seconds = time.monotonic() - started
    assert list(trace.hits) == [record.identity]
    assert silent_peer.id.hex() in trace.peers and trace.peers[silent_peer.id.hex()].answered_at_ms is None
    assert seconds < 0.3
    assert not trace.peers[silent_peer.id.hex()].timed_out  # not a timeout: its own 3 s have not passed


@pytest.mark.asyncio
async def test_a_lookup_runs_on_disjoint_paths_and_ends_when_each_has_converged(network: Network, publisher) -> None:
    """S/Kademlia: contacts a peer names stay on that peer's path, so sybils that capture one path cannot
    steer the other, and the lookup is not over until every path's own closest peers have answered."""
    nodes = await network(16)
    searcher = nodes[-1]
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    await nodes[0].publish(record)
    forget_locally(searcher)
    await wait_until(lambda: len(searcher.protocol.known_nodes()) >= 8, "the searcher to know 8 contacts")
    found: list[SignedRecord] = []
    trace = QueryTrace(Query(text="widget"))
    lookup = start_lookup(searcher.protocol, keyword_key("widget"), trace, lambda _node, records: found.extend(records)
                          or False, QueryConfig(default_timeout=5.0), searcher.ksize, searcher.verified)
    await run_for(lookup, 5.0)
    assert record in found
    assert set(lookup.path_of) == set(lookup.candidates)  # every candidate on exactly one path
    assert set(lookup.path_of.values()) == set(range(DISJOINT_PATHS))
    for path in range(DISJOINT_PATHS):  # each path's own closest usable peers all answered
        on_path = sorted((n for n in lookup.candidates.values() if lookup.path_of[n.id] == path
                          and n.id not in lookup.failed and n.id not in lookup.abandoned),
                         key=Node(keyword_key("widget")).distance_to)
        assert on_path and all(n.id in lookup.answered for n in on_path[: -(-searcher.ksize // DISJOINT_PATHS)])


@pytest.mark.asyncio
async def test_the_closest_contacts_come_from_every_bucket(network: Network) -> None:
    """Was: kademlia's table traversal stopped when the buckets on one side ran out, so for keys in the last
    bucket a lookup or a store started from that bucket and one more (bmuller/kademlia#28)."""
    nodes = await network(16, ksize=2)  # tiny buckets: the table splits into several
    node = nodes[0]  # the first node hears from every later one
    await wait_until(lambda: len(node.protocol.router.buckets) > 2 and len(node.protocol.known_nodes()) >= 5,
                     "the node's table to split")
    known = node.protocol.known_nodes()
    for contact in known:  # keys next to each contact land in every bucket of the table
        target = Node(contact.id)
        nearest = node.protocol.router.find_neighbors(target, k=4)
        assert [n.id for n in nearest] == [n.id for n in sorted(
            (c for c in known if c.id != contact.id), key=target.distance_to)[:4]]
