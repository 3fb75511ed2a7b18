"""The database schema as an ordered list of forward migrations, tracked by `PRAGMA user_version`.

Step N (1-based) takes a database from version N-1 to N. Each step runs in
its own transaction together with the version bump, so a crash mid-upgrade
leaves the database at the last completed version and the next start resumes.
Never edit a released step: append a new one.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from ggen_desktop.store.errors import StoreError, StoreTooNew

log = logging.getLogger(__name__)

Migration = Sequence[str]

MIGRATIONS: tuple[Migration, ...] = (
    # 1: the first schema.
    (
        """CREATE TABLE my_packages (
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            record BLOB NOT NULL,
            published_at REAL NOT NULL,
            last_republished_at REAL,
            replicas INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (name, version, fingerprint)
        )""",
        """CREATE TABLE discovered_records (
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            record BLOB NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            PRIMARY KEY (name, version, fingerprint)
        )""",
        """CREATE TABLE discovered_sources (
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            peer_id TEXT NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            PRIMARY KEY (name, version, fingerprint, peer_id),
            FOREIGN KEY (name, version, fingerprint)
                REFERENCES discovered_records (name, version, fingerprint) ON DELETE CASCADE
        )""",
        """CREATE TABLE peers (
            peer_id TEXT PRIMARY KEY,
            stats TEXT NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE routing_contacts (
            node_id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            port INTEGER NOT NULL,
            last_seen REAL NOT NULL
        )""",
        """CREATE TABLE node_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE recent_queries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            text TEXT NOT NULL,
            filters TEXT NOT NULL,
            searched_at REAL NOT NULL,
            UNIQUE (text, filters)
        )""",
    ),
    # 2: publisher continuity (which key published which name, each version once) and local petnames.
    (
        """CREATE TABLE publisher_versions (
            name TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            version TEXT NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            PRIMARY KEY (name, fingerprint, version)
        )""",
        """CREATE TABLE petnames (
            fingerprint TEXT PRIMARY KEY,
            petname TEXT NOT NULL UNIQUE,
            set_at REAL NOT NULL
        )""",
    ),
)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS, *, source: str = "") -> int:
    """Bring the database up to `len(migrations)`; returns the version it started at.

    `conn` must be in autocommit mode (isolation_level=None) so this function
    controls the transactions. Raises StoreTooNew for a database from a newer
    release (never downgrade: its data might be lost) and StoreError if a step fails.
    """
    start = schema_version(conn)
    target = len(migrations)
    if start > target:
        raise StoreTooNew(
            f"the database {source} has schema version {start}, but this ggen-desktop only knows "
            f"versions up to {target}; upgrade ggen-desktop or use another data folder"
        )
    for version in range(start + 1, target + 1):
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in migrations[version - 1]:
                conn.execute(statement)
            # PRAGMA cannot take a bound parameter; version is our own int.
            conn.execute(f"PRAGMA user_version = {int(version)}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(
                f"could not upgrade the database {source} to schema version {version}: {exc}; "
                f"it is unchanged at version {version - 1}"
            ) from exc
        log.info("database %s upgraded to schema version %d", source, version)
    return start
