"""Lookup, publish and join under churn: plain kademlia against our streaming lookups.

Run: python tests/bench/bench_lookup.py [--nodes 200] [--dead 0.2] [--packages 20] [--joins 20]
Builds two loopback networks of the same size (plain kademlia servers, and
MarketplaceNodes), stores the same packages in both, stops the same fraction
of nodes, then, from live nodes, times:

- searches (ours: `search`, first result and completion) against `Server.get`;
- publishes of new packages (ours: `publish`; plain: `Server.set` under the
  keyword key), and counts the copies held by the k live nodes closest to the
  keyword key (ours: also the package key);
- joins of new nodes through one live node (ours: `start`; plain: `listen` and
  `Server.bootstrap`).

Plain kademlia's operations run concurrently (each waits for rpcudp's 5 s
timeouts, one by one they would take many minutes); ours run one at a time.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kademlia.network import Server
from kademlia.node import Node
from kademlia.utils import digest

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.record import sign
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import keyword_key, package_dht_key
from tests.helpers.packages import make_package


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def build_plain(count: int, ksize: int) -> list[Server]:
    servers = []
    for _ in range(count):
        server = Server(ksize=ksize)
        await server.listen(0, "127.0.0.1")
        if servers:
            peers = [s.transport.get_extra_info("sockname") for s in random.sample(servers, min(3, len(servers)))]
            await server.bootstrap(peers)
        servers.append(server)
    return servers


async def build_ours(count: int, ksize: int) -> list[MarketplaceNode]:
    nodes: list[MarketplaceNode] = []
    for _ in range(count):
        node = MarketplaceNode(ksize=ksize)
        await node.start(0, [n.address for n in random.sample(nodes, min(3, len(nodes)))])
        nodes.append(node)
    return nodes


def closest_live(ids: list[bytes], live: list[int], key: bytes, k: int) -> list[int]:
    target = Node(key)
    return sorted(live, key=lambda i: target.distance_to(Node(ids[i])))[:k]


def figures(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "p95": round(pct(values, 0.95), 1)}


async def publish_and_join(plain: list[Server], ours: list[MarketplaceNode], live: list[int], args: argparse.Namespace,
                           key: Ed25519PrivateKey) -> dict[str, object]:
    """Publishes of new packages and joins of new nodes in both networks, with the copies each publish left."""
    k = args.ksize
    fresh = [sign(make_package(f"bench/new{i}", f"Fresh package{i} omega{i}", tags=(f"omega{i}",)), key)
             for i in range(args.packages)]
    publishers = [random.choice(live) for _ in fresh]
    plain_ids = [s.node.id for s in plain]
    our_ids = [n.node_id for n in ours]

    async def plain_set(i: int) -> float:
        begin = time.monotonic()
        with contextlib.suppress(ValueError):  # kademlia: every neighbour timed out
            await plain[publishers[i]].set(f"kw:omega{i}", fresh[i].encoded)
        return (time.monotonic() - begin) * 1000

    plain_publish = list(await asyncio.gather(*(plain_set(i) for i in range(len(fresh)))))
    plain_copies = [sum(plain[j].storage.get(digest(f"kw:omega{i}")) == fresh[i].encoded
                        for j in closest_live(plain_ids, live, digest(f"kw:omega{i}"), k)) for i in range(len(fresh))]
    our_publish, our_copies, our_package_copies = [], [], []
    for i, record in enumerate(fresh):
        begin = time.monotonic()
        await ours[publishers[i]].publish(record)
        our_publish.append((time.monotonic() - begin) * 1000)
        for copies, dht_key in ((our_copies, keyword_key(f"omega{i}")), (our_package_copies,
                                                                         package_dht_key(f"bench/new{i}"))):
            copies.append(sum(record in ours[j].storage.records(dht_key)
                              for j in closest_live(our_ids, live, dht_key, k)))
    print(f"published {len(fresh)} new packages in both", flush=True)

    bootstraps = [random.choice(live) for _ in range(args.joins)]
    plain_joiners: list[Server] = []

    async def plain_join(i: int) -> float:
        server = Server(ksize=k)
        plain_joiners.append(server)
        begin = time.monotonic()
        await server.listen(0, "127.0.0.1")
        await server.bootstrap([plain[bootstraps[i]].transport.get_extra_info("sockname")])
        return (time.monotonic() - begin) * 1000

    plain_join_ms = list(await asyncio.gather(*(plain_join(i) for i in range(args.joins))))
    our_join_ms = []
    our_joiners = []
    for i in range(args.joins):
        node = MarketplaceNode(ksize=k, remember_contacts=False)
        our_joiners.append(node)
        begin = time.monotonic()
        await node.start(0, [ours[bootstraps[i]].address])
        our_join_ms.append((time.monotonic() - begin) * 1000)
    print(f"joined {args.joins} new nodes to both", flush=True)
    for server in plain_joiners:
        server.stop()
    for node in our_joiners:
        await node.stop()
    return {
        "plain_set_ms": figures(plain_publish),
        "publish_ms": figures(our_publish),
        "plain_set_copies_of_k_live_closest": {"median": statistics.median(plain_copies), "min": min(plain_copies)},
        "publish_keyword_copies_of_k_live_closest": {"median": statistics.median(our_copies), "min": min(our_copies)},
        "publish_package_copies_of_k_live_closest": {"median": statistics.median(our_package_copies),
                                                     "min": min(our_package_copies)},
        "plain_bootstrap_ms": figures(plain_join_ms),
        "join_ms": figures(our_join_ms),
    }


async def main() -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--dead", type=float, default=0.2)
    parser.add_argument("--packages", type=int, default=20)
    parser.add_argument("--ksize", type=int, default=20)
    parser.add_argument("--joins", type=int, default=20)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
    logging.basicConfig(level=logging.CRITICAL)
    random.seed(7)

    key = Ed25519PrivateKey.generate()
    records = [sign(make_package(f"bench/pkg{i}", f"Benchmark package{i} zeta{i}", tags=(f"zeta{i}",)), key)
               for i in range(args.packages)]
    started = time.monotonic()
    plain = await build_plain(args.nodes, args.ksize)
    ours = await build_ours(args.nodes, args.ksize)
    print(f"built two networks of {args.nodes} nodes in {time.monotonic() - started:.1f} s", flush=True)

    for i, record in enumerate(records):
        await plain[i % len(plain)].set(f"kw:zeta{i}", record.encoded)
        await ours[i % len(ours)].publish(record)
    print(f"stored {len(records)} packages in both", flush=True)

    dead_count = int(args.nodes * args.dead)
    dead = set(random.sample(range(args.nodes), dead_count))
    for index in dead:
        plain[index].stop()
        await ours[index].stop()
    live = [i for i in range(args.nodes) if i not in dead]
    askers = [random.choice(live) for _ in records]

    async def plain_get(i: int) -> float:
        begin = time.monotonic()
        await plain[askers[i]].get(f"kw:zeta{i}")
        return (time.monotonic() - begin) * 1000

    began = time.monotonic()
    baseline = await asyncio.gather(*(plain_get(i) for i in range(len(records))))
    print(f"baseline: {len(baseline)} gets in {time.monotonic() - began:.1f} s", flush=True)

    ttfr, complete, found = [], [], 0
    for i, record in enumerate(records):
        node = ours[askers[i]]
        node.storage.clear()  # measure the network, not a local replica
        node.discovered.clear()
        node.publisher.mine.clear()
        trace = await node.search(Query(text=f"zeta{i}"), QueryConfig(default_timeout=10)).wait()
        if record.identity in trace.hits:
            found += 1
            ttfr.append(trace.first_result_ms or 0.0)
        complete.append(trace.duration_ms or 0.0)
    placement = await publish_and_join(plain, ours, live, args, key)

    for server in plain:
        server.stop()
    for node in ours:
        await node.stop()
    result = {
        "nodes": args.nodes,
        "dead_fraction": args.dead,
        "packages": len(records),
        "baseline_median_ms": round(statistics.median(baseline), 2),
        "baseline_p95_ms": round(pct(baseline, 0.95), 2),
        "ttfr_median_ms": round(statistics.median(ttfr), 2) if ttfr else None,
        "ttfr_p95_ms": round(pct(ttfr, 0.95), 2) if ttfr else None,
        "complete_median_ms": round(statistics.median(complete), 2),
        "complete_p95_ms": round(pct(complete, 0.95), 2),
        "recall": found / len(records),
    }
    result["speedup"] = round(result["baseline_median_ms"] / result["ttfr_median_ms"], 1) if ttfr else None
    result.update(placement)
    result["publish_speedup"] = round(placement["plain_set_ms"]["median"] / placement["publish_ms"]["median"], 1)
    result["join_speedup"] = round(placement["plain_bootstrap_ms"]["median"] / placement["join_ms"]["median"], 1)
    print(f"plain Server.get: median {result['baseline_median_ms']} ms, p95 {result['baseline_p95_ms']} ms")
    print(f"ours, first result: median {result['ttfr_median_ms']} ms, p95 {result['ttfr_p95_ms']} ms")
    print(f"ours, complete: median {result['complete_median_ms']} ms, p95 {result['complete_p95_ms']} ms")
    print(f"plain Server.set: {placement['plain_set_ms']} ms; ours, publish: {placement['publish_ms']} ms")
    print(f"plain Server.bootstrap: {placement['plain_bootstrap_ms']} ms; ours, join: {placement['join_ms']} ms")
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
