"""A popular keyword: how many records a search receives and verifies to find every package under it.

Run: python tests/bench/bench_popular.py [--nodes 30] [--packages 300] [--page 500]
Stores the packages (all tagged "cli") on the k nodes closest to the keyword's key,
as a publish leaves them, then searches "cli" from a node that holds none of
them, reading page after page of the same search. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.record import sign
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import StorageRefused, keyword_key
from tests.helpers.packages import make_package


async def main() -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=30)
    parser.add_argument("--packages", type=int, default=300)
    parser.add_argument("--page", type=int, default=500, help="max_results: results per page")
    parser.add_argument("--ksize", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    nodes: list[MarketplaceNode] = []
    for _ in range(args.nodes):
        node = MarketplaceNode(ksize=args.ksize)
        await node.start(0, [n.address for n in nodes[:3]])
        nodes.append(node)
    key = Ed25519PrivateKey.generate()
    records = [sign(make_package(f"acme/cli-{i:03}", f"Command line {i:03}", tags=("cli",)), key)
               for i in range(args.packages)]
    target = Node(keyword_key("cli"))
    holders = sorted(nodes[:-1], key=lambda n: target.distance_to(Node(n.node_id)))[: args.ksize]
    refused = 0
    for holder in holders:
        for record in records:
            try:
                holder.storage.put(keyword_key("cli"), record)
            except StorageRefused:
                refused += 1  # the key is full on this replica
    searcher = nodes[-1]
    searcher.storage._data.clear()
    handle = searcher.search(Query(text="cli"), QueryConfig(default_timeout=10.0, max_results=args.page))
    started = time.monotonic()
    trace = await handle.wait()
    pages = 1
    while getattr(trace, "more", False):
        handle = handle.more()
        trace = await handle.wait()
        pages += 1
    seconds = time.monotonic() - started
    # before the lookup counted them, every record received was a valid, matching one, verified once per copy
    received = getattr(trace, "received", sum(p.results for p in trace.peers.values()))
    verified = getattr(trace, "verified", received)
    result = {
        "nodes": args.nodes, "packages": args.packages, "replicas": len(holders), "page": args.page,
        "stored_per_replica": len(holders[0].storage.records(keyword_key("cli"))), "found": trace.result_count,
        "pages": pages, "records_received": received, "records_verified": verified,
        "peers_asked": len(trace.peers), "peers_with_records": sum(1 for p in trace.peers.values() if p.results),
        "seconds": round(seconds, 3),
    }
    for node in nodes:
        await node.stop()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
