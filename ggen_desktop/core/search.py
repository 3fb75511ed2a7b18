"""One search's state: de-duplicated results with their sources, status and a per-peer trace.

Shared by the node (which fills it as peers answer) and the front ends (which
read it), so it lives in core. Results are keyed by (name, version, publisher
fingerprint), like Tribler's uid de-duplication.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import Enum

from ggen_desktop.core.query import Query
from ggen_desktop.core.record import SignedRecord

LOCAL_SOURCE = "local"


class QueryStatus(str, Enum):
    RUNNING = "running"
    FINISHED = "finished"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass
class SearchHit:
    """One distinct result and every peer that returned it."""

    record: SignedRecord
    sources: set[str]
    first_seen_ms: float

    @property
    def identity(self) -> tuple[str, str, str]:
        return self.record.identity


@dataclass(frozen=True)
class SearchEvent:
    """What a search stream yields: a new result, or a known one with one more source."""

    query_id: str
    hit: SearchHit
    is_new: bool


@dataclass
class PeerTrace:
    """One peer's part in one query, for the metrics panel's trace view."""

    peer_id: str
    address: str
    asked_at_ms: float
    answered_at_ms: float | None = None
    timed_out: bool = False
    error: str | None = None
    results: int = 0

    @property
    def state(self) -> str:
        if self.error:
            return "error"
        if self.timed_out:
            return "timed out"
        return "answered" if self.answered_at_ms is not None else "waiting"


@dataclass
class QueryTrace:
    """A whole query as it unfolds: results, peers asked, outcome and timings."""

    query: Query
    query_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)
    status: QueryStatus = QueryStatus.RUNNING
    hits: dict[tuple[str, str, str], SearchHit] = field(default_factory=dict)
    peers: dict[str, PeerTrace] = field(default_factory=dict)
    first_result_ms: float | None = None
    duration_ms: float | None = None
    error: str | None = None

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started_mono) * 1000.0

    def add(self, record: SignedRecord, source: str) -> SearchEvent | None:
        """Merge one record from one source; None when nothing changed (a repeat)."""
        hit = self.hits.get(record.identity)
        if hit is None:
            at = self.elapsed_ms()
            if self.first_result_ms is None:
                self.first_result_ms = at
            hit = self.hits[record.identity] = SearchHit(record, {source}, at)
            return SearchEvent(self.query_id, hit, True)
        if source in hit.sources:
            return None
        hit.sources.add(source)
        return SearchEvent(self.query_id, hit, False)

    def finish(self, status: QueryStatus, error: str | None = None) -> None:
        if self.status is QueryStatus.RUNNING:
            self.status = status
            self.error = error
            self.duration_ms = self.elapsed_ms()

    @property
    def result_count(self) -> int:
        return len(self.hits)

    @property
    def answering_peers(self) -> int:
        return sum(1 for p in self.peers.values() if p.answered_at_ms is not None)

    def summary(self) -> str:
        """The status line: "N results from M peers in T ms", and how it ended."""
        ms = self.duration_ms if self.duration_ms is not None else self.elapsed_ms()
        peers = self.answering_peers
        text = (
            f"{self.result_count} result{'s' if self.result_count != 1 else ''} "
            f"from {peers} peer{'s' if peers != 1 else ''} in {ms:.0f} ms"
        )
        if self.status is QueryStatus.RUNNING:
            return f"{text} (searching…)"
        if self.status is QueryStatus.TIMED_OUT:
            return f"{text}: timed out, partial results"
        if self.status is QueryStatus.FAILED:
            return f"{text}: failed: {self.error}"
        return f"{text}: {self.status.value}"
