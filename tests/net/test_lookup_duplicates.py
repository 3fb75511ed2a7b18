"""A lookup reads a set of records every replica holds once, and verifies the same record bytes once."""

from __future__ import annotations

import pytest

from ggen_desktop.core.query import Query, QueryConfig
from tests.helpers.packages import big_record
from tests.net.conftest import Network, forget_locally


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
