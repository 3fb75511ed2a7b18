"""The metrics panel after real searches: trace titles for any query, final states, a chart with axes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ggen_desktop.core.search import QueryTrace
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.trace_model import TraceModel


def test_a_category_search_is_titled_by_its_category_and_no_peer_stays_waiting(qtbot: QtBot,
                                                                                window: MainWindow) -> None:
    window.docks["metrics"].raise_()
    window.search_bar.category_box.setCurrentIndex(window.search_bar.category_box.findData("Database"))
    with qtbot.waitSignal(window.session.finished, timeout=20000) as blocker:
        qtbot.keyClick(window.search_bar.field, Qt.Key.Key_Return)
    trace: QueryTrace = blocker.args[0]
    panel = window.metrics_panel
    panel.show_trace(trace)
    assert panel.trace_title.text().startswith("Trace of category Database: ")
    assert panel.trace_title.text().endswith("— finished")
    model = panel.trace_model
    states = {model.index(r, TraceModel.Columns.STATE).data() for r in range(model.rowCount())}
    assert states and "waiting" not in states
    waiting = sum(1 for p in trace.peers.values() if p.state == "waiting")
    if waiting:
        assert f", {waiting} not needed — finished" in panel.trace_title.text()
