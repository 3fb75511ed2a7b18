"""Schema versions: forward migrations in transactions, idempotent reopen, newer databases refused."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from ggen_desktop.store import paths
from ggen_desktop.store.database import Database
from ggen_desktop.store.errors import StoreError, StoreTooNew
from ggen_desktop.store.schema import MIGRATIONS, migrate, schema_version
from tests.helpers.packages import make_record

LATEST = len(MIGRATIONS)


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_new_database_is_at_the_current_version(tmp_path: Path) -> None:
    Database(tmp_path).close()
    conn = connect(paths.database_path(tmp_path))
    assert schema_version(conn) == LATEST
    assert {"my_packages", "discovered_records", "discovered_sources", "peers", "routing_contacts",
            "node_state", "recent_queries"} <= tables(conn)


def test_reopening_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    record = make_record()
    with closing(Database(tmp_path)) as db:
        db.add_my_package(record, published_at=1.0)
    for _ in range(3):
        with closing(Database(tmp_path)) as db:
            assert [p.record for p in db.my_packages()] == [record]
    assert schema_version(connect(paths.database_path(tmp_path))) == LATEST


def test_steps_apply_in_order_from_the_stored_version(tmp_path: Path) -> None:
    conn = connect(tmp_path / "t.sqlite3")
    steps = [["CREATE TABLE a (x)"], ["CREATE TABLE b (y)", "INSERT INTO a VALUES (1)"]]
    assert migrate(conn, steps[:1]) == 0
    assert schema_version(conn) == 1 and tables(conn) == {"a"}
    assert migrate(conn, steps) == 1  # only step 2 runs; step 1 would fail on a second CREATE
    assert schema_version(conn) == 2 and tables(conn) == {"a", "b"}
    assert conn.execute("SELECT x FROM a").fetchall() == [(1,)]
    assert migrate(conn, steps) == 2
    assert schema_version(conn) == 2


def test_failed_step_rolls_back_to_the_last_completed_version(tmp_path: Path) -> None:
    conn = connect(tmp_path / "t.sqlite3")
    steps = [["CREATE TABLE a (x)"], ["CREATE TABLE b (y)", "INSERT INTO missing VALUES (1)"]]
    with pytest.raises(StoreError, match="schema version 2.*unchanged at version 1"):
        migrate(conn, steps)
    assert schema_version(conn) == 1
    assert tables(conn) == {"a"}  # step 2's CREATE TABLE b was rolled back with it
    assert not conn.in_transaction


def test_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    Database(tmp_path).close()
    conn = connect(paths.database_path(tmp_path))
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with pytest.raises(StoreTooNew, match=f"schema version {LATEST + 1}.*upgrade ggen-desktop"):
        Database(tmp_path)
    # the failed open released the folder lock and left the file as it was
    conn = connect(paths.database_path(tmp_path))
    assert schema_version(conn) == LATEST + 1
    conn.execute(f"PRAGMA user_version = {LATEST}")
    conn.close()
    Database(tmp_path).close()


def test_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    paths.database_path(tmp_path).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the database .*move it aside"):
        Database(tmp_path)
    paths.database_path(tmp_path).unlink()
    Database(tmp_path).close()  # the lock was released
