"""The seed's integration test, for real: publish on node 1, search from node 2, over loopback UDP."""

from __future__ import annotations

import pytest

from ggen_desktop.core.query import Query
from ggen_desktop.core.search import THIS_NODE_SOURCE, QueryStatus
from tests.helpers.packages import make_record
from tests.net.conftest import Network


@pytest.mark.asyncio
async def test_publish_on_one_node_is_found_from_another(network: Network, publisher) -> None:
    n1, n2, n3 = await network(3)
    record = make_record("acme/rust-cli", "Rust CLI template", publisher, tags=("rust", "cli"))

    report = await n1.publish(record)
    assert report.replicas == 2  # the other two nodes acknowledged the package key
    assert report.keys >= 4
    assert report.keyword_replicas >= 2 * (report.keys - 1)

    handle = n2.search(Query(text="rust"))
    events = [event async for event in handle]
    trace = await handle.wait()

    assert trace.status is QueryStatus.FINISHED
    assert [e.hit.record.identity for e in events if e.is_new] == [record.identity]
    hit = trace.hits[record.identity]
    # node 2 holds a replica itself (its own answer, never "this node"), and other peers returned it too
    assert THIS_NODE_SOURCE not in hit.sources
    assert hit.sources <= {n1.node_id_hex, n2.node_id_hex, n3.node_id_hex}
    assert hit.sources - {n2.node_id_hex}
    assert hit.record.encoded == record.encoded
    assert trace.answering_peers >= 1
    assert n2.metrics.total == 1 and n2.metrics.successful == 1 and n2.metrics.in_flight == 0
    assert n2.metrics.snapshot().avg_first_result_ms is not None


@pytest.mark.asyncio
async def test_publisher_sees_its_own_package_locally_first(network: Network, publisher) -> None:
    n1, _n2, _n3 = await network(3)
    record = make_record("acme/rust-cli", "Rust CLI template", publisher, tags=("rust",))
    await n1.publish(record)

    handle = n1.search(Query(text="rust"))
    first = await anext(aiter(handle))
    assert first.hit.record.identity == record.identity
    assert THIS_NODE_SOURCE in first.hit.sources
    assert [m.record.identity for m in n1.my_packages()] == [record.identity]
    await handle.wait()
