"""The results table view: sortable through `ResultsProxy`, unsorted (arrival order) until the user asks."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QTableView, QWidget

from ggen_desktop.core.search import SearchHit
from ggen_desktop.gui.paint_bands import PaintBands
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

    MIN_SCALE, MAX_SCALE = 0.4, 1.8  # 0.4: every column in view at 1024×640 beside the side panel

    def __init__(self, model: ResultsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsView")
        self.setAccessibleName("Search results")
        self.results_model = model
        self.proxy = ResultsProxy(model, self)
        self.setModel(self.proxy)
        self.paint_bands = PaintBands(self)
        make_compact(self)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        # Always there: the first screenful of results neither narrows the viewport nor stretches the last column,
        # each of which repaints the whole table at once (Qt repaints all of it on any column resize).
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
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
        first that changed down repaint, a band per turn (`PaintBands`). None repaint when every change is below
        the screen, as appended rows are."""
        changed_from = self.proxy.take_changed_from()
        if changed_from is None:
            super().doItemsLayout()  # not a change of rows (a reset, a new sort): everything on screen
            return
        self.updateGeometries()
        top = self.rowViewportPosition(changed_from)  # negative above the screen
        if top < self.viewport().height():
            self.paint_bands.stale_from(top)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paints as QTableView does; full-width paints are timed (main-thread cpu) to size the bands."""
        started = time.thread_time()
        super().paintEvent(event)
        rect = event.rect()
        if event.region().rectCount() == 1 and rect.width() >= self.viewport().width():
            first, last = self.rowAt(rect.top()), self.rowAt(rect.bottom())
            rows = 0 if first < 0 else (self.model().rowCount() - 1 if last < 0 else last) - first + 1
            self.paint_bands.painted(time.thread_time() - started, rows)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        """The stale rows move with the pixels; dy counts rows here (scroll per item), the header's offset pixels."""
        offset = self.verticalHeader().offset()
        super().scrollContentsBy(dx, dy)
        self.paint_bands.scrolled(offset - self.verticalHeader().offset())

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
