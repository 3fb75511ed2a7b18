"""Search, publish and join on a simulated internet of 2,000 nodes: our MarketplaceNode against plain kademlia.

Run: python tests/bench/bench_internet.py [--nodes 2000] [--seeds 1 2 3]

Each system runs on its own `SimulatedInternetLoop` (tests/helpers/simnet.py:
per-pair log-normal RTT, 1% loss, datagrams in memory) with the same seed, so
both see the same hosts, node ids, delays, dead hosts, NAT'd hosts,
publishers, searchers and joiners:

1. build: `--nodes` nodes join in waves of `--wave`, each from 3 reachable
   nodes of earlier waves (a join that fails is tried again from other peers,
   up to 3 times, as a person would); `--client` of them are client-mode
   nodes, modelled as hosts behind a NAT: only peers they sent to in the last
   2 minutes reach them, so they take part in lookups they start but time out
   everyone who learns of them from a routing table;
2. `--dead` of them crash: they stay in everyone's routing tables;
3. publish `--packages` packages, one at a time, each from a random live node
   (ours: `publish`; plain: `Server.set` under the same keyword key), then
   count the copies held by the 20 live, reachable nodes closest to that key;
4. search each package `--searches` times from random live nodes that neither
   published it nor already know it (ours: `search`, time to the package's
   first result and to completion; plain: `Server.get`, which returns once, so
   its first result is its completion); recall is the share that found it;
5. `--joins` new nodes join one at a time from one random reachable node
   (ours: `start`; plain: `listen` + `Server.bootstrap`); a join fails when it
   raises (ours) or ends with no contact (plain). What "joined" means: ours
   returns once its own-id lookup is ready (k nodes answered and every closer
   candidate asked; the node can search and publish), and the lookup goes on
   refining the routing table in the background: `join_lookup_ended_ms` is
   when it ended (plain's bootstrap returns only then). Right after each join
   the new node searches for a published package (`search_right_after_join`).

Times are simulated seconds on the loop's virtual clock, so they do not depend
on this machine's speed: a probe timer measures event-loop lag, which is zero
by construction. Until ggen_desktop/net and core/search read the loop's clock,
`time.monotonic` in those modules is patched to `loop.time` here (listed in
the output as "patched_monotonic"). Every lock-step round of kademlia's crawls
is timed (`CrawlRounds`) to show what the rounds that wait for a timeout cost.
The "what if" options change one of our node's rules for a run, to measure
what that rule costs. Progress goes to stderr; each seed prints one JSON line,
and with several seeds a last line gives each figure's spread across them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import kademlia.crawling
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kademlia.network import Server
from kademlia.node import Node

import ggen_desktop.core.search as search_module
import ggen_desktop.net.lookup as lookup_module
import ggen_desktop.net.protocol as protocol_module
import ggen_desktop.net.stall_rule as stall_module
from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.record import SignedRecord, sign
from ggen_desktop.net.node import MarketplaceNode, NodeError
from ggen_desktop.net.storage import keyword_key, package_dht_key
from tests.helpers.packages import make_package
from tests.helpers.simnet import (
    INTERNET_RTT,
    INTERNET_RTT_QUANTILES_MS,
    SimNetwork,
    SimulatedInternetLoop,
    host_address,
)
from tests.helpers.virtual_clock import monotonic_is_loop_time

PATCHED_MODULES = [lookup_module, protocol_module, search_module]
BOOTSTRAP_PEERS = 3
BUILD_ATTEMPTS = 3
CLOSEST = 20
PROBE_INTERVAL_S = 0.1
GOALS = {  # what the product must reach on this benchmark
    "ttfr_median_ms": 400, "ttfr_p90_ms": 1000, "complete_p95_ms": 2000, "recall": 0.99,
    "publish_p95_ms": 3000, "publish_copies_min": 18, "join_p95_ms": 1500,
}


def pct(values: list[float], q: float) -> float | None:
    """The q-quantile by linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000.0, 1)


@dataclass(frozen=True)
class Settings:
    nodes: int
    dead: float
    client: float
    loss: float
    packages: int
    searches: int
    joins: int
    wave: int


@dataclass
class Plan:
    """Every random choice of one seed, made before either system runs, so both get the same ones."""

    ids: list[bytes]
    dead: set[int]
    natted: set[int]
    publishers: list[int]
    searchers: list[list[int]]  # per package: candidates in order; the first that does not know it searches
    join_bootstraps: list[int]

    @classmethod
    def draw(cls, seed: int, s: Settings) -> Plan:
        rng = random.Random(f"plan:{seed}")
        ids = [hashlib.sha1(f"node:{seed}:{i}".encode()).digest() for i in range(s.nodes + s.joins)]
        everyone = list(range(s.nodes))
        dead = set(rng.sample(everyone[1:], round(s.dead * s.nodes)))  # node 0 bootstraps the first wave
        natted = set(rng.sample([i for i in everyone[1:] if i not in dead], round(s.client * s.nodes)))
        live = [i for i in everyone if i not in dead]
        reachable = [i for i in live if i not in natted]
        return cls(
            ids=ids, dead=dead, natted=natted,
            publishers=[rng.choice(live) for _ in range(s.packages)],
            searchers=[rng.sample(live, min(len(live), 8 * s.searches)) for _ in range(s.packages)],
            join_bootstraps=[rng.choice(reachable) for _ in range(s.joins)],
        )


class System(Protocol):
    """What the scenario does to one DHT implementation."""

    name: str

    async def start(self, index: int, node_id: bytes, host: str, bootstrap: list[tuple[str, int]]) -> None: ...
    def address(self, index: int) -> tuple[str, int]: ...
    async def stop(self, index: int) -> None: ...
    async def publish(self, index: int, word: str, record: SignedRecord) -> bool: ...
    def holds(self, index: int, word: str, record: SignedRecord) -> bool: ...
    def knows(self, index: int, word: str, record: SignedRecord) -> bool: ...
    async def search(self, index: int, word: str, record: SignedRecord) -> tuple[float | None, float]: ...
    def counters(self, index: int) -> dict[str, int]: ...
    def contacts(self, index: int) -> int: ...
    async def refined(self, index: int) -> float: ...


class Ours:
    name = "ours"

    def __init__(self, config: QueryConfig, alpha: int | None = None) -> None:
        self.config = config
        self.options = {} if alpha is None else {"alpha": alpha}
        self.nodes: dict[int, MarketplaceNode] = {}
        self.traces: list[dict[str, Any]] = []
        self.refined_at: dict[int, float] = {}

    async def start(self, index: int, node_id: bytes, host: str, bootstrap: list[tuple[str, int]]) -> None:
        node = MarketplaceNode(query_config=self.config, node_id=node_id, remember_contacts=False,
                               **self.options)  # type: ignore[arg-type]
        self.nodes[index] = node
        await node.start(0, bootstrap, interface=host)
        loop = asyncio.get_running_loop()
        refining = node.server.refining
        if refining is None or refining.done():
            self.refined_at[index] = loop.time()
        else:
            refining.add_done_callback(lambda _: self.refined_at.__setitem__(index, loop.time()))

    async def refined(self, index: int) -> float:
        """When the join's own-id lookup ended (loop time): `start` returns once it is ready, before its
        last answers and its dead peers' stalls."""
        refining = self.nodes[index].server.refining
        if refining is not None:
            await asyncio.wait({refining})
        return self.refined_at[index]

    def address(self, index: int) -> tuple[str, int]:
        return self.nodes[index].address

    async def stop(self, index: int) -> None:
        await self.nodes[index].stop()

    async def publish(self, index: int, word: str, record: SignedRecord) -> bool:
        try:
            await self.nodes[index].publish(record)
        except NodeError:
            return False
        return True

    def holds(self, index: int, word: str, record: SignedRecord) -> bool:
        storage = self.nodes[index].storage
        return any(r.identity == record.identity for r in storage.records(keyword_key(word)))

    def holds_package_key(self, index: int, record: SignedRecord) -> bool:
        storage = self.nodes[index].storage
        return any(r.identity == record.identity for r in storage.records(package_dht_key(str(record.package.id))))

    def knows(self, index: int, word: str, record: SignedRecord) -> bool:
        return self.holds(index, word, record) or bool(self.nodes[index].local_search(Query(text=word)))

    async def search(self, index: int, word: str, record: SignedRecord) -> tuple[float | None, float]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        handle = self.nodes[index].search(Query(text=word))
        handle.trace.started_mono = began  # the trace was stamped with the real clock before the patch applies
        first: float | None = None
        async for event in handle:
            if first is None and event.hit.record.identity == record.identity:
                first = loop.time() - began
        trace = await handle.wait()
        self.traces.append({"status": trace.status.value, "first_result_ms": trace.first_result_ms,
                            "duration_ms": trace.duration_ms, **trace.peer_counts()._asdict()})
        return first, loop.time() - began

    def counters(self, index: int) -> dict[str, int]:
        return self.nodes[index].transport_stats()

    def contacts(self, index: int) -> int:
        return len(self.nodes[index].contacts())


class Plain:
    name = "plain"

    def __init__(self) -> None:
        self.servers: dict[int, Server] = {}

    async def start(self, index: int, node_id: bytes, host: str, bootstrap: list[tuple[str, int]]) -> None:
        server = Server(ksize=20, alpha=3, node_id=node_id)
        self.servers[index] = server
        await server.listen(0, host)
        if bootstrap:
            await server.bootstrap(bootstrap)

    def address(self, index: int) -> tuple[str, int]:
        host, port = self.servers[index].transport.get_extra_info("sockname")
        return host, port

    async def stop(self, index: int) -> None:
        self.servers[index].stop()

    async def publish(self, index: int, word: str, record: SignedRecord) -> bool:
        try:
            return bool(await self.servers[index].set(f"kw:{word}", record.encoded))
        except ValueError:  # every neighbour timed out (kademlia's `max()` of no distances)
            return False

    def holds(self, index: int, word: str, record: SignedRecord) -> bool:
        return bool(self.servers[index].storage.get(keyword_key(word)) == record.encoded)

    def knows(self, index: int, word: str, record: SignedRecord) -> bool:
        return self.holds(index, word, record)

    async def search(self, index: int, word: str, record: SignedRecord) -> tuple[float | None, float]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        value = await self.servers[index].get(f"kw:{word}")
        took = loop.time() - began
        return (took if value == record.encoded else None), took

    def counters(self, index: int) -> dict[str, int]:
        return {}

    def contacts(self, index: int) -> int:
        router = self.servers[index].protocol.router
        return sum(len(bucket.get_nodes()) for bucket in router.buckets)

    async def refined(self, index: int) -> float:
        return asyncio.get_running_loop().time()  # bootstrap() returns when its crawl has ended


@dataclass
class LagProbe:
    """A timer every 100 ms that records how late it fires: the event-loop lag the measurements would carry."""

    late_s: list[float] = field(default_factory=list)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + PROBE_INTERVAL_S
            await asyncio.sleep(PROBE_INTERVAL_S)
            self.late_s.append(loop.time() - due)


class CrawlRounds:
    """Times each lock-step round of kademlia's crawls (`NodeSpiderCrawl`, `ValueSpiderCrawl`).

    A round is one `gather_dict` call in `SpiderCrawl._find`: it asks up to α
    peers and waits for every one of them, so a round with a peer that never
    answers lasts that peer's whole timeout. Wrapping the library's helper
    measures this without touching the code under test.
    """

    def __init__(self) -> None:
        self.rounds: list[tuple[float, bool]] = []  # (simulated seconds, some peer timed out)

    @contextlib.contextmanager
    def installed(self, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        original = kademlia.crawling.gather_dict

        async def timed(calls: dict[bytes, Any]) -> dict[bytes, Any]:
            began = loop.time()
            answers = await original(calls)
            self.rounds.append((loop.time() - began, any(not answer[0] for answer in answers.values())))
            return answers

        kademlia.crawling.gather_dict = timed
        try:
            yield
        finally:
            kademlia.crawling.gather_dict = original

    def summary(self, since: int) -> dict[str, Any]:
        """Rounds since index `since`: how many, how many waited for a timeout, and their share of round time."""
        rounds = self.rounds[since:]
        slow = [d for d, timed_out in rounds if timed_out]
        total = sum(d for d, _ in rounds)
        return {"rounds": len(rounds), "rounds_with_timeout": len(slow),
                "timeout_round_ms_median": ms(pct(slow, 0.5)),
                "clean_round_ms_median": ms(pct([d for d, t in rounds if not t], 0.5)),
                "time_share_of_timeout_rounds": round(sum(slow) / total, 3) if total else None}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def closest_live(plan: Plan, key: bytes, candidates: list[int]) -> list[int]:
    target = Node(key)
    return sorted(candidates, key=lambda i: Node(plan.ids[i]).distance_to(target))[:CLOSEST]


async def scenario(system: System, seed: int, s: Settings, make_record: Callable[[int], SignedRecord],
                   crawls: CrawlRounds) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, SimulatedInternetLoop)
    network: SimNetwork = loop.network
    plan = Plan.draw(seed, s)
    probe = LagProbe()
    probe_task = asyncio.ensure_future(probe.run())
    phases: dict[str, dict[str, float]] = {}
    rounds: dict[str, dict[str, Any]] = {}

    def phase(name: str, wall0: float, sim0: float, rounds0: int) -> None:
        phases[name] = {"wall_s": round(time.perf_counter() - wall0, 1), "sim_s": round(loop.time() - sim0, 1)}
        rounds[name] = crawls.summary(rounds0)
        log(f"[{system.name} seed {seed}] {name}: {phases[name]['sim_s']} s simulated, {phases[name]['wall_s']} s wall")

    # 1. build
    wall0, sim0, rounds0 = time.perf_counter(), loop.time(), len(crawls.rounds)
    for index in plan.natted:
        network.put_behind_nat(host_address(index))
    built: list[int] = []
    failed_builds = 0
    order = list(range(s.nodes))
    waves = [order[:1]] + [order[i:i + s.wave] for i in range(1, s.nodes, s.wave)]
    rng = random.Random(f"build:{seed}")
    for wave in waves:
        reachable = [i for i in built if i not in plan.natted]

        async def join_one(index: int, reachable: list[int] = reachable) -> bool:
            """Join, trying again from other peers as a person would; False when every attempt failed."""
            nonlocal failed_builds
            for _ in range(BUILD_ATTEMPTS):
                peers = [system.address(i) for i in rng.sample(reachable, min(BOOTSTRAP_PEERS, len(reachable)))]
                try:
                    await system.start(index, plan.ids[index], host_address(index), peers)
                    return True
                except NodeError:
                    failed_builds += 1
            return False

        results = await asyncio.gather(*(join_one(i) for i in wave))
        built += [index for index, ok in zip(wave, results, strict=True) if ok]
    phase("build", wall0, sim0, rounds0)

    # 2. crash
    for index in plan.dead:
        network.kill(host_address(index))
        if index in built:
            await system.stop(index)
    live = [i for i in built if i not in plan.dead]
    reachable = [i for i in live if i not in plan.natted]

    # 3. publish
    wall0, sim0, rounds0 = time.perf_counter(), loop.time(), len(crawls.rounds)
    records = [make_record(i) for i in range(s.packages)]
    publish_s: list[float] = []
    copies: list[int] = []
    package_copies: list[int] = []
    publish_timeouts: list[int] = []
    publish_failures = 0
    for i, record in enumerate(records):
        publisher, word = plan.publishers[i], f"zeta{i}"
        before = system.counters(publisher).get("timeouts", 0)
        began = loop.time()
        ok = await system.publish(publisher, word, record)
        publish_s.append(loop.time() - began)
        publish_timeouts.append(system.counters(publisher).get("timeouts", 0) - before)
        publish_failures += not ok
        copies.append(sum(system.holds(j, word, record) for j in closest_live(plan, keyword_key(word), reachable)))
        if isinstance(system, Ours):
            key = package_dht_key(str(record.package.id))
            package_copies.append(sum(system.holds_package_key(j, record) for j in closest_live(plan, key, reachable)))
    phase("publish", wall0, sim0, rounds0)

    # 4. search
    wall0, sim0, rounds0 = time.perf_counter(), loop.time(), len(crawls.rounds)
    ttfr_s: list[float] = []
    complete_s: list[float] = []
    found = asked = 0
    for i, record in enumerate(records):
        word = f"zeta{i}"
        askers = [j for j in plan.searchers[i] if j in live and j != plan.publishers[i]
                  and not system.knows(j, word, record)][: s.searches]
        for asker in askers:
            first, complete = await system.search(asker, word, record)
            asked += 1
            complete_s.append(complete)
            if first is not None:
                found += 1
                ttfr_s.append(first)
    phase("search", wall0, sim0, rounds0)

    # 5. join: `start` returns when the node is joined (it can search and publish); a search for a published
    # package is made from it at once, and the join's own-id lookup may still be refining the routing table
    wall0, sim0, rounds0 = time.perf_counter(), loop.time(), len(crawls.rounds)
    join_s: list[float] = []
    refined_s: list[float] = []
    joined: list[int] = []
    join_contacts: list[int] = []
    join_failures = 0
    after_join_ttfr: list[float] = []
    after_join_found = 0
    for j in range(s.joins):
        index = s.nodes + j
        began = loop.time()
        try:
            await system.start(index, plan.ids[index], host_address(index), [system.address(plan.join_bootstraps[j])])
        except NodeError as exc:
            join_failures += 1  # ours: e.g. the bootstrap peer's answer was lost (the ping is not retried)
            log(f"  joiner {index} failed: {exc}")
            continue
        joined.append(index)
        if system.contacts(index) == 0:
            join_failures += 1  # plain: bootstrap() does not fail, it leaves the node alone
            continue
        join_s.append(loop.time() - began)
        join_contacts.append(system.contacts(index))
        searched = j % len(records)
        first, _ = await system.search(index, f"zeta{searched}", records[searched])
        if isinstance(system, Ours):
            system.traces.pop()  # the search phase's figures are its own
        if first is not None:
            after_join_found += 1
            after_join_ttfr.append(first)
        refined_s.append(await system.refined(index) - began)
    phase("join", wall0, sim0, rounds0)

    probe_task.cancel()
    for index in live + joined:
        await system.stop(index)
    figures: dict[str, Any] = {
        "search_ttfr_ms": {"median": ms(pct(ttfr_s, 0.5)), "p90": ms(pct(ttfr_s, 0.9)), "p95": ms(pct(ttfr_s, 0.95))},
        "search_complete_ms": {"median": ms(pct(complete_s, 0.5)), "p95": ms(pct(complete_s, 0.95))},
        "search_recall": round(found / asked, 4) if asked else None,
        "searches": asked,
        "publish_ms": {"median": ms(pct(publish_s, 0.5)), "p95": ms(pct(publish_s, 0.95))},
        "publish_copies_of_20_closest": {"median": pct([float(c) for c in copies], 0.5), "min": min(copies)},
        "publish_failures": publish_failures,
        "publish_timeouts_per_op_median": pct([float(t) for t in publish_timeouts], 0.5),
        "join_ms": {"median": ms(pct(join_s, 0.5)), "p95": ms(pct(join_s, 0.95))},
        "join_failures": join_failures,
        "join_lookup_ended_ms": {"median": ms(pct(refined_s, 0.5)), "p95": ms(pct(refined_s, 0.95))},
        "search_right_after_join": {"recall": round(after_join_found / len(join_s), 4) if join_s else None,
                                    "ttfr_median_ms": ms(pct(after_join_ttfr, 0.5)),
                                    "ttfr_p95_ms": ms(pct(after_join_ttfr, 0.95))},
        "join_contacts_median": pct([float(c) for c in join_contacts], 0.5),
        "build_attempts_failed": failed_builds,
        "built": len(built),
        "phases": phases,
        "crawl_rounds": rounds,
        "lag_ms_max": ms(max(probe.late_s, default=0.0)),
        "datagrams": dict(network.stats),
    }
    if package_copies:
        figures["publish_package_key_copies_of_20_closest"] = {"median": pct([float(c) for c in package_copies], 0.5),
                                                               "min": min(package_copies)}
    if isinstance(system, Ours):
        figures["search_statuses"] = dict(Counter(t["status"] for t in system.traces))
        for name in ("asked", "answered", "timed_out"):
            figures[f"search_peers_{name}_median"] = pct([float(t[name]) for t in system.traces], 0.5)
    return figures


def run_system(system: System, seed: int, s: Settings, make_record: Callable[[int], SignedRecord]) -> dict[str, Any]:
    random.seed(f"{system.name}:{seed}")  # kademlia and the announcer draw from the module's generator
    loop = SimulatedInternetLoop(seed, loss=s.loss)
    crawls = CrawlRounds()
    with (asyncio.Runner(loop_factory=lambda: loop) as runner, monotonic_is_loop_time(loop, PATCHED_MODULES),
          crawls.installed(loop)):
        return runner.run(scenario(system, seed, s, make_record, crawls))


def goals(ours: dict[str, Any]) -> dict[str, bool]:
    def le(value: float | None, bound: float) -> bool:
        return value is not None and value <= bound

    return {
        "ttfr_median_ms<=400": le(ours["search_ttfr_ms"]["median"], GOALS["ttfr_median_ms"]),
        "ttfr_p90_ms<=1000": le(ours["search_ttfr_ms"]["p90"], GOALS["ttfr_p90_ms"]),
        "complete_p95_ms<=2000": le(ours["search_complete_ms"]["p95"], GOALS["complete_p95_ms"]),
        "recall>=0.99": (ours["search_recall"] or 0.0) >= GOALS["recall"],
        "publish_p95_ms<=3000": le(ours["publish_ms"]["p95"], GOALS["publish_p95_ms"]),
        "copies_of_20>=18": ours["publish_copies_of_20_closest"]["min"] >= GOALS["publish_copies_min"],
        "join_p95_ms<=1500": le(ours["join_ms"]["p95"], GOALS["join_p95_ms"]),
    }


def run_seed(seed: int, s: Settings, config: QueryConfig, systems: list[str], alpha: int | None = None
             ) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    records = {i: sign(make_package(f"bench/pkg{i}", f"Benchmark package zeta{i}", tags=(f"zeta{i}",)), key)
               for i in range(s.packages)}
    result: dict[str, Any] = {"seed": seed}
    for system in (Ours(config, alpha), Plain()):
        if system.name in systems:
            result[system.name] = run_system(system, seed, s, records.__getitem__)
    if "ours" in result:
        result["goals_met"] = goals(result["ours"])
    return result


def flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = float(value)


def spread(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    flat: list[dict[str, float]] = []
    for result in results:
        out: dict[str, float] = {}
        for system in ("ours", "plain"):
            skip = ("phases", "datagrams", "crawl_rounds")
            flatten(system, {k: v for k, v in result.get(system, {}).items() if k not in skip}, out)
        flat.append(out)
    keys = [k for k in flat[0] if all(k in f for f in flat)]
    return {k: {"min": min(f[k] for f in flat), "median": statistics.median(f[k] for f in flat),
                "max": max(f[k] for f in flat)} for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--dead", type=float, default=0.2)
    parser.add_argument("--client", type=float, default=0.1)
    parser.add_argument("--loss", type=float, default=0.01)
    parser.add_argument("--packages", type=int, default=40)
    parser.add_argument("--searches", type=int, default=3, help="searches per package, from different nodes")
    parser.add_argument("--joins", type=int, default=40)
    parser.add_argument("--wave", type=int, default=100, help="nodes joining at once while the network is built")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--systems", nargs="+", choices=["ours", "plain"], default=["ours", "plain"])
    what_if = parser.add_argument_group("what if (diagnosis: changes our node's rules for this run only)")
    what_if.add_argument("--fan-out", type=int, help="QueryConfig.fan_out of every node (default 3)")
    what_if.add_argument("--unknown-stall", type=float, help="net.stall_rule.UNKNOWN_PEER_STALL_S (default 0.5)")
    what_if.add_argument("--stall-factor", type=float, help="net.stall_rule.UNKNOWN_STALL_FACTOR: × the lookup's p90 "
                         "round trip after which a request to a peer never measured stalls (default 2)")
    what_if.add_argument("--alpha", type=int, help="MarketplaceNode alpha: requests a node lookup keeps in flight "
                         "(default 8)")
    what_if.add_argument("--rpc-timeout", type=float, help="net.protocol.DEFAULT_RPC_TIMEOUT: crawl, store and "
                         "announce calls to peers never measured (default 2.0)")
    args = parser.parse_args()
    config = QueryConfig() if args.fan_out is None else QueryConfig(fan_out=args.fan_out)
    changed = {"fan_out": args.fan_out, "UNKNOWN_PEER_STALL_S": args.unknown_stall,
               "UNKNOWN_STALL_FACTOR": args.stall_factor, "alpha": args.alpha, "DEFAULT_RPC_TIMEOUT": args.rpc_timeout}
    if args.stall_factor is not None:
        stall_module.UNKNOWN_STALL_FACTOR = args.stall_factor
    if args.unknown_stall is not None:
        stall_module.UNKNOWN_PEER_STALL_S = args.unknown_stall
    if args.rpc_timeout is not None:
        protocol_module.DEFAULT_RPC_TIMEOUT = args.rpc_timeout
    settings = Settings(args.nodes, args.dead, args.client, args.loss, args.packages, args.searches, args.joins,
                        args.wave)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    for name in ("kademlia", "rpcudp"):  # they log every unanswered request, thousands here
        logging.getLogger(name).setLevel(logging.CRITICAL)
    model = {
        "rtt": "log-normal, fitted by least squares to the quantiles " + json.dumps(INTERNET_RTT_QUANTILES_MS),
        "mu": round(INTERNET_RTT.mu, 4), "sigma": round(INTERNET_RTT.sigma, 4),
        "rtt_ms_p50_p90_p99": [round(INTERNET_RTT.quantile_ms(p), 1) for p in (0.5, 0.9, 0.99)],
        "one_way": "half the pair's RTT, fixed per pair", "loss": args.loss, "dead": args.dead, "client": args.client,
        "clock": "virtual (tests/helpers/virtual_clock.py)",
        "patched_monotonic": [m.__name__ for m in PATCHED_MODULES],
    }
    results = []
    for seed in args.seeds:
        wall0 = time.perf_counter()
        result = run_seed(seed, settings, config, args.systems, args.alpha)
        result["wall_s"] = round(time.perf_counter() - wall0, 1)
        result.update({"nodes": args.nodes, "packages": args.packages, "joins": args.joins, "model": model,
                       "what_if": {k: v for k, v in changed.items() if v is not None}})
        results.append(result)
        print(json.dumps(result), flush=True)
    if len(results) > 1:
        print(json.dumps({"seeds": args.seeds, "nodes": args.nodes, "model": model, "spread": spread(results),
                          "goals_met_per_seed": [r.get("goals_met") for r in results]}), flush=True)


if __name__ == "__main__":
    main()
