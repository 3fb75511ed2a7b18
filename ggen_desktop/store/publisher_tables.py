"""The store's copy of publisher continuity (core/provenance.py) and of the user's petnames for keys.

Both tables live in the node's one database and use its one-transaction
writer, so a crash or a full disk leaves the last committed state and says so.
The provenance book decides what to keep (its bounds); this table mirrors
its changes, one transaction per batch of results.
"""

from __future__ import annotations

import logging
import time

from ggen_desktop.core.petnames import PetnameError, check_petname, group_fingerprint
from ggen_desktop.core.provenance import ProvenanceChanges, Sighting
from ggen_desktop.store.database import Database

log = logging.getLogger(__name__)


class PublisherTables:
    """Read and write `publisher_versions` and `petnames` of an open Database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # -- provenance ----------------------------------------------------------------
    def sightings(self) -> list[Sighting]:
        """Every kept sighting, the least recently seen first (the order the book loads them in)."""
        rows = self.database._read(
            "load the publisher history",
            "SELECT name, fingerprint, version, first_seen, last_seen FROM publisher_versions "
            "ORDER BY last_seen, name, fingerprint, version",
        )
        return [Sighting(name, fp, version, float(first), float(last)) for name, fp, version, first, last in rows]

    def save(self, changes: ProvenanceChanges) -> None:
        """Mirror one batch of the book's changes, all or nothing."""
        if not changes:
            return
        with self.database._write("save the publisher history") as conn:
            if changes.forgotten:
                conn.executemany("DELETE FROM publisher_versions WHERE name = ?", ((n,) for n in changes.forgotten))
            conn.executemany(
                "INSERT INTO publisher_versions (name, fingerprint, version, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, fingerprint, version) "
                "DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
                ((s.name, s.fingerprint, s.version, s.first_seen, s.last_seen) for s in changes.new),
            )
            conn.executemany(
                "UPDATE publisher_versions SET last_seen = max(last_seen, ?) WHERE name = ? AND fingerprint = ?",
                ((at, name, fp) for name, fp, at in changes.touched),
            )

    # -- petnames ------------------------------------------------------------------
    def petnames(self) -> dict[str, str]:
        """Petname by key fingerprint; a row that breaks the petname rule (edited by hand) is skipped."""
        out: dict[str, str] = {}
        for fingerprint, petname in self.database._read(
            "load petnames", "SELECT fingerprint, petname FROM petnames ORDER BY fingerprint"
        ):
            try:
                out[fingerprint] = check_petname(petname)
            except (PetnameError, AttributeError):
                log.warning("skipping the stored petname of %s: %r breaks the petname rule", fingerprint, petname)
        return out

    def set_petname(self, fingerprint: str, petname: str | None, *, at: float | None = None) -> None:
        """Name a key, or remove its name (None); the rules are `core.petnames.Petnames`'."""
        with self.database._write(f"save the petname of {group_fingerprint(fingerprint)}") as conn:
            if petname is None:
                conn.execute("DELETE FROM petnames WHERE fingerprint = ?", (fingerprint,))
            else:
                conn.execute(
                    "INSERT INTO petnames (fingerprint, petname, set_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (fingerprint) DO UPDATE SET petname = excluded.petname, set_at = excluded.set_at",
                    (fingerprint, petname, time.time() if at is None else at),
                )
