"""A writer killed mid-transaction, and a disk that fills: both leave the last committed state."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from ggen_desktop.store import paths
from ggen_desktop.store.database import Database
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.rows import Contact
from tests.helpers.packages import make_record

PREVIOUS = [Contact(bytes([i]) * 20, f"10.0.0.{i}", 8468, float(i)) for i in range(1, 4)]

# Replaces every routing contact in one transaction, but stops (and says so)
# after 20,000 rows, with the cache kept tiny so pages spill into the WAL file
# before the commit that never comes: it waits on stdin, which the test never
# writes to, until it is killed.
WRITER = textwrap.dedent(
    """
    import pathlib, sys
    from ggen_desktop.store.database import Database
    from ggen_desktop.store.rows import Contact

    db = Database(sys.argv[1])
    db._conn.execute("PRAGMA cache_size = 1")

    def contacts():
        for i in range(20_000):
            yield Contact(i.to_bytes(20, "big"), "192.168.1.1", 9000, float(i))
        pathlib.Path(sys.argv[2]).write_text("ready")
        sys.stdin.read()

    db.save_contacts(contacts())
    """
)


def test_writer_killed_mid_transaction_leaves_the_previous_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with closing(Database(data)) as db:
        db.save_contacts(PREVIOUS)
        db.add_my_package(record := make_record(), published_at=1.0)
    ready = tmp_path / "ready"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(data), str(ready)], stdin=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert writer.poll() is None, writer.stderr.read().decode() if writer.stderr else ""
            assert time.monotonic() < deadline, "the writer never got mid-transaction"
            time.sleep(0.02)
        wal = Path(f"{paths.database_path(data)}-wal")
        assert wal.stat().st_size > 500_000  # uncommitted pages really reached the disk
    finally:
        writer.kill()  # SIGKILL on POSIX: no cleanup, no rollback
        writer.wait(timeout=30)
        for pipe in (writer.stdin, writer.stderr):
            if pipe:
                pipe.close()

    with closing(Database(data)) as db:  # the OS dropped the dead writer's lock
        assert db.load_contacts() == sorted(PREVIOUS, key=lambda c: -c.last_seen)
        assert [p.record for p in db.my_packages()] == [record]
        assert db._conn is not None
        assert db._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.fixture
def nearly_full(tmp_path: Path) -> Iterator[Database]:
    """A database whose size limit is its current size: the next write that needs a page fails."""
    db = Database(tmp_path)
    db.save_contacts(PREVIOUS)
    db.save_peers({"peer": {"ok": 1}})
    assert db._conn is not None
    pages = db._conn.execute("PRAGMA page_count").fetchone()[0]
    assert db._conn.execute(f"PRAGMA max_page_count = {pages}").fetchone()[0] == pages
    yield db
    db.close()


def test_full_disk_raises_store_error_and_keeps_data(nearly_full: Database, tmp_path: Path) -> None:
    db = nearly_full
    # the DELETE of the old snapshot succeeds, the INSERTs run out of pages: all must roll back
    many = [Contact(i.to_bytes(20, "big"), "h", 1, float(i)) for i in range(5_000)]
    with pytest.raises(StoreError, match="is full.*previous data is unchanged"):
        db.save_contacts(many)
    assert db.load_contacts() == sorted(PREVIOUS, key=lambda c: -c.last_seen)
    assert db.load_peers() == {"peer": {"ok": 1}}
    db.save_peers({"peer": {"ok": 2}})  # a write that fits still works afterwards
    db.close()
    with closing(Database(tmp_path)) as reopened:
        assert reopened.load_contacts() == sorted(PREVIOUS, key=lambda c: -c.last_seen)
        assert reopened.load_peers() == {"peer": {"ok": 2}}
