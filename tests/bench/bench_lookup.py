"""Lookup latency under churn: plain kademlia `Server.get` against our streaming search.

Run: python tests/bench/bench_lookup.py [--nodes 200] [--dead 0.2] [--packages 20]
Builds two loopback networks of the same size (plain kademlia servers, and
MarketplaceNodes), stores the same packages in both, stops the same fraction
of nodes, then times lookups from live nodes. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
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

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.record import sign
from ggen_desktop.net.node import MarketplaceNode
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


async def main() -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--dead", type=float, default=0.2)
    parser.add_argument("--packages", type=int, default=20)
    parser.add_argument("--ksize", type=int, default=20)
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
    print(f"plain Server.get: median {result['baseline_median_ms']} ms, p95 {result['baseline_p95_ms']} ms")
    print(f"ours, first result: median {result['ttfr_median_ms']} ms, p95 {result['ttfr_p95_ms']} ms")
    print(f"ours, complete: median {result['complete_median_ms']} ms, p95 {result['complete_p95_ms']} ms")
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
