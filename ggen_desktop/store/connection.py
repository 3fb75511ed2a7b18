"""The store's operations over one SQLite connection: my packages, discovered records, peers,
routing contacts, the node id and recent queries.

Rules it keeps (see design notes, "Bad input and failure"):
- every public write is exactly one transaction (several in one with `batch`),
  so a crash or a full disk mid-write leaves the last committed state;
- records are stored as their signed bytes and verified again on load; a row
  that no longer verifies is skipped and logged, never returned.

A connection belongs to the thread that opened it: `Database` is the event
loop's, `StoreThread` has its own for batched writes and slow reads.
"""

from __future__ import annotations

import heapq
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ggen_desktop.core.record import SignedRecord
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.rows import Contact, DiscoveredRecord, MyPackage, RecentQuery
from ggen_desktop.store.sql import Identity, connect, describe, now, verified

log = logging.getLogger(__name__)

MAX_RECENT_QUERIES = 50
MAX_DISCOVERED_RECORDS = 5000  # the least recently seen go first; as many as the node keeps in memory
MAX_SOURCES_PER_RECORD = 32  # the peers remembered per discovered record, most recent kept
_NODE_ID_KEY = "node_id"


@dataclass
class Limits:
    """Bounds on what peers can make us keep; shared by every connection to one database."""

    max_discovered: int = MAX_DISCOVERED_RECORDS
    max_sources_per_record: int = MAX_SOURCES_PER_RECORD


@dataclass(frozen=True)
class Sighting:
    """A verified record and when each peer sent it (peer id -> time): one row of a batched write."""

    record: SignedRecord
    peers: Mapping[str, float]


class StoreConnection:
    """The store's reads and writes over one connection, from the thread that opened it."""

    def __init__(self, conn: sqlite3.Connection, path: Path, limits: Limits) -> None:
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self.limits = limits
        self.committed = 0  # write transactions committed: writes must come in batches, not per result
        self._in_batch = False

    @classmethod
    def open(cls, path: Path, limits: Limits) -> StoreConnection:
        """Another connection to an open data folder's database (for another thread)."""
        return cls(connect(path), path, limits)

    @property
    def max_discovered(self) -> int:
        return self.limits.max_discovered

    @max_discovered.setter
    def max_discovered(self, value: int) -> None:
        self.limits.max_discovered = value

    @property
    def max_sources_per_record(self) -> int:
        return self.limits.max_sources_per_record

    @max_sources_per_record.setter
    def max_sources_per_record(self, value: int) -> None:
        self.limits.max_sources_per_record = value

    def close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- plumbing -----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the database {self.path} is closed")
        return self._conn

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is committed, or none of it and StoreError says why.
        Inside `batch` it is part of the batch's transaction."""
        conn = self._connection()
        if self._in_batch:
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
            self.committed += 1
        except sqlite3.Error as exc:
            self._rollback(conn)
            raise StoreError(f"could not {what}: {describe(exc)}; the previous data is unchanged") from exc
        except BaseException:
            self._rollback(conn)
            raise

    @contextmanager
    def batch(self, what: str) -> Iterator[None]:
        """Several writes in one transaction: all committed, or none and StoreError says why."""
        with self._write(what):
            self._in_batch = True
            try:
                yield
            finally:
                self._in_batch = False

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        # SQLite rolls back by itself on some errors (e.g. SQLITE_FULL); then there is nothing to undo.
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def _read(self, what: str, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._connection().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"could not {what}: {describe(exc)}") from exc

    # -- my packages --------------------------------------------------------

    def add_my_package(self, record: SignedRecord, *, published_at: float | None = None) -> None:
        """Remember a package this node publishes; StoreError if that exact version is already there."""
        name, version, fingerprint = record.identity
        with self._write(f"save my package {name} {version}") as conn:
            exists = conn.execute(
                "SELECT 1 FROM my_packages WHERE name = ? AND version = ? AND fingerprint = ?", record.identity
            ).fetchone()
            if exists:
                raise StoreError(f"{name} {version} is already among my packages; publish a new version")
            conn.execute(
                "INSERT INTO my_packages (name, version, fingerprint, record, published_at) VALUES (?, ?, ?, ?, ?)",
                (name, version, fingerprint, record.encoded, now(published_at)),
            )

    def update_my_package(self, record: SignedRecord) -> None:
        """Replace the signed bytes of one of my packages (e.g. re-signed metadata), keeping its history."""
        name, version, _ = record.identity
        with self._write(f"update my package {name} {version}") as conn:
            cursor = conn.execute(
                "UPDATE my_packages SET record = ? WHERE name = ? AND version = ? AND fingerprint = ?",
                (record.encoded, *record.identity),
            )
            if cursor.rowcount == 0:
                raise StoreError(f"{name} {version} is not among my packages")

    def mark_republished(self, identity: Identity, *, replicas: int, at: float | None = None) -> None:
        """Note that one of my packages was announced again and how many peers acknowledged it."""
        if not isinstance(replicas, int) or replicas < 0:
            raise StoreError(f"replicas must be a whole number of at least 0, got {replicas!r}")
        with self._write(f"record the republish of {identity[0]} {identity[1]}") as conn:
            cursor = conn.execute(
                "UPDATE my_packages SET last_republished_at = ?, replicas = ? "
                "WHERE name = ? AND version = ? AND fingerprint = ?",
                (now(at), replicas, *identity),
            )
            if cursor.rowcount == 0:
                raise StoreError(f"{identity[0]} {identity[1]} is not among my packages")

    def my_packages(self) -> list[MyPackage]:
        """My packages by name and publish time; rows that no longer verify are skipped (and logged)."""
        rows = self._read(
            "list my packages",
            "SELECT name, version, fingerprint, record, published_at, last_republished_at, replicas "
            "FROM my_packages ORDER BY name, published_at",
        )
        out = []
        for name, version, fingerprint, blob, published_at, republished_at, replicas in rows:
            record = verified(blob, (name, version, fingerprint), "my_packages")
            if record is not None:
                out.append(MyPackage(record, published_at, republished_at, replicas))
        return out

    def delete_my_package(self, identity: Identity) -> bool:
        """Forget one of my packages; False if it was not there."""
        with self._write(f"delete my package {identity[0]} {identity[1]}") as conn:
            cursor = conn.execute(
                "DELETE FROM my_packages WHERE name = ? AND version = ? AND fingerprint = ?", identity
            )
            return cursor.rowcount > 0

    # -- discovered records -------------------------------------------------

    def upsert_discovered(self, record: SignedRecord, peer_id: str, *, seen_at: float | None = None) -> None:
        """Keep a verified record seen from `peer_id`.

        The same (name, version, publisher) may arrive re-signed with new
        metadata; the copy with the later `updated_at` wins, so an old copy
        replayed by a peer cannot roll it back.
        """
        self.save_discovered([Sighting(record, {peer_id: now(seen_at)})])

    def save_discovered(self, sightings: Iterable[Sighting]) -> None:
        """Keep many verified records, each with the peers that sent it, in one transaction.

        The records go in one statement each, their sources in one for the batch, and the caps apply once at the
        end: a search writes thousands of records a second, and the store thread's work takes a core (and the
        GIL) from the window. Evicting per record over the cap scanned the table per record (8 s for 10,000)."""
        sightings = [s for s in sightings if s.peers]
        with self._write(f"save {len(sightings)} discovered record(s)") as conn:
            added = 0
            sources: list[tuple[str, str, str, str, float, float]] = []
            capped: list[Identity] = []  # records that may now have more sources than are kept
            for sighting in sightings:
                identity = sighting.record.identity
                new = self._upsert_discovered(conn, sighting.record, sighting.peers)
                added += new
                sources.extend((*identity, peer_id, at, at) for peer_id, at in sighting.peers.items())
                if not new or len(sighting.peers) > self.max_sources_per_record:
                    capped.append(identity)
            conn.executemany(
                "INSERT INTO discovered_sources (name, version, fingerprint, peer_id, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, version, fingerprint, peer_id) "
                "DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
                sources,
            )
            for identity in capped:
                self._bound_sources(conn, identity)
            if added:
                self._bound_discovered(conn)

    def _upsert_discovered(self, conn: sqlite3.Connection, record: SignedRecord, peers: Mapping[str, float]) -> bool:
        """Insert the record, or keep the newer of it and the stored copy; whether it was new."""
        first, last = min(peers.values()), max(peers.values())
        inserted = conn.execute(
            "INSERT INTO discovered_records (name, version, fingerprint, record, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, version, fingerprint) DO NOTHING",
            (*record.identity, record.encoded, first, last),
        ).rowcount
        if inserted:
            return True
        current = conn.execute(
            "SELECT record FROM discovered_records WHERE name = ? AND version = ? AND fingerprint = ?",
            record.identity,
        ).fetchone()[0]
        same = current == record.encoded  # the same bytes again (another peer's copy) need no second signature check
        stored = None if same else verified(current, record.identity, "discovered_records")
        newer = not same and (stored is None or stored.is_older_than(record))
        conn.execute(
            "UPDATE discovered_records SET record = ?, last_seen = max(last_seen, ?) "
            "WHERE name = ? AND version = ? AND fingerprint = ?",
            (record.encoded if newer else current, last, *record.identity),
        )
        return False

    def _bound_sources(self, conn: sqlite3.Connection, identity: Identity) -> None:
        """Peers decide how many sources reach us: keep the newest few per record."""
        conn.execute(
            "DELETE FROM discovered_sources WHERE name = ? AND version = ? AND fingerprint = ? AND peer_id NOT IN "
            "(SELECT peer_id FROM discovered_sources WHERE name = ? AND version = ? AND fingerprint = ? "
            "ORDER BY last_seen DESC, peer_id LIMIT ?)",
            (*identity, *identity, self.max_sources_per_record),
        )

    def _bound_discovered(self, conn: sqlite3.Connection) -> None:
        """Peers decide how many records reach us: over the cap, the least recently seen records of the publisher
        holding the most go, as if one at a time (one key's flood evicts its own rows, never an honest
        newcomer's), in one statement per publisher that loses some."""
        counts = dict(conn.execute("SELECT fingerprint, count(*) FROM discovered_records GROUP BY fingerprint"))
        over = sum(counts.values()) - self.max_discovered
        for fingerprint, count in evictions(counts, over).items():
            conn.execute(
                "DELETE FROM discovered_records WHERE rowid IN (SELECT rowid FROM discovered_records "
                "WHERE fingerprint = ? ORDER BY last_seen, rowid LIMIT ?)",
                (fingerprint, count),
            )

    def discovered_records(self) -> list[DiscoveredRecord]:
        """Every discovered record that still verifies, by name, version and publisher."""
        rows = self._read(
            "list discovered records",
            "SELECT name, version, fingerprint, record, first_seen, last_seen FROM discovered_records "
            "ORDER BY name, fingerprint, first_seen",
        )
        sources: dict[Identity, list[str]] = {}
        for name, version, fingerprint, peer_id in self._read(
            "list the peers records came from",
            "SELECT name, version, fingerprint, peer_id FROM discovered_sources ORDER BY first_seen, peer_id",
        ):
            sources.setdefault((name, version, fingerprint), []).append(peer_id)
        out = []
        for name, version, fingerprint, blob, first_seen, last_seen in rows:
            identity = (name, version, fingerprint)
            record = verified(blob, identity, "discovered_records")
            if record is not None:
                out.append(DiscoveredRecord(record, tuple(sources.get(identity, ())), first_seen, last_seen))
        return out

    # -- peers --------------------------------------------------------------

    def save_peers(self, peers: Mapping[str, Mapping[str, Any]], *, at: float | None = None) -> None:
        """Store peers' reputation stats (JSON-able mappings) in one transaction, replacing what was there."""
        encoded = []
        for peer_id, stats in peers.items():
            if not isinstance(peer_id, str) or not peer_id:
                raise StoreError(f"a peer id must be non-empty text, got {peer_id!r}")
            if not isinstance(stats, Mapping):
                raise StoreError(f"stats for peer {peer_id} must be a mapping, got {type(stats).__name__}")
            try:
                encoded.append((peer_id, json.dumps(dict(stats), sort_keys=True), now(at)))
            except (TypeError, ValueError) as exc:
                raise StoreError(f"stats for peer {peer_id} cannot be stored as JSON: {exc}") from exc
        with self._write(f"save the stats of {len(encoded)} peer(s)") as conn:
            conn.executemany(
                "INSERT INTO peers (peer_id, stats, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (peer_id) DO UPDATE SET stats = excluded.stats, updated_at = excluded.updated_at",
                encoded,
            )

    def load_peers(self) -> dict[str, dict[str, Any]]:
        """Every peer's stats; a row whose JSON is damaged is skipped and logged."""
        out: dict[str, dict[str, Any]] = {}
        for peer_id, text in self._read("load peer stats", "SELECT peer_id, stats FROM peers ORDER BY peer_id"):
            try:
                stats = json.loads(text)
            except (TypeError, ValueError) as exc:
                log.warning("skipping stored stats of peer %s: not JSON (%s)", peer_id, exc)
                continue
            if not isinstance(stats, dict):
                log.warning("skipping stored stats of peer %s: not a JSON object", peer_id)
                continue
            out[peer_id] = stats
        return out

    # -- routing contacts and node id ---------------------------------------

    def save_contacts(self, contacts: Iterable[Contact]) -> None:
        """Replace the saved routing contacts with `contacts`, all or nothing."""
        with self._write("save routing contacts") as conn:
            conn.execute("DELETE FROM routing_contacts")
            conn.executemany(
                "INSERT INTO routing_contacts (node_id, host, port, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, port = excluded.port, "
                "last_seen = excluded.last_seen",
                ((c.node_id.hex(), c.host, c.port, c.last_seen) for c in contacts),
            )

    def load_contacts(self) -> list[Contact]:
        """Saved routing contacts, most recently seen first; malformed rows are skipped and logged."""
        out = []
        for node_hex, host, port, last_seen in self._read(
            "load routing contacts",
            "SELECT node_id, host, port, last_seen FROM routing_contacts ORDER BY last_seen DESC, node_id",
        ):
            try:
                out.append(Contact(bytes.fromhex(node_hex), host, port, last_seen))
            except (TypeError, ValueError) as exc:
                log.warning("skipping stored routing contact %r: %s", node_hex, exc)
        return out

    def save_node_id(self, node_id: bytes) -> None:
        """Keep this node's DHT id, so it keeps its place in the network across restarts."""
        if not isinstance(node_id, bytes) or not node_id:
            raise StoreError("the node id must be non-empty bytes")
        with self._write("save this node's id") as conn:
            conn.execute(
                "INSERT INTO node_state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_NODE_ID_KEY, node_id.hex()),
            )

    def load_node_id(self) -> bytes | None:
        """This node's saved DHT id, or None on first start (or if the saved one is damaged)."""
        rows = self._read("load this node's id", "SELECT value FROM node_state WHERE key = ?", (_NODE_ID_KEY,))
        if not rows:
            return None
        try:
            return bytes.fromhex(rows[0][0]) or None
        except (TypeError, ValueError):
            log.warning("ignoring the stored node id %r: not hex", rows[0][0])
            return None

    # -- recent queries -----------------------------------------------------

    def add_recent_query(
        self, text: str, filters: Mapping[str, Any] | None = None, *, at: float | None = None
    ) -> None:
        """Remember a search; repeating one moves it to the top. Only the newest MAX_RECENT_QUERIES stay."""
        try:
            filters_json = json.dumps(dict(filters or {}), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"query filters cannot be stored as JSON: {exc}") from exc
        with self._write("save the recent query") as conn:
            conn.execute(
                "INSERT INTO recent_queries (text, filters, searched_at) VALUES (?, ?, ?) "
                "ON CONFLICT (text, filters) DO UPDATE SET searched_at = excluded.searched_at",
                (text, filters_json, now(at)),
            )
            conn.execute(
                "DELETE FROM recent_queries WHERE id NOT IN "
                "(SELECT id FROM recent_queries ORDER BY searched_at DESC, id DESC LIMIT ?)",
                (MAX_RECENT_QUERIES,),
            )

    def recent_queries(self) -> list[RecentQuery]:
        """Recent searches, newest first."""
        out = []
        for text, filters_json, searched_at in self._read(
            "list recent queries",
            "SELECT text, filters, searched_at FROM recent_queries ORDER BY searched_at DESC, id DESC",
        ):
            try:
                filters = json.loads(filters_json)
            except (TypeError, ValueError):
                log.warning("skipping recent query %r: its filters are not JSON", text)
                continue
            out.append(RecentQuery(text, filters if isinstance(filters, dict) else {}, searched_at))
        return out


def evictions(counts: Mapping[str, int], over: int) -> dict[str, int]:
    """How many rows each publisher loses when `over` rows go one at a time from whichever holds the most
    (ties: the lower fingerprint first)."""
    largest = [(-count, fingerprint) for fingerprint, count in counts.items()]
    heapq.heapify(largest)
    taken: dict[str, int] = {}
    for _ in range(max(0, over)):
        count, fingerprint = heapq.heappop(largest)
        taken[fingerprint] = taken.get(fingerprint, 0) + 1
        heapq.heappush(largest, (count + 1, fingerprint))
    return taken
