"""Records this node learned of from others: announcements and the answers to its searches.

They are what a search shows before the network answers, so they must survive
a restart and stay bounded: the least recently seen are forgotten first. My own
packages are never among them. Each one is handed to `persist`, which queues
it for the store thread (never a database write per result on the event loop).
Each is tagged with the peer that last sent it: what a peer pushed is its claim.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from ggen_desktop.core.record import SignedRecord

if TYPE_CHECKING:
    from ggen_desktop.store.rows import DiscoveredRecord

MAX_DISCOVERED = 5000

Identity = tuple[str, str, str]


class DiscoveredRecords:
    """The newest verified version of each discovered package identity, most recently seen last."""

    def __init__(self, persist: Callable[[SignedRecord, str], None], is_mine: Callable[[Identity], bool]) -> None:
        """`persist(record, peer_id)` keeps a record across restarts; it must not block."""
        self.persist = persist
        self.is_mine = is_mine
        self._records: OrderedDict[Identity, SignedRecord] = OrderedDict()
        self._peers: dict[Identity, str] = {}  # the peer that last sent each record

    def load(self, stored: list[DiscoveredRecord]) -> None:
        """Records read (and verified) from the store at start."""
        for found in stored:
            if not self.is_mine(found.record.identity):
                self._records[found.record.identity] = found.record
                self._peers[found.record.identity] = found.peers[-1] if found.peers else ""

    def add(self, record: SignedRecord, peer_id: str) -> None:
        """A verified record from an announcement or a search answer: remember it."""
        if self.is_mine(record.identity):
            return
        known = self._records.get(record.identity)
        if known is None or not record.is_older_than(known):
            self._records[record.identity] = record
        self._peers[record.identity] = peer_id
        self._records.move_to_end(record.identity)
        while len(self._records) > MAX_DISCOVERED:
            self._peers.pop(self._records.popitem(last=False)[0], None)
        self.persist(record, peer_id)

    def records(self) -> list[SignedRecord]:
        return list(self._records.values())

    def sourced(self) -> list[tuple[SignedRecord, str]]:
        """Each record with the peer that last sent it (its id, hex)."""
        return [(record, self._peers.get(identity, "")) for identity, record in self._records.items()]

    def __contains__(self, identity: object) -> bool:
        return identity in self._records

    def clear(self) -> None:
        """Forget them in memory (the store keeps its copy): a test or benchmark measuring the network."""
        self._records.clear()
        self._peers.clear()
