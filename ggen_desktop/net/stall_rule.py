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

A request also stalls when one sent after it has been answered and it is
later than that answer's round trip plus a reordering allowance (RACK,
RFC 8985: TCP marks a packet lost on such evidence rather than on a timer).
That evidence needs no floor against the machine's own pauses, so a silent
peer costs a round trip, not the floor, wherever round trips are short.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from kademlia.node import Node

from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.net.address_policy import peer_key

UNKNOWN_PEER_STALL_S = 0.5  # a never-measured peer stalls after this long when no round trip is known at all
MIN_STALL_S = 0.05
REORDER_SHARE = 0.25  # RACK's reordering allowance: this share of the lookup's least round trip
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
        self.latest_sent: float | None = None  # when the latest-sent request that was answered was sent (RACK)
        self.latest_rtt = 0.0  # and its round trip
        self.least_rtt = math.inf  # the least of `rtts`: RACK's reordering allowance is a share of it
        measured = (reputation.peers.get(reputation_key(node)) for node in candidates)
        self.prior = [s.avg_rtt_ms / 1000.0 for s in measured if s is not None and s.avg_rtt_ms is not None]
        self.prior = self.prior or list(recent)

    def observe(self, rtt_s: float, sent_at: float | None = None) -> None:
        """A round trip seen in this lookup, of a request sent at `sent_at` (monotonic seconds) if known."""
        self.rtts.append(rtt_s)
        self.least_rtt = min(self.least_rtt, rtt_s)
        if sent_at is not None and (self.latest_sent is None or sent_at > self.latest_sent):
            self.latest_sent, self.latest_rtt = sent_at, rtt_s

    def stalls_at(self, node: Node, sent_at: float) -> float:
        """When a request to `node` sent at `sent_at` stalls: by its peer's clock, or earlier once a request
        sent with it or after it has been answered (RACK; requests sent in one loop turn carry one time)."""
        by_clock = sent_at + self.stall_after(node)
        if self.latest_sent is None or self.latest_sent < sent_at:
            return by_clock
        return min(by_clock, sent_at + self.latest_rtt + REORDER_SHARE * self.least_rtt)

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
