"""What a node keeps in the store across restarts, kept without stalling the event loop.

The id keeps the node's place in the keyspace (and the records it holds for
others where they belong); saved contacts let it rejoin without a bootstrap
peer; reputation keeps slow and lying peers at a distance; discovered records
are what a search shows before the network answers.

All of it goes through the store thread: loading (thousands of signatures to
verify) runs there, and writes are queued to it and go out in one transaction
per interval. The id is saved the moment it is chosen and the contacts every
few minutes, so a crash (SIGKILL, a power cut) loses neither. Reputation
changes many times per search: changed peers are collected and handed over
once per `REPUTATION_SAVE_DELAY_S`, and all of them at stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.reputation import PeerStats, ReputationBook
from ggen_desktop.net.address_policy import peer_key
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.rows import Contact, DiscoveredRecord, MyPackage

if TYPE_CHECKING:
    from ggen_desktop.store.connection import StoreConnection
    from ggen_desktop.store.database import Database

log = logging.getLogger(__name__)

REPUTATION_SAVE_DELAY_S = 2.0  # many updates per search, handed to the store thread once
CONTACTS_SAVE_INTERVAL_S = 300.0  # a crash loses at most this much of the routing table's changes
MAX_SAVED_CONTACTS = 200


@dataclass(frozen=True)
class StoredState:
    """Everything a node reads from the store at start, records already verified."""

    node_id: bytes | None = None
    peers: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    my_packages: list[MyPackage] = field(default_factory=list)
    discovered: list[DiscoveredRecord] = field(default_factory=list)


def read_stored_state(connection: StoreConnection) -> StoredState:
    """On the store thread: read and verify everything a starting node needs."""
    return StoredState(connection.load_node_id(), connection.load_peers(), connection.load_contacts(),
                       connection.my_packages(), connection.discovered_records())


class NodeState:
    """Loads and saves the node's id, contacts, reputation and discovered records; without a database,
    does nothing."""

    def __init__(self, database: Database | None, reputation: ReputationBook, remember_contacts: bool) -> None:
        """`remember_contacts=False` neither rejoins nor saves routing contacts (a throw-away network)."""
        self.database = database
        self.reputation = reputation
        self.remember_contacts = remember_contacts
        self._saved_contacts: list[Contact] = []
        self._dirty_peers: set[str] = set()
        self._save_handle: asyncio.TimerHandle | None = None
        self._closed = False
        reputation.listeners.append(self._peer_changed)

    async def load(self) -> StoredState:
        """Read the stored state on the store thread; reputation is applied here, the rest is returned."""
        if self.database is None:
            return StoredState()
        stored = await asyncio.wrap_future(self.database.background.submit(read_stored_state))
        for peer_id, data in stored.peers.items():
            try:
                self.reputation.peers[peer_id] = PeerStats.from_dict({**data, "peer_id": peer_id})
            except (TypeError, ValueError):
                log.warning("ignoring damaged reputation entry for %s", peer_id[:12])
        if self.remember_contacts:
            self._saved_contacts = stored.contacts[:MAX_SAVED_CONTACTS]
        return stored

    def saved_contacts(self) -> list[Contact]:
        """The contacts saved by the last run, as loaded at start."""
        return list(self._saved_contacts)

    async def save_node_id(self, node_id: bytes) -> None:
        """Save the id now (it is chosen once, at the first start), so a crash cannot lose it."""
        if self.database is None:
            return
        try:
            await asyncio.wrap_future(self.database.background.submit(lambda c: c.save_node_id(node_id)))
        except StoreError as exc:
            log.warning("node id not saved (tried again at stop): %s", exc)

    def record_seen(self, record: SignedRecord, peer_id: str) -> None:
        """A discovered record from `peer_id`: written with the next batch."""
        if self.database is not None and not self._closed:
            self.database.background.queue_sighting(record, peer_id)

    def save_contacts(self, contacts: list[tuple[str, str, int]]) -> None:
        """Queue routing contacts (node id hex, host, port), each with when its peer was last seen."""
        if self.database is None or not self.remember_contacts:
            return
        now = time.time()
        rows = []
        for node_hex, host, port in contacts[:MAX_SAVED_CONTACTS]:
            stats = self.reputation.peers.get(peer_key(host, port))  # reputation is kept per address
            rows.append(Contact(bytes.fromhex(node_hex), host, port, stats.last_seen if stats and stats.last_seen else now))
        if rows:
            self.database.background.queue_contacts(rows)

    async def keep_contacts(self, contacts: list[tuple[str, str, int]]) -> None:
        """Save the contacts now (after a join, and every few minutes), so a crash keeps them."""
        if self.database is None or not self.remember_contacts or self._closed:
            return
        self.save_contacts(contacts)
        try:
            await asyncio.wrap_future(self.database.background.flush())
        except StoreError as exc:
            log.warning("routing contacts not saved: %s", exc)

    async def save(self, node_id: bytes, contacts: list[tuple[str, str, int]]) -> None:
        """At stop: the id, the contacts and every peer's reputation, written before this returns.
        Raises StoreError when they could not be written (e.g. a full disk)."""
        if self.database is None:
            return
        self._cancel_timer()
        self.save_contacts(contacts)
        background = self.database.background
        background.queue_peers({p.peer_id: p.to_dict() for p in self.reputation.snapshot()})
        self._dirty_peers.clear()
        await asyncio.wrap_future(background.flush())
        await asyncio.wrap_future(background.submit(lambda c: c.save_node_id(node_id)))

    def close(self) -> None:
        """No more handovers from the loop: the node is stopping, and `save` writes everything once more."""
        self._closed = True
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None

    def _peer_changed(self, stats: PeerStats) -> None:
        if self.database is None or self._closed:
            return
        self._dirty_peers.add(stats.peer_id)
        if self._save_handle is None:
            self._save_handle = asyncio.get_running_loop().call_later(REPUTATION_SAVE_DELAY_S, self._hand_over_peers)

    def _hand_over_peers(self) -> None:
        self._save_handle = None
        if self.database is None or not self._dirty_peers:
            return
        dirty, self._dirty_peers = self._dirty_peers, set()
        self.database.background.queue_peers(
            {p: self.reputation.peers[p].to_dict() for p in dirty if p in self.reputation.peers})
