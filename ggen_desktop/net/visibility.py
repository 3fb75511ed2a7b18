"""Can others find my package? Lookups started from peers far from its keys, and a count of its replicas.

A publish that reports "stored on 20 peers" proves the copies exist, not that a
peer elsewhere in the network can route to them. The visibility check runs the
real streaming lookup of the package key, but seeded with one far contact only
(far in XOR distance from the package key and its keyword keys, so not a
holder), excluding this node: each lookup must find the holders through other
peers' routing tables, as a searcher elsewhere would. N such lookups run at
once, each independent of the others.

The replica count asks the k closest live nodes of the package key (found by
a node lookup) whether they hold the record: the Replicas column's number is what
the network holds now, with the time it was checked.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.record import RecordError, SignedRecord
from ggen_desktop.core.search import QueryTrace
from ggen_desktop.net.lookup import run_for, start_lookup
from ggen_desktop.net.node_lookup import closest_live_nodes
from ggen_desktop.net.protocol import DEFAULT_RPC_TIMEOUT, MarketProtocol
from ggen_desktop.net.record_digests import VerifiedRecords
from ggen_desktop.net.storage import package_dht_key, record_keys

FAR_PEERS = 5


@dataclass(frozen=True)
class FarCheck:
    """One lookup seeded with one far peer: whether it found the record, in how long, or what failed."""

    peer_id: str
    found: bool
    elapsed_ms: float
    asked: int  # peers this lookup asked
    problem: str | None = None  # why it did not find it, when it did not


@dataclass(frozen=True)
class VisibilityReport:
    """The outcome of a visibility check: one `FarCheck` per far peer."""

    record: SignedRecord
    checks: tuple[FarCheck, ...]
    elapsed_ms: float
    checked_at: float

    @property
    def found(self) -> int:
        return sum(1 for c in self.checks if c.found)

    def summary(self) -> str:
        """"found by 5 of 5 peers in 120 ms", or what failed."""
        if not self.checks:
            return ("not checked: every peer this node knows is among the closest to the package key, so each "
                    "holds a copy (a network this small needs no routing to find it)")
        text = f"found by {self.found} of {len(self.checks)} peers in {self.elapsed_ms:.0f} ms"
        failed = [c for c in self.checks if not c.found]
        if failed:
            reasons = sorted({c.problem or "not found" for c in failed})
            text += f"; {len(failed)} did not find it ({', '.join(reasons)})"
        return text


@dataclass(frozen=True)
class ReplicaCount:
    """How many of the package key's closest nodes returned the record, and when that was checked."""

    holders: tuple[str, ...]  # ids (hex) of the nodes that returned the record
    asked: int
    checked_at: float

    @property
    def replicas(self) -> int:
        return len(self.holders)

    def describe(self, now: float | None = None) -> str:
        """"3 replicas, checked 2 min ago"."""
        age = max(0.0, (time.time() if now is None else now) - self.checked_at)
        ago = "just now" if age < 60 else f"{age // 60:.0f} min ago" if age < 3600 else f"{age // 3600:.0f} h ago"
        return f"{self.replicas} replica{'s' if self.replicas != 1 else ''}, checked {ago}"


def far_peers(contacts: list[Node], record: SignedRecord, ksize: int, count: int = FAR_PEERS) -> list[Node]:
    """`count` contacts that are not among the k closest to the package key (its holders), preferring those
    not among the k closest to any keyword key either, farthest first (by their distance to the nearest key)."""
    targets = [Node(key) for key in record_keys(record)]
    near = [{n.id for n in sorted(contacts, key=t.distance_to)[:ksize]} for t in targets]
    holders_of_package_key = near[0]
    near_any = set().union(*near)
    others = [n for n in contacts if n.id not in holders_of_package_key]
    others.sort(key=lambda n: (n.id in near_any, -min(t.distance_to(n) for t in targets)))
    return others[:count]


async def check_visibility(protocol: MarketProtocol, record: SignedRecord, config: QueryConfig, ksize: int,
                           count: int = FAR_PEERS) -> VisibilityReport:
    """Run `count` lookups of the record's package key at once, each seeded with one far contact only."""
    started = time.monotonic()
    far = far_peers(protocol.known_nodes(), record, ksize, count)
    checks = await asyncio.gather(*(_lookup_from(protocol, peer, record, config, ksize) for peer in far))
    return VisibilityReport(record, tuple(checks), (time.monotonic() - started) * 1000.0, time.time())


async def _lookup_from(protocol: MarketProtocol, peer: Node, record: SignedRecord, config: QueryConfig,
                       ksize: int) -> FarCheck:
    trace = QueryTrace(Query(text=str(record.package.id)))
    found = False

    def on_records(_node: Node, records: list[SignedRecord]) -> bool:
        nonlocal found
        found = found or any(r.identity == record.identity for r in records)
        return found

    # A verifier of its own: each lookup checks what it receives, sharing nothing with this node's searches.
    lookup = start_lookup(protocol, package_dht_key(str(record.package.id)), trace, on_records, config, ksize,
                          VerifiedRecords())
    lookup.start_from([peer])  # the far peer only: the holders must be found through the network
    started = time.monotonic()
    problem: str | None = None
    try:
        await run_for(lookup, config.default_timeout)
    except TimeoutError:
        problem = "timed out"
    elapsed = (time.monotonic() - started) * 1000.0
    if not found and problem is None:
        first = trace.peers.get(peer.id.hex())
        if first is not None and first.answered_at_ms is None:
            problem = "the far peer did not answer"
        elif any(p.answered_at_ms is None for p in trace.peers.values()):
            problem = "the peers it was led to did not answer"
        else:
            problem = "no peer it reached holds it"
    return FarCheck(peer.id.hex(), found, elapsed, len(trace.peers), None if found else problem)


async def count_replicas(protocol: MarketProtocol, record: SignedRecord, config: QueryConfig, ksize: int,
                         alpha: int) -> ReplicaCount:
    """Ask the k closest live nodes of the package key (found by a node lookup) for the record; count those
    that return it."""
    package_id = str(record.package.id)
    key = package_dht_key(package_id)
    nodes = await closest_live_nodes(protocol, key, ksize=ksize, fan_out=alpha)
    query = Query(text=package_id).to_dict()
    me = protocol.source_node.id
    timeout = min(config.default_timeout, 2 * DEFAULT_RPC_TIMEOUT)
    asked = [n for n in nodes if n.id != me]
    answers = await asyncio.gather(*(protocol.request((n.ip, n.port), "search", [me, key, query, 0], timeout)
                                     for n in asked))
    verifier = VerifiedRecords()
    holders = tuple(n.id.hex() for n, (ok, answer) in zip(asked, answers, strict=True)
                    if ok and _holds(answer, record, verifier))
    return ReplicaCount(holders, len(asked), time.time())


def _holds(answer: object, record: SignedRecord, verifier: VerifiedRecords) -> bool:
    """The answer includes the record itself, verified (a peer's word alone is not counted)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("records"), list):
        return False
    for data in answer["records"]:
        if not isinstance(data, bytes):
            continue
        try:
            if verifier.verify(data).identity == record.identity:
                return True
        except RecordError:
            continue
    return False
