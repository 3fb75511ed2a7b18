"""Searching from the window, past the first page and past a typo, on a real loopback demo network."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ggen_desktop.core.query import QueryConfig
from ggen_desktop.core.search import QueryStatus, QueryTrace
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.results_model import ResultsModel
from tests.gui.test_search import search

SOURCES = ResultsModel.Columns.SOURCES


def identities(window: MainWindow) -> list[tuple[str, str, str]]:
    model = window.results_model
    return [model.hit(row).identity for row in range(model.rowCount())]


def test_load_more_goes_on_with_the_same_search_under_the_rows_shown(qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None
    window.app.node.query_config = QueryConfig(max_results=20, default_timeout=5.0)
    trace = search(qtbot, window, "rust")
    first = identities(window)
    query_id = window.session.query_id
    assert len(first) == 20 and trace.more
    assert window.area.load_more_button.isVisible() and window.status.search_status.text().endswith(", more available")

    with qtbot.waitSignal(window.session.finished, timeout=20000) as blocker:
        qtbot.keyClick(window.results_view, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)  # Load more
    trace = blocker.args[0]
    pages = 2
    while trace.more:  # the button does the same as the shortcut
        with qtbot.waitSignal(window.session.finished, timeout=20000) as blocker:
            qtbot.mouseClick(window.area.load_more_button, Qt.MouseButton.LeftButton)
        trace, pages = blocker.args[0], pages + 1
    shown = identities(window)
    assert window.session.query_id == query_id and trace.status is QueryStatus.FINISHED
    assert shown[:20] == first and len(shown) > 20 and len(set(shown)) == len(shown)  # appended, none twice
    assert not window.area.load_more_button.isVisible() and "more available" not in window.status.search_status.text()
    window.app.node.discovered.clear()  # one page big enough for everything finds the very same results
    window.app.node.query_config = QueryConfig(max_results=200, default_timeout=5.0)
    whole: QueryTrace = search(qtbot, window, "rust")  # type: ignore[assignment]
    assert set(whole.hits) == set(shown)
    assert pages >= 2


def test_what_this_node_knew_is_shown_marked_known_and_the_network_is_still_asked(qtbot: QtBot,
                                                                                  window: MainWindow) -> None:
    assert window.app is not None
    window.app.node.query_config = QueryConfig(max_results=200, default_timeout=5.0)
    search(qtbot, window, "postgresql")  # now known to this node
    trace: QueryTrace = search(qtbot, window, "postgresql")  # type: ignore[assignment]
    assert trace.peer_counts().asked >= 1 and trace.result_count >= 2
    model = window.results_model
    texts = [model.data(model.index(row, SOURCES)) for row in range(model.rowCount())]
    assert all(text == "known" or text.endswith(" + known") for text in texts), texts
    assert any(text.endswith(" + known") for text in texts)  # known, and answered again by a peer
    tip = model.data(model.index(0, SOURCES), Qt.ItemDataRole.ToolTipRole)
    assert "Known before this search: told by " in tip
    window.results_view.selectRow(0)
    hit = window.results_view.selected_hit()
    assert hit is not None
    details = window.details.toPlainText()
    assert "Known before the search" in details and all(source in details for source in hit.sources)


def test_a_typo_offers_a_keyword_this_node_knows_and_the_link_searches_it(qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None
    window.app.node.query_config = QueryConfig(max_results=20, default_timeout=5.0)
    search(qtbot, window, "rust")  # learns the keywords of the rust packages, "middleware" among them
    trace: QueryTrace = search(qtbot, window, "midleware")  # type: ignore[assignment]
    assert trace.result_count == 0 and trace.suggestions[:1] == ["middleware"]
    link = window.status.suggestion
    assert link.isVisible() and link.text() == '<a href="middleware">Did you mean middleware?</a>'
    with qtbot.waitSignal(window.session.finished, timeout=20000) as blocker:
        qtbot.mouseClick(link, Qt.MouseButton.LeftButton, pos=link.rect().center())
    trace = blocker.args[0]
    assert window.search_bar.field.text() == "middleware" and trace.query.text == "middleware"
    assert trace.result_count >= 20 and not link.isVisible()


def test_a_word_that_is_only_part_of_a_keyword_says_why_the_network_was_not_asked(qtbot: QtBot,
                                                                                   window: MainWindow) -> None:
    assert window.app is not None
    search(qtbot, window, "postgresql")
    trace: QueryTrace = search(qtbot, window, "postgre")  # type: ignore[assignment]
    assert trace.peer_counts().asked == 0 and trace.result_count >= 1  # what this node knows still matches
    assert window.status.search_status.text().endswith(
        "; 'postgre' is part of a word; the network is searched by whole words: try 'postgres' or 'postgresql'")
