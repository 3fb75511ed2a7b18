"""§2.5 hand-over scan: the protocol's test of every stored key against the key index.

Run: python tests/bench/bench_handover.py [--entries 50000] [--network 10000] [--scans 5] [--newcomers 300] [--limit 512]
Fills a RecordStorage with `--entries` entries (real signed records, each under
its ~10 keys), gives this node the routing table it would have in a network of
`--network` nodes (k=20 contacts per bucket where that many exist), then, for
newcomers drawn from the same network, finds the keys each is owed two ways:
the full scan (every stored key through the protocol's `_owed`: kademlia Node
distances and a heap of the k nearest contacts) and the index (handover_range,
then `keys_near` within it, then the same `_owed` on those keys only). Both must
find the same keys. A second case puts all keys in this node's own
neighbourhood (what a node holds in a real network). The last line is JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kademlia.node import Node

from ggen_desktop.core.key_space import KeyIndex, handover_range, shared_prefix_bits
from ggen_desktop.net.storage import RecordStorage, StorageRefused, record_keys
from tests.helpers.packages import make_record

K = 20


def owed(newcomer: Node, key: bytes, contacts: list[Node], own: Node) -> bool:
    """The protocol's `_owed`, verbatim but for `self`."""
    keynode = Node(key)
    neighbors = heapq.nsmallest(K, contacts, key=keynode.distance_to)
    if not neighbors:
        return True
    return (newcomer.distance_to(keynode) < neighbors[-1].distance_to(keynode)
            and own.distance_to(keynode) < neighbors[0].distance_to(keynode))


def routing_table(own: bytes, population: list[bytes]) -> list[Node]:
    buckets: dict[int, list[bytes]] = {}
    for node_id in population:
        if node_id != own:
            bucket = buckets.setdefault(shared_prefix_bits(node_id, own), [])
            if len(bucket) < K:
                bucket.append(node_id)
    return [Node(node_id) for bucket in buckets.values() for node_id in bucket]


def fill(entries: int) -> RecordStorage:
    storage = RecordStorage(max_total=entries)
    publisher = Ed25519PrivateKey.generate()
    i = 0
    while len(storage) < entries:
        tags = tuple(f"tag{i}x{j}" for j in range(8))
        record = make_record(f"bench/p{i}", f"Bench{i}", publisher, tags=tags)
        for key in record_keys(record):
            if len(storage) < entries:
                with contextlib.suppress(StorageRefused):  # a shared keyword key (the category) is full
                    storage.put(key, record)
        i += 1
    return storage


def near(own: bytes, bits: int, rng: random.Random) -> bytes:
    """An id sharing exactly `bits` leading bits with `own`."""
    flipped = int.from_bytes(own, "big") ^ (1 << (159 - bits))
    return (flipped >> (159 - bits) << (159 - bits) | rng.getrandbits(159 - bits)).to_bytes(20, "big")


def compare(keys: list[bytes], index_near: object, own: bytes, contacts: list[Node], newcomers: list[bytes],
            scans: int, limit: int) -> dict[str, float]:
    """Mean times per newcomer; the full scan runs on the first `scans` newcomers and must agree. The
    limited walk stops at the `limit` keys nearest the newcomer (the protocol hands over at most 512)."""
    own_node = Node(own)
    contact_ids = [c.id for c in contacts]
    full_ms, index_ms, limited_ms, candidates, owed_counts = [], [], [], [], []
    for n, newcomer in enumerate(newcomers):
        node = Node(newcomer)
        start = time.perf_counter()
        span = handover_range(newcomer, own, contact_ids, K)
        nearest = [] if span is None else index_near(newcomer, limit, span)  # type: ignore[operator]
        _ = [key for key in nearest if owed(node, key, contacts, own_node)]
        limited_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        span = handover_range(newcomer, own, contact_ids, K)
        found = [] if span is None else index_near(newcomer, 10**9, span)  # type: ignore[operator]
        by_index = {key for key in found if owed(node, key, contacts, own_node)}
        index_ms.append((time.perf_counter() - start) * 1000)
        candidates.append(len(found))
        owed_counts.append(len(by_index))
        if n < scans:
            start = time.perf_counter()
            by_scan = {key for key in keys if owed(node, key, contacts, own_node)}
            full_ms.append((time.perf_counter() - start) * 1000)
            assert by_scan == by_index, (len(by_scan), len(by_index))
    return {"newcomers": len(newcomers), "full_scan_ms_mean": round(statistics.mean(full_ms), 1),
            "index_ms_mean": round(statistics.mean(index_ms), 3), "index_ms_max": round(max(index_ms), 3),
            f"index_first_{limit}_ms_mean": round(statistics.mean(limited_ms), 3),
            f"index_first_{limit}_ms_max": round(max(limited_ms), 3),
            "candidates_mean": round(statistics.mean(candidates), 1),
            "owed_keys_mean": round(statistics.mean(owed_counts), 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--network", type=int, default=10_000)
    parser.add_argument("--scans", type=int, default=5)
    parser.add_argument("--newcomers", type=int, default=300)
    parser.add_argument("--limit", type=int, default=512)
    args = parser.parse_args()
    rng = random.Random(1)
    population = [rng.randbytes(20) for _ in range(args.network)]
    own = population[0]
    joining = rng.sample(population[1:], args.newcomers)
    contacts = routing_table(own, [p for p in population if p not in set(joining)])
    depth = max(shared_prefix_bits(c.id, own) for c in contacts)  # our deepest non-empty bucket
    # Newcomers landing in our own neighbourhood: the case where something is owed.
    close = [near(own, depth - 1 + i % 4, rng) for i in range(max(args.scans, 12))]
    storage = fill(args.entries)
    spread = sorted({key for key, _ in storage})  # the protocol's `{key for key, _ in self.storage}`
    result: dict[str, object] = {"entries": len(storage), "keys": len(spread), "contacts": len(contacts),
                                 "deepest_bucket": depth}
    for name, group in (("random_newcomers", joining), ("close_newcomers", close)):
        result[f"spread_keys/{name}"] = compare(spread, storage.keys_near, own, contacts, group, args.scans, args.limit)
    # What a node holds in a real network: keys it is among the k closest to, all near its own id.
    local = KeyIndex()
    for _ in range(len(spread)):
        local.add(near(own, depth - 2 + rng.getrandbits(3), rng))
    local_keys = local.near(own, 10**9)
    for name, group in (("random_newcomers", joining), ("close_newcomers", close)):
        result[f"local_keys/{name}"] = compare(local_keys, local.near, own, contacts, group, args.scans, args.limit)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
