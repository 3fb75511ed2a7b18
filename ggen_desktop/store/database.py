"""The node's SQLite database in its data folder: one process per folder, one connection per thread.

Rules it keeps (see design notes, "Bad input and failure"):
- one process per data folder: an exclusive lock file is held while open;
- WAL journal, and every public write is exactly one transaction, so a crash
  or a full disk mid-write leaves the last committed state (`StoreConnection`).

The `Database` object is the event loop's connection (quick reads, the user's
own writes); `background` is the store thread with a connection of its own,
for batched writes and slow reads that must not stall the loop.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ggen_desktop.store import paths
from ggen_desktop.store.connection import MAX_RECENT_QUERIES as MAX_RECENT_QUERIES
from ggen_desktop.store.connection import Limits, StoreConnection
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.lock import DataDirLock
from ggen_desktop.store.sql import connect
from ggen_desktop.store.store_thread import StoreThread

log = logging.getLogger(__name__)


class Database(StoreConnection):
    """An open data folder. Opening locks it, creates or upgrades the schema; `close()` releases it."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        """Open the database in `data_dir`, else `$GGEN_DESKTOP_DATA_DIR`, else the platform data folder.

        Raises StoreLocked if another process has it open, StoreTooNew if a newer
        release wrote it, StoreError if it is not a usable SQLite database.
        """
        try:
            self.data_dir: Path = paths.data_dir(data_dir)
            path = paths.database_path(self.data_dir)
            self._lock = DataDirLock(paths.lock_path(self.data_dir))
            self._lock.acquire()
        except OSError as exc:
            raise StoreError(f"cannot use the data folder {exc.filename or data_dir}: {exc.strerror or exc}") from exc
        try:
            super().__init__(connect(path), path, Limits())
        except BaseException:
            self._lock.release()
            raise
        self._background: StoreThread | None = None
        log.info("opened database %s", self.path)

    @property
    def background(self) -> StoreThread:
        """The store thread (started on first use): batched writes and slow reads off the caller's thread."""
        self._connection()  # StoreError once closed
        if self._background is None:
            self._background = StoreThread(lambda: StoreConnection.open(self.path, self.limits))
        return self._background

    @property
    def transactions(self) -> int:
        """Write transactions committed so far, by this connection and the store thread's."""
        return self.committed + (self._background.committed if self._background is not None else 0)

    def close(self) -> None:
        """Write what the store thread holds, close both connections and unlock the folder; safe to call twice."""
        if self._conn is None:
            return
        try:
            if self._background is not None:
                self._background.close()
            self.close_connection()
        finally:
            self._lock.release()
        log.info("closed database %s", self.path)
