"""When a request in flight stops holding a lookup up: the stall rule every streaming lookup shares.

A lookup keeps `fan_out` requests in flight. One to a dead peer would hold its
slot until its timeout (2 s for a peer never measured), so a request *stalls*
once it has taken much longer than its peer should: 2× the peer's own mean
round trip when the reputation book has measured it; for a peer never
measured, 2× the p90 of the round trips this lookup has seen (before its first
answer, the candidates' measured ones stand in, or else the node's recent
round trips to anyone), with a floor; with no round trip known at all, a
fixed wait. A stalled request frees its slot but is not a
timeout: its late answer is still used, and only its own timeout counts
against the peer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from kademlia.node import Node

from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.net.address_policy import peer_key

UNKNOWN_PEER_STALL_S = 0.5  # a never-measured peer stalls after this long when no round trip is known at all
MIN_STALL_S = 0.05
KNOWN_STALL_FACTOR = 2.0  # × the peer's own mean round trip
UNKNOWN_STALL_FACTOR = 2.0  # × the p90 of the round trips of this lookup (4× cost 2–3× the time on bench_internet)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def reputation_key(node: Node) -> str:
    """Reputation is kept per address, never per claimed node id."""
    return peer_key(node.ip, node.port)


class StallRule:
    """One lookup's round trips, and how long a request to each peer may run before it stalls."""

    def __init__(self, reputation: ReputationBook, candidates: Iterable[Node], recent: Iterable[float] = ()) -> None:
        """`candidates` are the lookup's first ones: their measured round trips stand in until it has its own;
        without any, the node's `recent` round trips to anyone do."""
        self.reputation = reputation
        self.rtts: list[float] = []
        measured = (reputation.peers.get(reputation_key(node)) for node in candidates)
        self.prior = [s.avg_rtt_ms / 1000.0 for s in measured if s is not None and s.avg_rtt_ms is not None]
        self.prior = self.prior or list(recent)

    def observe(self, rtt_s: float) -> None:
        """A round trip seen in this lookup."""
        self.rtts.append(rtt_s)

    def measured(self, node: Node) -> bool:
        """Whether the reputation book knows this peer's round trip."""
        stats = self.reputation.peers.get(reputation_key(node))
        return stats is not None and stats.avg_rtt_ms is not None

    def stall_after(self, node: Node) -> float:
        """Seconds after which a request to `node` stops counting against the fan-out."""
        stats = self.reputation.peers.get(reputation_key(node))
        if stats is not None and stats.avg_rtt_ms is not None:  # measured: judged by its own round trips
            return max(MIN_STALL_S, KNOWN_STALL_FACTOR * stats.avg_rtt_ms / 1000.0)
        return self.unmeasured_stall_after()

    def unmeasured_stall_after(self) -> float:
        """Seconds after which a request to a peer never measured stalls."""
        rtts = self.rtts or self.prior
        if rtts:
            return max(MIN_STALL_S, UNKNOWN_STALL_FACTOR * p90(rtts))
        return UNKNOWN_PEER_STALL_S
