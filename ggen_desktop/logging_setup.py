"""Logging for every front end: one place decides what reaches the user.

A peer going away is normal life in a DHT (Kademlia paper §2.2: contacts are
evicted when they stop answering), yet kademlia and rpcudp log each such event
as a warning ("no response from …, removing from router"); a demo start or a
busy node would print hundreds. Their loggers stay at ERROR unless the user
asks for detail with `-v`/`--verbose`.

Log lines carry text from the network (package ids, peer errors). Each record
is written as one line with its control characters escaped as `repr` would
(a newline in a signed package id cannot forge a line, an escape sequence
cannot drive the terminal); a traceback's lines are indented, so every line
that starts at the margin is a record of ours. The log file rotates: it never
holds more than LOG_FILE_BYTES times (LOG_FILE_BACKUPS + 1).
"""

from __future__ import annotations

import copy
import logging
import re
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

LIBRARY_LOGGERS = ("kademlia", "rpcudp")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_BYTES = 1_000_000
LOG_FILE_BACKUPS = 2
_HANDLER_MARK = "_ggen_desktop_handler"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """`text` with every control character (line breaks included) written as `repr` writes it."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


class OneLineFormatter(logging.Formatter):
    """One line per record, whatever the message holds; tracebacks follow, indented."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        safe = copy.copy(record)
        safe.message = escape_controls(record.message)
        return super().formatMessage(safe)

    def format(self, record: logging.LogRecord) -> str:
        first, *rest = super().format(record).split("\n")
        return "\n".join([first, *("    " + line for line in rest)])


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
            handlers.append(RotatingFileHandler(log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS,
                                                encoding="utf-8"))
        except OSError as exc:
            problem = f"not logging to {log_file}: {exc.strerror or exc}"
    for handler in handlers:
        handler.setFormatter(OneLineFormatter(FORMAT))
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
