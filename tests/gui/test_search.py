"""Searching from the window against a real loopback demo network."""

from __future__ import annotations

import re

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from pytestqt.qtbot import QtBot

from ggen_desktop.core.petnames import group_fingerprint
from ggen_desktop.core.query import QueryConfig
from ggen_desktop.core.search import THIS_NODE_SOURCE, QueryStatus
from ggen_desktop.gui import collector
from ggen_desktop.gui.collector import LET_GO_AFTER_IDLE_MS
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.results_model import HIT_ROLE, ResultsModel


def search(qtbot: QtBot, window: MainWindow, text: str, timeout_ms: int = 20000) -> object:
    window.search_bar.field.setText(text)
    with qtbot.waitSignal(window.session.finished, timeout=timeout_ms) as blocker:
        qtbot.keyClick(window.search_bar.field, Qt.Key.Key_Return)
    return blocker.args[0]


def late_answers_are_in(window: MainWindow) -> bool:
    """Every request this node sent has been answered or has timed out, and no GUI task is still reading
    a search: any late answer has reached the window by now."""
    assert window.app is not None
    return window.app.node.transport_stats()["outstanding"] == 0 and len(window.tasks) == 0


def test_results_stream_in_batches_before_the_query_ends(qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None and window.app.is_demo
    assert "Demo network" in window.status.network_label.text() and "Bootstrap peers" in window.status.network_label.text()
    assert "--bootstrap HOST:PORT" in window.status.network_label.toolTip()
    window.app.node.query_config = QueryConfig(max_results=200, default_timeout=5.0)
    model = window.results_model
    inserts: list[tuple[int, int, QueryStatus]] = []
    model.rowsInserted.connect(
        lambda _parent, first, last: inserts.append((first, last, window.session.trace.status))  # type: ignore[union-attr]
    )
    trace = search(qtbot, window, "rust")
    assert trace.status is QueryStatus.FINISHED
    assert model.rowCount() == trace.result_count > 10
    # rows arrived while the query was still running, in batches (far fewer inserts than rows),
    # appended in arrival order with no gaps
    assert inserts[0][2] is QueryStatus.RUNNING
    assert len(inserts) < model.rowCount()
    assert [first for first, _, _ in inserts] == [0] + [last + 1 for _, last, _ in inserts[:-1]]
    arrivals = [model.hit(r).first_seen_ms for r in range(model.rowCount())]
    assert arrivals == sorted(arrivals)
    # every row matches, and the status line counts the peers whose answers held results
    assert all("rust" in (model.hit(r).record.package.metadata.title + model.hit(r).record.package.metadata.description
                          + str(model.hit(r).record.package.id)).lower() for r in range(model.rowCount()))
    own = {THIS_NODE_SOURCE, window.app.node.node_id_hex}
    sources = set().union(*(model.hit(r).sources for r in range(model.rowCount()))) - own
    # (replicas asked once the searcher has their set of records answer without sending it again)
    assert sources == {peer for peer, t in trace.peers.items() if t.results} and len(sources) >= 1
    assert len(sources) < trace.answering_peers  # most peers hold no replica: they answer with nothing
    assert window.status.search_status.text() == trace.summary()
    counts = trace.peer_counts()
    assert re.fullmatch(rf"{trace.result_count} results from {len(sources)} of {counts.asked} peers asked"
                        rf"( and this node's replicas)? in \d+ ms: finished", window.status.search_status.text()), \
        window.status.search_status.text()
    assert window.status.search_status.text().endswith(": finished")
    assert not window.search_bar.busy.isVisible() and not window.search_bar.cancel_button.isEnabled()
    assert [q.text for q in window.app.node.recent_queries()][:1] == ["rust"]


def test_details_pane_shows_the_selected_result(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "rust")
    view = window.results_view
    view.selectRow(0)
    hit = view.selected_hit()
    assert hit is not None
    text = window.details.toPlainText()
    assert str(hit.record.package.id) in text
    assert hit.record.package.content_hash in text
    assert group_fingerprint(hit.record.fingerprint) in text  # all 16 digits, grouped by four
    assert "signed by the same key since" in text
    assert hit.record.publisher.hex() in text
    assert "verified" in text
    assert all(source in text for source in hit.sources)


def test_cancel_stops_the_query_and_no_late_rows_arrive(qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None
    # a long timeout, so the query would still be running when we cancel
    window.app.node.query_config = QueryConfig(max_results=500, default_timeout=20.0, fan_out=1)
    window.search_bar.field.setText("a")
    window.search()
    ends: list[QueryStatus] = []
    window.session.finished.connect(lambda trace: ends.append(trace.status))
    label = window.status.search_status
    shown: list[str] = []
    set_text = label.setText
    label.setText = lambda text: (shown.append(text), set_text(text))  # type: ignore[method-assign]
    assert window.search_bar.cancel_button.isEnabled() and window.search_bar.busy.isVisible()
    with qtbot.waitSignal(window.session.finished, timeout=10000) as blocker:
        qtbot.keyClick(window.results_view, Qt.Key.Key_Escape)  # Esc is the window's cancel shortcut
    trace = blocker.args[0]
    assert trace.status is QueryStatus.CANCELLED
    rows = window.results_model.rowCount()
    qtbot.waitUntil(lambda: late_answers_are_in(window), timeout=10000)
    assert window.results_model.rowCount() == rows
    # was reported twice: by the window at once, then again when the session's task ended
    assert ends == [QueryStatus.CANCELLED]
    assert len([text for text in shown if text.endswith(": cancelled")]) == 1
    assert window.status.search_status.text().endswith(": cancelled")
    assert not window.search_bar.cancel_button.isEnabled()


def test_a_second_query_never_shows_the_first_querys_results(qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None
    window.app.node.query_config = QueryConfig(max_results=500, default_timeout=5.0)
    window.search_bar.field.setText("a")
    window.search()  # broad query, left running
    first_id = window.session.query_id
    trace = search(qtbot, window, "postgres")
    assert trace.query_id != first_id
    qtbot.waitUntil(lambda: late_answers_are_in(window), timeout=10000)  # late answers to the first query too
    model = window.results_model
    assert model.rowCount() == trace.result_count > 0
    for row in range(model.rowCount()):
        meta = model.hit(row).record.package.metadata
        assert "postgres" in (meta.title + meta.description + str(model.hit(row).record.package.id)).lower()


def test_sorted_view_keeps_the_selection_while_rows_stream_in(qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None
    window.app.node.query_config = QueryConfig(max_results=500, default_timeout=5.0)
    search(qtbot, window, "rust")
    view = window.results_view
    view.sortByColumn(ResultsModel.Columns.NAME, Qt.SortOrder.DescendingOrder)
    view.selectRow(3)
    chosen = view.selected_hit()
    assert chosen is not None
    # a new, broader query keeps the sort; select a row mid-stream and keep it across later batches
    window.search_bar.field.setText("a")
    window.search()
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 5, timeout=10000)
    proxy_index = view.model().index(2, 0)
    view.selectionModel().select(proxy_index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                 | QItemSelectionModel.SelectionFlag.Rows)
    picked = proxy_index.data(HIT_ROLE)
    rows_then = window.results_model.rowCount()
    qtbot.waitUntil(lambda: not window.session.running, timeout=20000)
    assert window.results_model.rowCount() >= rows_then
    assert view.selected_hit() is picked
    names = [view.model().index(r, 0).data() for r in range(view.model().rowCount())]
    assert names == sorted(names, reverse=True)
    assert view.horizontalHeader().sortIndicatorSection() == ResultsModel.Columns.NAME
    assert view.model().rowCount(QModelIndex()) == window.results_model.rowCount()


def test_category_and_tag_filters_narrow_the_search(qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None
    window.app.node.query_config = QueryConfig(max_results=500, default_timeout=5.0)
    window.search_bar.category_box.setCurrentIndex(window.search_bar.category_box.findData("Database"))
    window.search_bar.tags_field.setText("sql")
    trace = search(qtbot, window, "rust")
    model = window.results_model
    assert trace.query.categories == ("Database",) and trace.query.tags == ("sql",)
    assert model.rowCount() > 0
    for row in range(model.rowCount()):
        meta = model.hit(row).record.package.metadata
        assert "Database" in meta.categories and "sql" in meta.tags


def test_full_collections_are_held_off_only_while_a_page_streams_in(qtbot: QtBot, window: MainWindow) -> None:
    """A window left open on its results must not run without full garbage collections for hours."""
    assert window.app is not None
    window.app.node.query_config = QueryConfig(max_results=200, default_timeout=5.0)
    held_while_streaming: list[bool] = []
    model = window.results_model
    model.rowsInserted.connect(lambda *_: held_while_streaming.append(collector.holding(model)))
    search(qtbot, window, "rust")
    assert held_while_streaming and all(held_while_streaming)
    # not at once: a next page may follow ("Load more", or paging on), and a full collection between pages
    # walked every row so far in the middle of its stream (the benchmark's worst stalls, 100-190 ms at 10,000)
    assert collector.holding(model)
    qtbot.waitUntil(lambda: not collector.holding(model), timeout=LET_GO_AFTER_IDLE_MS + 5000)
    assert model.rowCount() > 10  # the rows stay on screen, and this window no longer holds off full collections
