"""Opening a connection to the store's SQLite file, and the checks every connection shares.

Each connection is used only from the thread that opened it (sqlite3's
same-thread check stays on). The database runs in WAL mode, so the event
loop's connection reads while the store thread's connection writes; a writer
waiting for the other's short transaction waits (busy timeout) instead of failing.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from ggen_desktop.core.record import RecordError, SignedRecord, decode_and_verify
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.schema import migrate

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000

Identity = tuple[str, str, str]
"""(package name, version, publisher fingerprint), as `SignedRecord.identity`."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN/COMMIT ourselves), WAL, schema up to date."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"the database {path} cannot use write-ahead logging (got {mode})")
        # In WAL mode NORMAL never corrupts; a power cut may drop the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        migrate(conn, source=str(path))
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"cannot open the database {path}: {exc}; if it is damaged, move it aside "
            "and ggen-desktop will start a new one"
        ) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def now(at: float | None) -> float:
    return time.time() if at is None else float(at)


def describe(exc: sqlite3.Error) -> str:
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc).lower():
        return f"the disk (or the database's size limit) is full ({exc})"
    return str(exc)


def verified(blob: bytes, identity: Identity, table: str) -> SignedRecord | None:
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
