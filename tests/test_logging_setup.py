"""The log file: one line per record whatever a peer wrote, and a bounded size however much is logged."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ggen_desktop.logging_setup import LOG_FILE_BACKUPS, LOG_FILE_BYTES, configure_logging, escape_controls


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "node.log"
    configure_logging(level=logging.INFO, log_file=path, stream=io.StringIO())
    yield path
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ggen_desktop_handler", False):
            root.removeHandler(handler)
            handler.close()


def lines(path: Path) -> list[str]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8").splitlines()


def test_text_from_a_peer_cannot_start_a_line_of_its_own(log_file: Path) -> None:
    forged = "acme/cli\n2030-01-01 00:00:00,000 WARNING ggen_desktop.net.node: all peers verified\r\x1b[2J\u2028"
    logging.getLogger("ggen_desktop.test").info("refused a store: %s", forged)
    (line,) = lines(log_file)
    assert line.endswith(
        r"refused a store: acme/cli\n2030-01-01 00:00:00,000 WARNING ggen_desktop.net.node: all peers verified"
        r"\r\x1b[2J\u2028")


def test_a_traceback_keeps_its_lines_indented_under_its_record(log_file: Path) -> None:
    try:
        raise ValueError("bad record acme/cli\nFORGED line")
    except ValueError:
        logging.getLogger("ggen_desktop.test").exception("handler failed")
    first, *rest = lines(log_file)
    assert first.endswith("handler failed") and rest
    assert all(line.startswith("    ") for line in rest)  # only our records start at the margin
    assert "    FORGED line" in rest


def test_the_log_file_rotates_within_its_bound(log_file: Path) -> None:
    log = logging.getLogger("ggen_desktop.test")
    for i in range(25_000):  # ~3.3 MB of log lines (30,000 refused stores once wrote 5.5 MB)
        log.info("refused a store from ('127.0.0.1', %d): record is not UTF-8 JSON", i)
    files = list(log_file.parent.glob("node.log*"))
    assert len(files) == LOG_FILE_BACKUPS + 1
    assert sum(f.stat().st_size for f in files) <= (LOG_FILE_BACKUPS + 1) * LOG_FILE_BYTES


def test_escaping_is_what_repr_writes() -> None:
    assert escape_controls("a\nb\tc\x00\x7f\x85 é ü") == "a\\nb\\tc\\x00\\x7f\\x85 é ü"
