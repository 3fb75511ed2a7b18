"""The demo network: real loopback nodes holding the sample catalogue, searchable by a joining node."""

from __future__ import annotations

import pytest

from ggen_desktop.core.query import Query
from ggen_desktop.core.search import QueryStatus
from ggen_desktop.net.demo import DemoNetwork
from ggen_desktop.net.node import MarketplaceNode
from tests.net.conftest import FAST, make_package


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
async def test_demo_with_the_sample_catalogue_starts_quickly() -> None:
    demo = DemoNetwork()
    try:
        await demo.start()
        assert len(demo.nodes) == 24 and len(demo.records) > 100
    finally:
        await demo.stop()
