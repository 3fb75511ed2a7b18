"""An answer page's signatures are checked a slice per event-loop turn: other tasks (the window's) run between."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.record import sign
from ggen_desktop.net import lookup
from ggen_desktop.net.storage import PAGE_RECORDS, keyword_key
from tests.helpers.packages import make_package
from tests.net.conftest import Network


@pytest.mark.asyncio
async def test_a_page_of_new_records_is_verified_between_other_tasks_turns(network: Network,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lookup, "VERIFY_SLICE_S", 0.0)  # a turn after every record: the slices show plainly
    nodes = await network(3)
    key = Ed25519PrivateKey.generate()
    records = [sign(make_package(f"acme/slice-{i:03}", f"Slice {i}", tags=("slices",)), key) for i in range(PAGE_RECORDS)]
    for holder in nodes[:2]:
        for record in records:
            holder.storage.put(keyword_key("slices"), record)
    searcher = nodes[2]
    seen: list[int] = []  # how many signatures were checked, as another task saw it at each of its turns
    handle = searcher.search(Query(text="slices"), QueryConfig(default_timeout=10.0, max_results=PAGE_RECORDS))

    async def watch() -> None:
        while True:
            seen.append(searcher.verified.checked)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        trace = await handle.wait()
    finally:
        watcher.cancel()
    assert {hit.record.identity for hit in trace.hits.values()} == {r.identity for r in records}
    assert trace.verified == PAGE_RECORDS  # each record checked once, though two replicas sent it
    first, last = seen[0], seen[-1]
    between = {count for count in seen if first < count < last}
    assert len(between) > PAGE_RECORDS // 2, seen  # the other task ran while the page was being verified
