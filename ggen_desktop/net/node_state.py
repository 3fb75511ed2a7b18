"""What a node keeps in the store across restarts: its id, its routing contacts and peer reputation.

The id keeps the node's place in the keyspace (and the records it holds for
others where they belong); saved contacts let it rejoin without a bootstrap
peer; reputation keeps slow and lying peers at a distance. Reputation changes
many times per search, so its writes are debounced: one write per burst, and
the rest at stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ggen_desktop.core.reputation import PeerStats, ReputationBook
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.rows import Contact

if TYPE_CHECKING:
    from ggen_desktop.store.database import Database

log = logging.getLogger(__name__)

REPUTATION_SAVE_DELAY_S = 2.0  # debounce: many updates per search, one write
MAX_SAVED_CONTACTS = 200


class NodeState:
    """Loads and saves the node's id, contacts and peer reputation; without a database, does nothing."""

    def __init__(self, database: Database | None, reputation: ReputationBook, remember_contacts: bool) -> None:
        """`remember_contacts=False` neither rejoins nor saves routing contacts (a throw-away network)."""
        self.database = database
        self.reputation = reputation
        self.remember_contacts = remember_contacts
        self._dirty_peers: set[str] = set()
        self._save_handle: asyncio.TimerHandle | None = None
        self._closed = False
        reputation.listeners.append(self._peer_changed)

    def load_node_id(self) -> bytes | None:
        return self.database.load_node_id() if self.database is not None else None

    def load_reputation(self) -> None:
        if self.database is None:
            return
        for peer_id, data in self.database.load_peers().items():
            try:
                self.reputation.peers[peer_id] = PeerStats.from_dict({**data, "peer_id": peer_id})
            except (TypeError, ValueError):
                log.warning("ignoring damaged reputation entry for %s", peer_id[:12])

    def saved_contacts(self) -> list[Contact]:
        if self.database is None or not self.remember_contacts:
            return []
        return self.database.load_contacts()[:MAX_SAVED_CONTACTS]

    def save_contacts(self, contacts: list[tuple[str, str, int]]) -> None:
        """Save routing contacts (node id hex, host, port), each with when its peer was last seen."""
        if self.database is None or not self.remember_contacts:
            return
        now = time.time()
        rows = []
        for node_hex, host, port in contacts[:MAX_SAVED_CONTACTS]:
            stats = self.reputation.peers.get(node_hex)
            rows.append(Contact(bytes.fromhex(node_hex), host, port, stats.last_seen if stats and stats.last_seen else now))
        if rows:
            self.database.save_contacts(rows)

    def save(self, node_id: bytes) -> None:
        """The node id and every peer's reputation, at stop."""
        if self.database is None:
            return
        self.database.save_node_id(node_id)
        self.database.save_peers({p.peer_id: p.to_dict() for p in self.reputation.snapshot()})
        self._dirty_peers.clear()

    def close(self) -> None:
        """No more debounced writes: the node is stopping, and `save` writes everything once more."""
        self._closed = True
        if self._save_handle is not None:
            self._save_handle.cancel()

    def _peer_changed(self, stats: PeerStats) -> None:
        if self.database is None or self._closed:
            return
        self._dirty_peers.add(stats.peer_id)
        if self._save_handle is None:
            self._save_handle = asyncio.get_running_loop().call_later(REPUTATION_SAVE_DELAY_S, self._flush_peers)

    def _flush_peers(self) -> None:
        self._save_handle = None
        if self.database is None or not self._dirty_peers:
            return
        dirty, self._dirty_peers = self._dirty_peers, set()
        try:
            self.database.save_peers({p: self.reputation.peers[p].to_dict() for p in dirty if p in self.reputation.peers})
        except StoreError as exc:
            self._dirty_peers |= dirty  # tried again on the next change, and at stop
            log.warning("peer reputation not saved: %s", exc)
