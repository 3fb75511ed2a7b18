"""GUI fixtures: one qasync loop over pytest-qt's QApplication, and a real window on a real demo network.

The loop is made with `already_running=True`, so `qtbot.waitSignal`/`waitUntil`
(which spin Qt's event loop) also drive asyncio tasks and UDP sockets. It is
stopped only at the end of the session: stopping it earlier would quit the
QApplication for later tests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from qasync import QEventLoop  # after PySide6, so qasync binds to it

from ggen_desktop.app import App
from ggen_desktop.gui.main_window import MainWindow

T = TypeVar("T")
DEMO_SIZE = 10


@pytest.fixture(scope="session")
def _session_loop(qapp: QApplication) -> Iterator[QEventLoop]:
    loop = QEventLoop(qapp, already_running=True)
    asyncio.events._set_running_loop(None)  # only while a GUI test runs (see qloop)
    yield loop
    # Only now, at the very end: stop and close, so the executor's QThreads (getaddrinfo) are joined
    # instead of aborting the process with "QThread: Destroyed while thread is still running".
    loop.stop()
    loop.close()


@pytest.fixture
def qloop(_session_loop: QEventLoop) -> Iterator[QEventLoop]:
    """The qasync loop, marked running for this test only.

    A loop left marked as running would make every later pytest-asyncio test
    fail with "Runner.run() cannot be called from a running event loop".
    """
    asyncio.set_event_loop(_session_loop)
    asyncio.events._set_running_loop(_session_loop)
    yield _session_loop
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


class Runner:
    """Run a coroutine to completion from a (synchronous) test by spinning the Qt loop."""

    def __init__(self, qtbot: QtBot, loop: QEventLoop) -> None:
        self.qtbot = qtbot
        self.loop = loop

    def __call__(self, coro: Coroutine[Any, Any, T], timeout_s: float = 20.0) -> T:
        task = self.loop.create_task(coro)
        self.qtbot.waitUntil(task.done, timeout=int(timeout_s * 1000))
        return task.result()


@pytest.fixture
def run(qtbot: QtBot, qloop: QEventLoop) -> Runner:
    return Runner(qtbot, qloop)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.mkdir()
    return path


def open_window(qtbot: QtBot, config_dir: Path, data_dir: Path, demo_size: int = DEMO_SIZE) -> MainWindow:
    """A shown window whose App runs a real loopback demo network; waits until it has joined."""
    window = MainWindow(config_dir)  # not qtbot.addWidget: it would delete the window before our teardown
    with qtbot.waitSignal(window.shown, timeout=5000):
        window.show()
    app = App(data_dir=data_dir, config_dir=config_dir, demo_size=demo_size)
    window.attach(app)
    with qtbot.waitSignal(window.ready, timeout=30000):
        window.tasks.spawn(window.start_engine(), "joining the network")
    return window


@pytest.fixture
def window(qtbot: QtBot, qloop: QEventLoop, run: Runner, config_dir: Path, tmp_path: Path) -> Iterator[MainWindow]:
    win = open_window(qtbot, config_dir, tmp_path / "data")
    yield win
    run(win.shutdown())
    win.close()
    win.deleteLater()
