"""A small live bar chart of recent query durations, painted with QPainter, with axes and a tooltip per bar.

QtCharts is not part of PySide6-Essentials; a few dozen bars do not need it.
Colours come from the palette so the chart follows the light/dark theme.

One slow query must not flatten the others to a line: the scale stops at
three times the median (rounded to a 1-2-5 step), and a bar above it is
cut at the top, drawn in the palette's link colour with a notch,
and its tooltip gives its real duration.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QHelpEvent, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

MAX_BARS = 60
ROBUST_FROM = 5  # with fewer bars every one counts in the scale
ROBUST_FACTOR = 3.0  # the scale reaches this many times the median (a percentile would follow the outliers)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at or above `value` (an axis top a reader can use)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1.0, 2.0, 5.0, 10.0) if step * power >= value)


def scale_top(values: Sequence[float]) -> float:
    """The axis top: the largest value, or with enough values three times the median when that is lower."""
    if not values:
        return 1.0
    top = max(values)
    if len(values) >= ROBUST_FROM:
        top = min(top, ROBUST_FACTOR * statistics.median(values))
    return nice_ceiling(top)


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.0f} s"


class DurationChart(QWidget):
    """Last MAX_BARS query durations as bars, oldest on the left, with a y axis in ms."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: tuple[float, ...] = ()
        self.top = 1.0
        self.setMinimumHeight(100)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Recent query durations chart")
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:
        return QSize(260, 120)

    def set_values(self, values: Sequence[float]) -> None:
        values = tuple(values[-MAX_BARS:])
        if values != self._values:
            self._values = values
            self.top = scale_top(values)
            self.setToolTip("" if values else "No queries yet")  # with bars, each bar has its own tooltip
            self.update()

    @property
    def values(self) -> tuple[float, ...]:
        return self._values

    def clipped(self) -> list[int]:
        """Indices of the bars taller than the scale (drawn cut, with a notch)."""
        return [i for i, value in enumerate(self._values) if value > self.top]

    def y_ticks(self) -> list[tuple[float, str]]:
        return [(value, "0" if value == 0 else _ms(value)) for value in (0.0, self.top / 2, self.top)]

    # -- geometry ------------------------------------------------------------------
    def _plot(self) -> QRectF:
        metrics = self.fontMetrics()
        left = max(metrics.horizontalAdvance(label) for _, label in self.y_ticks()) + 10
        return QRectF(self.rect()).adjusted(left, metrics.height() / 2 + 4, -6, -(metrics.height() + 6))

    def _slot(self, plot: QRectF) -> float:
        return plot.width() / MAX_BARS

    def bar_rect(self, index: int) -> QRectF:
        plot = self._plot()
        slot = self._slot(plot)
        width = max(1.0, slot * 0.75)
        height = max(1.0, plot.height() * min(self._values[index], self.top) / self.top)
        x = plot.right() - (len(self._values) - index) * slot + (slot - width) / 2
        return QRectF(x, plot.bottom() - height, width, height)

    def bar_at(self, x: float) -> int | None:
        """The bar under a point's x (its whole slot counts), or None."""
        plot = self._plot()
        slot = self._slot(plot)
        from_right = math.floor((plot.right() - x) / slot) if slot > 0 else -1
        index = len(self._values) - 1 - from_right
        return index if from_right >= 0 and 0 <= index < len(self._values) else None

    def bar_tooltip(self, index: int) -> str:
        count = len(self._values)
        ago = count - 1 - index
        when = "the last query" if ago == 0 else f"{ago} quer{'y' if ago == 1 else 'ies'} before the last"
        cut = " (above the scale)" if self._values[index] > self.top else ""
        return f"Query {index + 1} of the last {count} ({when}): {_ms(self._values[index])}{cut}"

    # -- Qt events -------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self._values and isinstance(event, QHelpEvent):
            index = self.bar_at(event.pos().x())
            if index is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self.bar_tooltip(index), self)
            return True
        return super().event(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        text_colour = palette.color(QPalette.ColorRole.Text)
        grid = palette.color(QPalette.ColorRole.Mid)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        if not self._values:
            painter.setPen(text_colour)
            painter.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter, "No queries yet")
            return
        plot = self._plot()
        metrics = painter.fontMetrics()
        for value, label in self.y_ticks():  # y axis: gridlines with their values
            y = plot.bottom() - plot.height() * value / self.top
            painter.setPen(QPen(grid, 1, Qt.PenStyle.SolidLine if value == 0 else Qt.PenStyle.DotLine))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(text_colour)
            painter.drawText(QRectF(0, y - metrics.height() / 2, plot.left() - 4, metrics.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
        painter.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), metrics.height() + 4),
                         Qt.AlignmentFlag.AlignCenter,  # x axis: what the bars are, oldest to newest
                         f"last {len(self._values)} quer{'y' if len(self._values) == 1 else 'ies'}, newest right")
        bar_colour = palette.color(QPalette.ColorRole.Highlight)
        clipped_colour = palette.color(QPalette.ColorRole.Link)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for index, value in enumerate(self._values):
            rect = self.bar_rect(index)
            painter.fillRect(rect, clipped_colour if value > self.top else bar_colour)
            if value > self.top:  # a notch: this bar goes on above the scale
                notch = QPolygonF([QPointF(rect.left(), rect.top() + 4), QPointF(rect.center().x(), rect.top()),
                                   QPointF(rect.right(), rect.top() + 4)])
                painter.setPen(QPen(palette.color(QPalette.ColorRole.Base), 1.5))
                painter.drawPolyline(notch)
