"""The Database's API on real SQLite files: each table's round trip, and bad stored data skipped."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.record import sign
from ggen_desktop.store import paths
from ggen_desktop.store.connection import Sighting, evictions
from ggen_desktop.store.database import MAX_RECENT_QUERIES, Database
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.rows import Contact
from tests.helpers.packages import make_package, make_record

KEY = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(b"\x08" * 32)


def raw(tmp_path: Path) -> sqlite3.Connection:
    """A second, plain connection, standing in for whatever damaged the file behind our back."""
    return sqlite3.connect(paths.database_path(tmp_path), isolation_level=None)


def test_opens_in_the_given_folder_with_wal(tmp_path: Path) -> None:
    with closing(Database(tmp_path / "node-a")) as database:
        assert database.path == tmp_path / "node-a" / paths.DATABASE_FILENAME
        assert database.path.exists()
    assert raw(tmp_path / "node-a").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_environment_variable_chooses_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "env"))
    with closing(Database()) as database:
        assert database.data_dir == tmp_path / "env"


def test_unusable_data_folder_gives_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot use the data folder"):
        Database(tmp_path / "file")


def test_closed_database_says_so(tmp_path: Path) -> None:
    database = Database(tmp_path)
    database.close()
    database.close()  # twice is fine
    with pytest.raises(StoreError, match="is closed"):
        database.my_packages()
    with pytest.raises(StoreError, match="is closed"):
        database.add_recent_query("x")


# -- my packages -------------------------------------------------------------


def test_my_packages_lifecycle(db: Database, tmp_path: Path) -> None:
    first = make_record(key=KEY, version="1.0.0")
    second = make_record(key=KEY, version="1.1.0")
    db.add_my_package(first, published_at=100.0)
    db.add_my_package(second, published_at=200.0)
    listed = db.my_packages()
    assert [(p.record, p.published_at, p.last_republished_at, p.replicas) for p in listed] == [
        (first, 100.0, None, 0),
        (second, 200.0, None, 0),
    ]
    db.mark_republished(first.identity, replicas=7, at=150.0)
    assert (db.my_packages()[0].last_republished_at, db.my_packages()[0].replicas) == (150.0, 7)

    resigned = sign(make_package(version="1.0.0", updated_at=1_750_000_000), KEY)
    db.update_my_package(resigned)
    assert db.my_packages()[0].record == resigned
    assert db.my_packages()[0].published_at == 100.0

    assert db.delete_my_package(second.identity) is True
    assert db.delete_my_package(second.identity) is False
    db.close()
    with closing(Database(tmp_path)) as reopened:
        assert [p.record for p in reopened.my_packages()] == [resigned]


def test_my_package_twice_is_refused_and_nothing_changes(db: Database) -> None:
    record = make_record(key=KEY)
    db.add_my_package(record, published_at=1.0)
    with pytest.raises(StoreError, match="already among my packages"):
        db.add_my_package(record, published_at=2.0)
    assert [p.published_at for p in db.my_packages()] == [1.0]


def test_updating_or_marking_an_unknown_package_is_refused(db: Database) -> None:
    record = make_record(key=KEY)
    with pytest.raises(StoreError, match="not among my packages"):
        db.update_my_package(record)
    with pytest.raises(StoreError, match="not among my packages"):
        db.mark_republished(record.identity, replicas=1)
    with pytest.raises(StoreError, match="replicas"):
        db.mark_republished(record.identity, replicas=-1)


# -- discovered records ------------------------------------------------------


def test_discovered_records_collect_peers_and_times(db: Database) -> None:
    record = make_record(key=KEY)
    db.upsert_discovered(record, "peer-b", seen_at=10.0)
    db.upsert_discovered(record, "peer-a", seen_at=20.0)
    db.upsert_discovered(record, "peer-b", seen_at=30.0)
    db.upsert_discovered(record, "peer-c", seen_at=5.0)  # a late report of an old sighting
    [found] = db.discovered_records()
    assert found.record == record
    assert found.peers == ("peer-c", "peer-b", "peer-a")
    assert (found.first_seen, found.last_seen) == (10.0, 30.0)


def test_the_same_record_from_another_peer_is_not_verified_again(db: Database,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas send identical bytes: a second sighting adds its peer without a second signature check."""
    from ggen_desktop.store import connection

    record = make_record(key=KEY)
    db.upsert_discovered(record, "peer-a", seen_at=1.0)
    checks: list[bytes] = []
    check = connection.verified
    monkeypatch.setattr(connection, "verified", lambda blob, *args: checks.append(blob) or check(blob, *args))
    db.upsert_discovered(record, "peer-b", seen_at=2.0)
    assert checks == []
    [found] = db.discovered_records()
    assert found.record == record and found.peers == ("peer-a", "peer-b") and found.last_seen == 2.0


def test_newer_resigned_record_wins_and_old_replay_cannot_roll_back(db: Database) -> None:
    old = sign(make_package(updated_at=1_700_000_000), KEY)
    new = sign(make_package(updated_at=1_700_000_500, description="fixed typo"), KEY)
    assert old.identity == new.identity
    db.upsert_discovered(old, "p1", seen_at=1.0)
    db.upsert_discovered(new, "p2", seen_at=2.0)
    db.upsert_discovered(old, "p3", seen_at=3.0)
    [found] = db.discovered_records()
    assert found.record == new
    assert found.peers == ("p1", "p2", "p3")


def test_same_name_from_two_publishers_is_two_rows(db: Database) -> None:
    mine, theirs = make_record(key=KEY), make_record(key=OTHER_KEY)
    other_package = make_record("acme/other", key=KEY)
    for record in (mine, theirs, other_package):
        db.upsert_discovered(record, "peer", seen_at=1.0)
    found = db.discovered_records()
    by_name = [r for r in found if r.record.identity[0] == "acme/rust-cli"]
    assert {r.record.identity for r in by_name} == {mine.identity, theirs.identity}
    assert all(r.peers == ("peer",) for r in by_name)
    assert len(found) == 3


def test_tampered_rows_are_skipped_and_logged(db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good, flipped, misfiled = make_record(key=KEY), make_record("acme/flip", key=KEY), make_record("acme/misfiled", key=KEY)
    for record in (good, flipped, misfiled):
        db.upsert_discovered(record, "peer", seen_at=1.0)
        db.add_my_package(record, published_at=1.0)
    conn = raw(tmp_path)
    for table in ("discovered_records", "my_packages"):
        conn.execute(
            f"UPDATE {table} SET record = ? WHERE name = 'acme/flip'",
            (flipped.encoded.replace(b"Rust CLI", b"Rust CLX"),),
        )
        # well signed, but a different package than its row claims
        conn.execute(f"UPDATE {table} SET record = ? WHERE name = 'acme/misfiled'", (good.encoded,))
    conn.close()
    with caplog.at_level(logging.WARNING, logger="ggen_desktop.store.sql"):
        assert [r.record for r in db.discovered_records()] == [good]
        assert [p.record for p in db.my_packages()] == [good]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("skipping stored record acme/flip" in m and "signature" in m for m in messages) == 2
    assert sum("skipping stored record acme/misfiled" in m for m in messages) == 2


def test_record_with_a_foreign_signer_filed_under_my_fingerprint_is_skipped(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mine, theirs = make_record(key=KEY), make_record(key=OTHER_KEY)
    db.upsert_discovered(mine, "peer", seen_at=1.0)
    conn = raw(tmp_path)
    conn.execute("UPDATE discovered_records SET record = ?", (theirs.encoded,))
    conn.close()
    with caplog.at_level(logging.WARNING):
        assert db.discovered_records() == []
    assert f"signed by {theirs.fingerprint}, filed under {mine.fingerprint}" in caplog.text


def test_damaged_stored_copy_is_replaced_by_a_good_one(db: Database, tmp_path: Path) -> None:
    record = make_record(key=KEY)
    db.upsert_discovered(record, "p1", seen_at=1.0)
    conn = raw(tmp_path)
    conn.execute("UPDATE discovered_records SET record = x'00'")
    conn.close()
    db.upsert_discovered(record, "p2", seen_at=2.0)
    assert [r.record for r in db.discovered_records()] == [record]


# -- peers -------------------------------------------------------------------


def test_peers_round_trip_and_replace(db: Database, tmp_path: Path) -> None:
    db.save_peers({"aa" * 20: {"ok": 3, "bad": 1, "rtt_ms": [10.5, 12.0], "banned": False}})
    db.save_peers({"bb" * 20: {"ok": 1}, "aa" * 20: {"ok": 4}})
    assert db.load_peers() == {"aa" * 20: {"ok": 4}, "bb" * 20: {"ok": 1}}
    db.close()
    with closing(Database(tmp_path)) as reopened:
        assert reopened.load_peers()["bb" * 20] == {"ok": 1}


@pytest.mark.parametrize(
    ("peer_id", "stats", "rule"),
    [
        ("p", {"when": object()}, "cannot be stored as JSON"),
        ("p", ["not", "a", "mapping"], "must be a mapping"),
        ("", {}, "non-empty text"),
    ],
)
def test_bad_peer_stats_are_refused_and_nothing_changes(
    db: Database, peer_id: str, stats: object, rule: str
) -> None:
    db.save_peers({"p": {"ok": 1}})
    with pytest.raises(StoreError, match=rule):
        db.save_peers({"q": {"ok": 2}, peer_id: stats})  # type: ignore[dict-item]
    assert db.load_peers() == {"p": {"ok": 1}}


def test_damaged_peer_json_is_skipped(db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db.save_peers({"good": {"ok": 1}, "broken": {}, "listy": {}})
    conn = raw(tmp_path)
    conn.execute("UPDATE peers SET stats = '{not json' WHERE peer_id = 'broken'")
    conn.execute("UPDATE peers SET stats = '[1]' WHERE peer_id = 'listy'")
    conn.close()
    with caplog.at_level(logging.WARNING):
        assert db.load_peers() == {"good": {"ok": 1}}
    assert "peer broken: not JSON" in caplog.text
    assert "peer listy: not a JSON object" in caplog.text


# -- routing contacts and node id --------------------------------------------


def test_contacts_are_replaced_as_a_whole(db: Database) -> None:
    a = Contact(b"\x01" * 20, "10.0.0.1", 8468, 100.0)
    b = Contact(b"\x02" * 20, "::1", 8469, 200.0)
    c = Contact(b"\x03" * 20, "example.org", 1, 50.0)
    db.save_contacts([a, b])
    assert db.load_contacts() == [b, a]  # most recently seen first
    db.save_contacts([c])
    assert db.load_contacts() == [c]
    db.save_contacts([])
    assert db.load_contacts() == []


def test_failed_contact_snapshot_keeps_the_previous_one(db: Database) -> None:
    a = Contact(b"\x01" * 20, "10.0.0.1", 8468, 100.0)
    db.save_contacts([a])

    def snapshot() -> object:
        yield Contact(b"\x02" * 20, "10.0.0.2", 8468, 1.0)
        raise RuntimeError("routing table changed while iterating")

    with pytest.raises(RuntimeError):
        db.save_contacts(snapshot())  # type: ignore[arg-type]
    assert db.load_contacts() == [a]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"node_id": b""},
        {"node_id": "ab"},
        {"host": ""},
        {"port": 0},
        {"port": 65536},
        {"port": True},
    ],
)
def test_contact_rules(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"node_id": b"\x01", "host": "h", "port": 1, "last_seen": 0.0}
    args.update(kwargs)
    with pytest.raises(ValueError):
        Contact(**args)  # type: ignore[arg-type]


def test_damaged_contact_rows_are_skipped(db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = Contact(b"\x01" * 20, "10.0.0.1", 8468, 1.0)
    db.save_contacts([good])
    conn = raw(tmp_path)
    conn.execute("INSERT INTO routing_contacts VALUES ('zz', 'h', 1, 2.0)")
    conn.execute("INSERT INTO routing_contacts VALUES ('0a', 'h', 99999, 3.0)")
    conn.close()
    with caplog.at_level(logging.WARNING):
        assert db.load_contacts() == [good]
    assert caplog.text.count("skipping stored routing contact") == 2


def test_node_id(db: Database, tmp_path: Path) -> None:
    assert db.load_node_id() is None
    db.save_node_id(b"\xab" * 20)
    db.save_node_id(b"\xcd" * 20)
    db.close()
    with closing(Database(tmp_path)) as reopened:
        assert reopened.load_node_id() == b"\xcd" * 20
    with pytest.raises(StoreError, match="non-empty bytes"):
        reopened.save_node_id(b"")


def test_damaged_node_id_reads_as_none(db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db.save_node_id(b"\x01")
    conn = raw(tmp_path)
    conn.execute("UPDATE node_state SET value = 'xyz'")
    conn.close()
    with caplog.at_level(logging.WARNING):
        assert db.load_node_id() is None
    assert "not hex" in caplog.text


# -- recent queries ----------------------------------------------------------


def test_recent_queries_newest_first_deduplicated_and_capped(db: Database) -> None:
    for i in range(MAX_RECENT_QUERIES + 10):
        db.add_recent_query(f"q{i}", {"tags": ["rust"]}, at=float(i))
    queries = db.recent_queries()
    assert len(queries) == MAX_RECENT_QUERIES
    assert queries[0].text == f"q{MAX_RECENT_QUERIES + 9}"
    assert queries[-1].text == "q10"
    assert queries[0].filters == {"tags": ["rust"]}

    db.add_recent_query("q20", {"tags": ["rust"]}, at=1000.0)
    queries = db.recent_queries()
    assert queries[0].text == "q20" and queries[0].searched_at == 1000.0
    assert [q.text for q in queries].count("q20") == 1

    db.add_recent_query("q20", {"tags": ["go"]}, at=1001.0)  # other filters: another entry
    assert [(q.text, q.filters) for q in db.recent_queries()[:2]] == [
        ("q20", {"tags": ["go"]}),
        ("q20", {"tags": ["rust"]}),
    ]


def test_recent_query_filters_must_be_json(db: Database) -> None:
    with pytest.raises(StoreError, match="cannot be stored as JSON"):
        db.add_recent_query("x", {"bad": {1, 2}})
    assert db.recent_queries() == []


def test_discovered_records_and_their_sources_stay_bounded(db: Database) -> None:
    """Peers decide how much reaches us: the least recently seen records and sources make room."""
    db.max_discovered, db.max_sources_per_record = 3, 2
    key = Ed25519PrivateKey.generate()
    records = [make_record(f"acme/tool{i}", key=key) for i in range(5)]
    for i, record in enumerate(records):
        db.upsert_discovered(record, "peer-a", seen_at=100.0 + i)
    db.upsert_discovered(records[2], "peer-b", seen_at=200.0)  # seen again: recent now
    db.upsert_discovered(records[2], "peer-c", seen_at=201.0)
    kept = db.discovered_records()
    assert {d.record for d in kept} == {records[2], records[3], records[4]}
    assert next(d for d in kept if d.record == records[2]).peers == ("peer-b", "peer-c")
    db.upsert_discovered(make_record("acme/new", key=key), "peer-a", seen_at=300.0)
    assert {d.record.package.id.name for d in db.discovered_records()} == {"tool2", "tool4", "new"}
    assert db._conn is not None
    assert db._conn.execute("SELECT count(*) FROM discovered_sources").fetchone()[0] == 4  # cascaded


def test_a_flooding_publisher_evicts_its_own_discovered_records_not_an_honest_newcomers(db: Database) -> None:
    db.max_discovered = 10
    honest = [make_record(f"honest/tool{i}") for i in range(3)]
    for i, record in enumerate(honest):
        db.upsert_discovered(record, "peer-h", seen_at=100.0 + i)
    flooder = Ed25519PrivateKey.generate()
    flood = [make_record(f"squat/rust{i}", key=flooder) for i in range(40)]
    for i, record in enumerate(flood):
        db.upsert_discovered(record, "peer-x", seen_at=200.0 + i)
    latecomer = make_record("honest/late")
    db.upsert_discovered(latecomer, "peer-h", seen_at=300.0)
    kept = {d.record for d in db.discovered_records()}
    assert len(kept) == 10
    assert set(honest) | {latecomer} <= kept  # the oldest rows were honest, yet the flood made room
    assert kept - set(honest) - {latecomer} == set(flood[-6:])  # the flood keeps only its newest


def test_a_batch_of_new_discovered_records_counts_the_table_once(db: Database) -> None:
    """A search writes thousands of records in batches; counting the table per record made it quadratic."""
    db.max_discovered = 150
    key = Ed25519PrivateKey.generate()
    statements: list[str] = []
    assert db._conn is not None
    db._conn.set_trace_callback(statements.append)
    db.save_discovered([Sighting(make_record(f"acme/tool{i}", key=key), {"peer": 100.0 + i}) for i in range(200)])
    db._conn.set_trace_callback(None)
    assert sum("count(*) FROM discovered_records" in s for s in statements) == 1
    kept = db.discovered_records()
    assert len(kept) == 150 and {d.record.package.id.name for d in kept} == {f"tool{i}" for i in range(50, 200)}


def test_a_batch_far_over_the_cap_evicts_in_one_statement_per_publisher(db: Database) -> None:
    """Evicting per record scanned the table per record: 10,000 results from a search cost the store thread 8 s
    of cpu, a core and the GIL taken from the window while it streamed them."""
    db.max_discovered = 100
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    db.save_discovered([Sighting(make_record(f"old/a{i}", key=keys[0]), {"p": 10.0 + i}) for i in range(80)]
                       + [Sighting(make_record(f"old/b{i}", key=keys[1]), {"p": 10.0 + i}) for i in range(15)])
    statements: list[str] = []
    assert db._conn is not None
    db._conn.set_trace_callback(statements.append)
    db.save_discovered([Sighting(make_record(f"new/c{i}", key=keys[2]), {"p": 500.0 + i, "q": 501.0 + i})
                        for i in range(60)])
    db._conn.set_trace_callback(None)
    # (sqlite traces a statement again for each row its cascade deletes: the distinct ones are counted)
    assert len({s for s in statements if s.startswith("DELETE FROM discovered_records")}) == 2  # A's and C's
    assert sum("GROUP BY fingerprint" in s for s in statements) == 1  # the table counted once, not per record
    assert not any(s.startswith("DELETE FROM discovered_sources") for s in statements)  # new records: none over
    kept = db.discovered_records()
    names = {prefix: [d.record.package.id.name for d in kept if d.record.package.id.name.startswith(prefix)]
             for prefix in ("a", "b", "c")}
    # one at a time from the largest: A 80 -> 60, then A and C alike, down to 43 and 42 between them
    assert len(kept) == 100 and len(names["b"]) == 15 and abs(len(names["a"]) - len(names["c"])) <= 1
    assert set(names["a"]) == {f"a{i}" for i in range(80 - len(names["a"]), 80)}  # the least recently seen went
    assert set(names["c"]) == {f"c{i}" for i in range(60 - len(names["c"]), 60)}
    assert all(len(d.peers) == 2 for d in kept if d.record.package.id.name.startswith("c"))


def test_evictions_take_from_whichever_publisher_holds_the_most() -> None:
    assert evictions({"a": 80, "b": 15, "c": 60}, 55) == {"a": 38, "c": 17}  # they end at 42 and 43
    assert evictions({"a": 5, "b": 5}, 3) == {"a": 2, "b": 1}  # ties: the lower fingerprint first
    assert evictions({"a": 5}, 0) == {} and evictions({"a": 5}, -2) == {}
