"""Whether peers on the internet can reach this node, and how: a plain value the GUI and CLI can show.

A node behind a NAT that others cannot reach must not hold records for them
or sit in their routing tables; it runs in client mode instead (BEP 43's
read-only nodes): it searches and publishes, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ReachState(Enum):
    UNKNOWN = "unknown"  # not checked (yet), or no peer answered the check
    CHECKING = "checking"
    REACHABLE = "reachable"
    CLIENT = "client"  # not reachable, or asked to be a client: requests only, never a contact


class ReachHow(Enum):
    NONE = ""
    DIRECT = "direct"  # a peer's dial-back arrived at the address peers observe
    UPNP = "UPnP"  # ... once the router forwarded a port to us
    CLIENT_MODE = "client mode"


@dataclass(frozen=True)
class Reachability:
    """The outcome of the last check: the state, the address peers see us at, how, and why in words."""

    state: ReachState = ReachState.UNKNOWN
    external: tuple[str, int] | None = None
    how: ReachHow = ReachHow.NONE
    detail: str = ""

    @property
    def reachable(self) -> bool:
        return self.state is ReachState.REACHABLE

    def describe(self) -> str:
        """One line for a status bar: "Reachable at 203.0.113.5:4433 via UPnP", "Behind NAT: client mode"."""
        where = f"{self.external[0]}:{self.external[1]}" if self.external else "?"
        if self.state is ReachState.REACHABLE:
            return f"Reachable at {where}" + (" via UPnP" if self.how is ReachHow.UPNP else "")
        if self.state is ReachState.CLIENT:
            return "Behind NAT: client mode" if self.detail != ASKED_FOR_CLIENT_MODE else "Client mode"
        if self.state is ReachState.CHECKING:
            return "Checking reachability…"
        return "Reachability unknown"


ASKED_FOR_CLIENT_MODE = "started in client mode"
