"""The simulated internet of tests/bench/bench_internet.py does what its figures rely on.

Each test runs on its own `SimulatedInternetLoop` (a virtual clock, datagrams in
memory; no socket is opened): delays follow the fitted log-normal, loss is 1%,
dead hosts neither answer nor send, NAT'd hosts are reachable only by peers they
contacted, the clock jumps instead of sleeping, and a small network of real
MarketplaceNodes publishes and finds a package across it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.query import Query
from ggen_desktop.core.search import THIS_NODE_SOURCE, QueryStatus
from ggen_desktop.net.node import MarketplaceNode, NodeError
from ggen_desktop.net.storage import keyword_key
from tests.helpers.packages import make_record
from tests.helpers.simnet import (
    INTERNET_RTT,
    INTERNET_RTT_QUANTILES_MS,
    SimNetwork,
    SimTransport,
    SimulatedInternetLoop,
    host_address,
)
from tests.helpers.virtual_clock import SimulationStalled

T = TypeVar("T")
JOIN_ATTEMPTS = 3


def simulate(coro: Coroutine[Any, Any, T], seed: int = 1, loss: float = 0.01) -> T:
    loop = SimulatedInternetLoop(seed, loss=loss)
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        return runner.run(coro)


def quantile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[round(p * (len(ordered) - 1))]


class Inbox(asyncio.DatagramProtocol):
    """Records what arrives and when (simulated seconds)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, bytes, tuple[str, int]]] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append((asyncio.get_running_loop().time(), data, addr))


def network() -> SimNetwork:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, SimulatedInternetLoop)
    return loop.network


def test_the_fitted_log_normal_has_the_issue_quantiles() -> None:
    for p, target_ms in INTERNET_RTT_QUANTILES_MS.items():
        assert INTERNET_RTT.quantile_ms(p) == pytest.approx(target_ms, rel=0.03)


def test_pair_delays_follow_the_distribution_and_are_fixed_per_pair() -> None:
    async def scenario() -> None:
        net = network()
        hosts = [host_address(i) for i in range(300)]
        rtts_ms = [2000 * net.one_way_delay(a, b) for i, a in enumerate(hosts) for b in hosts[i + 1:]]
        assert len(rtts_ms) == 44_850
        # On this many pairs the sample quantiles sit within a few standard errors of the model's.
        assert quantile(rtts_ms, 0.5) == pytest.approx(INTERNET_RTT.quantile_ms(0.5), rel=0.03)
        assert quantile(rtts_ms, 0.9) == pytest.approx(INTERNET_RTT.quantile_ms(0.9), rel=0.04)
        assert quantile(rtts_ms, 0.99) == pytest.approx(INTERNET_RTT.quantile_ms(0.99), rel=0.08)
        assert net.one_way_delay(hosts[3], hosts[7]) == net.one_way_delay(hosts[7], hosts[3])
        assert SimNetwork(asyncio.get_running_loop(), seed=2).one_way_delay(hosts[3], hosts[7]) != \
            net.one_way_delay(hosts[3], hosts[7])

    simulate(scenario())


def test_a_datagram_arrives_after_exactly_its_pairs_one_way_delay() -> None:
    async def scenario() -> None:
        net, loop = network(), asyncio.get_running_loop()
        inbox = Inbox()
        a = net.bind(asyncio.DatagramProtocol(), (host_address(1), 0))
        b = net.bind(inbox, (host_address(2), 0))
        await asyncio.sleep(5)
        sent_at = loop.time()
        a.sendto(b"hello", b.address)
        while not inbox.received:
            await asyncio.sleep(0.01)
        arrived_at, data, source = inbox.received[0]
        assert (data, source) == (b"hello", a.address)
        assert arrived_at - sent_at == pytest.approx(net.one_way_delay(host_address(1), host_address(2)), abs=1e-9)

    simulate(scenario(), loss=0.0)


def test_one_datagram_in_a_hundred_is_lost_independently() -> None:
    async def scenario() -> None:
        net = network()
        inbox = Inbox()
        a = net.bind(asyncio.DatagramProtocol(), (host_address(1), 0))
        b = net.bind(inbox, (host_address(2), 0))
        count = 30_000
        for i in range(count):
            a.sendto(i.to_bytes(4, "big"), b.address)
        await asyncio.sleep(2 * net.one_way_delay(host_address(1), host_address(2)) + 0.1)
        lost = count - len(inbox.received)
        assert lost == net.stats["lost"]
        assert lost / count == pytest.approx(0.01, abs=0.0025)  # ±4.4 standard deviations
        arrived = {int.from_bytes(data, "big") for _, data, _ in inbox.received}
        assert max(arrived) >= count - 200 and min(arrived) < 200  # losses spread over the stream, not a burst

    simulate(scenario())


async def start_node(host: str, bootstrap: list[tuple[str, int]], node_id: bytes | None = None) -> MarketplaceNode:
    """Start a node, trying again when a lost datagram failed its join (the node does not retry itself)."""
    for _ in range(JOIN_ATTEMPTS - 1):
        node = MarketplaceNode(node_id=node_id, remember_contacts=False)
        try:
            await node.start(0, bootstrap, interface=host)
            return node
        except NodeError:
            continue
    node = MarketplaceNode(node_id=node_id, remember_contacts=False)
    await node.start(0, bootstrap, interface=host)
    return node


async def start_nodes(count: int) -> list[MarketplaceNode]:
    nodes: list[MarketplaceNode] = []
    for i in range(count):
        nodes.append(await start_node(host_address(i), [n.address for n in nodes[:3]]))
    return nodes


async def ping(source: MarketplaceNode, target: MarketplaceNode) -> bool:
    ok, answer = await source.protocol.request(target.address, "ping", [source.node_id], timeout=2.0)
    return bool(ok) and answer == target.node_id


def test_a_dead_host_never_answers_and_never_sends() -> None:
    async def scenario() -> None:
        live, dead = await start_nodes(2)
        assert isinstance(dead.server.transport, SimTransport)  # no socket under the real protocol
        assert await ping(live, dead)
        network().kill(dead.address[0])
        heard_by_dead = dead.transport_stats()["datagrams_in"]
        heard_by_live = live.transport_stats()["datagrams_in"]
        assert not any([await ping(live, dead) for _ in range(20)])
        assert not any([await ping(dead, live) for _ in range(20)])
        assert dead.transport_stats()["datagrams_in"] == heard_by_dead
        assert live.transport_stats()["datagrams_in"] == heard_by_live
        assert network().stats["to_dead"] == 20 and network().stats["from_dead"] == 20
        for node in (live, dead):
            await node.stop()

    simulate(scenario(), loss=0.0)


def test_a_host_behind_nat_is_reachable_only_by_peers_it_contacted_recently() -> None:
    async def scenario() -> None:
        client, stranger = await start_nodes(2)
        net = network()
        net.put_behind_nat(client.address[0])
        await asyncio.sleep(net.nat_timeout + 1)  # the mapping its join opened has expired
        filtered = net.stats["nat_filtered"]  # a request of the join's may have been in flight, and filtered
        assert not await ping(stranger, client)
        assert net.stats["nat_filtered"] == filtered + 1
        assert await ping(client, stranger)  # opens the client's mapping for this one peer...
        assert await ping(stranger, client)  # ...so the stranger's requests now get through
        await asyncio.sleep(net.nat_timeout + 1)
        assert not await ping(stranger, client)
        for node in (client, stranger):
            await node.stop()

    simulate(scenario(), loss=0.0)


def test_the_clock_jumps_over_idle_time_and_stands_still_while_a_thread_works() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        await asyncio.sleep(3600)
        assert loop.time() == pytest.approx(3600.0)
        assert time.perf_counter() - began < 1.0
        timer = loop.call_later(10, lambda: None)
        await loop.run_in_executor(None, time.sleep, 0.05)  # real time passes in the thread...
        assert loop.time() == pytest.approx(3600.0)  # ...no simulated time does, though a timer is pending
        timer.cancel()

    simulate(scenario())


def test_a_loop_waiting_for_nothing_raises_instead_of_hanging() -> None:
    async def scenario() -> None:
        await asyncio.get_running_loop().create_future()  # nothing will ever set it

    with pytest.raises(SimulationStalled, match="stuck"):
        simulate(scenario())


def test_twenty_real_nodes_publish_and_find_a_package_across_the_simulated_internet() -> None:
    async def scenario() -> None:
        loop, net = asyncio.get_running_loop(), network()
        nodes = await start_nodes(20)
        for node in nodes[2::5]:  # 20% crash
            net.kill(node.address[0])
            await node.stop()
        record = make_record("acme/zeta-cli", "Zeta CLI", Ed25519PrivateKey.generate(), tags=("zeta",))
        report = await nodes[0].publish(record)
        assert report.replicas >= 10
        await asyncio.sleep(60)  # the publish's gossip (3 hops, each within a 2 s timeout) has died out
        # A newcomer whose id is as far as can be from the keyword's key holds no replica and heard no gossip:
        # what it finds, it finds on the network.
        far = bytes(b ^ 0xFF for b in keyword_key("zeta"))
        asker = await start_node(host_address(99), [n.address for n in nodes[3:6]], node_id=far)
        assert not asker.local_search(Query(text="zeta"))
        began = loop.time()
        trace = await asker.search(Query(text="zeta")).wait()
        took = loop.time() - began
        assert trace.status is QueryStatus.FINISHED
        sources = trace.hits[record.identity].sources
        assert sources and THIS_NODE_SOURCE not in sources and asker.node_id_hex not in sources
        # Found no sooner than the round trip to the nearest peer that returned it.
        round_trips = [2 * net.one_way_delay(asker.address[0], n.address[0]) for n in nodes if n.node_id_hex in sources]
        assert took >= min(round_trips)
        for node in [*nodes, asker]:
            await node.stop()

    simulate(scenario(), seed=4)
