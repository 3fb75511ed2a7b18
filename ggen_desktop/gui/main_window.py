"""The main window: search bar, results table with details, and the side docks.

The window exists and is shown before the engine does: `attach(app)` and
`start_engine()` come later, so the user sees the window at once and watches
the network join in the status bar.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop import __version__
from ggen_desktop.core.package import Category, PackageError
from ggen_desktop.core.query import Query, QueryError
from ggen_desktop.core.search import QueryStatus, QueryTrace
from ggen_desktop.core.settings import Settings
from ggen_desktop.gui.details_pane import DetailsPane
from ggen_desktop.gui.metrics_panel import MetricsPanel
from ggen_desktop.gui.node_panel import NodeInfo, NodePanel
from ggen_desktop.gui.peers_panel import PeersPanel
from ggen_desktop.gui.publish_panel import PublishPanel
from ggen_desktop.gui.resources import APP_ICON, icon
from ggen_desktop.gui.results_model import ResultsModel
from ggen_desktop.gui.results_view import ResultsView
from ggen_desktop.gui.search_session import SearchSession
from ggen_desktop.gui.tasks import TaskGroup

if TYPE_CHECKING:
    from ggen_desktop.app import App

log = logging.getLogger(__name__)

POLL_MS = 500
WINDOW_SETTINGS_FILE = "window.ini"
ANY_CATEGORY = "Any category"
DEMO_HINT = "Demo network: {peers} local peers with sample packages. To join a real one: Settings → Bootstrap peers"
DEMO_TIP = "The demo network runs on this computer only. To join a real network, add one or more of its peers " \
    "(HOST:PORT) in File → Settings → Bootstrap peers and restart, or start with --bootstrap HOST:PORT."
DOCK_WIDTH = 390  # first run: room for the docks' tables, the rest for the results
# Join progress as one bar across the start-up stages: (first %, share %) of each stage's span.
STAGE_SPAN = {"Starting demo network": (0, 85), "Joining": (85, 15)}


class MainWindow(QMainWindow):
    """Signals: `shown` on the first expose, `ready` when the node has joined, `closed` on close."""

    shown = Signal()
    ready = Signal()
    closed = Signal()

    def __init__(self, config_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.config_dir = Path(config_dir)
        self.app: App | None = None
        self.is_ready = False
        self._pending_query: Query | None = None
        self._shown_once = False
        self._detail_sources = -1
        self.error_box: QMessageBox | None = None
        self.setObjectName("mainWindow")
        self.setWindowTitle("ggen Desktop")
        self.setWindowIcon(icon(APP_ICON))
        self.setDockOptions(self.dockOptions() | QMainWindow.DockOption.AllowTabbedDocks)

        self.tasks = TaskGroup(self)
        self.tasks.failed.connect(self._task_failed)
        self.results_model = ResultsModel(self)
        self.session = SearchSession(self.results_model, self.tasks, parent=self)
        self.session.started.connect(self._search_started)
        self.session.progressed.connect(self._search_progressed)
        self.session.finished.connect(self._search_finished)

        self._build_search_bar()
        self.results_view = ResultsView(self.results_model)
        self.results_view.selectionModel().selectionChanged.connect(self._show_selected)
        self.details = DetailsPane()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("resultsSplitter")
        self.splitter.addWidget(self.results_view)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addLayout(self.search_bar)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.metrics_panel = MetricsPanel()
        self.peers_panel = PeersPanel()
        self.peers_panel.block_requested.connect(self._set_blocked)
        self.publish_panel = PublishPanel(self.tasks)
        self.node_panel = NodePanel()
        self.docks: dict[str, QDockWidget] = {}
        for name, title, widget in (
            ("metrics", "Query metrics", self.metrics_panel),
            ("peers", "Peer reputation", self.peers_panel),
            ("publish", "Publish", self.publish_panel),
            ("node", "Node", self.node_panel),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"{name}Dock")
            if name == "publish":  # a long form: it scrolls in a short dock instead of squeezing its rows together
                scroller = QScrollArea()
                scroller.setWidgetResizable(True)
                scroller.setFrameShape(QFrame.Shape.NoFrame)
                scroller.setWidget(widget)
                dock.setWidget(scroller)
            else:
                dock.setWidget(widget)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            dock.visibilityChanged.connect(self._dock_shown)
            self.docks[name] = dock
        self.tabifyDockWidget(self.docks["metrics"], self.docks["peers"])
        self.tabifyDockWidget(self.docks["peers"], self.docks["node"])
        self.tabifyDockWidget(self.docks["node"], self.docks["publish"])
        self.docks["metrics"].raise_()

        self._build_status_bar()
        self._build_menus()
        self.resize(1280, 800)
        self.restore_layout()

        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self.poll)
        self.poll_timer.start()

    # -- construction ------------------------------------------------------------
    def _build_search_bar(self) -> None:
        self.search_field = QLineEdit()
        self.search_field.setObjectName("searchField")
        self.search_field.setPlaceholderText("Search packages (Enter to search, Esc to cancel)")
        self.search_field.setAccessibleName("Search text")
        self.search_field.setToolTip("Words to look for in names, titles, descriptions and tags (Ctrl+L)")
        self.search_field.setClearButtonEnabled(True)
        self.search_field.returnPressed.connect(self.search)
        self.category_box = QComboBox()
        self.category_box.setAccessibleName("Category filter")
        self.category_box.setToolTip("Only packages in this category")
        self.category_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.category_box.addItem(ANY_CATEGORY, "")
        for category in Category:
            self.category_box.addItem(category.value, category.value)
        self.tags_field = QLineEdit()
        self.tags_field.setAccessibleName("Tag filter")
        self.tags_field.setPlaceholderText("tags: cli, rust")
        self.tags_field.setToolTip("Only packages with all of these tags (comma separated)")
        self.tags_field.returnPressed.connect(self.search)
        self.search_button = QPushButton(icon("search"), "Search")
        self.search_button.setAccessibleName("Search")
        self.search_button.setToolTip("Ask the network (Enter, F5)")
        self.search_button.clicked.connect(self.search)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setAccessibleName("Cancel search")
        self.cancel_button.setToolTip("Stop asking peers; results so far stay (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_search)
        self.busy = QProgressBar()
        self.busy.setAccessibleName("Search in progress")
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(80)
        self.busy.setMaximumHeight(14)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        bar = QHBoxLayout()
        bar.addWidget(self.search_field, 3)
        bar.addWidget(self.category_box)
        bar.addWidget(self.tags_field, 1)
        bar.addWidget(self.search_button)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.busy)
        self.search_bar = bar

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.network_label = QLabel("Starting the node…")
        self.network_label.setAccessibleName("Network status")
        # a long status must not set the window's minimum width: it is cut instead, and the tooltip has it all
        self.network_label.setMinimumWidth(1)
        self.network_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.search_status = QLabel("")
        self.search_status.setObjectName("searchStatus")
        self.search_status.setAccessibleName("Search status")
        self.join_progress = QProgressBar()
        self.join_progress.setAccessibleName("Joining the network")
        self.join_progress.setMaximumWidth(180)
        self.join_progress.setRange(0, 0)  # busy until the engine reports its first stage
        self.join_progress.setFormat("%p%")
        status.addWidget(self.network_label, 1)
        status.addPermanentWidget(self.search_status)
        status.addPermanentWidget(self.join_progress)

    def _action(self, menu: QMenu, text: str, slot: Callable[..., object], shortcuts: list[QKeySequence | str],
                tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) if isinstance(s, str) else s for s in shortcuts])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        if tip:
            action.setStatusTip(tip)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.publish_action = self._action(file_menu, "&Publish a package…", self.show_publish,
                                           ["Ctrl+Shift+P"], "Open the publish panel")
        # Ctrl+, first: the menu shows the first shortcut, and the platform's Preferences key may be empty
        self.settings_action = self._action(file_menu, "&Settings…", self.show_settings,
                                            ["Ctrl+,", QKeySequence(QKeySequence.StandardKey.Preferences)],
                                            "Search timeouts, listening port, bootstrap peers")
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", self.close, ["Ctrl+Q"], "Shut the node down and quit")
        search_menu = bar.addMenu("&Search")
        self.focus_action = self._action(search_menu, "&Focus search field", self.focus_search, ["Ctrl+L", "Ctrl+F"],
                                         "Type a new search")
        self.again_action = self._action(search_menu, "Search &again", self.search, ["F5", "Ctrl+R"],
                                         "Run the search in the fields again")
        self.cancel_action = self._action(search_menu, "&Cancel search", self.cancel_search, ["Esc"],
                                          "Stop asking peers; results so far stay")
        view_menu = bar.addMenu("&View")
        for number, dock in enumerate(self.docks.values(), start=1):
            action = self._action(view_menu, dock.windowTitle(), partial(self.toggle_dock, dock),
                                  [f"Alt+{number}"], f"Bring the {dock.windowTitle()} panel to the front, or hide it")
            action.setCheckable(True)
            action.setChecked(not dock.isHidden())
            dock.toggleViewAction().toggled.connect(action.setChecked)  # also closed by its title bar button
        help_menu = bar.addMenu("&Help")
        self.about_action = self._action(help_menu, f"&About ggen-desktop {__version__}", self.show_about, ["F1"],
                                         "Version, data and settings folders")

    # -- engine --------------------------------------------------------------------
    def attach(self, app: App) -> None:
        """Connect the engine; the window was shown before it existed."""
        self.app = app
        self.publish_panel.attach(app.node)
        for problem in app.settings_problems:
            self.show_error("Some settings were reset", problem, serious=False)

    def on_progress(self, label: str, done: int, total: int) -> None:
        """One determinate bar over all start-up stages, so it never runs backwards between them."""
        demo = self.app is not None and self.app.is_demo
        if label == "Joining":
            text = "Joining the demo network…" if demo else "Joining the network through the bootstrap peers…"
        else:
            text = f"{label}… ({done}/{total})" if total else f"{label}…"
        self.network_label.setText(text)
        self.network_label.setToolTip(text)
        first, share = STAGE_SPAN.get(label, (0, 100)) if demo else (0, 100)
        if not demo and total <= 1 and done < total:
            self.join_progress.setRange(0, 0)  # one step of unknown length (real peers): busy, not a stuck 0 %
        else:
            self.join_progress.setRange(0, 100)
            self.join_progress.setValue(first + (share * done // total if total > 0 else 0))

    async def start_engine(self) -> None:
        """Start and join; on failure say so in the window (the task group reports the exception)."""
        assert self.app is not None
        try:
            await self.app.start(progress=self.on_progress)
        except Exception:
            self.join_progress.hide()
            self.network_label.setText("Not connected: the node failed to start (see the message)")
            raise
        self.join_progress.hide()
        self.is_ready = True
        self._show_network_state()
        self.poll()
        self.ready.emit()
        if self._pending_query is not None:
            query, self._pending_query = self._pending_query, None
            self._run(query)

    def _show_network_state(self) -> None:
        assert self.app is not None
        node = self.app.node
        contacts = len(node.contacts())
        if self.app.is_demo:
            text = DEMO_HINT.format(peers=self.app.demo.size if self.app.demo is not None else contacts)
        else:
            text = f"Connected: {contacts} peers in the routing table"
        self.network_label.setText(text)
        tip = DEMO_TIP if self.app.is_demo else text
        self.network_label.setToolTip(f"{tip}\nThis node: {node.node_id_hex[:16]} on {node.address[0]}:{node.address[1]}")

    async def shutdown(self) -> None:
        """Cancel GUI tasks, then stop the node (which saves its state). Safe to call twice."""
        self.poll_timer.stop()
        if self.session.running:
            self.session.cancel()
        await self.tasks.cancel_all()
        if self.app is not None:
            await self.app.stop()

    # -- searching -----------------------------------------------------------------
    def build_query(self) -> Query:
        tags = tuple(t.strip() for t in self.tags_field.text().split(",") if t.strip())
        category = self.category_box.currentData()
        return Query(text=self.search_field.text(), categories=(category,) if category else (), tags=tags)

    def search(self) -> None:
        """Search with the current fields (Enter, F5); before the node has joined, run it when it has."""
        try:
            query = self.build_query()
        except (QueryError, PackageError) as exc:
            self.show_error("Cannot search", str(exc), serious=False)
            return
        if query.is_empty:
            self.statusBar().showMessage("Type something to search for, or pick a category or tag", 4000)
            return
        if not self.is_ready:
            self._pending_query = query
            self.search_status.setText("Waiting for the network to join; the search will start then…")
            return
        self._run(query)

    def _run(self, query: Query) -> None:
        assert self.app is not None
        self.app.node.remember_query(query)
        self.session.start(self.app.node, query)

    def cancel_search(self) -> None:
        if self._pending_query is not None:
            self._pending_query = None
            self.search_status.setText("Search cancelled")
        if self.session.running:
            self.session.cancel()
            self._search_finished(self.session.trace)  # type: ignore[arg-type]  # say so now, not after the task ends

    def focus_search(self) -> None:
        self.search_field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_field.selectAll()

    def _search_started(self, trace: QueryTrace) -> None:
        self.busy.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.search_status.setText(trace.summary())
        self.metrics_panel.show_trace(trace)
        self.details.show_hit(None, 1)

    def _search_progressed(self, trace: QueryTrace) -> None:
        """After each applied batch (at most every 50 ms): the status line, and the trace if it is in view."""
        self.search_status.setText(trace.summary())
        if in_view(self.metrics_panel):
            self.metrics_panel.show_trace(trace)

    def _search_finished(self, trace: QueryTrace) -> None:
        self.busy.setVisible(False)
        self.cancel_button.setEnabled(False)
        self.search_status.setText(trace.summary())
        self.poll()
        if trace.status is QueryStatus.FAILED:
            self.show_error("Search failed", trace.error or "unknown error", serious=False)

    def _show_selected(self) -> None:
        hit = self.results_view.selected_hit()
        self._detail_sources = len(hit.sources) if hit else -1
        self.details.show_hit(hit, self.results_model.publishers_of(hit.identity[0]) if hit else 1)

    # -- live panels -----------------------------------------------------------------
    def poll(self) -> None:
        """Refresh the docks from cheap snapshots; hidden panels (closed or behind a tab) are skipped."""
        if self.session.running:
            self.search_status.setText(self.session.trace.summary())  # type: ignore[union-attr]
        hit = self.results_view.selected_hit()
        if hit is not None and len(hit.sources) != self._detail_sources:
            self._show_selected()
        if self.app is None or not self.is_ready:
            return
        node = self.app.node
        if in_view(self.metrics_panel):
            self.metrics_panel.show_metrics(node.metrics.snapshot())
            self.metrics_panel.show_trace(self.session.trace)
        if in_view(self.peers_panel):
            self.peers_panel.show_peers(node.reputation.snapshot())
        if in_view(self.node_panel):
            self.node_panel.show_info(self.node_info())
        if in_view(self.publish_panel):
            self.publish_panel.refresh_my_packages()

    def _dock_shown(self, visible: bool) -> None:
        """A panel brought to front shows current numbers at once, not after the next poll tick."""
        if visible and hasattr(self, "poll_timer"):
            QTimer.singleShot(0, self.poll)

    def node_info(self) -> NodeInfo:
        assert self.app is not None
        node = self.app.node
        return NodeInfo(
            node_id=node.node_id_hex,
            address=f"{node.address[0]}:{node.address[1]} (UDP)",
            network="demo network (local peers, sample packages)" if self.app.is_demo else "public network",
            bootstrap=tuple(f"{h}:{p}" for h, p in node.bootstrap_peers),
            contacts=tuple((peer, f"{host}:{port}") for peer, host, port in node.contacts()),
            transport=node.transport_stats(),
        )

    def toggle_dock(self, dock: QDockWidget, _checked: bool = False) -> None:
        """A panel behind a tab comes to the front; only the one in front is hidden.

        Qt's own toggle action would hide a tabbed panel the user asked to see.
        """
        if dock.isHidden():
            dock.show()
            dock.raise_()
        elif in_view(dock):
            dock.hide()
        else:
            dock.raise_()

    def _set_blocked(self, peer_id: str, blocked: bool) -> None:
        if self.app is None:
            return
        self.app.node.set_peer_blocked(peer_id, blocked)
        self.statusBar().showMessage(f"Peer {peer_id[:12]} {'blocked' if blocked else 'unblocked'}", 4000)
        self.poll()

    # -- dialogs ---------------------------------------------------------------------
    def show_publish(self) -> None:
        dock = self.docks["publish"]
        dock.show()
        dock.raise_()
        self.publish_panel.focus_first_field()

    def show_settings(self) -> None:
        from ggen_desktop.gui.settings_dialog import SettingsDialog

        if self.app is None:
            self.show_error("Settings", "The node has not started yet; try again in a moment.", serious=False)
            return
        dialog = SettingsDialog(self.app.settings, self)
        if dialog.exec() and dialog.result_settings is not None:
            self.apply_settings(dialog.result_settings)

    def apply_settings(self, settings: Settings) -> None:
        """Save and apply; say which changes wait for a restart (port, bootstrap peers)."""
        assert self.app is not None
        try:
            restart = self.app.apply_settings(settings)
        except OSError as exc:
            self.show_error("Settings not saved", f"Could not write the settings file: {exc}", serious=True)
            return
        message = "Settings saved; search settings apply to the next search"
        if restart:
            message += f"; {' and '.join(n.replace('_', ' ') for n in restart)} apply after a restart"
        self.statusBar().showMessage(message, 8000)

    def show_about(self) -> None:
        from ggen_desktop.gui.about import show_about

        show_about(self, self.app.database.data_dir if self.app is not None else None, self.config_dir)

    def show_error(self, title: str, message: str, serious: bool) -> None:
        """Errors always reach the window: a status message, plus a dialog for serious ones."""
        log.warning("%s: %s", title, message)
        self.statusBar().showMessage(f"{title}: {message}", 15000)
        if serious:
            box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, self)
            box.setObjectName("errorBox")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one box per error: gone once answered
            box.finished.connect(partial(self._error_box_closed, box))
            box.open()  # window-modal but not blocking: the event loop (and the node) keep running
            self.error_box = box

    def _error_box_closed(self, box: QMessageBox, _result: int) -> None:
        if self.error_box is box:
            self.error_box = None

    def _task_failed(self, what: str, message: str) -> None:
        self.show_error(f"{what[:1].upper()}{what[1:]} failed", message, serious=True)

    # -- window state ----------------------------------------------------------------
    def window_settings(self) -> QSettings:
        return QSettings(str(self.config_dir / WINDOW_SETTINGS_FILE), QSettings.Format.IniFormat)

    def restore_layout(self) -> None:
        """Geometry, dock layout, splitter and column widths/sort order from the last session."""
        store = self.window_settings()
        restored = set()
        for key, restore in (
            ("geometry", self.restoreGeometry),
            ("state", self.restoreState),
            ("splitter", self.splitter.restoreState),
            ("results_header", self.results_view.horizontalHeader().restoreState),
            ("peers_header", self.peers_panel.view.horizontalHeader().restoreState),
        ):
            value = store.value(key)
            if isinstance(value, QByteArray) and not value.isEmpty() and restore(value):
                restored.add(key)
        self._first_run_docks = "state" not in restored  # sized on first show, once the layout exists
        self.results_view.auto_fit = "results_header" not in restored
        self.peers_panel.columns_sized = "peers_header" in restored

    def save_layout(self) -> None:
        store = self.window_settings()
        store.setValue("geometry", self.saveGeometry())
        store.setValue("state", self.saveState())
        store.setValue("splitter", self.splitter.saveState())
        store.setValue("results_header", self.results_view.horizontalHeader().saveState())
        store.setValue("peers_header", self.peers_panel.view.horizontalHeader().saveState())
        store.sync()

    # -- Qt events -------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._first_run_docks:  # first run: docks narrow enough that the result columns fit beside them
            self._first_run_docks = False
            self.resizeDocks([self.docks["metrics"]], [DOCK_WIDTH], Qt.Orientation.Horizontal)
        handle = self.windowHandle()
        if handle is not None and not self._shown_once:
            handle.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Expose and not self._shown_once and self.windowHandle().isExposed():
            self._shown_once = True
            watched.removeEventFilter(self)
            self.shown.emit()
        return super().eventFilter(watched, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        super().closeEvent(event)
        self.closed.emit()


def in_view(widget: QWidget) -> bool:
    """Shown and not covered: a dock behind another's tab still says isVisible(), but has no visible region."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def wait_for(signal: Any) -> asyncio.Future[Any]:
    """A future resolved by the next emission of a Qt signal (used by the launcher's coroutine)."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def done(*args: Any) -> None:
        if not future.done():
            future.set_result(args[0] if len(args) == 1 else args)
        signal.disconnect(done)

    signal.connect(done)
    return future
