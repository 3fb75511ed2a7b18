"""The store thread on a real SQLite file: queued writes coalesce into one transaction per interval,
run on its own thread, survive a full disk, and are all written at close."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.store.connection import StoreConnection
from ggen_desktop.store.database import Database
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.rows import Contact
from tests.helpers.packages import big_record, make_record
from tests.helpers.waiting import wait_until_blocking as wait_until

KEY = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)


def test_a_burst_of_queued_writes_is_one_transaction_after_the_interval(db: Database) -> None:
    background = db.background
    background.interval = 0.3
    records = [make_record(f"acme/tool-{i}", key=KEY) for i in range(10)]
    before = db.transactions
    for peer in ("p1", "p2", "p3", "p4", "p5"):
        for record in records:
            background.queue_sighting(record, peer, at=1.0)
        background.queue_peers({peer: {"successes": 1}})
    background.queue_contacts([Contact(b"\x01" * 20, "127.0.0.1", 4000, 1.0)])
    assert db.transactions == before  # queued, not written: the loop never waits for SQLite
    wait_until(lambda: db.transactions > before)
    background.flush().result(10)  # nothing left to write: no empty transaction either
    assert db.transactions - before == 1
    stored = db.discovered_records()
    assert sorted(d.record.identity for d in stored) == sorted(r.identity for r in records)
    assert all(set(d.peers) == {"p1", "p2", "p3", "p4", "p5"} for d in stored)
    assert set(db.load_peers()) == {"p1", "p2", "p3", "p4", "p5"}
    assert [c.port for c in db.load_contacts()] == [4000]


def test_the_thread_uses_its_own_connection_in_order_with_the_writes(db: Database) -> None:
    record = make_record(key=KEY)
    db.background.queue_sighting(record, "peer", at=5.0)
    db.background.flush().result(10)
    seen = db.background.submit(lambda c: (threading.current_thread().name, c is db, c.discovered_records()))
    name, same, stored = seen.result(10)
    assert name == "ggen-store" and not same and [d.record for d in stored] == [record]


def test_a_re_signed_record_queued_in_any_order_keeps_the_newest(db: Database) -> None:
    old = make_record(key=KEY, title="Old title", updated_at=1_700_000_000)
    new = make_record(key=KEY, title="New title", updated_at=1_700_000_100)
    db.background.queue_sighting(new, "p1", at=1.0)
    db.background.queue_sighting(old, "p2", at=2.0)  # an old copy replayed later must not roll it back
    db.background.flush().result(10)
    db.background.queue_sighting(old, "p3", at=3.0)
    db.background.flush().result(10)
    [found] = db.discovered_records()
    assert found.record == new and set(found.peers) == {"p1", "p2", "p3"} and found.last_seen == 3.0


def test_a_full_disk_keeps_the_batch_queued_until_it_fits(db: Database) -> None:
    background = db.background

    def limit(pages: int | None) -> Callable[[StoreConnection], None]:
        def apply(connection: StoreConnection) -> None:
            conn = connection._connection()
            count = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages if pages is not None else count}")
        return apply

    background.submit(limit(None)).result(10)  # the thread's connection may not grow the file any more
    records = [big_record(f"acme/big-{i}", KEY) for i in range(20)]
    for record in records:
        background.queue_sighting(record, "peer", at=1.0)
    with pytest.raises(StoreError, match="is full"):
        background.flush().result(10)
    assert db.discovered_records() == []  # nothing half-written
    background.submit(limit(1_000_000)).result(10)  # room again
    background.flush().result(10)  # the same batch, kept in memory, now fits
    assert len(db.discovered_records()) == len(records)


def test_close_writes_what_is_queued_and_later_writes_are_refused(tmp_path: Path) -> None:
    database = Database(tmp_path)
    background = database.background
    background.interval = 60.0  # would be long after the close
    record = make_record(key=KEY)
    background.queue_sighting(record, "peer", at=1.0)
    database.close()
    background.queue_sighting(make_record("acme/late", key=KEY), "peer")  # dropped, not an error
    with pytest.raises(StoreError, match="closed"):
        background.submit(lambda c: None).result(10)
    with pytest.raises(StoreError, match="closed"):
        database.background  # noqa: B018  (no new thread on a closed database)
    reopened = Database(tmp_path)
    try:
        assert [d.record for d in reopened.discovered_records()] == [record]
    finally:
        reopened.close()
