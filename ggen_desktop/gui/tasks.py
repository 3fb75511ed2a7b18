"""Asyncio from the GUI: strong references to its tasks (failures reported to the window), and signal waits.

qasync's `asyncSlot` and a bare `asyncio.ensure_future` keep no strong reference:
a task can be garbage collected mid-flight and its exception vanishes into a
terminal. Every GUI task goes through `TaskGroup.spawn` instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class TaskGroup(QObject):
    """Owns running tasks; emits `failed(what, message)` when one raises."""

    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(what)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("%s failed", task.get_name(), exc_info=exc)
            self.failed.emit(task.get_name(), f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        """Cancel and await every task, so shutdown never leaves one writing to a closed node."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def wait_for(signal: Any) -> asyncio.Future[Any]:
    """A future resolved by the next emission of a Qt signal (used by the launcher's coroutine)."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def done(*args: Any) -> None:
        if not future.done():
            future.set_result(args[0] if len(args) == 1 else args)
        signal.disconnect(done)

    signal.connect(done)
    return future
