"""One process per data folder: a second opener gets a clear StoreLocked error, never a shared file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pytest

from ggen_desktop.store.database import Database
from ggen_desktop.store.errors import StoreLocked

SECOND_PROCESS = textwrap.dedent(
    """
    import sys
    from ggen_desktop.store.database import Database
    from ggen_desktop.store.errors import StoreLocked
    try:
        Database(sys.argv[1])
    except StoreLocked as exc:
        print(exc)
        sys.exit(3)
    print("opened")
    """
)


def open_in_another_process(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, str(folder)], capture_output=True, text=True, timeout=60
    )


def test_second_process_gets_a_clear_error(tmp_path: Path) -> None:
    with closing(Database(tmp_path)) as db:
        db.add_recent_query("kept")
        result = open_in_another_process(tmp_path)
        assert result.returncode == 3, result.stderr
        assert f"already in use by process {os.getpid()}" in result.stdout
        assert "--data-dir" in result.stdout
        assert [q.text for q in db.recent_queries()] == ["kept"]  # the first one is unaffected
    result = open_in_another_process(tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, "opened")


def test_second_open_in_the_same_process_is_refused_too(tmp_path: Path) -> None:
    first = Database(tmp_path)
    with pytest.raises(StoreLocked, match="already in use"):
        Database(tmp_path)
    first.add_recent_query("still works")
    first.close()
    with closing(Database(tmp_path)) as again:
        assert [q.text for q in again.recent_queries()] == ["still works"]


def test_different_folders_do_not_conflict(tmp_path: Path) -> None:
    with closing(Database(tmp_path / "a")), closing(Database(tmp_path / "b")):
        pass
