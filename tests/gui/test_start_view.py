"""The start view and the empty state, clicked as a user would, against a real loopback demo network."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from ggen_desktop.core.package import Category
from ggen_desktop.core.search import THIS_NODE_SOURCE, QueryTrace
from ggen_desktop.gui.main_window import MainWindow
from tests.gui.test_search import search


def button(buttons: list[QPushButton], text: str) -> QPushButton:
    return next(b for b in buttons if b.text() == text)


def click_and_wait(qtbot: QtBot, window: MainWindow, widget: QPushButton) -> QueryTrace:
    with qtbot.waitSignal(window.session.finished, timeout=20000) as blocker:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    trace: QueryTrace = blocker.args[0]
    return trace


def test_before_any_search_the_start_view_offers_categories_and_examples(qtbot: QtBot, window: MainWindow) -> None:
    area, start = window.area, window.area.start_view
    assert area.currentWidget() is start and start.isVisible()
    assert [b.text() for b in start.categories.buttons] == [c.value for c in Category]  # nothing known yet: no counts
    assert "knows no packages yet" in start.intro.text()
    assert not start.recent.isVisibleTo(start) and not start.searches.isVisibleTo(start)
    trace = click_and_wait(qtbot, window, button(start.examples.buttons, "“postgres”"))
    assert window.search_bar.field.text() == "postgres" and trace.query.text == "postgres"
    assert area.currentWidget() is area.results_page and window.results_model.rowCount() > 0


def test_a_category_click_searches_it_and_clearing_the_field_comes_back_with_what_was_found(
        qtbot: QtBot, window: MainWindow) -> None:
    start = window.area.start_view
    trace = click_and_wait(qtbot, window, button(start.categories.buttons, "Database"))
    assert trace.query.categories == ("Database",) and window.search_bar.category_box.currentText() == "Database"
    model, node = window.results_model, window.app.node  # type: ignore[union-attr]
    # the packages peers returned are discovered, so known: each (name, key) once, however many versions
    found = {(h.identity[0], h.identity[2]) for h in (model.hit(r) for r in range(model.rowCount()))
             if h.sources - {THIS_NODE_SOURCE, node.node_id_hex}}
    assert found
    window.search_bar.category_box.setCurrentIndex(0)
    search(qtbot, window, "rust")
    window.search_bar.field.clear()  # the clear button, or deleting the text
    assert window.area.currentWidget() is start
    counts = dict(t.rsplit("  ", 1) for t in (b.text() for b in start.categories.buttons) if "  " in t)
    assert int(counts["Database"].strip("()")) >= len(found)
    assert f"knows {start.overview.known} packages" in start.intro.text()  # type: ignore[union-attr]
    assert [b.text() for b in start.searches.buttons][:2] == ["“rust”", "category Database"]
    # a recent package shows every version of it: a search of its id, then only its rows
    first = start.recent.buttons[0]
    name = first.text().split(" ", 1)[0]
    click_and_wait(qtbot, window, first)
    view, area = window.results_view, window.area
    assert window.search_bar.field.text() == name
    assert area.filter_bar.isVisible() and area.filter_label.text().startswith(f"Every version of {name} found: ")
    rows = view.model().rowCount()
    assert rows >= 1 and {view.model().index(r, 0).data() for r in range(rows)} == {name}
    qtbot.mouseClick(area.clear_filter_button, Qt.MouseButton.LeftButton)
    assert not area.filter_bar.isVisible() and view.model().rowCount() == window.results_model.rowCount()


def test_a_search_with_no_result_says_what_happened_and_offers_what_to_try(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "rust")  # now this node knows the keyword "rust"
    trace = search(qtbot, window, "zzqx rusty")
    assert isinstance(trace, QueryTrace)
    area, empty = window.area, window.area.empty_state
    assert area.currentWidget() is empty and window.results_model.rowCount() == 0
    said = re.fullmatch(r"<h3>No package matches “zzqx rusty” on (\d+) peers\.</h3>", empty.headline.text())
    assert said is not None and 0 < int(said.group(1)) <= trace.peer_counts().asked
    assert "Try fewer or other words" in empty.advice.text()
    offered = [b.text() for b in empty.buttons]
    assert offered[0] == "Did you mean “rust”?"  # the closest keyword this node knows, first
    assert offered[-2:] == ["Only “zzqx”", "Only “rusty”"]
    found = click_and_wait(qtbot, window, button(empty.buttons, "Did you mean “rust”?"))
    assert found.query.text == "rust" and window.search_bar.field.text() == "rust"
    assert area.currentWidget() is area.results_page and window.results_model.rowCount() > 0
    search(qtbot, window, "zzqx")
    qtbot.mouseClick(empty.browse_button, Qt.MouseButton.LeftButton)
    assert area.currentWidget() is area.start_view


def test_a_filter_the_search_cannot_match_is_offered_without_the_filter(qtbot: QtBot, window: MainWindow) -> None:
    window.search_bar.tags_field.setText("zzqx")
    search(qtbot, window, "rust")
    empty = window.area.empty_state
    assert window.area.currentWidget() is empty
    assert "“rust”, tag zzqx" in empty.headline.text()
    assert "drop the category or tag filter" in empty.advice.text()
    found = click_and_wait(qtbot, window, button(empty.buttons, "Without the tags"))
    assert found.query.tags == () and window.search_bar.tags_field.text() == ""
    assert window.results_model.rowCount() > 0


def test_a_search_the_network_is_not_asked_for_says_why(qtbot: QtBot, window: MainWindow) -> None:
    trace = search(qtbot, window, "qj")
    assert isinstance(trace, QueryTrace) and not trace.peers
    assert window.area.currentWidget() is window.area.empty_state
    assert window.area.empty_state.headline.text() == (
        "<h3>No package this node knows matches “qj”, and the network was not asked: 'qj' is too short to search "
        "the network by (keywords have at least 3 characters).</h3>")


def test_what_happened_names_the_outcome_and_the_alternatives_change_one_thing_each() -> None:
    from ggen_desktop.core.query import Query
    from ggen_desktop.core.search import PeerTrace, QueryStatus
    from ggen_desktop.gui.empty_state import alternatives, what_happened

    trace = QueryTrace(Query(text="rust cli", categories=("Database",)))
    trace.peers = {"a": PeerTrace("a", "1.2.3.4:5", 0.0, answered_at_ms=3.0), "b": PeerTrace("b", "x", 0.0, timed_out=True)}
    trace.finish(QueryStatus.TIMED_OUT)
    assert what_happened(trace) == ("No package matches “rust cli”, category Database on the 1 peer that answered in "
                                    "time (1 of 2 asked did not answer).")
    failed = QueryTrace(Query(text="rust"))
    failed.finish(QueryStatus.FAILED, "socket closed")
    assert what_happened(failed) == "The search for “rust” failed: socket closed."
    assert [(text, q.text, q.categories) for text, q in alternatives(trace.query, ["rusty"])] == [
        ("Did you mean “rusty”?", "rusty", ("Database",)), ("Only “rust”", "rust", ("Database",)),
        ("Only “cli”", "cli", ("Database",)), ("In any category", "rust cli", ())]


def test_going_back_to_browsing_during_a_search_is_not_undone_when_it_ends(qtbot: QtBot, window: MainWindow) -> None:
    window.search_bar.field.setText("zzqx")
    with qtbot.waitSignal(window.session.finished, timeout=20000):
        qtbot.keyClick(window.search_bar.field, Qt.Key.Key_Return)
        assert window.session.running
        window.search_bar.field.clear()  # still running: the user is browsing again
    assert window.area.currentWidget() is window.area.start_view
