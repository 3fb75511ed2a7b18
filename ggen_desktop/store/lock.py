"""An exclusive, non-blocking lock on a data folder, so two processes never share one database.

The lock is an OS advisory lock on a file (`fcntl.flock` on POSIX,
`msvcrt.locking` on Windows). The OS drops it when the process dies, so a
crash never leaves a stale lock behind; the PID written into the file is only
there to make the error message useful.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import IO

from ggen_desktop.store.errors import StoreLocked

log = logging.getLogger(__name__)


def _try_lock(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return "another process"
    return f"process {pid}" if pid.isdigit() else "another process"


class DataDirLock:
    """Held while a Database is open; `acquire` raises StoreLocked instead of waiting."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] | None = None

    def acquire(self) -> None:
        # "a+b" creates the file without truncating it, so a failed attempt
        # does not wipe the PID the holder wrote.
        handle = open(self.path, "a+b")  # noqa: SIM115  # closed in release()
        if not _try_lock(handle):
            handle.close()
            raise StoreLocked(
                f"the data folder {self.path.parent} is already in use by {_holder(self.path)}; "
                "close the other ggen-desktop or give this one its own data folder "
                "(--data-dir or GGEN_DESKTOP_DATA_DIR)"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode("ascii"))
        handle.flush()
        self._handle = handle
        log.debug("locked data folder %s", self.path.parent)

    def release(self) -> None:
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        try:
            _unlock(handle)
        finally:
            handle.close()
        log.debug("unlocked data folder %s", self.path.parent)
