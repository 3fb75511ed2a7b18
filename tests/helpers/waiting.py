"""Wait for a condition, never a fixed sleep: poll a predicate until it holds or a deadline passes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_until(predicate: Callable[[], bool], what: str = "the condition", timeout: float = 15.0) -> None:
    """Poll on the loop (other tasks keep running) until `predicate()` holds; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.01)


def wait_until_blocking(predicate: Callable[[], bool], what: str = "the condition", timeout: float = 15.0) -> None:
    """The same for code with no event loop (threads, subprocesses)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.01)
