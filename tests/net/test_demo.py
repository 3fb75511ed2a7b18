"""The demo network: real loopback nodes holding the sample catalogue, searchable by a joining node."""

from __future__ import annotations

import asyncio
import time

import pytest

from ggen_desktop.core.query import Query
from ggen_desktop.core.search import QueryStatus
from ggen_desktop.net.demo import DemoNetwork
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import record_keys
from tests.helpers.packages import make_package
from tests.net.conftest import FAST


@pytest.mark.asyncio
async def test_demo_network_answers_a_joining_node() -> None:
    catalogue = [("alpha", make_package(f"alpha/tool{i}", f"Widget tool {i}", tags=("widget",))) for i in range(8)]
    catalogue.append(("beta", make_package("beta/other", "Gadget maker")))
    demo = DemoNetwork(size=8, catalogue=catalogue)
    steps: list[tuple[int, int]] = []
    bootstrap = await demo.start(lambda done, total: steps.append((done, total)))
    node = MarketplaceNode(query_config=FAST)
    try:
        assert steps[-1] == (8, 8) and len(bootstrap) == 3
        await node.start(0, bootstrap)
        trace = await node.search(Query(text="widget")).wait()
        assert trace.status is QueryStatus.FINISHED
        assert sorted(h.record.package.id.name for h in trace.hits.values()) == [f"tool{i}" for i in range(8)]
        assert await node.exists("beta/other")
        assert (await node.metadata("beta/other")).title == "Gadget maker"  # type: ignore[union-attr]
    finally:
        await node.stop()
        await demo.stop()
        await demo.stop()


@pytest.mark.asyncio
async def test_demo_with_the_sample_catalogue_starts_quickly_without_stalling_the_loop() -> None:
    """The GUI animates join progress on this loop: signing 402 records must not block it."""
    worst = 0.0
    running = True

    async def probe() -> None:
        nonlocal worst
        while running:
            before = time.perf_counter()
            await asyncio.sleep(0.002)
            worst = max(worst, time.perf_counter() - before - 0.002)

    demo = DemoNetwork()
    prober = asyncio.create_task(probe())
    try:
        started = time.perf_counter()
        await demo.start()
        elapsed = time.perf_counter() - started
        running = False
        await prober
        assert len(demo.nodes) == 24 and len(demo.records) == 402
        assert elapsed < 1.0
        assert worst < 0.04, f"the loop stalled {worst * 1000:.0f} ms"  # was ≈95 ms signing on the loop
        holders = sum(len(n.storage) for n in demo.nodes)
        assert holders == sum(len(record_keys(r)) for r in demo.records) * demo.ksize
    finally:
        running = False
        await demo.stop()
