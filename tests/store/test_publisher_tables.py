"""The publisher history and petnames survive a restart, through App and the real database file."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.app import App
from ggen_desktop.core.petnames import PetnameError
from ggen_desktop.core.provenance import ProvenanceChanges, Sighting
from ggen_desktop.store import paths
from ggen_desktop.store.database import Database
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.publisher_tables import PublisherTables
from tests.helpers.packages import make_record

OWNER = Ed25519PrivateKey.generate()
IMPOSTOR = Ed25519PrivateKey.generate()


def open_app(tmp_path: Path) -> App:
    return App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", demo_size=1)


@pytest.mark.asyncio
async def test_history_and_petnames_are_kept_across_restarts(tmp_path: Path) -> None:
    first = open_app(tmp_path)
    original = [make_record(key=OWNER, version=v) for v in ("1.0.0", "1.1.0")]
    first.observe_records(original)
    fingerprint = original[0].fingerprint
    assert first.set_petname(fingerprint, "Acme") == "Acme"
    await first.stop()
    second = open_app(tmp_path)
    try:
        impostor = make_record(key=IMPOSTOR, version="2.0.0")
        second.observe_records([impostor])  # only the impostor's row, after the restart
        continuity = second.continuity(impostor)
        assert continuity.flagged and [h.fingerprint for h in continuity.earlier_keys] == [fingerprint]
        assert second.continuity(original[0]).summary() == "signed by the same key since 1.0.0 (2 releases)"
        assert second.petnames.label(fingerprint) == f"Acme ({' '.join(fingerprint[i:i + 4] for i in range(0, 16, 4))})"
        with pytest.raises(PetnameError, match="already names"):
            second.set_petname(impostor.fingerprint, "acme")
        assert second.set_petname(fingerprint, "") is None
    finally:
        await second.stop()
    third = open_app(tmp_path)
    try:
        assert third.petnames.get(fingerprint) is None
    finally:
        await third.stop()


def test_a_failed_write_changes_neither_the_table_nor_the_petname(tmp_path: Path) -> None:
    with closing(Database(tmp_path)) as db:
        tables = PublisherTables(db)
        tables.save(ProvenanceChanges(new=[Sighting("acme/x", "ab" * 8, "1.0.0", 1.0, 1.0)]))
        tables.set_petname("ab" * 8, "Acme", at=1.0)
        # a second key with the same name breaks the UNIQUE rule inside the transaction
        with pytest.raises(StoreError, match="could not save the petname.*previous data is unchanged"):
            tables.set_petname("cd" * 8, "Acme", at=2.0)
        assert tables.petnames() == {"ab" * 8: "Acme"}
        assert tables.sightings() == [Sighting("acme/x", "ab" * 8, "1.0.0", 1.0, 1.0)]


def test_a_petname_edited_into_the_file_by_hand_is_skipped_not_shown(tmp_path: Path) -> None:
    Database(tmp_path).close()
    with closing(sqlite3.connect(paths.database_path(tmp_path))) as conn:
        conn.execute("INSERT INTO petnames VALUES ('ab', 'bad\u202ename', 1.0), ('cd', 'Good', 1.0)")
        conn.commit()
    with closing(Database(tmp_path)) as db:
        assert PublisherTables(db).petnames() == {"cd": "Good"}


def test_forgotten_names_leave_the_table_in_the_same_transaction(tmp_path: Path) -> None:
    with closing(Database(tmp_path)) as db:
        tables = PublisherTables(db)
        fp = "ab" * 8
        tables.save(ProvenanceChanges(new=[Sighting("acme/old", fp, "1.0.0", 1.0, 1.0)]))
        tables.save(ProvenanceChanges(new=[Sighting("acme/new", fp, "1.0.0", 2.0, 2.0)], forgotten=["acme/old"],
                                      touched=[("acme/new", fp, 9.0)]))
        assert tables.sightings() == [Sighting("acme/new", fp, "1.0.0", 2.0, 9.0)]
