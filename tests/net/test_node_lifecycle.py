"""What a node holds over its life: one live timer per periodic job, and one end per search."""

from __future__ import annotations

import asyncio
import time

import pytest

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.search import QueryStatus
from ggen_desktop.net.node import MarketplaceNode
from tests.helpers.packages import make_record
from tests.net.conftest import FAST, Network, forget_locally, slow_search


@pytest.mark.asyncio
async def test_a_periodic_job_keeps_only_its_next_timer(network: Network, publisher) -> None:
    """Each republish check schedules the next; the node must not keep every timer it ever scheduled
    (a node running for weeks checks thousands of times)."""
    peers = await network(1)
    node = MarketplaceNode(query_config=FAST, republish_interval=0.0, republish_check=0.02)
    await node.start(0, [peers[0].address])
    try:
        await node.publish(make_record("acme/widget", "Widget", publisher, tags=("widget",)))
        republished: set[float | None] = set()
        deadline = time.monotonic() + 10
        while len(republished) < 8 and time.monotonic() < deadline:  # every check republishes: one per tick
            republished.add(node.my_packages()[0].last_republished_at)
            await asyncio.sleep(0.01)
        assert len(republished) >= 8
        assert sorted(node._timers) == ["contacts", "republish"]  # each job's next tick, nothing else
    finally:
        await node.stop()


@pytest.mark.asyncio
async def test_a_cancelled_search_ends_exactly_once(network: Network, publisher) -> None:
    """Cancelled while a consumer iterates and peers are still answering, then cancelled again and
    the node stopped: one end of stream, one status, one count in the metrics."""
    nodes = await network(3)
    await nodes[0].publish(make_record("acme/widget", "Widget", publisher, tags=("widget",)))
    searcher = nodes[2]
    forget_locally(searcher)
    for node in nodes[:2]:
        slow_search(node, 0.3)
    handle = searcher.search(Query(text="widget"), QueryConfig(default_timeout=3.0, fan_out=1))
    ends: list[int] = []

    async def consume() -> None:
        events = [event async for event in handle]
        ends.append(len(events))

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0.05)
    handle.cancel()
    handle.cancel()
    await asyncio.wait_for(consumer, 1.0)
    trace = await handle.wait()
    await searcher.stop()  # cancels every tracked query again
    assert ends == [0]
    assert trace.status is QueryStatus.CANCELLED and trace.hits == {}
    snapshot = searcher.metrics.snapshot()
    assert (snapshot.total, snapshot.cancelled, snapshot.successful, snapshot.in_flight) == (1, 1, 0, 0)
