"""The results table view: sortable through a proxy, unsorted (arrival order) until the user asks."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ggen_desktop.core.search import SearchHit
from ggen_desktop.gui.results_model import HIT_ROLE, SORT_ROLE, ResultsModel
from ggen_desktop.gui.table_model import make_compact

# Preset widths. The short columns keep theirs; the text columns share what the window leaves them.
FIXED_WIDTHS = {
    ResultsModel.Columns.VERSION: 70,
    ResultsModel.Columns.PUBLISHER: 145,  # a 16-digit grouped fingerprint, or a petname with it (elided)
    ResultsModel.Columns.SOURCES: 80,  # "3 + known", or a single-source flag and "known"
    ResultsModel.Columns.ARRIVAL: 80,
}
FLEXIBLE_WIDTHS = {
    ResultsModel.Columns.NAME: 225,
    ResultsModel.Columns.TITLE: 225,
    ResultsModel.Columns.CATEGORIES: 95,
    ResultsModel.Columns.TAGS: 125,
}


class ResultsProxy(QSortFilterProxyModel):
    """Sorts by the model's cached column keys: one short Python call per comparison instead of two data() calls.

    Inserting a batch into a sorted view costs about log2(rows) comparisons per new row.
    """

    def __init__(self, model: ResultsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._accept: Callable[[SearchHit], bool] | None = None
        self.setSourceModel(model)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_row_filter(self, accept: Callable[[SearchHit], bool] | None) -> None:
        """Show only the results `accept` keeps (None: all of them)."""
        self.beginFilterChange()
        self._accept = accept
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        accept = self._accept
        return accept is None or accept(self._model.hit(source_row))

    def lessThan(self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex) -> bool:
        column = left.column()
        keys = self._model.column_keys(column)
        if keys is None:
            return bool(self._model.sort_key(left.row(), column) < self._model.sort_key(right.row(), column))
        return bool(keys[left.row()] < keys[right.row()])


class ResultsView(QTableView):
    """Fixed row heights and preset column widths: no per-row measuring, so 10,000 rows stay cheap.

    Until the user resizes a column (or a saved layout is restored), the preset
    widths are scaled to the visible width, so Sources and Arrival are on
    screen without scrolling sideways in a narrow window.
    """

    MIN_SCALE, MAX_SCALE = 0.45, 1.8

    def __init__(self, model: ResultsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsView")
        self.setAccessibleName("Search results")
        self.results_model = model
        self.proxy = ResultsProxy(model, self)
        self.setModel(self.proxy)
        make_compact(self)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        self.auto_fit = True
        self._fitting = False
        self.fit_columns()
        header.sectionResized.connect(self._section_resized)
        # -1: no sort column, so rows stay in arrival order and never jump while results stream;
        # clicking a header a third time returns to arrival order.
        header.setSortIndicatorClearable(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)

    def fit_columns(self) -> None:
        """Scale the text columns to the room left (within limits); the last column takes any rest."""
        room = self.width() - 2 * self.frameWidth() - self.verticalScrollBar().sizeHint().width()
        room -= sum(FIXED_WIDTHS.values())
        flexible = sum(FLEXIBLE_WIDTHS.values())
        scale = min(self.MAX_SCALE, max(self.MIN_SCALE, room / flexible)) if room > 0 else self.MIN_SCALE
        self._fitting = True
        try:
            header = self.horizontalHeader()
            for column, preset in FIXED_WIDTHS.items():
                header.resizeSection(column, preset)
            for column, preset in FLEXIBLE_WIDTHS.items():
                header.resizeSection(column, int(preset * scale))
        finally:
            self._fitting = False

    def _section_resized(self, index: int, _old: int, _new: int) -> None:
        header = self.horizontalHeader()
        stretched = index == header.logicalIndex(header.count() - 1)  # the header fills it, not the user
        if not self._fitting and not stretched and self.isVisible():
            self.auto_fit = False  # the user's widths win from now on (and are saved with the layout)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit_columns()

    def selected_hit(self) -> SearchHit | None:
        rows = self.selectionModel().selectedRows()
        return rows[0].data(HIT_ROLE) if rows else None
