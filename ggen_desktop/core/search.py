"""One search's state: de-duplicated results with their sources, status and a per-peer trace.

Shared by the node (which fills it as peers answer) and the front ends (which
read it), so it lives in core. Results are keyed by (name, version, publisher
fingerprint), like Tribler's uid de-duplication.

A source is either a peer that answered this search (its node id, hex; this
node's own replicas count as its answer) or something this node knew before
asking: its own packages (`THIS_NODE_SOURCE`) and records a peer told it of
earlier, by gossip or in an earlier answer (`known_via(peer)`). Known results
are shown first but only answers fill a page (`answered_results`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from ggen_desktop.core.query import Query
from ggen_desktop.core.record import SignedRecord

THIS_NODE_SOURCE = "this node"  # my own packages: known before asking anyone
KNOWN_VIA = "known via "  # prefix of a record a peer told this node of before this search (gossip, earlier answers)


def known_via(peer_id: str) -> str:
    """The source of a record `peer_id` told this node of before this search: known, and whom from."""
    return KNOWN_VIA + peer_id


def is_known(source: str) -> bool:
    """True for what this node knew before asking (its own packages, earlier gossip and answers)."""
    return source == THIS_NODE_SOURCE or source.startswith(KNOWN_VIA)


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

    @property
    def answered_by(self) -> set[str]:
        """The peers (and this node's replicas) that returned it in answer to this search."""
        return {s for s in self.sources if not is_known(s)}

    @property
    def is_known(self) -> bool:
        """Known to this node before the search (it may also have been answered)."""
        return any(is_known(s) for s in self.sources)


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
    stalled: bool = False  # the search ended without its answer, before its own timeout
    error: str | None = None
    results: int = 0

    @property
    def state(self) -> str:
        if self.error:
            return "error"
        if self.timed_out:
            return "timed out"
        if self.answered_at_ms is not None:
            return "answered"
        return "too slow" if self.stalled else "waiting"


class PeerCounts(NamedTuple):
    asked: int
    answered: int
    timed_out: int
    with_results: int


@dataclass
class QueryTrace:
    """A whole query as it unfolds: results, peers asked, outcome and timings.

    `query.limit` is the page size and `query.offset` the results shown before
    this page; `next_page()` runs the same search on. `duration_ms` is the time
    spent searching, over all pages so far (not the time a user took to ask for more).
    """

    query: Query
    query_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_mono: float = field(default_factory=time.monotonic)
    status: QueryStatus = QueryStatus.RUNNING
    hits: dict[tuple[str, str, str], SearchHit] = field(default_factory=dict)
    peers: dict[str, PeerTrace] = field(default_factory=dict)
    first_result_ms: float | None = None
    duration_ms: float | None = None
    error: str | None = None
    keyword: str | None = None  # the keyword looked up on the DHT; None when the network could not be asked
    reason: str = ""  # why the network was not asked (or not for some words), in words for the user
    more: bool = False  # more results exist than were shown: the next page can be asked for
    suggestions: list[str] = field(default_factory=list)  # close known keywords, offered when results are few
    received: int = 0  # records received from peers, repeats included
    verified: int = 0  # signatures checked (bytes seen before are not checked again)
    answered_results: int = 0  # hits some peer (or this node's replica) returned in answer to this search
    own_source: str | None = None  # the source of this node's own replicas' answer (its node id), if it gave one
    _busy_ms: float = 0.0  # time spent searching in earlier pages
    _page_started: float = field(default_factory=time.monotonic)

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started_mono) * 1000.0

    def searching_ms(self) -> float:
        """Time spent searching: every page's run, not the pauses between them."""
        if self.duration_ms is not None:
            return self.duration_ms
        return self._busy_ms + (time.monotonic() - self._page_started) * 1000.0

    def add(self, record: SignedRecord, source: str) -> SearchEvent | None:
        """Merge one record from one source; None when nothing changed (a repeat)."""
        hit = self.hits.get(record.identity)
        answer = not is_known(source)
        if hit is None:
            at = self.elapsed_ms()
            if self.first_result_ms is None:
                self.first_result_ms = at
            hit = self.hits[record.identity] = SearchHit(record, {source}, at)
            self.answered_results += answer
            return SearchEvent(self.query_id, hit, True)
        if source in hit.sources:
            return None
        if answer and not hit.answered_by:
            self.answered_results += 1
        hit.sources.add(source)
        return SearchEvent(self.query_id, hit, False)

    def finish(self, status: QueryStatus, error: str | None = None) -> None:
        if self.status is QueryStatus.RUNNING:
            self.status = status
            self.error = error
            self.duration_ms = self.searching_ms()

    def next_page(self) -> None:
        """Run on for the next page: the query's offset moves by a page and the trace runs again."""
        if self.status is QueryStatus.RUNNING:
            raise ValueError("the search is still running")
        self._busy_ms = self.duration_ms or 0.0
        self._page_started = time.monotonic()
        self.query = self.query.next_page()
        self.status = QueryStatus.RUNNING
        self.duration_ms = None
        self.error = None
        self.more = False

    @property
    def page_full(self) -> bool:
        """Answers have filled every page asked for so far (known results do not count)."""
        return self.answered_results >= self.query.needed

    @property
    def known_results(self) -> int:
        """Results only known to this node beforehand: no answer in this search returned them."""
        return self.result_count - self.answered_results

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

    def own_replicas_answered(self) -> bool:
        """This node's own replicas of the key (it is among the k closest to it) returned results."""
        own = self.own_source
        return own is not None and any(own in hit.sources for hit in self.hits.values())

    def summary(self) -> str:
        """The status line: "24 results from 4 of 9 peers asked in 84 ms: finished, more available".

        "From" counts the peers whose answers held results: most peers asked hold
        no replica of the key and answer with nothing. This node's own replicas
        (when it is among the k closest to the key) are named apart, results it
        knew before asking are counted apart ("3 known"), and the reason the
        network was not asked, if any, ends the line.
        """
        counts = self.peer_counts()
        count = self.result_count
        text = f"{count} result{'' if count == 1 else 's'}"
        if self.known_results:
            text += f" ({self.known_results} known)"
        own = self.own_replicas_answered()
        if counts.asked:
            text += f" from {counts.with_results} of {counts.asked} peer{'' if counts.asked == 1 else 's'} asked"
            text += " and this node's replicas" if own else ""
        elif own:
            text += " from this node's replicas"
        text += f" in {self.searching_ms():.0f} ms"
        if self.status is QueryStatus.RUNNING:
            text += f": searching, {counts.answered} answered"
        elif self.status is QueryStatus.TIMED_OUT:
            text += ": timed out, partial results"
        elif self.status is QueryStatus.FAILED:
            text += f": failed: {self.error}"
        else:
            text += f": {self.status.value}"
        if self.more and self.status is not QueryStatus.RUNNING:
            text += ", more available"
        return f"{text}; {self.reason}" if self.reason else text
