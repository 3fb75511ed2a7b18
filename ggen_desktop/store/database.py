"""The node's SQLite database: my packages, discovered records, peers, routing contacts, recent queries.

Rules it keeps (see design notes, "Bad input and failure"):
- one process per data folder: an exclusive lock file is held while open;
- WAL journal, and every public write is exactly one transaction, so a crash
  or a full disk mid-write leaves the last committed state;
- records are stored as their signed bytes and verified again on load; a row
  that no longer verifies is skipped and logged, never returned.

Use from one thread (the asyncio thread); sqlite3's same-thread check stays on.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ggen_desktop.core.record import RecordError, SignedRecord, decode_and_verify
from ggen_desktop.store import paths
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.lock import DataDirLock
from ggen_desktop.store.rows import Contact, DiscoveredRecord, MyPackage, RecentQuery
from ggen_desktop.store.schema import migrate

log = logging.getLogger(__name__)

MAX_RECENT_QUERIES = 50
MAX_DISCOVERED_RECORDS = 5000  # the least recently seen go first; as many as the node keeps in memory
MAX_SOURCES_PER_RECORD = 32  # the peers remembered per discovered record, most recent kept
_NODE_ID_KEY = "node_id"

Identity = tuple[str, str, str]
"""(package name, version, publisher fingerprint), as `SignedRecord.identity`."""


def _now(at: float | None) -> float:
    return time.time() if at is None else float(at)


def _describe(exc: sqlite3.Error) -> str:
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc).lower():
        return f"the disk (or the database's size limit) is full ({exc})"
    return str(exc)


def _verified(blob: bytes, identity: Identity, table: str) -> SignedRecord | None:
    """The stored record if it still verifies and is the one its row says; else log and skip it."""
    name, version, fingerprint = identity
    try:
        record = decode_and_verify(bytes(blob), expect_id=name, expect_version=version)
    except RecordError as exc:
        log.warning("skipping stored record %s %s (%s) in %s: %s", name, version, fingerprint, table, exc)
        return None
    if record.fingerprint != fingerprint:
        log.warning(
            "skipping stored record %s %s in %s: signed by %s, filed under %s",
            name, version, table, record.fingerprint, fingerprint,
        )
        return None
    return record


class Database:
    """An open data folder. Opening locks it, creates or upgrades the schema; `close()` releases it."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        """Open the database in `data_dir`, else `$GGEN_DESKTOP_DATA_DIR`, else the platform data folder.

        Raises StoreLocked if another process has it open, StoreTooNew if a newer
        release wrote it, StoreError if it is not a usable SQLite database.
        """
        try:
            self.data_dir: Path = paths.data_dir(data_dir)
            self.path: Path = paths.database_path(self.data_dir)
            self._lock = DataDirLock(paths.lock_path(self.data_dir))
            self._lock.acquire()
        except OSError as exc:
            raise StoreError(f"cannot use the data folder {exc.filename or data_dir}: {exc.strerror or exc}") from exc
        try:
            self._conn: sqlite3.Connection | None = self._connect()
        except BaseException:
            self._lock.release()
            raise
        self.max_discovered = MAX_DISCOVERED_RECORDS
        self.max_sources_per_record = MAX_SOURCES_PER_RECORD
        log.info("opened database %s", self.path)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one per logical write.
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"the database {self.path} cannot use write-ahead logging (got {mode})")
            # In WAL mode NORMAL never corrupts; a power cut may drop the last commits.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, source=str(self.path))
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(
                f"cannot open the database {self.path}: {exc}; if it is damaged, move it aside "
                "and ggen-desktop will start a new one"
            ) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        """Close the connection and unlock the data folder; safe to call twice."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            conn.close()
        finally:
            self._lock.release()
        log.info("closed database %s", self.path)

    # -- plumbing -----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the database {self.path} is closed")
        return self._conn

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is committed, or none of it and StoreError says why."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            raise StoreError(f"could not {what}: {_describe(exc)}; the previous data is unchanged") from exc
        except BaseException:
            self._rollback(conn)
            raise

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        # SQLite rolls back by itself on some errors (e.g. SQLITE_FULL); then there is nothing to undo.
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def _read(self, what: str, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._connection().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"could not {what}: {_describe(exc)}") from exc

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
                (name, version, fingerprint, record.encoded, _now(published_at)),
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
                (_now(at), replicas, *identity),
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
            record = _verified(blob, (name, version, fingerprint), "my_packages")
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
        name, version, fingerprint = record.identity
        at = _now(seen_at)
        with self._write(f"save the discovered record {name} {version}") as conn:
            current = conn.execute(
                "SELECT record FROM discovered_records WHERE name = ? AND version = ? AND fingerprint = ?",
                record.identity,
            ).fetchone()
            if current is None:
                conn.execute(
                    "INSERT INTO discovered_records (name, version, fingerprint, record, first_seen, last_seen) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (name, version, fingerprint, record.encoded, at, at),
                )
            else:
                stored = _verified(current[0], record.identity, "discovered_records")
                newer = stored is None or stored.is_older_than(record)
                conn.execute(
                    "UPDATE discovered_records SET record = ?, last_seen = max(last_seen, ?) "
                    "WHERE name = ? AND version = ? AND fingerprint = ?",
                    (record.encoded if newer else current[0], at, *record.identity),
                )
            conn.execute(
                "INSERT INTO discovered_sources (name, version, fingerprint, peer_id, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, version, fingerprint, peer_id) "
                "DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
                (name, version, fingerprint, peer_id, at, at),
            )
            self._bound_discovered(conn, record.identity, new_record=current is None)

    def _bound_discovered(self, conn: sqlite3.Connection, identity: Identity, *, new_record: bool) -> None:
        """Peers decide how many records and sources reach us: keep the newest few, drop the rest."""
        conn.execute(
            "DELETE FROM discovered_sources WHERE name = ? AND version = ? AND fingerprint = ? AND peer_id NOT IN "
            "(SELECT peer_id FROM discovered_sources WHERE name = ? AND version = ? AND fingerprint = ? "
            "ORDER BY last_seen DESC, peer_id LIMIT ?)",
            (*identity, *identity, self.max_sources_per_record),
        )
        if new_record:
            (count,) = conn.execute("SELECT count(*) FROM discovered_records").fetchone()
            if count > self.max_discovered:
                conn.execute(
                    "DELETE FROM discovered_records WHERE rowid IN "
                    "(SELECT rowid FROM discovered_records ORDER BY last_seen, rowid LIMIT ?)",
                    (count - self.max_discovered,),
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
            record = _verified(blob, identity, "discovered_records")
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
                encoded.append((peer_id, json.dumps(dict(stats), sort_keys=True), _now(at)))
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
                (text, filters_json, _now(at)),
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
