"""The handle a caller holds for one page of a search: its event stream, cancel, the trace, and the next page.

The page itself runs as a task started here; the handle guarantees one end
per page (status, metrics, end of stream, whichever comes first: the page
filling, the lookup ending, timing out, failing or being cancelled), and that
nothing reaches its stream after it ended. `more()` continues the same search
(same query id, same trace, the same lookup's state) as a new handle.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from ggen_desktop.core.metrics import QueryMetrics
from ggen_desktop.core.query import QueryConfig
from ggen_desktop.core.search import QueryStatus, QueryTrace, SearchEvent


class SearchHandle:
    """A running page of a search: iterate it for events, `cancel()` it, `await wait()` for the trace, then
    `more()` for the next page while `trace.more`."""

    def __init__(self, trace: QueryTrace, config: QueryConfig, metrics: QueryMetrics | None,
                 run: Callable[[SearchHandle], Coroutine[Any, Any, None]],
                 on_end: Callable[[SearchHandle], None],
                 more: Callable[[SearchHandle], SearchHandle]) -> None:
        """Starts `run(handle)` as a task on the running loop; `on_end(handle)` is told once when it ends;
        `more(handle)` starts the next page. Only a search's first page counts in `metrics` (None after)."""
        self.trace = trace
        self.query_id = trace.query_id
        self.config = config
        self._metrics = metrics
        self._on_end = on_end
        self._more = more
        self._queue: asyncio.Queue[SearchEvent | None] = asyncio.Queue()
        self._finished = False
        self._cancelled = False
        if metrics is not None:
            metrics.started()
        self._task = asyncio.get_running_loop().create_task(run(self), name=f"search {self.query_id}")

    @property
    def done(self) -> bool:
        return self._finished

    def emit(self, event: SearchEvent | None) -> None:
        """Queue an event, unless the page has ended (a late answer is never merged)."""
        if event is not None and not self._finished:
            self._queue.put_nowait(event)

    def finish(self, status: QueryStatus, error: str | None = None) -> None:
        """End the page exactly once: status, metrics, end of stream."""
        if self._finished:
            return
        self._finished = True
        self.trace.finish(status, error)
        if self._metrics is not None:
            self._metrics.finished(self.trace)
        self._on_end(self)
        self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[SearchEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[SearchEvent]:
        while True:
            event = await self._queue.get()
            if event is None or self._cancelled:
                return
            yield event

    def cancel(self) -> None:
        """Stop now: nothing of this page is yielded after this call."""
        if self._finished:
            return
        self._cancelled = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self.finish(QueryStatus.CANCELLED)
        self._task.cancel()

    async def wait(self) -> QueryTrace:
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise
        return self.trace

    def more(self) -> SearchHandle:
        """The next page of the same search, started now; ValueError while this page runs or when
        `trace.more` says there is nothing more."""
        if not self._finished or self.trace.status is QueryStatus.RUNNING:
            raise ValueError("a page of this search is still running; wait for it before asking for more")
        if not self.trace.more:
            raise ValueError("the search has no more results")
        return self._more(self)
