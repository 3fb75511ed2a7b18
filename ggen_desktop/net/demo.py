"""A small marketplace on loopback, so the app shows a live network with no setup.

The nodes are real `MarketplaceNode`s on 127.0.0.1 speaking UDP to each other
and to the app's own node. Seeding the catalogue puts each signed record
straight into the storage of the k demo nodes closest to each of its keys:
exactly where a publish would leave it (§2.3), without thousands of start-up
RPCs for the ~400 sample packages.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable

from kademlia.node import Node

from ggen_desktop.core.catalogue import demo_publisher_key, load_sample_catalogue
from ggen_desktop.core.package import Package
from ggen_desktop.core.query import QueryConfig
from ggen_desktop.core.record import SignedRecord, sign
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import record_keys

log = logging.getLogger(__name__)

BOOTSTRAP_COUNT = 3
# Replicas per key in the demo. Kademlia's usual k=20 would put every record on
# nearly all of two dozen nodes (and, through §2.5's hand-over, on the app's own
# node too), so a search would be answered from local replicas alone. A few
# replicas per key keep the demo what a large network is: records on a few
# peers each, found by asking them.
DEMO_KSIZE = 4


PUT_SLICE = 1000  # storage puts per loop iteration while seeding (≈1.5 ms)


def demo_node_id(index: int) -> bytes:
    """Stable ids, so the reputation the app keeps for demo peers means something next run."""
    return hashlib.sha1(f"ggen-desktop demo node {index}".encode()).digest()


def _plan(catalogue: list[tuple[str, Package]] | None, node_ids: list[bytes], ksize: int
          ) -> tuple[list[SignedRecord], list[tuple[int, bytes, SignedRecord]]]:
    """Signed records, and (node index, key, record) for each of the `ksize` nodes closest to
    each of a record's keys (§2.3). Pure CPU work on values no other thread touches."""
    if catalogue is None:
        catalogue = load_sample_catalogue()
    keys = {label: demo_publisher_key(label) for label in {label for label, _ in catalogue}}
    records = [sign(package, keys[label]) for label, package in catalogue]
    ids = [Node(node_id) for node_id in node_ids]
    placements = []
    for record in records:
        for key in record_keys(record):
            target = Node(key)
            for holder in sorted(range(len(ids)), key=lambda i: ids[i].distance_to(target))[:ksize]:
                placements.append((holder, key, record))
    return records, placements


class DemoNetwork:
    """`size` loopback nodes holding a sample catalogue; started and stopped by the app."""

    def __init__(self, size: int = 24, catalogue: list[tuple[str, Package]] | None = None, *,
                 ksize: int = DEMO_KSIZE) -> None:
        if size < 1:
            raise ValueError("a demo network needs at least one node")
        self.size = size
        self.ksize = ksize
        self._catalogue = catalogue
        self.nodes: list[MarketplaceNode] = []
        self.records: list[SignedRecord] = []

    async def start(self, progress: Callable[[int, int], None] | None = None) -> list[tuple[str, int]]:
        """Start every node, seed the catalogue; returns addresses to bootstrap from."""
        try:
            for index in range(self.size):
                node = MarketplaceNode(query_config=QueryConfig(default_timeout=3.0), ksize=self.ksize,
                                       node_id=demo_node_id(index))
                self.nodes.append(node)
                bootstrap = [n.address for n in self.nodes[: min(index, BOOTSTRAP_COUNT)]]
                await node.start(0, bootstrap)
                if progress is not None:
                    progress(index + 1, self.size)
            await self._seed()
        except BaseException:
            await self.stop()
            raise
        return self.bootstrap_addresses()

    def bootstrap_addresses(self) -> list[tuple[str, int]]:
        return [n.address for n in self.nodes[:BOOTSTRAP_COUNT] if n.is_running]

    async def _seed(self) -> None:
        """Sign and place the catalogue in a worker thread (≈90 ms of CPU: the GUI shows join progress
        meanwhile), then fill the nodes' storage on the loop in slices short enough not to stall it."""
        ids = [n.node_id for n in self.nodes]
        self.records, placements = await asyncio.to_thread(_plan, self._catalogue, ids, self.ksize)
        for start in range(0, len(placements), PUT_SLICE):
            for holder, key, record in placements[start : start + PUT_SLICE]:
                self.nodes[holder].storage.put(key, record)
            await asyncio.sleep(0)
        log.info("demo network: %d nodes holding %d sample packages", len(self.nodes), len(self.records))

    async def stop(self) -> None:
        """Stop every node; safe to call twice."""
        nodes, self.nodes = self.nodes, []
        await asyncio.gather(*(n.stop() for n in nodes), return_exceptions=True)
