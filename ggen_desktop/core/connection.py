"""Where a node stands with the network: joined, trying, or waiting for its next try.

A plain value, so the window and the command line can show it without
reaching into the network code: the node hands out a fresh one on request.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import Enum


class ConnectionState(Enum):
    TRYING = "trying"  # asking the bootstrap peers and saved contacts now
    WAITING = "waiting"  # nobody answered; the next try is at `next_try_at`
    JOINED = "joined"


@dataclass(frozen=True)
class ConnectionStatus:
    state: ConnectionState
    attempts: int = 0  # tries so far, the one running included
    next_try_at: float | None = None  # time.monotonic() of the next try while WAITING
    asked: tuple[str, ...] = ()  # the addresses the last try asked ("host:port")

    @property
    def joined(self) -> bool:
        return self.state is ConnectionState.JOINED

    def seconds_to_next_try(self, now: float | None = None) -> int:
        """Whole seconds until the next try (rounded up, so a countdown never shows 0 while waiting)."""
        if self.next_try_at is None:
            return 0
        left = self.next_try_at - (time.monotonic() if now is None else now)
        return max(1, math.ceil(left))
