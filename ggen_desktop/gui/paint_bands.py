"""Repaint the stale rows of a table one band per event-loop turn, so no single turn repaints the whole screen.

When a batch of rows lands on screen in a sorted table, every row from the first one that moved down to the
bottom must be repainted. That costs about 0.2 ms a row, so a full 1200×800 table takes 7-10 ms, and more on a
busy machine. Painting in bands sized to a time budget gives the event loop a turn between bands for input and
network answers. Bands are sized by measured cost, not by a guess. The whole screen is fresh within a frame or
two, and the rows not yet repainted show what they showed one turn longer.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QTableView


class PaintBands(QObject):
    """Where a table's viewport is stale (from a y down), and the next band of it to repaint."""

    BUDGET_S = 0.003  # the main thread's cpu time one band may take
    FIRST_BAND_ROWS = 8  # until a paint has been measured
    MIN_ROWS = 4  # a band never shrinks below this, however slow a paint was measured

    def __init__(self, view: QTableView) -> None:
        super().__init__(view)
        self._view = view
        self._stale_from: int | None = None  # viewport y from which rows on screen still show what they did
        self._seconds_per_row = 0.0  # cpu time to paint one full-width row, 0 until measured
        self._next_band = QTimer(self)
        self._next_band.setSingleShot(True)
        self._next_band.setInterval(0)  # the next turn of the loop, after whatever else is waiting
        self._next_band.timeout.connect(self._repaint_band)

    @property
    def pending(self) -> bool:
        """Whether part of the screen still waits for its band."""
        return self._stale_from is not None

    def stale_from(self, y: int) -> None:
        """Rows on screen from viewport y down changed: the first band repaints now, the rest in the next turns."""
        y = max(0, y)
        if self._stale_from is None or y < self._stale_from:
            self._stale_from = y
        if not self._next_band.isActive():
            self._repaint_band()

    def scrolled(self, dy: int) -> None:
        """The viewport's pixels moved by dy (scrolling blits them), and the stale rows moved with them."""
        if self._stale_from is not None:
            self._stale_from = max(0, self._stale_from + dy)

    def painted(self, seconds: float, rows: int) -> None:
        """A full-width paint of `rows` rows took `seconds` of cpu time, and later bands are sized to that."""
        if rows <= 0:
            return  # an empty table's paint costs nearly nothing and says nothing of a row's
        measured = seconds / rows
        self._seconds_per_row = measured if not self._seconds_per_row else 0.7 * self._seconds_per_row + 0.3 * measured

    def band_height(self) -> int:
        """Whole rows that fit the budget at the measured cost, at least MIN_ROWS."""
        row = max(1, self._view.verticalHeader().defaultSectionSize())
        if not self._seconds_per_row:
            return self.FIRST_BAND_ROWS * row
        return max(self.MIN_ROWS, int(self.BUDGET_S / self._seconds_per_row)) * row

    def _repaint_band(self) -> None:
        top = self._stale_from
        if top is None:
            return
        viewport = self._view.viewport()
        height = self.band_height()
        viewport.update(0, top, viewport.width(), height)
        if top + height >= viewport.height():
            self._stale_from = None
        else:
            self._stale_from = top + height
            self._next_band.start()
