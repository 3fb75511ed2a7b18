"""The duration chart: a y axis in ms, one slow query does not flatten the rest, a tooltip per bar."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from ggen_desktop.gui.duration_chart import DurationChart, nice_ceiling, scale_top

# a tooltip window on the offscreen platform: its own notice, not the app's
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support raise")


def test_axis_tops_are_round_and_an_outlier_is_left_above_the_scale() -> None:
    assert [nice_ceiling(v) for v in (0.3, 7, 13, 140, 199, 200, 201)] == [0.5, 10, 20, 200, 200, 200, 500]
    assert scale_top([40, 60]) == 100  # few bars: all of them count
    assert scale_top([40, 42, 45, 50, 48, 44, 5000]) == 200  # three times the median, rounded up
    assert scale_top([10, 30, 50, 70, 100]) == 100  # no outlier: every bar fits


def test_bars_keep_their_height_beside_an_outlier_and_each_has_a_tooltip(qtbot: QtBot) -> None:
    chart = DurationChart()
    qtbot.addWidget(chart)
    chart.resize(300, 120)
    chart.show()
    qtbot.waitExposed(chart)
    chart.set_values([40.0, 42.0, 45.0, 50.0, 48.0, 44.0, 5000.0, 46.0])
    assert chart.top == 200 and chart.clipped() == [6]
    assert chart.y_ticks() == [(0.0, "0"), (100.0, "100 ms"), (200.0, "200 ms")]
    plot_height = chart.bar_rect(6).height()  # the clipped bar fills the plot
    assert chart.bar_rect(3).height() >= 0.2 * plot_height  # 50 ms still reads as a bar, not a line
    for index, value in enumerate(chart.values):
        rect = chart.bar_rect(index)
        assert chart.bar_at(rect.center().x()) == index
        at = rect.center().toPoint()
        QApplication.sendEvent(chart, QHelpEvent(QEvent.Type.ToolTip, at, chart.mapToGlobal(at)))
        assert QToolTip.text() == chart.bar_tooltip(index)
        assert f"{value:.0f} ms" in QToolTip.text()
    assert chart.bar_tooltip(7) == "Query 8 of the last 8 (the last query): 46 ms"
    assert chart.bar_tooltip(6) == "Query 7 of the last 8 (1 query before the last): 5000 ms (above the scale)"
    assert chart.bar_at(chart.bar_rect(0).left() - 40) is None  # left of the oldest bar
    chart.grab()  # paints without a Qt warning
