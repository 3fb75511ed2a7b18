"""Pages, not a ceiling: `max_results` is the page size, and a search continues the same lookup for more."""

from __future__ import annotations

import pytest

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.search import QueryStatus
from ggen_desktop.net.storage import keyword_key
from tests.helpers.packages import big_record
from tests.net.conftest import Network, forget_locally


@pytest.mark.asyncio
async def test_26_packages_under_one_keyword_are_all_reachable_through_pages_of_20(network: Network,
                                                                                   publisher) -> None:
    nodes = await network(4)
    # about 3.7 KiB each, so a peer answers them in pages of about ten: the lookup must follow each peer's pages
    records = [big_record(f"acme/widget{i:02}", publisher) for i in range(26)]
    for i, record in enumerate(records):
        await nodes[i % 3].publish(record)
    searcher = nodes[-1]
    forget_locally(searcher)

    handle = searcher.search(Query(text="widget"), QueryConfig(default_timeout=5.0, max_results=20))
    first = [e.hit.identity for e in [event async for event in handle] if e.is_new]
    trace = await handle.wait()
    assert trace.status is QueryStatus.FINISHED
    assert len(first) == trace.result_count == 20
    assert trace.more and "more available" in trace.summary()

    following = handle.more()
    assert following.query_id == handle.query_id and following.trace is trace
    second = [e.hit.identity for e in [event async for event in following] if e.is_new]
    trace = await following.wait()
    assert trace.status is QueryStatus.FINISHED
    assert len(second) == 6 and not set(first) & set(second)  # no row twice
    assert set(first) | set(second) == {r.identity for r in records}
    assert not trace.more and "more available" not in trace.summary()


@pytest.mark.asyncio
async def test_more_of_a_search_that_has_no_more_is_refused(network: Network, publisher) -> None:
    nodes = await network(3)
    record = big_record("acme/widget", publisher)
    nodes[0].storage.put(keyword_key("widget"), record)
    searcher = nodes[-1]
    forget_locally(searcher)
    handle = searcher.search(Query(text="widget"), QueryConfig(default_timeout=3.0, max_results=20))
    with pytest.raises(ValueError, match="still running"):
        handle.more()
    trace = await handle.wait()
    assert list(trace.hits) == [record.identity] and not trace.more
    with pytest.raises(ValueError, match="no more results"):
        handle.more()
