"""Who published what, as this computer has seen it: publisher continuity and the user's petnames.

The history (which key signed which name, since when, how many releases) and
the petnames live in the store; a failed write is logged, never allowed to fail
the search that showed the records, except a petname the user just typed,
which is rolled back and reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ggen_desktop.core.petnames import Petnames
from ggen_desktop.core.provenance import Continuity, ProvenanceBook
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.publisher_tables import PublisherTables

if TYPE_CHECKING:
    from ggen_desktop.store.database import Database

log = logging.getLogger(__name__)


class PublisherBook:
    """The publisher history and petnames of one data folder (in memory only without a database)."""

    def __init__(self, database: Database | None) -> None:
        self.provenance = ProvenanceBook()
        self.petnames = Petnames()
        self._tables = PublisherTables(database) if database is not None else None
        if self._tables is None:
            return
        try:
            self.petnames = Petnames(self._tables.petnames())
            dropped = self.provenance.load(self._tables.sightings())
            self._tables.save(dropped)
        except StoreError as exc:
            log.warning("publisher history not loaded: %s", exc)

    def observe_records(self, records: Iterable[SignedRecord]) -> None:
        """Note which key signed which name and version (results, my packages, discovered records)."""
        changes = self.provenance.observe_records(records, time.time())
        if changes and self._tables is not None:
            try:
                self._tables.save(changes)
            except StoreError as exc:  # a full disk must not fail the search that showed them
                log.warning("publisher history not saved: %s", exc)

    def continuity(self, record: SignedRecord) -> Continuity:
        name, _, fingerprint = record.identity
        return self.provenance.continuity(name, fingerprint)

    def set_petname(self, fingerprint: str, text: str) -> str | None:
        """Name a key on this computer ("" removes the name); PetnameError for a name that breaks a rule,
        StoreError when it could not be saved (then nothing changed)."""
        previous = self.petnames.get(fingerprint)
        name = self.petnames.set(fingerprint, text)
        if self._tables is not None:
            try:
                self._tables.set_petname(fingerprint, name)
            except StoreError:
                self.petnames.set(fingerprint, previous or "")
                raise
        return name
