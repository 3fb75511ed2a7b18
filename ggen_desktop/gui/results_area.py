"""The window's central area: the start view, the results (table, filter bar, details with actions), or
what to try when a search found nothing; and the ways a search goes on from there ("Load more", "Did you
mean…?").

It also keeps the publisher history current: every row the table receives is
reported to the App, so a name seen before from another key is flagged as
soon as an impostor's row arrives, with or without the original's rows. The
rows are reported a slice per event-loop turn (about 2 ms each), so a burst of
thousands of results does not stall the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.core.petnames import PetnameError, publisher_label
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import QueryTrace, SearchHit
from ggen_desktop.core.suggest import corrected
from ggen_desktop.gui.details_pane import DetailsPane
from ggen_desktop.gui.empty_state import EmptyState
from ggen_desktop.gui.publisher_column import PublisherDelegate, Publishers
from ggen_desktop.gui.resources import icon
from ggen_desktop.gui.result_actions import ResultActions
from ggen_desktop.gui.results_model import ResultsModel
from ggen_desktop.gui.results_view import ResultsView
from ggen_desktop.gui.search_session import SearchSession
from ggen_desktop.gui.start_view import StartView

if TYPE_CHECKING:
    from ggen_desktop.app import App

OBSERVE_SLICE = 200  # results reported to the publisher history per event-loop turn


@dataclass(frozen=True)
class RowFilter:
    """Which results the table shows: `describe` names them in the filter bar."""

    accept: Callable[[SearchHit], bool]
    describe: str


def only_name(name: str) -> RowFilter:
    return RowFilter(lambda hit: hit.identity[0] == name, f"Every version of {name} found")


class ResultsArea(QStackedWidget):
    """Pages: `start_view`, `results_page` (the table and details) and `empty_state`.

    Signals: `search_requested(Query)` (the window fills the search bar and runs it),
    `retype_requested(text)` (the window puts the text in the search field and searches),
    `versions_requested(name)`, `message(text)` for the status bar.
    """

    search_requested = Signal(object)
    retype_requested = Signal(str)
    versions_requested = Signal(str)
    message = Signal(str)

    def __init__(self, session: SearchSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app: App | None = None
        self.session = session
        self.model = model = session.model
        self.publishers = Publishers(self)
        self.view = ResultsView(model)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.activated.connect(self.show_details)  # Enter, and double-click
        delegate = PublisherDelegate(self.publishers, self.view)
        for column in (ResultsModel.Columns.NAME, ResultsModel.Columns.PUBLISHER):
            self.view.setItemDelegateForColumn(column, delegate)
        self.result_actions = ResultActions(self)
        self.result_actions.versions_requested.connect(lambda hit: self.versions_requested.emit(hit.identity[0]))
        self.result_actions.publisher_requested.connect(self.show_publisher)
        self.result_actions.petname_requested.connect(self.ask_petname)
        self.result_actions.copied.connect(self.message)
        self.details = DetailsPane()
        self.result_actions.download_with_dependencies_requested.connect(self.details.dependencies.download_with_dependencies)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("resultsSplitter")
        self.splitter.addWidget(self._table_box())
        self.splitter.addWidget(self._details_box())
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.start_view = StartView()
        self.start_view.search_requested.connect(self.search_requested)
        self.start_view.package_requested.connect(self.versions_requested)
        self.empty_state = EmptyState()
        self.empty_state.search_requested.connect(self.search_requested)
        self.empty_state.browse_requested.connect(self.show_start)
        for page in (self.start_view, self.splitter, self.empty_state):
            self.addWidget(page)
        self.results_page = self.splitter
        self.view.selectionModel().selectionChanged.connect(self.show_selected)
        model.rowsInserted.connect(self._rows_arrived)
        self._unobserved: list[SignedRecord] = []
        self._observing = QTimer(self)
        self._observing.setSingleShot(True)
        self._observing.setInterval(0)
        self._observing.timeout.connect(self._observe_slice)
        self.row_filter: RowFilter | None = None
        self.setCurrentWidget(self.start_view)

    def _table_box(self) -> QWidget:
        self.filter_label = QLabel()
        self.filter_label.setObjectName("filterLabel")
        self.clear_filter_button = QPushButton("Show all results")
        self.clear_filter_button.setToolTip("Remove the filter: every result of the search")
        self.clear_filter_button.clicked.connect(lambda: self.set_filter(None))
        self.filter_bar = QWidget()
        bar = QHBoxLayout(self.filter_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.filter_label, 1)
        bar.addWidget(self.clear_filter_button)
        self.filter_bar.hide()
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.view, 1)
        layout.addLayout(self._load_more_row())
        return box

    def _load_more_row(self) -> QHBoxLayout:
        """Under the table: "Load more" while the search says more results exist (the window shows it)."""
        self.load_more_button = QPushButton(icon("search"), "Load more")
        self.load_more_button.setObjectName("loadMore")
        self.load_more_button.setAccessibleName("Load more results")
        self.load_more_button.setToolTip("Ask for the next page of this search (Ctrl+M)")
        self.load_more_button.hide()
        self.load_more_button.clicked.connect(self.load_more)
        self.session.continued.connect(self.load_more_button.hide)  # rows it adds go under those shown
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        row.addWidget(self.load_more_button)
        return row

    def _details_box(self) -> QWidget:
        self.toolbar = QToolBar("Result actions")
        self.toolbar.setObjectName("resultActions")
        self.toolbar.setAccessibleName("Actions on the selected result")
        copy = QToolButton()
        copy.setText("Copy")
        copy.setAccessibleName("Copy id, version, content hash or publisher key")
        copy.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        copy.addActions(list(self.result_actions.copies.values()))
        self.copy_button = copy
        self.toolbar.addWidget(copy)
        a = self.result_actions
        self.toolbar.addActions([a.download, a.download_with_dependencies, a.open_homepage, a.open_repository,
                                 a.show_versions, a.show_publisher, a.name_publisher])
        overflow = self.toolbar.findChild(QToolButton, "qt_toolbar_ext_button")  # shown when the pane is narrow
        if overflow is not None:
            overflow.setAccessibleName("More actions on the selected result")
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.details, 1)
        return box

    def attach(self, app: App) -> None:
        self.app = app
        self.publishers.attach(app)
        self.refresh_start()

    # -- pages ---------------------------------------------------------------------
    def refresh_start(self) -> None:
        if self.app is not None:
            self.start_view.show_overview(self.app.overview())

    def show_start(self) -> None:
        """Back to browsing (also when the search field is cleared); the last results stay in the table."""
        self.refresh_start()
        self.setCurrentWidget(self.start_view)

    def search_started(self, row_filter: RowFilter | None) -> None:
        self.load_more_button.hide()
        self.set_filter(row_filter)
        self.setCurrentWidget(self.results_page)
        self.show_selected()

    def search_finished(self, trace: QueryTrace) -> None:
        """A search that found nothing shows what happened and what to try instead of an empty table."""
        self.observe_now()
        self.update_filter_bar()
        self.load_more_button.setVisible(self.session.has_more)
        if self.model.rowCount() or self.currentWidget() is not self.results_page:
            return  # results to show, or the user went back to browsing meanwhile
        suggestions = self.app.suggestions(trace.query) if self.app is not None else []
        reason = self.app.why_not_asked(trace.query) if self.app is not None and not trace.peers else ""
        self.empty_state.show_trace(trace, suggestions, reason)
        self.setCurrentWidget(self.empty_state)

    # -- going on from a search ------------------------------------------------------
    def load_more(self) -> None:
        """The next page of the search shown (the button under the table, Ctrl+M)."""
        if self.session.load_more() is None:
            self.message.emit("This search has no more results to load")

    def search_suggestion(self, keyword: str) -> None:
        """"Did you mean X?" clicked: search again with X in place of the word it is closest to."""
        words = self.session.trace.query.words if self.session.trace is not None else ()
        self.retype_requested.emit(corrected(words, keyword))

    # -- filtering -----------------------------------------------------------------
    def set_filter(self, row_filter: RowFilter | None) -> None:
        self.row_filter = row_filter
        self.view.proxy.set_row_filter(row_filter.accept if row_filter else None)
        self.update_filter_bar()

    def update_filter_bar(self) -> None:
        if self.row_filter is None:
            self.filter_bar.hide()
            return
        shown, total = self.view.proxy.rowCount(), self.model.rowCount()
        self.filter_label.setText(f"{self.row_filter.describe}: {shown} of {total} result{'s' if total != 1 else ''}")
        self.filter_bar.show()

    def show_publisher(self, hit: SearchHit) -> None:
        fingerprint = hit.record.fingerprint
        label = publisher_label(fingerprint, self.app.petnames.get(fingerprint) if self.app else None)
        self.set_filter(RowFilter(lambda h: h.record.fingerprint == fingerprint, f"Only packages signed by {label}"))

    # -- the selected result ---------------------------------------------------------
    def show_selected(self) -> None:
        hit = self.view.selected_hit()
        self.result_actions.set_hit(hit)
        if hit is None:
            self.details.show_hit(None, 1)
            return
        self.details.show_hit(hit, self.model.publishers_of(hit.identity[0]), self.publishers.view(hit.record))

    def show_details(self, _index: QModelIndex | None = None) -> None:
        """The main action (Enter, double-click): the details pane, opened if collapsed, with the focus."""
        sizes = self.splitter.sizes()
        if sizes[1] == 0:
            self.splitter.setSizes([max(1, sum(sizes) * 2 // 3), max(1, sum(sizes) // 3)])
        self.details.setFocus(Qt.FocusReason.OtherFocusReason)

    def _context_menu(self, at: QPoint) -> None:
        index = self.view.indexAt(at)
        if not index.isValid():
            return
        self.view.selectRow(index.row())
        self.result_actions.popup(self.view, self.view.viewport().mapToGlobal(at))

    def ask_petname(self, hit: SearchHit) -> QInputDialog:
        """A non-blocking dialog for the publisher's petname ("" removes it); deleted once closed."""
        fingerprint = hit.record.fingerprint
        dialog = QInputDialog(self)
        dialog.setObjectName("petnameDialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowTitle("Name this publisher")
        dialog.setLabelText(f"Your name for the key {publisher_label(fingerprint, None)}\n"
                            "(only on this computer; leave empty to remove it):")
        dialog.setTextValue((self.app.petnames.get(fingerprint) if self.app else None) or "")
        dialog.textValueSelected.connect(lambda text: self.set_petname(fingerprint, text))
        dialog.open()
        return dialog

    def set_petname(self, fingerprint: str, text: str) -> None:
        from ggen_desktop.app import StoreError

        if self.app is None:
            return
        try:
            name = self.app.set_petname(fingerprint, text)
        except (PetnameError, StoreError) as exc:
            self.message.emit(f"Petname not set: {exc}")
            return
        self.publishers.invalidate()
        self.view.viewport().update()
        self.show_selected()
        self.message.emit(f"{publisher_label(fingerprint, name)}: petname {'set' if name else 'removed'}")

    def _rows_arrived(self, _parent: QModelIndex, first: int, last: int) -> None:
        self._unobserved.extend(self.model.hit(row).record for row in range(first, last + 1))
        if not self._observing.isActive():
            self._observing.start()

    def _observe_slice(self) -> None:
        batch, self._unobserved = self._unobserved[:OBSERVE_SLICE], self._unobserved[OBSERVE_SLICE:]
        self._observed(batch)
        if self._unobserved:
            self._observing.start()

    def observe_now(self) -> None:
        """Report every row still waiting (the search is over: what it showed is now history)."""
        self._observing.stop()
        batch, self._unobserved = self._unobserved, []
        self._observed(batch)

    def _observed(self, batch: list[SignedRecord]) -> None:
        if self.app is None or not batch:
            return
        self.app.observe_records(batch)
        self.view.viewport().update()  # flags and continuity may have changed for rows in view
        hit = self.view.selected_hit()
        if hit is not None and hit.record in batch:
            self.show_selected()
