"""The results table view: sortable through `ResultsProxy`, unsorted (arrival order) until the user asks."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QTableView, QWidget

from ggen_desktop.core.search import SearchHit
from ggen_desktop.gui.resources import icon
from ggen_desktop.gui.results_model import HIT_ROLE, TABLE_ICONS, ResultsModel
from ggen_desktop.gui.results_proxy import ResultsProxy
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
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize, None, self)
        for name in TABLE_ICONS:  # rendered now, not in the first repaint of a search (~3 ms)
            icon(name).pixmap(size)

    def doItemsLayout(self) -> None:
        """After rows came in or moved: the scroll bars and headers follow, and only the rows on screen from the
        first that changed down repaint: none when every change is below the screen, as appended rows are (a
        whole repaint of the table costs ~8 ms)."""
        changed_from = self.proxy.take_changed_from()
        last_on_screen = self.rowAt(self.viewport().height() - 1)  # -1: room below the last row
        if changed_from is None or last_on_screen < 0 or changed_from <= self.rowAt(0):
            super().doItemsLayout()  # the rows on screen may all have moved
            return
        self.updateGeometries()
        if changed_from <= last_on_screen:  # the rows on screen above it stay: only those from it down repaint
            top = self.rowViewportPosition(changed_from)
            self.viewport().update(0, top, self.viewport().width(), self.viewport().height() - top)

    def paintEvent(self, event: QPaintEvent) -> None:
        """One pass over the bounding rectangle of what needs repainting: QTableView paints the cells of each
        rectangle of a region apart, so a few changed rows on screen, each its own rectangle, cost a repaint
        of the table each (12-16 ms instead of 8 for three)."""
        region = event.region()
        if region.rectCount() > 1:
            event = QPaintEvent(region.boundingRect())
        super().paintEvent(event)

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
