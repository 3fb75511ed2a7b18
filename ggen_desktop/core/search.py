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
from typing import NamedTuple

from ggen_desktop.core.query import Query
from ggen_desktop.core.record import SignedRecord

THIS_NODE_SOURCE = "this node"  # the source of a hit this node already held before asking anyone


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


class PeerCounts(NamedTuple):
    asked: int
    answered: int
    timed_out: int
    with_results: int


@dataclass
class QueryTrace:
    """A whole query as it unfolds: results, peers asked, outcome and timings."""

    query: Query
    query_id: str = field(default_factory=lambda: uuid.uuid4().hex)
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

    def peer_counts(self) -> PeerCounts:
        """How the peers of this query fared, for the status line and the metrics panel's trace."""
        peers = self.peers.values()
        return PeerCounts(
            asked=len(peers),
            answered=sum(1 for p in peers if p.answered_at_ms is not None),
            timed_out=sum(1 for p in peers if p.timed_out),
            with_results=sum(1 for p in peers if p.results > 0),
        )

    def summary(self) -> str:
        """The status line: "24 results from 4 peers in 84 ms: finished".

        "From" counts the peers whose answers held results: most peers asked hold
        no replica of the key and answer with nothing, and counting them would
        overstate where the results came from. How many were asked is said while
        the query runs, and in the per-peer trace.
        """
        ms = self.duration_ms if self.duration_ms is not None else self.elapsed_ms()
        counts = self.peer_counts()
        count = self.result_count
        text = f"{count} result{'' if count == 1 else 's'}"
        if counts.with_results:
            text += f" from {counts.with_results} peer{'' if counts.with_results == 1 else 's'}"
        elif count:
            text += " from this node"
        text += f" in {ms:.0f} ms"
        if self.status is QueryStatus.RUNNING:
            return f"{text}: searching, {counts.answered} of {counts.asked} peers answered"
        if self.status is QueryStatus.TIMED_OUT:
            return f"{text}: timed out, partial results"
        if self.status is QueryStatus.FAILED:
            return f"{text}: failed: {self.error}"
        return f"{text}: {self.status.value}"
