"""Runs one search at a time against the node and streams its events into the results model.

Tribler's rule: every event carries its query id and anything not for the
current query is dropped, so a slow peer's answer to an old query can never
appear under a new one. Events are coalesced by the rate limiter, so the
model sees one batch per interval instead of one update per answer. "Load
more" runs the same search's next page (same query id) into the same table.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.search import QueryStatus, QueryTrace, SearchEvent
from ggen_desktop.gui import collector
from ggen_desktop.gui.rate_limiter import BatchRateLimiter
from ggen_desktop.gui.results_model import ResultsModel
from ggen_desktop.gui.tasks import TaskGroup

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

log = logging.getLogger(__name__)

BATCH_BUDGET_MS = 4.0  # one batch per loop turn: with the repaint after it (~10 ms), inside a 16 ms frame
class Handle(Protocol):
    """What `MarketplaceNode.search` returns (structural, so benchmarks can feed a synthetic source)."""

    query_id: str
    trace: QueryTrace

    def __aiter__(self) -> AsyncIterator[SearchEvent]: ...
    def cancel(self) -> None: ...
    async def wait(self) -> QueryTrace: ...
    def more(self) -> Handle: ...


class Searcher(Protocol):
    def search(self, query: Query, config: QueryConfig | None = None) -> Handle: ...


class SearchSession(QObject):
    """Signals: `started(trace)`, `continued(trace)` when a further page starts, `progressed(trace)` after
    each applied batch, `finished(trace)` when a page ends."""

    started = Signal(object)
    continued = Signal(object)
    progressed = Signal(object)
    finished = Signal(object)

    def __init__(self, model: ResultsModel, tasks: TaskGroup, interval_ms: int = 50, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.tasks = tasks
        self.handle: Handle | None = None
        self._limiter: BatchRateLimiter[SearchEvent] = BatchRateLimiter(self._apply, interval_ms, budget_ms=BATCH_BUDGET_MS,
                                                                         parent=self)
        # no Qt parent: closing the window (which deletes this session's children) must not cancel the let-go

    @property
    def query_id(self) -> str | None:
        return self.handle.query_id if self.handle is not None else None

    @property
    def trace(self) -> QueryTrace | None:
        return self.handle.trace if self.handle is not None else None

    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.trace.status is QueryStatus.RUNNING

    def start(self, searcher: Searcher, query: Query) -> Handle:
        """Stop whatever runs (silently: `finished` is only ever about the current query), empty the
        table, and stream the new query into it."""
        self._stop()
        handle = searcher.search(query)
        self.handle = handle
        self._limiter.discard()
        self.model.reset(handle.query_id)
        self.tasks.spawn(self._consume(handle), f"search “{query.text}”")
        self.started.emit(handle.trace)
        return handle

    @property
    def has_more(self) -> bool:
        """The last page has ended and its search says more results exist."""
        return self.handle is not None and not self.running and self.handle.trace.more

    def load_more(self) -> Handle | None:
        """Run the next page of the same search into the same table; None when there is none to run."""
        if not self.has_more or self.handle is None:
            return None
        handle = self.handle.more()
        self.handle = handle
        self.tasks.spawn(self._consume(handle), f"more results for “{handle.trace.query.text}”")
        self.continued.emit(handle.trace)
        return handle

    def cancel(self) -> None:
        """Stop the running query and say so now, once; rows already shown stay, nothing arrives after."""
        if self._stop() and self.handle is not None:
            collector.let_go(self.model)
            self.finished.emit(self.handle.trace)  # `_consume` stays silent for a cancelled query

    def _stop(self) -> bool:
        """Cancel the running query, if any; True when one was running."""
        handle = self.handle
        if handle is None or handle.trace.status is not QueryStatus.RUNNING:
            return False
        self._limiter.flush_all()
        self.model.query_id = None  # later batches of this query are now stale
        handle.cancel()
        return True

    async def _consume(self, handle: Handle) -> None:
        async for event in handle:
            if event.query_id != self.model.query_id:
                continue  # stale: an old query's answer, or this one after cancel
            self._limiter.push(event)
        trace = await handle.wait()
        while handle is self.handle and self._limiter.pending:
            # the last rows, a slice per loop turn, before "finished" is said: by the limiter's own timer when it
            # is set (applying a slice here as well put two in one turn: 15 ms with the repaint at 100,000 rows)
            if not self._limiter.scheduled:
                self._limiter.flush_now()
            await asyncio.sleep(0)
        if handle is self.handle and trace.status is not QueryStatus.CANCELLED:
            self.finished.emit(trace)  # full collections resume unless more rows come soon (collector.hold)

    def _apply(self, events: list[SearchEvent]) -> None:
        if self.handle is not None:
            self.model.own_source = self.handle.trace.own_source
        self.model.add_events(events)
        if self.handle is not None:
            self.progressed.emit(self.handle.trace)
