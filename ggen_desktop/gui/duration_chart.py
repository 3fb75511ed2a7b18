"""A small live bar chart of recent query durations, painted with QPainter.

QtCharts is not part of PySide6-Essentials; a few dozen bars do not need it.
Colours come from the palette so the chart follows the light/dark theme.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MAX_BARS = 60


class DurationChart(QWidget):
    """Last MAX_BARS query durations as bars, newest on the right, with the maximum labelled."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: tuple[float, ...] = ()
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Recent query durations chart")

    def sizeHint(self) -> QSize:
        return QSize(260, 110)

    def set_values(self, values: Sequence[float]) -> None:
        values = tuple(values[-MAX_BARS:])
        if values != self._values:
            self._values = values
            self.setToolTip(
                f"Last {len(values)} queries; newest {values[-1]:.0f} ms" if values else "No queries yet"
            )
            self.update()

    @property
    def values(self) -> tuple[float, ...]:
        return self._values

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        rect = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        painter.fillRect(rect, palette.color(QPalette.ColorRole.Base))
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid)))
        painter.drawRect(rect)
        text_colour = palette.color(QPalette.ColorRole.Text)
        if not self._values:
            painter.setPen(text_colour)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "No queries yet")
            return
        metrics = painter.fontMetrics()
        label_h = metrics.height() + 2
        plot = rect.adjusted(2, label_h, -2, -2)
        top = max(self._values) or 1.0
        slot = plot.width() / MAX_BARS
        bar_w = max(1.0, slot * 0.75)
        colour = palette.color(QPalette.ColorRole.Highlight)
        for i, value in enumerate(self._values):
            h = max(1.0, plot.height() * value / top)
            x = plot.right() - (len(self._values) - i) * slot + (slot - bar_w) / 2
            painter.fillRect(QRectF(x, plot.bottom() - h, bar_w, h), colour)
        painter.setPen(text_colour)
        painter.drawText(
            rect.adjusted(4, 1, -4, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
            f"max {top:.0f} ms · last {self._values[-1]:.0f} ms",
        )
