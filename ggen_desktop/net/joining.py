"""Joining the network, and not giving up when nobody answers.

A node started while its bootstrap peers are down (a laptop offline, a server
restarting, a typo being fixed) must neither exit nor sit "not connected" for
ever. It keeps its socket and tries again after 1 s, doubling the wait up to
60 s, asking the configured peers, the contacts saved by its last run and any
peer that contacted it meanwhile; it joins as soon as one answers.
`retry_now()` cuts a wait short (the window's "Retry now").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ggen_desktop.core.connection import ConnectionState, ConnectionStatus

log = logging.getLogger(__name__)

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0


@dataclass(frozen=True)
class Attempt:
    """One try: whether the node joined, and the addresses it asked ("host:port")."""

    joined: bool
    asked: tuple[str, ...]


class Joiner:
    """Runs join attempts until one succeeds; `status` says where it stands, `wait_joined` waits for it."""

    def __init__(self, attempt: Callable[[], Awaitable[Attempt]], on_joined: Callable[[], None], *,
                 first_delay: float = FIRST_RETRY_S, max_delay: float = MAX_RETRY_S) -> None:
        """`attempt()` tries once; `on_joined()` is called once, when an attempt succeeds."""
        self.attempt = attempt
        self.on_joined = on_joined
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._state = ConnectionState.TRYING
        self._attempts = 0
        self._asked: tuple[str, ...] = ()
        self._next_try_at: float | None = None
        self._joined = asyncio.Event()
        self._wake = asyncio.Event()

    @property
    def joined(self) -> bool:
        return self._joined.is_set()

    @property
    def status(self) -> ConnectionStatus:
        return ConnectionStatus(self._state, self._attempts, self._next_try_at, self._asked)

    async def wait_joined(self, timeout: float) -> bool:
        """True once joined; False if `timeout` s pass first."""
        if self.joined:
            return True
        try:
            await asyncio.wait_for(self._joined.wait(), max(timeout, 0.0))
        except TimeoutError:
            return False
        return True

    def retry_now(self) -> None:
        """Try at once instead of at the end of the current wait (nothing to do while a try runs)."""
        if self._state is ConnectionState.WAITING:
            self._state, self._next_try_at = ConnectionState.TRYING, None  # what the status says from now on
            self._wake.set()

    async def try_once(self) -> bool:
        """One attempt; on failure the next one is scheduled (`status` says when) and logged in one line.
        The node's start awaits the first, so a reachable network is joined when start returns."""
        self._state, self._next_try_at = ConnectionState.TRYING, None
        self._wake.clear()
        self._attempts += 1
        outcome = await self.attempt()
        self._asked = outcome.asked
        if outcome.joined:
            self._state = ConnectionState.JOINED
            self._joined.set()
            if self._attempts > 1:
                log.info("joined the network on try %d", self._attempts)
            self.on_joined()
            return True
        delay = min(self.first_delay * 2.0 ** min(self._attempts - 1, 32), self.max_delay)
        self._state, self._next_try_at = ConnectionState.WAITING, time.monotonic() + delay
        log.warning("no peer answered (try %d, asked %s); next try in %.0f s",
                    self._attempts, ", ".join(self._asked) or "nobody", delay)
        return False

    async def keep_trying(self) -> None:
        """After a failed `try_once`: wait for the scheduled time (or `retry_now`), try, until joined.
        Cancelled at stop."""
        while not self.joined:
            wait = max(0.0, (self._next_try_at or 0.0) - time.monotonic())
            with contextlib.suppress(TimeoutError):  # the wait ran out: time for the next try
                await asyncio.wait_for(self._wake.wait(), wait)
            await self.try_once()
