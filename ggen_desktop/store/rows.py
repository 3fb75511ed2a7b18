"""What the store hands back: plain, immutable rows, records already re-verified."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ggen_desktop.core.record import SignedRecord


@dataclass(frozen=True)
class MyPackage:
    """A package this node published, and how its announcement is going."""

    record: SignedRecord
    published_at: float
    last_republished_at: float | None = None
    replicas: int = 0


@dataclass(frozen=True)
class DiscoveredRecord:
    """A record learnt from the network, with the peers that sent it (oldest first)."""

    record: SignedRecord
    peers: tuple[str, ...]
    first_seen: float
    last_seen: float


@dataclass(frozen=True)
class Contact:
    """A routing-table entry worth keeping across restarts (never pickled: see design notes)."""

    node_id: bytes
    host: str
    port: int
    last_seen: float

    def __post_init__(self) -> None:
        if not isinstance(self.node_id, bytes) or not self.node_id:
            raise ValueError("node_id must be non-empty bytes")
        if not isinstance(self.host, str) or not self.host:
            raise ValueError("host must be non-empty text")
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 1 <= self.port <= 65535:
            raise ValueError(f"port must be a whole number from 1 to 65535, got {self.port!r}")


@dataclass(frozen=True)
class RecentQuery:
    """A search the user ran: its text and its filters (categories, tags, ...)."""

    text: str
    filters: dict[str, Any] = field(default_factory=dict)
    searched_at: float = 0.0
