"""Logging for every front end: one place decides what reaches the user.

A peer going away is normal life in a DHT (Kademlia paper §2.2: contacts are
evicted when they stop answering), yet kademlia and rpcudp log each such event
as a warning ("no response from …, removing from router"); a demo start or a
busy node would print hundreds. Their loggers stay at ERROR unless the user
asks for detail with `-v`/`--verbose`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

LIBRARY_LOGGERS = ("kademlia", "rpcudp")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_MARK = "_ggen_desktop_handler"


def quiet_library_loggers(verbose: bool = False) -> None:
    """kademlia/rpcudp at ERROR, or inheriting the root's level (DEBUG when verbose)."""
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.ERROR)


def configure_logging(verbose: bool = False, *, level: int = logging.WARNING, log_file: Path | None = None,
                      stream: TextIO | None = None) -> None:
    """Log `level` and above (DEBUG with `verbose`) to `stream` (stderr) and, if given, `log_file`.

    Safe to call again (e.g. GUI after CLI parsing): handlers installed by an earlier call are
    replaced, not added twice. A log file that cannot be opened is reported and skipped.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    effective = logging.DEBUG if verbose else level
    root.setLevel(effective)
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    problem = None
    if log_file is not None:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            problem = f"not logging to {log_file}: {exc.strerror or exc}"
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    quiet_library_loggers(verbose)
    if problem is not None:
        logging.getLogger(__name__).warning("%s", problem)


def platform_log_file(name: str) -> Path | None:
    """`name` in the platform log folder, or None (with a warning) when the folder cannot be made."""
    from ggen_desktop.store import paths

    try:
        return paths.log_dir() / name
    except OSError as exc:
        logging.getLogger(__name__).warning("not logging to a file: %s", exc)
        return None
