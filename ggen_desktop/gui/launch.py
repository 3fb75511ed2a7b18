"""Start the GUI: check for a display, show the window, then start the engine inside qasync's loop.

Order matters for a fast, honest start: the window is shown first (only Qt
and our GUI modules are imported by then), the engine is imported and
started after the first expose, and shutdown runs in the main coroutine
after the window closes, where it can still await the node.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from ggen_desktop.app import App
    from ggen_desktop.gui.main_window import MainWindow

log = logging.getLogger(__name__)
T = TypeVar("T")

EXIT_AFTER_SHOWN_ENV = "GGEN_DESKTOP_EXIT_AFTER_SHOWN"
SELF_CHECK_TERM = "rust"
SELF_CHECK_TIMEOUT_S = 60.0
NO_DISPLAY_MESSAGE = (
    "ggen-desktop: no display found (DISPLAY and WAYLAND_DISPLAY are unset); run it in a desktop session, "
    "set QT_QPA_PLATFORM=offscreen for a window without a screen, or use `ggen-desktop node` for a headless node."
)


def display_problem(environ: dict[str, str] | os._Environ[str] = os.environ, platform: str = sys.platform) -> str | None:
    """The no-display sentence on Linux without a display or platform override, else None.

    Without this check Qt prints a page about xcb plugins and aborts.
    """
    if not platform.startswith("linux"):
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY") or environ.get("QT_QPA_PLATFORM"):
        return None
    return NO_DISPLAY_MESSAGE


def run_gui(args: argparse.Namespace) -> int:
    """Entry point for `ggen-desktop` with no subcommand; returns the process exit code."""
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from ggen_desktop import __version__
    from ggen_desktop.logging_setup import configure_logging, platform_log_file

    qInstallMessageHandler(_qt_message)
    existing = QApplication.instance()
    qapp = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    qapp.setApplicationName("ggen-desktop")
    qapp.setApplicationDisplayName("ggen Desktop")
    qapp.setApplicationVersion(__version__)
    qapp.setDesktopFileName("ggen-desktop")
    qapp.setQuitOnLastWindowClosed(False)  # the main coroutine ends the loop after an async shutdown
    configure_logging(args.verbose, level=logging.INFO, log_file=platform_log_file("ggen-desktop.log"))
    return int(run_until_done(qapp, main(args)))


def run_until_done(qapp: QApplication, coro: Coroutine[Any, Any, T]) -> T:
    """Run the main coroutine in qasync's loop until it has returned, whoever quits Qt first.

    `qasync.run` gives up with "Event loop stopped before Future completed" when
    `QApplication.quit()` comes from outside the window (a session logout, a
    platform quit): the async shutdown would never run and the node would not
    save. Here the loop is simply run again until the coroutine, which the
    window's close has woken, finishes its shutdown.
    """
    from qasync import QEventLoop  # type: ignore[import-untyped]  # after PySide6: binds to it

    loop = QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    task: asyncio.Task[T] = loop.create_task(coro)
    task.add_done_callback(lambda _: loop.stop())
    try:
        # run_forever, not run_until_complete: the latter processes Qt events once more after the
        # loop stopped, which would step the coroutine with no running asyncio loop
        while not task.done():
            loop.run_forever()
            if not task.done():
                log.info("the Qt event loop was quit from outside; finishing the shutdown")
        return task.result()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


# Harmless notices of the offscreen platform (used by --self-check and CI), not worth a line each.
_QUIET_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)


def _qt_message(mode: object, context: object, message: str) -> None:
    """Qt's own warnings go through logging like ours, minus known offscreen noise."""
    if message not in _QUIET_QT_MESSAGES:
        logging.getLogger("qt").warning("%s", message)


async def main(args: argparse.Namespace) -> int:
    """The whole GUI session as one coroutine: show, start, run until closed, shut down."""
    from PySide6.QtWidgets import QApplication

    from ggen_desktop.app import App
    from ggen_desktop.gui.main_window import MainWindow
    from ggen_desktop.gui.tasks import wait_for

    window = MainWindow(App.default_config_dir())
    # A quit from outside the window (logout, `QApplication.quit()`) closes it too, which wakes
    # this coroutine for the shutdown below; `run_until_done` keeps the loop running for it.
    QApplication.instance().aboutToQuit.connect(window.close)  # type: ignore[union-attr]
    # Ctrl+C in the terminal or a service manager's SIGTERM: close the window, so the node still
    # shuts down and saves (Python runs the handler at the next bytecode, at latest on the poll tick).
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: window.close())
    shown = wait_for(window.shown)
    closed = wait_for(window.closed)
    window.show()
    await shown
    if os.environ.get(EXIT_AFTER_SHOWN_ENV):
        print(f"ggen-desktop window shown at {time.time():.6f}", flush=True)
        window.close()
        return 0
    try:
        return await run_session(args, window, closed)
    finally:
        await window.shutdown()


async def run_session(args: argparse.Namespace, window: MainWindow, closed: asyncio.Future[Any]) -> int:
    """Build the engine and join, then wait for the window to close (or run the self-check)."""
    app = create_app(args, window)
    if app is None:
        if args.self_check:
            print(f"self-check failed: {window.statusBar().currentMessage()}", flush=True)
            return 1
        await closed
        return 1
    window.attach(app)
    # Once joined, move start-up objects out of the collector's sight: later gen-2 passes only
    # walk what searches create, which keeps GC pauses short while results stream.
    window.ready.connect(gc.freeze)
    window.tasks.spawn(window.start_engine(), "joining the network")
    if args.self_check:
        code = await self_check(window)
        window.close()
        return code
    await closed
    return 0


def create_app(args: argparse.Namespace, window: MainWindow) -> App | None:
    """Build the engine; a locked data folder or unreadable store is shown as a dialog, not a traceback."""
    from ggen_desktop.app import App, NodeError, StoreError

    try:
        return App(data_dir=args.data_dir, port=args.port, bootstrap=args.bootstrap)
    except StoreError as exc:
        window.show_error("Cannot open the data folder", str(exc), serious=True)
        window.status.show_not_connected("the data folder is not available")
        return None
    except NodeError as exc:  # e.g. a bootstrap peer that is not HOST:PORT
        window.show_error("Cannot start the node", str(exc), serious=True)
        window.status.show_not_connected("fix the bootstrap peers in Settings or on the command line")
        return None


async def _first_of(window: MainWindow, signal: object, what: str, deadline: float) -> object | None:
    """The signal's value, or None after printing why not (a GUI task failed, or time ran out)."""
    from ggen_desktop.gui.tasks import wait_for

    wanted, failed = wait_for(signal), wait_for(window.tasks.failed)
    left = max(0.1, deadline - time.monotonic())
    done, _ = await asyncio.wait({wanted, failed}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
    if failed in done:
        task, message = failed.result()
        print(f"self-check failed: {task}: {message}", flush=True)
    elif wanted not in done:
        print(f"self-check failed: {what} within {SELF_CHECK_TIMEOUT_S:.0f} s", flush=True)
    else:
        value: object = wanted.result()
        return value
    return None


async def self_check(window: MainWindow) -> int:
    """Join, search for a term the sample catalogue surely has, and report one line."""
    from ggen_desktop import __version__
    from ggen_desktop.core.search import QueryStatus, QueryTrace

    deadline = time.monotonic() + SELF_CHECK_TIMEOUT_S
    if not window.is_ready and await _first_of(window, window.ready, "the network did not join", deadline) is None:
        return 1
    # listening before the search starts, so even an instant answer is not missed
    finished = asyncio.ensure_future(_first_of(window, window.session.finished,
                                               f"the search for '{SELF_CHECK_TERM}' did not finish", deadline))
    await asyncio.sleep(0)
    window.search_bar.field.setText(SELF_CHECK_TERM)
    window.search()
    trace = await finished
    if trace is None:
        return 1
    assert isinstance(trace, QueryTrace)
    rows = window.results_model.rowCount()
    if trace.status is QueryStatus.FAILED or rows == 0:
        print(f"self-check failed: search for '{SELF_CHECK_TERM}' returned nothing ({trace.summary()})", flush=True)
        return 1
    if not trace.peer_counts().asked:
        print(f"self-check failed: the search for '{SELF_CHECK_TERM}' asked no peer ({trace.summary()})", flush=True)
        return 1
    print(f"self-check ok: ggen-desktop {__version__}, {trace.summary()}", flush=True)
    return 0
