"""What a publish and a join wait for: live peers' answers, not a slow or dead closer peer's stall, nor a timeout.

On the simulated internet (tests/bench/bench_internet.py) a publish waited for
its whole node lookup before the first store went out, so a dead peer among
the closest (held until it stalls) delayed every copy; a store whose datagram
was lost was sent again only after its timeout (4x the peer's round trip); and
a join returned only when every node of its own-id lookup's window had
answered or stalled. Here a peer that never answers but is measured as slow
(300 ms: it stalls after 600 ms) stands for such a dead peer, on loopback.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest
import umsgpack
from kademlia.node import Node

from ggen_desktop.core.query import Query
from ggen_desktop.net.address_policy import peer_key
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.node_lookup import NodeLookup
from ggen_desktop.net.storage import package_dht_key, record_keys
from tests.helpers.packages import make_record
from tests.helpers.waiting import wait_until
from tests.net.conftest import FAST, Network

pytestmark = pytest.mark.asyncio

SLOW_RTT_MS = 300.0  # the never-answering peer's measured round trip: its requests stall after 2x that
SOONER_S = 0.3  # well before that stall


def next_to(node_id: bytes) -> bytes:
    """An id that differs from `node_id` in its last bit only: closer to it than any other node."""
    return node_id[:-1] + bytes([node_id[-1] ^ 1])


def measured_slow(node: MarketplaceNode, peer: Node) -> None:
    """`node` has seen `peer` answer in SLOW_RTT_MS before (so its requests to it stall only after twice that)."""
    node.reputation.record_success(peer_key(peer.ip, peer.port), SLOW_RTT_MS, host=peer.ip, port=peer.port)


async def test_holders_get_their_copy_while_a_slow_closer_peer_has_not_stalled_yet(
        network: Network, publisher, silent_peer: Node) -> None:
    nodes = await network(8)
    author, holders = nodes[0], nodes[1:]
    record = make_record("acme/early", "Early", publisher, tags=("early",))
    key = package_dht_key("acme/early")
    slow = Node(next_to(key), silent_peer.ip, silent_peer.port)  # the closest node to the key: never answers
    assert author.protocol.router.add_contact(slow)
    measured_slow(author, slow)
    loop = asyncio.get_running_loop()
    arrived: list[float] = []
    for holder in holders:
        original = holder.storage.add

        def add(k: bytes, value: object, sender: str = "", original=original) -> object:  # type: ignore[no-untyped-def]
            if k == key:
                arrived.append(loop.time())
            return original(k, value, sender) if sender else original(k, value)

        holder.storage.add = add  # type: ignore[method-assign]

    began = loop.time()
    report = await author.publish(record)

    assert report.per_key[0].stored == len(holders)  # every live holder of the package key has it
    assert all(record in h.storage.records(k) for h in holders for k in record_keys(record))
    first = min(arrived) - began
    assert first < SOONER_S, f"the first copy arrived after {first:.2f} s: the stores waited for the slow peer to stall"


async def test_a_store_whose_datagram_is_lost_is_sent_again_when_it_stalls_not_after_its_timeout(
        network: Network, publisher) -> None:
    author, holder = await network(2)
    record = make_record("acme/lossy", "Lossy", publisher, tags=("lossy",))
    loop = asyncio.get_running_loop()
    stores: list[tuple[float, bytes]] = []  # (arrival, key) of every store datagram reaching the holder
    receive = holder.protocol.datagram_received

    def lossy(data: bytes, addr: tuple[str, int]) -> None:
        """The first store datagram is lost on the way; the rest arrive."""
        if data[:1] == b"\x00" and addr == author.address:
            name, args = umsgpack.unpackb(data[21:])
            if name == "store":
                stores.append((loop.time(), args[1]))
                if len(stores) == 1:
                    return
        receive(data, addr)

    holder.protocol.datagram_received = lossy  # type: ignore[method-assign]
    report = await author.publish(record)

    assert all(k.stored == 1 for k in report.per_key)
    lost_at, lost_key = stores[0]
    again = next(at for at, key in stores[1:] if key == lost_key)
    timeout = author.protocol.timeout_for(Node(holder.node_id, *holder.address))
    assert again - lost_at < timeout * 0.8, (
        f"the lost store was sent again after {again - lost_at:.2f} s, its timeout being {timeout:.2f} s")


async def test_a_join_returns_once_the_k_closest_answered_and_a_search_right_after_it_works(
        network: Network, publisher, silent_peer: Node) -> None:
    nodes = await network(10, ksize=4)
    record = make_record("acme/after", "After", publisher, tags=("afterjoin",))
    await nodes[1].publish(record)
    joiner_id = hashlib.sha1(b"the joiner").digest()
    slow = Node(next_to(joiner_id), silent_peer.ip, silent_peer.port)  # the closest node to the joiner: never answers
    assert nodes[0].protocol.router.add_contact(slow)  # the bootstrap peer names it first
    joiner = MarketplaceNode(query_config=FAST, ksize=4, node_id=joiner_id)
    measured_slow(joiner, slow)
    loop = asyncio.get_running_loop()
    try:
        began = loop.time()
        await joiner.start(0, [nodes[0].address])
        took = loop.time() - began
        assert joiner.joined
        assert took < SOONER_S, f"the join took {took:.2f} s: it waited for the slow peer to stall"
        refining = joiner.server.refining
        assert refining is not None and not refining.done()  # the own-id lookup goes on in the background

        trace = await joiner.search(Query(text="afterjoin")).wait()

        assert record.identity in trace.hits
        found = await refining
        assert len(found) == 4 and slow.id not in {n.id for n in found}
    finally:
        await joiner.stop()


async def test_a_lookup_is_ready_before_its_end_when_only_a_slow_closer_peer_is_still_out(
        network: Network, silent_peer: Node) -> None:
    nodes = await network(10, ksize=4)
    asker = nodes[0]
    target = Node(hashlib.sha1(b"a key").digest())
    slow = Node(next_to(target.id), silent_peer.ip, silent_peer.port)
    assert asker.protocol.router.add_contact(slow)
    measured_slow(asker, slow)
    lookup = NodeLookup(asker.protocol, target, ksize=4, fan_out=3)
    loop = asyncio.get_running_loop()
    run = asyncio.ensure_future(lookup.run())
    began = loop.time()
    await lookup.ready.wait()
    ready_after = loop.time() - began
    assert not run.done() and len(lookup.answered) >= 4
    found = await run
    assert ready_after < SOONER_S <= loop.time() - began
    assert [n.id for n in found] == [n.id for n in sorted(found, key=target.distance_to)] and slow not in found


async def test_dead_candidates_hold_a_fan_out_slot_for_twice_the_median_round_trip_not_until_they_stall(
        network: Network, silent_peer: Node) -> None:
    """Three never-answering candidates closest to the target (fewer than the bound of 2x fan_out requests
    out), two in flight: the live nodes behind them were asked only once the first pair stalled (600 ms)."""
    nodes = await network(10)
    asker = nodes[0]
    target = Node(hashlib.sha1(b"past the dead").digest())
    dead = [Node(target.id[:-1] + bytes([target.id[-1] ^ bit]), silent_peer.ip, silent_peer.port) for bit in (1, 2, 4)]
    measured_slow(asker, dead[0])  # one address for all three
    live = [Node(n.node_id, *n.address) for n in nodes[1:]]
    assert all(ok for ok, _ in await asyncio.gather(*(asker.protocol.call_ping(n) for n in live)))  # measured: ~1 ms
    lookup = NodeLookup(asker.protocol, target, ksize=4, fan_out=2, seeds=[*dead, *live])
    loop = asyncio.get_running_loop()
    run = asyncio.ensure_future(lookup.run())
    began = loop.time()
    await lookup.ready.wait()
    ready_after = loop.time() - began
    found = await run
    assert ready_after < SOONER_S, f"ready after {ready_after:.2f} s: the dead candidates held the slots until they stalled"
    assert {n.id for n in found} <= {n.id for n in live} and len(found) == 4


async def test_a_join_asks_its_bootstrap_peer_for_our_closest_nodes_together_with_the_ping(network: Network) -> None:
    """The bootstrap peer is far away (every datagram to it takes 100 ms): its find_node used to be sent
    only once the ping had come back, a whole round trip later."""
    nodes = await network(5)
    far = nodes[0]
    loop = asyncio.get_running_loop()
    arrivals: dict[str, list[float]] = {}
    receive = far.protocol.datagram_received

    def distant(data: bytes, addr: tuple[str, int]) -> None:
        if data[:1] == b"\x00":
            arrivals.setdefault(umsgpack.unpackb(data[21:])[0], []).append(loop.time())
        loop.call_later(0.1, receive, data, addr)

    far.protocol.datagram_received = distant  # type: ignore[method-assign]
    joiner = MarketplaceNode(query_config=FAST)
    try:
        await joiner.start(0, [far.address])
        assert joiner.joined
        assert arrivals["find_node"][0] - arrivals["ping"][0] < 0.05
        await wait_until(lambda: {n.node_id_hex for n in nodes} <= {c[0] for c in joiner.contacts()},
                         "every node becoming a contact")
    finally:
        await joiner.stop()


async def test_a_closer_node_whose_answer_comes_late_still_gets_its_copy_while_the_stores_run(
        network: Network, publisher) -> None:
    """`late` answers the lookup's find_node only after 100 ms (it stalls after 50 ms and the lookup ends
    without it); `slow` takes 200 ms to take its copies, so the publish is still storing when `late` answers."""
    nodes = await network(8)
    author, late, slow = nodes[0], nodes[1], nodes[2]
    record = make_record("acme/latecomer", "Latecomer", publisher, tags=("latecomer",))
    loop = asyncio.get_running_loop()

    def delayed(node: MarketplaceNode, rpc: str, delay: float) -> None:
        receive = node.protocol.datagram_received

        def deliver(data: bytes, addr: tuple[str, int]) -> None:
            if data[:1] == b"\x00" and addr == author.address and umsgpack.unpackb(data[21:])[0] == rpc:
                loop.call_later(delay, receive, data, addr)
            else:
                receive(data, addr)

        node.protocol.datagram_received = deliver  # type: ignore[method-assign]

    delayed(late, "find_node", 0.1)
    delayed(slow, "store", 0.2)
    report = await author.publish(record)

    assert all(record in late.storage.records(key) for key in record_keys(record))
    assert all(k.asked == k.stored == len(nodes) - 1 for k in report.per_key)


async def test_requests_out_stay_within_twice_the_fan_out_however_many_slots_are_freed(
        network: Network, silent_peer: Node) -> None:
    """Slots freed after twice the median round trip must not let a lookup of never-answering peers send
    a new pair every 50 ms until they stall: on loopback, where the CPU is the bottleneck, that flooding made
    a publish's seven lookups slower, not faster."""
    nodes = await network(4)
    asker, live = nodes[0], Node(nodes[1].node_id, *nodes[1].address)
    target = Node(next_to(live.id))  # the live node is the closest: its quick answer sets the slot time (50 ms)
    dead = [Node(target.id[:-2] + bytes([target.id[-2] ^ hi, target.id[-1] ^ lo]), silent_peer.ip, silent_peer.port)
            for hi in range(1, 4) for lo in range(1, 5)]
    measured_slow(asker, dead[0])  # one address for all twelve: they stall after 600 ms
    lookup = NodeLookup(asker.protocol, target, ksize=4, fan_out=2, seeds=[live, *dead])
    run = asyncio.ensure_future(lookup.run())
    try:
        await asyncio.sleep(0.4)  # eight slot times, and no stall yet
        assert live.id in lookup.answered
        assert len(lookup.asked) <= 1 + 2 * 2, f"{len(lookup.asked)} peers asked within 400 ms"
    finally:
        run.cancel()
