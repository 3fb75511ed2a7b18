"""A popular keyword: 1,000 packages under one keyword are all found, page after page of one search."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.record import sign
from ggen_desktop.net.storage import keyword_key
from tests.helpers.packages import make_package
from tests.net.conftest import Network

PACKAGES = 1000


@pytest.mark.asyncio
async def test_a_thousand_packages_under_one_keyword_are_all_found_through_pages(network: Network) -> None:
    """Was: each replica kept 256 of them (the per-key cap), so a search found 256 of 1,000."""
    nodes = await network(24)
    key = Ed25519PrivateKey.generate()
    records = [sign(make_package(f"acme/cli-{i:04}", f"Command line {i:04}", tags=("cli",)), key)
               for i in range(PACKAGES)]
    target = Node(keyword_key("cli"))
    searcher = nodes[-1]
    holders = sorted(nodes[:-1], key=lambda n: target.distance_to(Node(n.node_id)))[:20]
    for holder in holders:  # as a publish of each package leaves them: on the 20 closest to the keyword
        for record in records:
            holder.storage.put(keyword_key("cli"), record)
    handle = searcher.search(Query(text="cli"), QueryConfig(default_timeout=10.0, max_results=250))
    trace = await handle.wait()
    pages = 1
    while trace.more:
        handle = handle.more()
        trace = await handle.wait()
        pages += 1
    found = {h.record.identity for h in trace.hits.values()}
    print(f"found {len(found)} of {PACKAGES} in {pages} pages; {trace.received} records received, "
          f"{trace.verified} verified")
    assert found == {r.identity for r in records}  # recall 1.0
    assert pages == PACKAGES // 250
    assert trace.verified == PACKAGES  # each record's bytes verified once, however many replicas hold it
