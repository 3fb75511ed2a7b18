"""The node's database work stays off the event loop: batched writes, and start-up loading in a thread."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import pytest

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.search import QueryStatus
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import keyword_key
from ggen_desktop.store.connection import Sighting
from ggen_desktop.store.database import Database
from ggen_desktop.store.store_thread import WRITE_INTERVAL_S
from tests.helpers.packages import make_record
from tests.net.conftest import FAST, Network


@pytest.mark.asyncio
async def test_a_search_of_many_results_writes_at_most_once_per_interval(network: Network, tmp_path: Path,
                                                                         publisher) -> None:
    peers = await network(3)
    records = [make_record(f"bulk/tool-{i}", f"Tool {i}", publisher, tags=("bulk",)) for i in range(80)]
    for peer in peers:
        for record in records:
            peer.storage.put(keyword_key("bulk"), record)
    database = Database(tmp_path)
    node = MarketplaceNode(database, FAST)
    await node.start(0, [peers[0].address])
    try:
        before, started = database.transactions, time.monotonic()
        handle = node.search(Query(text="bulk", limit=200), QueryConfig(default_timeout=5.0, max_results=200))
        trace = await handle.wait()
        elapsed = time.monotonic() - started
        during = database.transactions - before
        print(f"{during} write transaction(s) during a search of {trace.result_count} results in {elapsed * 1000:.0f} ms")
        assert trace.status is QueryStatus.FINISHED and trace.result_count == len(records)
        assert during <= 1 + math.floor(elapsed / WRITE_INTERVAL_S), (during, elapsed)
        deadline = time.monotonic() + 10  # then the interval passes and one batch holds every result
        while len(database.discovered_records()) < len(records):
            assert time.monotonic() < deadline, "the batch was never written"
            await asyncio.sleep(0.05)
        assert database.transactions - before == 1
        assert {d.record.identity for d in database.discovered_records()} == {r.identity for r in records}
        # each record is read from one holder: replicas holding the same set do not send it again
        holders = {peer.node_id_hex for peer in peers}
        assert all(d.peers and set(d.peers) <= holders for d in database.discovered_records())
    finally:
        await node.stop()
        database.close()


class LoopStalls:
    """The longest time the event loop went without running this ticker (which asks every millisecond)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.001)
            now = time.monotonic()
            self.worst = max(self.worst, now - last)
            last = now

    async def __aenter__(self) -> LoopStalls:
        self._task = asyncio.ensure_future(self._tick())
        await asyncio.sleep(0.01)  # ticking before the measured work starts
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


STORED = 5000


def fill_discovered(database: Database, count: int) -> None:
    records = [make_record(f"seen/tool-{i}", f"Tool {i}", tags=("seen",)) for i in range(count)]
    database.save_discovered(Sighting(record, {"aa" * 20: 1.0}) for record in records)


@pytest.mark.asyncio
async def test_starting_with_5000_stored_records_does_not_stall_the_event_loop(tmp_path: Path) -> None:
    database = Database(tmp_path)
    fill_discovered(database, STORED)
    node = MarketplaceNode(database, FAST)
    try:
        async with LoopStalls() as stalls:
            await node.start(0)
            await asyncio.sleep(0.05)
        print(f"worst loop stall while starting with {STORED} stored records: {stalls.worst * 1000:.0f} ms")
        assert len(node.discovered.records()) == STORED
        assert stalls.worst < 0.2, f"the event loop stalled {stalls.worst * 1000:.0f} ms"
    finally:
        await node.stop()
        database.close()
