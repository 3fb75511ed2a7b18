"""The handle a caller holds for one running search: its event stream, cancel, and final trace.

The search itself runs as a task started here; the handle guarantees one end
per query (status, metrics, end of stream, whichever comes first: the search
finishing, timing out, failing or being cancelled), and that nothing of a
query reaches its stream after it ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from ggen_desktop.core.metrics import QueryMetrics
from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.search import QueryStatus, QueryTrace, SearchEvent


class SearchHandle:
    """A running search: iterate it for events, `cancel()` it, or `await wait()` for the trace."""

    def __init__(self, query: Query, config: QueryConfig, metrics: QueryMetrics,
                 run: Callable[[SearchHandle], Coroutine[Any, Any, None]],
                 on_end: Callable[[SearchHandle], None]) -> None:
        """Starts `run(handle)` as a task on the running loop; `on_end(handle)` is told once when it ends."""
        self.trace = QueryTrace(query)
        self.query_id = self.trace.query_id
        self.config = config
        self._metrics = metrics
        self._on_end = on_end
        self._queue: asyncio.Queue[SearchEvent | None] = asyncio.Queue()
        self._finished = False
        self._cancelled = False
        metrics.started()
        self._task = asyncio.get_running_loop().create_task(run(self), name=f"search {self.query_id}")

    @property
    def done(self) -> bool:
        return self._finished

    def emit(self, event: SearchEvent | None) -> None:
        """Queue an event, unless the query has ended (a late answer is never merged)."""
        if event is not None and not self._finished:
            self._queue.put_nowait(event)

    def finish(self, status: QueryStatus, error: str | None = None) -> None:
        """End the query exactly once: status, metrics, end of stream."""
        if self._finished:
            return
        self._finished = True
        self.trace.finish(status, error)
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
        """Stop now: nothing of this query is yielded after this call."""
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
