"""The main window: search bar, results table with details, and the side docks.

The window exists and is shown before the engine does: `attach(app)` and
`start_engine()` come later, so the user sees the window at once and watches
the network join in the status bar. It composes the parts (search bar, status
bar, panels, their poller, the saved layout) and runs searches through `App`.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from ggen_desktop.core.package import Package
from ggen_desktop.core.query import Query
from ggen_desktop.core.search import QueryStatus, QueryTrace
from ggen_desktop.core.settings import Settings
from ggen_desktop.gui.metrics_panel import MetricsPanel
from ggen_desktop.gui.node_panel import NodePanel
from ggen_desktop.gui.panel_poller import PanelPoller, Panels, in_view
from ggen_desktop.gui.peers_panel import PeersPanel
from ggen_desktop.gui.publish_panel import PublishPanel
from ggen_desktop.gui.resources import APP_ICON, icon
from ggen_desktop.gui.results_area import ResultsArea, RowFilter, only_name
from ggen_desktop.gui.results_model import ResultsModel
from ggen_desktop.gui.search_bar import SearchBar
from ggen_desktop.gui.search_session import SearchSession
from ggen_desktop.gui.status_bar import StatusBar
from ggen_desktop.gui.tasks import TaskGroup
from ggen_desktop.gui.transfers_panel import TransfersPanel
from ggen_desktop.gui.window_docks import (
    DEFAULT_SIZE,
    available_area,
    build_docks,
    first_run_dock_width,
    first_run_geometry,
    focus_panel,
    readable_tabs,
)
from ggen_desktop.gui.window_layout import WindowLayout
from ggen_desktop.gui.window_menus import build_menus

if TYPE_CHECKING:
    from ggen_desktop.app import App

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """Signals: `shown` on the first expose, `ready` when the node has joined, `closed` on close."""

    shown = Signal()
    ready = Signal()
    closed = Signal()

    def __init__(self, config_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.config_dir = Path(config_dir)
        self.app: App | None = None
        self.is_ready = False  # the node runs: searches start (and wait for the join if need be)
        self.is_joined = False
        self._pending_query: Query | None = None
        self._next_filter: RowFilter | None = None  # applied when the next search starts
        self._shown_once = False
        self._detail_sources = -1
        self.error_box: QMessageBox | None = None
        self.setObjectName("mainWindow")
        self.setWindowTitle("ggen Desktop")
        self.setWindowIcon(icon(APP_ICON))
        self.setDockOptions(self.dockOptions() | QMainWindow.DockOption.AllowTabbedDocks)
        self.tasks = TaskGroup(self)
        self.results_model = ResultsModel(self)
        self.session = SearchSession(self.results_model, self.tasks, parent=self)
        self.search_bar = SearchBar()
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self._build_central()
        self.metrics_panel = MetricsPanel()
        self.peers_panel = PeersPanel()
        self.publish_panel = PublishPanel(self.tasks)
        self.node_panel = NodePanel()
        self.transfers_panel = TransfersPanel(self.tasks)
        panels = Panels(self.metrics_panel, self.peers_panel, self.node_panel, self.publish_panel, self.status)
        self.poller = PanelPoller(panels, self.session, self)
        self.docks = build_docks(self, {"metrics": self.metrics_panel, "peers": self.peers_panel,
                                        "publish": self.publish_panel, "node": self.node_panel,
                                        "transfers": self.transfers_panel}, scrolling=("publish",), bottom=("transfers",))
        for dock in self.docks.values():
            dock.visibilityChanged.connect(self._dock_shown)
        self._connect()
        self.commands = build_menus(self)
        self.resize(DEFAULT_SIZE)
        self.layout_store = WindowLayout(self.config_dir, {
            "geometry": (self.saveGeometry, self.restoreGeometry),
            "state": (self.saveState, self.restoreState),
            "splitter": (self.splitter.saveState, self.splitter.restoreState),
            "results_header": (self.results_view.horizontalHeader().saveState,
                               self.results_view.horizontalHeader().restoreState),
            "peers_header": (self.peers_panel.view.horizontalHeader().saveState,
                             self.peers_panel.view.horizontalHeader().restoreState),
        })
        self.restore_layout()

    # -- construction ------------------------------------------------------------
    def _build_central(self) -> None:
        self.area = ResultsArea(self.session)
        self.results_view = self.area.view
        self.details = self.area.details
        self.splitter = self.area.splitter
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.search_bar)
        layout.addWidget(self.area, 1)
        self.setCentralWidget(central)

    def _connect(self) -> None:
        self.tasks.failed.connect(self._task_failed)
        self.session.started.connect(self._search_started)
        self.session.progressed.connect(self._search_progressed)
        self.session.finished.connect(self._search_finished)
        self.session.continued.connect(self._search_continued)
        self.status.suggestion.linkActivated.connect(self.area.search_suggestion)
        self.status.retry_requested.connect(self._retry_join)
        self.search_bar.submitted.connect(self.run_query)
        self.search_bar.refused.connect(partial(self.show_error, "Cannot search", serious=False))
        self.search_bar.empty.connect(self._nothing_to_search)
        self.search_bar.cancel_requested.connect(self.cancel_search)
        self.search_bar.field.textChanged.connect(self._search_text_changed)
        self.results_view.selectionModel().selectionChanged.connect(self._note_sources)
        self.area.search_requested.connect(self.search_for)
        self.area.retype_requested.connect(self.search_bar.field.setText)
        self.area.retype_requested.connect(self.search)  # after the text is in the field: connected in this order
        self.area.versions_requested.connect(self.show_versions)
        self.area.message.connect(lambda text: self.status.showMessage(text, 8000))
        self.transfers_panel.message.connect(lambda text: self.status.showMessage(text, 8000))
        self.area.result_actions.download_requested.connect(lambda hit: self.download(hit.record.package))
        self.peers_panel.block_requested.connect(self._set_blocked)
        self.poller.ticked.connect(self._tick)

    # -- engine --------------------------------------------------------------------
    def attach(self, app: App) -> None:
        """Connect the engine; the window was shown before it existed."""
        self.app = app
        self.publish_panel.attach(app)
        self.area.attach(app)
        self.details.dependencies.attach(app, self.tasks, self.download, self.transfers_panel.message.emit)
        for problem in app.settings_problems:
            self.show_error("Some settings were reset", problem, serious=False)

    def on_progress(self, label: str, done: int, total: int) -> None:
        self.status.show_join_progress(label, done, total, demo=self.app is not None and self.app.is_demo)

    async def start_engine(self) -> None:
        """Start and join; on failure say so in the window (the task group reports the exception)."""
        assert self.app is not None
        try:
            await self.app.start(progress=self.on_progress)
        except Exception:
            self.status.show_not_connected("the node failed to start (see the message)")
            raise
        self.is_ready = True
        self.poller.engine_ready(self.app)
        self.tasks.spawn(self.publish_panel.refresh_replicas(), "counting my packages' replicas")
        self.area.result_actions.set_can_download(self.app.sharing is not None)
        if self.area.currentWidget() is self.area.start_view:
            self.area.refresh_start()  # records this node had kept are loaded now
        self._follow_connection()
        if self._pending_query is not None:
            query, self._pending_query = self._pending_query, None
            self._run(query)

    def _follow_connection(self) -> None:
        """Until joined (each poll): the countdown to the next try; once joined, say so and emit `ready`."""
        assert self.app is not None
        node = self.app.node
        if not node.joined:
            self.status.show_connecting(node.connection_status())
            return
        self.is_joined = True
        self.status.show_joined(demo_peers=self.app.demo_size if self.app.is_demo else None,
                                contacts=len(node.contacts()),
                                this_node=f"{node.node_id_hex[:16]} on {node.address[0]}:{node.address[1]}")
        self.poll()
        self.ready.emit()

    def _retry_join(self) -> None:
        if self.app is not None and self.is_ready and not self.is_joined:
            self.app.node.retry_join()
            self.status.show_connecting(self.app.node.connection_status())

    async def shutdown(self) -> None:
        """Cancel GUI tasks, then stop the node (which saves its state). Safe to call twice."""
        self.poller.stop()
        if self.session.running:
            self.session.cancel()
        await self.tasks.cancel_all()
        if self.app is not None:
            await self.app.stop()

    # -- searching -----------------------------------------------------------------
    def search(self) -> None:
        """Search with the current fields (Enter, F5); before the node has joined, run it when it has."""
        self.search_bar.submit()

    def run_query(self, query: Query) -> None:
        if not self.is_ready:
            self._pending_query = query
            self.status.search_status.setText("Waiting for the network to join; the search will start then…")
            return
        self._run(query)

    def _nothing_to_search(self) -> None:
        self.status.showMessage("Type something to search for, or pick a category or tag", 4000)
        self.area.show_start()

    def search_for(self, query: Query) -> None:
        """A search from the start view or a suggestion: shown in the fields, then run."""
        self.search_bar.set_query(query)
        self.run_query(query)

    def show_versions(self, name: str) -> None:
        """Every version of a package: search its id, then show only the rows of that name."""
        self._next_filter = only_name(name)
        self.search_for(Query(text=name))

    def _search_text_changed(self, text: str) -> None:
        if not text.strip() and not self.search_bar.tags_field.text().strip():
            self.area.show_start()

    def _run(self, query: Query) -> None:
        assert self.app is not None
        self.app.node.remember_query(query)
        self.session.start(self.app.node, query)

    def cancel_search(self) -> None:
        if self._pending_query is not None:
            self._pending_query = None
            self.status.search_status.setText("Search cancelled")
        self.session.cancel()  # its `finished` says so now, once

    def _search_started(self, trace: QueryTrace) -> None:
        self.search_bar.set_running(True)
        self.status.search_status.setText(trace.summary())
        self.metrics_panel.show_trace(trace)
        row_filter, self._next_filter = self._next_filter, None
        self.area.search_started(row_filter)
        self._search_continued(trace)

    def _search_continued(self, _trace: QueryTrace) -> None:
        """A search, or its next page, runs: no suggestion for it yet (the area hides "Load more")."""
        self.status.show_suggestions([])

    def _search_progressed(self, trace: QueryTrace) -> None:
        """After each applied batch (at most every 50 ms): the status line, and the trace if it is in view."""
        self.status.search_status.setText(trace.summary())
        self.area.update_filter_bar()
        if in_view(self.metrics_panel):
            self.metrics_panel.show_trace(trace)

    def _search_finished(self, trace: QueryTrace) -> None:
        self.search_bar.set_running(False)
        self.status.search_status.setText(trace.summary())
        self.status.show_suggestions(trace.suggestions)
        self.area.search_finished(trace)
        if self.app is not None:
            self.app.save_metrics()
        self.poll()
        if trace.status is QueryStatus.FAILED:
            self.show_error("Search failed", trace.error or "unknown error", serious=False)

    def _note_sources(self) -> None:
        hit = self.results_view.selected_hit()
        self._detail_sources = len(hit.sources) if hit else -1

    # -- live panels -----------------------------------------------------------------
    def poll(self) -> None:
        """Refresh the search summary, the selected result and the docks in view now."""
        self.poller.poll()

    def _tick(self) -> None:
        """Each poll: a running search's summary, and the details of a result that gained sources."""
        if self.session.running:
            self.status.search_status.setText(self.session.trace.summary())  # type: ignore[union-attr]
        if self.is_ready and not self.is_joined:
            self._follow_connection()
        hit = self.results_view.selected_hit()
        if hit is not None and len(hit.sources) != self._detail_sources:
            self._note_sources()
            self.area.show_selected()

    def download(self, package: Package) -> None:
        """Fetch a package's archive into the downloads folder; the Transfers panel comes forward to show it."""
        if self.app is not None:
            self.transfers_panel.download(self.app, package, self.app.downloads_dir)
            focus_panel(self.docks["transfers"])
            self.commands.sync_docks()

    def _dock_shown(self, visible: bool) -> None:
        if visible:
            self.poller.refresh_soon()

    def toggle_dock(self, dock: QDockWidget, _checked: bool = False) -> None:
        """A closed panel opens, a panel behind a tab comes to the front (both with the keyboard focus);
        only the one in front is closed. Qt's own toggle action would hide a tabbed panel the user asked to see."""
        if in_view(dock):
            dock.hide()
        else:
            focus_panel(dock)
        self.commands.sync_docks()

    def _set_blocked(self, peer_id: str, blocked: bool) -> None:
        if self.app is None:
            return
        self.app.node.set_peer_blocked(peer_id, blocked)
        self.status.showMessage(f"Peer {peer_id[:12]} {'blocked' if blocked else 'unblocked'}", 4000)
        self.poll()

    # -- dialogs ---------------------------------------------------------------------
    def show_publish(self) -> None:
        """File → Publish: the Publish panel comes to the front and the form opens."""
        focus_panel(self.docks["publish"])
        self.commands.sync_docks()
        self.publish_panel.open_dialog()

    def show_settings(self) -> None:
        from ggen_desktop.gui.settings_dialog import SettingsDialog

        if self.app is None:
            self.show_error("Settings", "The node has not started yet; try again in a moment.", serious=False)
            return
        dialog = SettingsDialog(self.app.settings, self)
        if dialog.exec() and dialog.result_settings is not None:
            self.apply_settings(dialog.result_settings)

    def apply_settings(self, settings: Settings) -> None:
        """Save and apply: search settings at once; a new port or bootstrap peers restart the node in this
        window after the user confirms (otherwise they apply at the next start)."""
        assert self.app is not None
        try:
            restart = self.app.apply_settings(settings)
        except OSError as exc:
            self.show_error("Settings not saved", f"Could not write the settings file: {exc}", serious=True)
            return
        message = "Settings saved; search and download settings apply now"
        changed = " and ".join(n.replace("_", " ") for n in restart)
        if restart and self.confirm_restart(f"The {changed} changed. Restart the node now to use them? "
                                            "A running search stops; the window stays open."):
            self.status.showMessage(f"{message}; restarting the node for the new {changed}", 8000)
            self.tasks.spawn(self.restart_engine(), "restarting the node")
            return
        if restart:
            message += f"; {changed} apply after a restart"
        self.status.showMessage(message, 8000)

    def confirm_restart(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Restart the node?", text)
        return answer == QMessageBox.StandardButton.Yes

    async def restart_engine(self) -> None:
        """Stop the node and start it again with the saved network settings; `ready` once it has joined."""
        assert self.app is not None
        if self.session.running:
            self.session.cancel()
        self.is_ready = self.is_joined = False
        self.poller.app = None  # nothing to poll while the node is down
        self.status.show_not_connected("restarting the node")
        await self.app.restart_node(progress=self.on_progress)
        self.is_ready = True
        self.poller.engine_ready(self.app)
        self.tasks.spawn(self.publish_panel.refresh_replicas(), "counting my packages' replicas")
        self._follow_connection()

    def show_about(self) -> None:
        from ggen_desktop.gui.about import show_about
        show_about(self, self.app.data_dir if self.app is not None else None, self.config_dir)

    def show_error(self, title: str, message: str, serious: bool) -> None:
        """Errors always reach the window: a status message, plus a dialog for serious ones."""
        log.warning("%s: %s", title, message)
        self.status.showMessage(f"{title}: {message}", 15000)
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
    def restore_layout(self) -> None:
        """Geometry, dock layout, splitter and column widths/sort order from the last session."""
        restored = self.layout_store.restore()
        if "geometry" not in restored:  # first start: fit the screen, however small (or scaled) it is
            self.setGeometry(first_run_geometry(available_area(self)))
        self._first_run_docks = "state" not in restored  # sized on first show, once the layout exists
        self.results_view.auto_fit = "results_header" not in restored
        self.peers_panel.columns_sized = "peers_header" in restored

    def save_layout(self) -> None:
        self.layout_store.save()

    # -- Qt events -------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._first_run_docks:  # first run: docks narrow enough that the result columns fit beside them
            self._first_run_docks = False
            self.resizeDocks([self.docks["metrics"]], [first_run_dock_width(self.width())], Qt.Orientation.Horizontal)
        readable_tabs(self)
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
