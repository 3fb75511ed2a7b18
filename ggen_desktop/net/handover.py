"""§2.5's hand-over: a new neighbour closer to stored keys than we are gets their records, paced.

Kademlia hands a newly met node every value it is now among the k closest to.
kademlia tests every stored key against the routing table, on the caller's
path, and stores them all at once. Here the only keys tested are those the key
index says can be owed (`handover_range`, nearest to the newcomer first, at
most MAX_HANDOVER), a slice per turn of the event loop, and the records go out
a batch at a time. It runs only for a contact that answered us with its id and
was newly placed in the routing table, and only a few at once: in a join wave
the rest wait for their publishers' republish.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import Counter
from collections.abc import Awaitable, Callable

from kademlia.node import Node

from ggen_desktop.core.key_space import handover_range
from ggen_desktop.net.storage import RecordStorage

MAX_HANDOVER = 512  # records (and keys tested) for one new neighbour
HANDOVER_BATCH = 8
HANDOVER_SCAN_SLICE = 64  # keys checked between yields to the event loop
MAX_HANDOVERS = 4  # new neighbours being handed records at once

SendStore = Callable[[Node, bytes, bytes], Awaitable[bool]]
"""Stores one record on a node; True when it answered."""


class Handover:
    """Hand-overs in progress for one node; `start` one for each new neighbour."""

    def __init__(self, storage: RecordStorage, own: Node, ksize: int, send_store: SendStore, stats: Counter[str]) -> None:
        self.storage = storage
        self.own = own
        self.ksize = ksize
        self.send_store = send_store
        self.stats = stats
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, newcomer: Node, contacts: list[Node]) -> asyncio.Task[None] | None:
        """Hand `newcomer` what it is owed; `contacts` are the routing contacts before it joined them."""
        if not len(self.storage):
            return None
        if len(self.tasks) >= MAX_HANDOVERS:
            self.stats["handovers_skipped"] += 1
            return None
        span = handover_range(newcomer.id, self.own.id, [c.id for c in contacts], self.ksize)
        keys = [] if span is None else self.storage.keys_near(newcomer.id, MAX_HANDOVER, span)
        if not keys:
            return None
        task = asyncio.ensure_future(self._run(newcomer, keys, contacts))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def owed(self, newcomer: Node, key: bytes, contacts: list[Node]) -> bool:
        """§2.5: the newcomer is among the k closest to `key` and we are the closest that holds it."""
        keynode = Node(key)
        neighbors = heapq.nsmallest(self.ksize, contacts, key=keynode.distance_to)
        if not neighbors:
            return True
        owed: bool = (newcomer.distance_to(keynode) < neighbors[-1].distance_to(keynode)
                      and self.own.distance_to(keynode) < neighbors[0].distance_to(keynode))
        return owed

    async def _run(self, node: Node, keys: list[bytes], contacts: list[Node]) -> None:
        items: list[tuple[bytes, bytes]] = []
        for start in range(0, len(keys), HANDOVER_SCAN_SLICE):
            for key in keys[start : start + HANDOVER_SCAN_SLICE]:
                if self.owed(node, key, contacts):
                    items.extend((key, record.encoded) for record in self.storage.records(key))
            if len(items) >= MAX_HANDOVER:
                break
            await asyncio.sleep(0)  # let answers and the GUI run between slices
        items = items[:MAX_HANDOVER]
        for start in range(0, len(items), HANDOVER_BATCH):
            batch = items[start : start + HANDOVER_BATCH]
            answered = await asyncio.gather(*(self.send_store(node, key, value) for key, value in batch))
            self.stats["handover_records"] += len(batch)
            if not any(answered):
                return  # it went away; the publishers' republish covers the rest

    def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
