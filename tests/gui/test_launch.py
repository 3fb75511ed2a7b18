"""`ggen-desktop` as a process: the no-display message, --self-check, and the shown-then-exit probe."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ggen_desktop.gui.launch import NO_DISPLAY_MESSAGE, display_problem


def run_app(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    base.update(GGEN_DESKTOP_DATA_DIR=str(tmp_path / "data"), GGEN_DESKTOP_CONFIG_DIR=str(tmp_path / "config"))
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "ggen_desktop", *args], env=base, capture_output=True, text=True,
                          check=False, timeout=timeout, cwd=Path(__file__).parents[2])


def test_display_problem_only_on_linux_without_any_display() -> None:
    assert display_problem({}, "linux") == NO_DISPLAY_MESSAGE
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "win32") is None and display_problem({}, "darwin") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is for Linux")
def test_no_display_prints_one_sentence_and_exits_2(tmp_path: Path) -> None:
    result = run_app(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == NO_DISPLAY_MESSAGE
    assert "QT_QPA_PLATFORM=offscreen" in result.stderr and "ggen-desktop node" in result.stderr


def test_self_check_joins_searches_and_reports(tmp_path: Path) -> None:
    result = run_app(tmp_path, "--self-check", env={"QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stdout + result.stderr
    line = result.stdout.strip().splitlines()[-1]
    # every search asks the network, even when this node holds the keyword's replicas (§2.5)
    pattern = (r"self-check ok: ggen-desktop \d+\.\d+\.\d+\S*, \d+ results? from (\d+) of (\d+) peers? asked"
               r"( and this node's replicas)? in \d+ ms: finished(, more available)?")
    match = re.fullmatch(pattern, line)
    assert match, line
    assert int(match.group(2)) >= 1 and int(match.group(1)) + bool(match.group(3)) >= 1
    assert "propagateSizeHints" not in result.stderr
    assert (tmp_path / "config" / "window.ini").exists()  # the window closed and saved its layout


def test_exit_after_shown_reports_the_first_expose(tmp_path: Path) -> None:
    result = run_app(tmp_path, env={"QT_QPA_PLATFORM": "offscreen", "GGEN_DESKTOP_EXIT_AFTER_SHOWN": "1"})
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"ggen-desktop window shown at \d+\.\d+", result.stdout.strip())


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_closes_the_window_and_shuts_down_cleanly(tmp_path: Path) -> None:
    import signal
    import time

    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    base.update(QT_QPA_PLATFORM="offscreen", GGEN_DESKTOP_DATA_DIR=str(tmp_path / "data"),
                GGEN_DESKTOP_CONFIG_DIR=str(tmp_path / "config"), GGEN_DESKTOP_LOG_DIR=str(tmp_path / "logs"))
    process = subprocess.Popen([sys.executable, "-m", "ggen_desktop"], env=base, cwd=Path(__file__).parents[2],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        log_file = tmp_path / "logs" / "ggen-desktop.log"

        def joined() -> bool:
            return log_file.exists() and "joined with" in log_file.read_text(encoding="utf-8")

        while not joined() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert joined(), "the window's node did not join"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert (tmp_path / "config" / "window.ini").exists()
    assert "Traceback" not in stderr


QUIT_FROM_OUTSIDE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from ggen_desktop.gui import main_window

joined = main_window.MainWindow.start_engine

async def join_then_logout(self):
    await joined(self)
    self.search_bar.field.setText("rust")
    self.search()  # a search in flight, as a user logging out might leave one
    QTimer.singleShot(50, QApplication.quit)  # like a session logout: the app quits, not the window

main_window.MainWindow.start_engine = join_then_logout
from ggen_desktop.cli import main
sys.exit(main([]))
"""


def test_app_quit_from_outside_still_shuts_the_node_down(tmp_path: Path) -> None:
    """`QApplication.quit()` (logout, a platform quit) must still run the async shutdown: node stop saves state."""
    from ggen_desktop.store.database import Database

    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    base.update(QT_QPA_PLATFORM="offscreen", GGEN_DESKTOP_DATA_DIR=str(tmp_path / "data"),
                GGEN_DESKTOP_CONFIG_DIR=str(tmp_path / "config"))
    result = subprocess.run([sys.executable, "-c", QUIT_FROM_OUTSIDE], env=base, capture_output=True, text=True,
                            check=False, timeout=60, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Event loop stopped" not in result.stderr, result.stderr
    assert (tmp_path / "config" / "window.ini").exists()  # the window saved its layout
    database = Database(tmp_path / "data")  # opens only if the old process released its lock
    try:
        assert database.load_node_id() is not None and database.load_peers()  # saved by the node's stop
    finally:
        database.close()
