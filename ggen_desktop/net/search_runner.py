"""Runs the node's searches, a page at a time: what this node knows first, then the network's answers.

Every search of a running node asks the network. What this node already knows
(its own packages, records peers told it of) is shown first, marked as known,
and never fills a page: only answers do (this node's own replicas count as its
answer for a key it is among the k closest to). A page ends when answers have
filled it (`max_results` is the page size) or the lookup ends; records beyond
the page wait in the search's buffer, and `SearchHandle.more()` continues the
same lookup for the next page.

Ended pages stay tracked for the query's grace period, so a late answer is
recognised as one (and dropped) rather than mistaken for traffic of no query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol

from kademlia.node import Node

from ggen_desktop.core.keywords import LookupPlan
from ggen_desktop.core.metrics import QueryMetrics
from ggen_desktop.core.query import Query, QueryConfig, matches_query
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import QueryStatus, QueryTrace
from ggen_desktop.net.lookup import Lookup, StreamingLookup, run_for
from ggen_desktop.net.search_handle import SearchHandle
from ggen_desktop.net.storage import keyword_key

log = logging.getLogger(__name__)

FEW_RESULTS = 3  # at most this many results: close known keywords are suggested
NOT_RUNNING = "the node is not connected, so only what it knows is shown"


class Knowledge(Protocol):
    """What the node knows before asking: the records it shows first and the keywords that steer a lookup."""

    def matches(self, query: Query) -> list[tuple[SignedRecord, str]]: ...
    def plan(self, query: Query) -> LookupPlan: ...
    def suggestions(self, query: Query) -> list[str]: ...


@dataclass
class _Search:
    """One search over its pages: what is left to show, and the lookup that goes on for more."""

    trace: QueryTrace
    config: QueryConfig
    handle: SearchHandle | None = None  # the page running now
    known: list[tuple[SignedRecord, str]] = field(default_factory=list)
    known_shown: int = 0
    buffer: deque[tuple[SignedRecord, str]] = field(default_factory=deque)  # answers beyond the pages shown
    lookup: StreamingLookup | None = None
    asked: bool = False  # the lookup has run at least once


class SearchRunner:
    """Starts searches, runs each page to its one end, and tracks pages until their grace period is over."""

    def __init__(self, metrics: QueryMetrics, knowledge: Knowledge, own_replicas: Callable[[bytes], list[SignedRecord]],
                 learn: Callable[[SignedRecord, Node], None], lookup: Lookup,
                 running_as: Callable[[], str | None]) -> None:
        """`own_replicas(key)` is what this node holds under a key it is among the k closest to (else
        nothing); `learn(record, peer)` keeps each record a peer answered with; `running_as()` is this
        node's id (hex) while it runs, else None (a stopped node shows what it knows only)."""
        self.metrics = metrics
        self.knowledge = knowledge
        self.own_replicas = own_replicas
        self.learn = learn
        self.lookup = lookup
        self.running_as = running_as
        self._queries: dict[str, SearchHandle] = {}

    def start(self, query: Query, config: QueryConfig) -> SearchHandle:
        """Start a search's first page (`config.max_results` results) and return its handle at once."""
        trace = QueryTrace(replace(query, limit=config.max_results, offset=0))
        return self._launch(_Search(trace, config), first=True)

    def _launch(self, search: _Search, first: bool) -> SearchHandle:
        handle = SearchHandle(search.trace, search.config, self.metrics if first else None,
                              partial(self._run, search, first), self._ended, partial(self._next_page, search))
        self._queries[handle.query_id] = handle
        return handle

    def _next_page(self, search: _Search, _handle: SearchHandle) -> SearchHandle:
        search.trace.next_page()
        return self._launch(search, first=False)

    def _ended(self, handle: SearchHandle) -> None:
        """Keep the entry for the grace period so late answers are recognised, then drop it."""
        asyncio.get_running_loop().call_later(handle.config.grace_period, self._forget, handle)

    def _forget(self, handle: SearchHandle) -> None:
        if self._queries.get(handle.query_id) is handle:  # a later page of the same search is tracked in its place
            del self._queries[handle.query_id]

    def tracked(self) -> list[str]:
        """Ids of running queries and of ended ones kept for their grace period."""
        return list(self._queries)

    def in_flight(self) -> int:
        return sum(1 for h in self._queries.values() if not h.done)

    def cancel_all(self) -> None:
        for handle in list(self._queries.values()):
            handle.cancel()

    # -- one page ----------------------------------------------------------------------

    async def _run(self, search: _Search, first: bool, handle: SearchHandle) -> None:
        trace, config = search.trace, search.config
        search.handle = handle
        started = time.monotonic()
        status = QueryStatus.FINISHED
        try:
            if first:
                self._begin(search)
            self._show_known(search)
            self._drain(search)
            if search.lookup is not None and (not search.asked or not trace.page_full):
                search.asked = True  # every search asks the network, even when what it holds fills the page
                await run_for(search.lookup, config.default_timeout - (time.monotonic() - started))
                if trace.peers and not trace.answering_peers:
                    status = QueryStatus.TIMED_OUT  # everyone asked timed out: what we have is partial
        except TimeoutError:
            status = QueryStatus.TIMED_OUT
        except asyncio.CancelledError:
            handle.finish(QueryStatus.CANCELLED)
            raise
        except Exception as exc:
            log.exception("search %s failed", handle.query_id)
            handle.finish(QueryStatus.FAILED, str(exc))
            return
        trace.more = self._has_more(search)
        if trace.result_count <= FEW_RESULTS:
            trace.suggestions = self.knowledge.suggestions(trace.query)
        handle.finish(status)

    def _begin(self, search: _Search) -> None:
        """Plan the lookup, take what this node knows, and this node's own answer if it holds the key."""
        trace = search.trace
        plan = self.knowledge.plan(trace.query)
        trace.keyword, trace.reason = plan.keyword, plan.reason
        search.known = self.knowledge.matches(trace.query)
        me = self.running_as()
        if plan.keyword is None:
            return
        if me is None:
            trace.reason = NOT_RUNNING
            return
        key = keyword_key(plan.keyword)
        search.lookup = self.lookup(key, trace, partial(self._answered, search), search.config)
        own = [r for r in self.own_replicas(key) if matches_query(r.package, trace.query)]
        if own:
            trace.own_source = me
            self._merge(search, own, me)

    def _answered(self, search: _Search, node: Node, records: list[SignedRecord]) -> bool:
        """A peer's verified answer: learn its records and merge them; True once the page is full."""
        for record in records:
            self.learn(record, node)
        return self._merge(search, records, node.id.hex())

    def _merge(self, search: _Search, records: list[SignedRecord], source: str) -> bool:
        """Records new to this search first; once the page is full, new ones wait in the buffer."""
        trace, handle = search.trace, search.handle
        assert handle is not None
        fresh = [r for r in records if r.identity not in trace.hits]
        for record in fresh + [r for r in records if r.identity in trace.hits]:
            if trace.page_full and record.identity not in trace.hits:
                search.buffer.append((record, source))
            else:
                handle.emit(trace.add(record, source))
        return trace.page_full

    def _show_known(self, search: _Search) -> None:
        """The next page of what this node knew: shown, marked as known, filling no page."""
        assert search.handle is not None
        page = search.known[search.known_shown:search.known_shown + search.trace.query.limit]
        search.known_shown += len(page)
        for record, source in page:
            search.handle.emit(search.trace.add(record, source))

    def _drain(self, search: _Search) -> None:
        """Answers that arrived beyond the last page fill this one first."""
        assert search.handle is not None
        while search.buffer and not search.trace.page_full:
            record, source = search.buffer.popleft()
            search.handle.emit(search.trace.add(record, source))

    def _has_more(self, search: _Search) -> bool:
        trace = search.trace
        if search.known_shown < len(search.known) or any(r.identity not in trace.hits for r, _ in search.buffer):
            return True
        return search.lookup is not None and search.lookup.may_have_more(trace.answered_results)
