"""Publishing my packages: republish races with a re-sign, and what a publish reports per key."""

from __future__ import annotations

import asyncio

import pytest

from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import package_dht_key
from tests.helpers.packages import make_record
from tests.helpers.waiting import wait_until
from tests.net.conftest import FAST, Network


def slow_stores(node: MarketplaceNode, delay: float) -> dict[str, int]:
    """While `slow["on"]` is set, the node answers a store only after `delay` s; `slow["waiting"]` counts those."""
    slow = {"on": 1, "waiting": 0}
    original = node.protocol.rpc_store

    async def delayed(*args: object) -> object:
        if slow["on"]:
            slow["waiting"] += 1
            await asyncio.sleep(delay)
        return original(*args)  # type: ignore[arg-type]

    node.protocol.rpc_store = delayed  # type: ignore[method-assign]
    return slow


@pytest.mark.asyncio
async def test_a_republish_in_flight_does_not_write_the_old_record_back_over_a_re_signed_one(
        network: Network, publisher) -> None:
    peers = await network(2)
    node = MarketplaceNode(query_config=FAST, republish_interval=0.0)
    await node.start(0, [peers[0].address])
    try:
        old = make_record("acme/widget", "Widget", publisher, tags=("widget",), updated_at=1_700_000_000)
        new = make_record("acme/widget", "Widget, re-signed", publisher, tags=("widget",), updated_at=1_700_000_500)
        await node.publish(old)
        slow = slow_stores(peers[0], 0.1)  # inside the adaptive store timeout (0.25 s on loopback)
        republish = asyncio.ensure_future(node.publisher.republish_due())
        await wait_until(lambda: slow["waiting"] > 0)  # the old record's stores are in flight
        slow["on"] = 0
        report = await node.publish(new)  # the user re-signs meanwhile; this one is quick
        assert report.record == new
        await republish
        assert [m.record for m in node.my_packages()] == [new]
        assert node.my_packages()[0].replicas >= 1
        await node.publisher.republish_due()  # the next republish sends the new record, not the old one
        assert new in peers[1].storage.records(package_dht_key("acme/widget"))
    finally:
        await node.stop()


@pytest.mark.asyncio
async def test_a_publish_reports_each_key_and_names_a_keyword_refused_because_its_key_is_full(
        network: Network, publisher) -> None:
    peers = await network(3)
    for peer in peers:
        peer.storage.max_per_key = 2  # as a popular keyword's key is at MAX_PER_KEY
    for name in ("fill/alpha", "fill/beta"):  # both under 'crowded' and 'utility' (their category)
        await peers[0].publish(make_record(name, name[5:].title(), tags=("crowded",)))
    node = MarketplaceNode(query_config=FAST)
    await node.start(0, [peers[1].address])
    try:
        report = await node.publish(make_record("acme/widget", "Widget", publisher, tags=("crowded",)))
    finally:
        await node.stop()
    by_label = {k.label: (k.asked, k.stored, k.refused) for k in report.per_key}
    assert by_label == {
        "package key": (3, 3, 0),
        "keyword 'widget'": (3, 3, 0),
        "keyword 'crowded'": (3, 0, 3),
        "keyword 'utility'": (3, 0, 3),
        "keyword 'acme'": (3, 3, 0),
    }
    assert (report.replicas, report.keys, report.keyword_replicas) == (3, 5, 6)
    assert [k.keyword for k in report.refused_keywords()] == ["crowded", "utility"]
    assert report.summary() == ("stored on 3 peers; keyword copies refused (key full): "
                                "'crowded' by 3 of 3 peers, 'utility' by 3 of 3 peers")
    assert report.per_key[2].describe().startswith("keyword 'crowded': 0 of 3 copies stored, 3 refused (the key is full")
