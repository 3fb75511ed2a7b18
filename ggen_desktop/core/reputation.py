"""Peer reputation: the seed's score, updated on every answer, and used to choose whom to ask.

score = 0.5·success rate + 0.25·speed + 0.15·packages provided + 0.10·recency,
with speed from the measured round-trip time (in place of the seed's
self-declared geography). A peer that sends invalid records is avoided for a
while; a peer the user blocks is avoided until unblocked.

The book is bounded: peers are named by address, and an attacker has many
addresses. Past `max_peers` the least useful tenth is forgotten at once (fewest
answers and packages, then least recently seen); blocked peers are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

RTT_EMA_ALPHA = 0.3  # weight of the newest round-trip sample in the moving average
FAST_RTT_MS = 20.0  # at or under this the speed term is full
SLOW_RTT_MS = 2000.0  # at or over this the speed term is zero
PROVIDED_SATURATION = 50  # packages provided at which that term is full
RECENCY_HORIZON_S = 3600.0  # seen this long ago or longer: recency term zero
INVALID_PENALTY_S = 300.0  # avoid a peer this long after each invalid record
UNKNOWN_SUCCESS_RATE = 0.5  # prior for a peer never asked
MAX_PEERS = 2000  # a routing table holds a few hundred contacts; searches meet a few dozen more


@dataclass
class PeerStats:
    """Everything we know of one peer's behaviour; persisted as a plain dict."""

    peer_id: str
    host: str = ""
    port: int = 0
    successes: int = 0
    failures: int = 0
    timeouts: int = 0
    invalid_records: int = 0
    avg_rtt_ms: float | None = None
    packages_provided: int = 0
    last_seen: float = 0.0
    avoid_until: float = 0.0
    blocked: bool = False

    @property
    def requests(self) -> int:
        return self.successes + self.failures + self.timeouts

    @property
    def success_rate(self) -> float:
        if not self.requests:
            return UNKNOWN_SUCCESS_RATE
        return self.successes / self.requests

    def score(self, now: float | None = None) -> float:
        """The seed's weighted score in [0, 1]."""
        now = time.time() if now is None else now
        if self.avg_rtt_ms is None:
            speed = 0.5
        else:
            span = SLOW_RTT_MS - FAST_RTT_MS
            speed = 1.0 - min(max(self.avg_rtt_ms - FAST_RTT_MS, 0.0), span) / span
        provided = min(self.packages_provided, PROVIDED_SATURATION) / PROVIDED_SATURATION
        age = now - self.last_seen if self.last_seen else RECENCY_HORIZON_S
        recency = 1.0 - min(max(age, 0.0), RECENCY_HORIZON_S) / RECENCY_HORIZON_S
        return 0.5 * self.success_rate + 0.25 * speed + 0.15 * provided + 0.10 * recency

    def is_avoided(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.blocked or self.avoid_until > now

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PeerStats:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class ReputationBook:
    """All peers' stats; every update notifies listeners (persistence, the GUI)."""

    peers: dict[str, PeerStats] = field(default_factory=dict)
    listeners: list[Callable[[PeerStats], None]] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    max_peers: int = MAX_PEERS
    forgotten: int = 0  # peers dropped to stay within max_peers

    def get(self, peer_id: str, host: str = "", port: int = 0) -> PeerStats:
        stats = self.peers.get(peer_id)
        if stats is None:
            if len(self.peers) >= self.max_peers:
                self._forget_least_useful()
            stats = self.peers[peer_id] = PeerStats(peer_id, host, port)
        if host:
            stats.host, stats.port = host, port
        return stats

    def _forget_least_useful(self) -> None:
        """Drop the least useful tenth (one sort per max_peers/10 new peers, so a flood costs little)."""
        candidates = [p for p in self.peers.values() if not p.blocked]
        candidates.sort(key=lambda p: (p.successes + p.packages_provided, p.last_seen))
        excess = len(self.peers) - self.max_peers + 1
        for stats in candidates[: max(excess, self.max_peers // 10)]:
            del self.peers[stats.peer_id]
            self.forgotten += 1

    def _changed(self, stats: PeerStats) -> None:
        for listener in self.listeners:
            listener(stats)

    def record_success(self, peer_id: str, rtt_ms: float, packages: int = 0, host: str = "", port: int = 0) -> None:
        stats = self.get(peer_id, host, port)
        stats.successes += 1
        stats.packages_provided += packages
        stats.avg_rtt_ms = rtt_ms if stats.avg_rtt_ms is None else (
            RTT_EMA_ALPHA * rtt_ms + (1 - RTT_EMA_ALPHA) * stats.avg_rtt_ms
        )
        stats.last_seen = self.clock()
        self._changed(stats)

    def record_timeout(self, peer_id: str, host: str = "", port: int = 0) -> None:
        stats = self.get(peer_id, host, port)
        stats.timeouts += 1
        self._changed(stats)

    def record_failure(self, peer_id: str, host: str = "", port: int = 0) -> None:
        """An answer that was not usable (malformed, error) but not a forged record."""
        stats = self.get(peer_id, host, port)
        stats.failures += 1
        stats.last_seen = self.clock()
        self._changed(stats)

    def record_invalid(self, peer_id: str, count: int = 1, host: str = "", port: int = 0) -> None:
        """Invalid or forged records: counted, and the peer is avoided for a while."""
        stats = self.get(peer_id, host, port)
        stats.invalid_records += count
        stats.failures += 1
        stats.avoid_until = self.clock() + INVALID_PENALTY_S * min(stats.invalid_records, 12)
        self._changed(stats)

    def set_blocked(self, peer_id: str, blocked: bool) -> None:
        stats = self.get(peer_id)
        stats.blocked = blocked
        self._changed(stats)

    def is_avoided(self, peer_id: str) -> bool:
        stats = self.peers.get(peer_id)
        return stats is not None and stats.is_avoided(self.clock())

    def score(self, peer_id: str) -> float:
        stats = self.peers.get(peer_id)
        return PeerStats(peer_id).score(self.clock()) if stats is None else stats.score(self.clock())

    def timeout_for(self, peer_id: str, default_s: float, floor_s: float = 0.25) -> float:
        """Adaptive per-request timeout: a few times the peer's measured RTT, never above default."""
        stats = self.peers.get(peer_id)
        if stats is None or stats.avg_rtt_ms is None:
            return default_s
        return min(default_s, max(floor_s, 4 * stats.avg_rtt_ms / 1000.0))

    def rank(self, peer_ids: Iterable[str]) -> list[str]:
        """Peers worth asking, best score first; avoided peers are left out."""
        now = self.clock()
        usable = [p for p in peer_ids if not (p in self.peers and self.peers[p].is_avoided(now))]
        return sorted(usable, key=lambda p: -self.score(p))

    def snapshot(self) -> list[PeerStats]:
        return [PeerStats(**asdict(s)) for s in self.peers.values()]
