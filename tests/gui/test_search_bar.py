"""The search bar on its own: its fields become one Query, emitted on Enter or Search, or a reason why not."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ggen_desktop.core.query import MAX_QUERY_TEXT, Query
from ggen_desktop.gui.search_bar import SearchBar


def bar(qtbot: QtBot) -> SearchBar:
    widget = SearchBar()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_enter_in_any_field_or_the_button_emits_the_query_of_all_fields(qtbot: QtBot) -> None:
    search = bar(qtbot)
    search.field.setText("rust web")
    search.category_box.setCurrentIndex(search.category_box.findData("Database"))
    search.tags_field.setText(" sql, cli ,")
    expected = Query(text="rust web", categories=("Database",), tags=("sql", "cli"))
    for submit in (lambda: qtbot.keyClick(search.field, Qt.Key.Key_Return),
                   lambda: qtbot.keyClick(search.tags_field, Qt.Key.Key_Return),
                   search.search_button.click):
        with qtbot.waitSignal(search.submitted, timeout=1000) as blocker:
            submit()
        assert blocker.args == [expected]


def test_fields_that_make_no_query_say_why(qtbot: QtBot) -> None:
    search = bar(qtbot)
    with qtbot.assertNotEmitted(search.submitted), qtbot.waitSignal(search.empty, timeout=1000):
        search.search_button.click()
    search.field.setText("x" * (MAX_QUERY_TEXT + 1))
    with qtbot.assertNotEmitted(search.submitted), qtbot.waitSignal(search.refused, timeout=1000) as refused:
        search.search_button.click()
    assert refused.args == [f"query text must be text of at most {MAX_QUERY_TEXT} characters"]


def test_running_shows_the_busy_bar_and_enables_cancel(qtbot: QtBot) -> None:
    search = bar(qtbot)
    assert not search.busy.isVisible() and not search.cancel_button.isEnabled()
    search.set_running(True)
    assert search.busy.isVisible() and search.cancel_button.isEnabled()
    with qtbot.waitSignal(search.cancel_requested, timeout=1000):
        search.cancel_button.click()
    search.set_running(False)
    assert not search.busy.isVisible() and not search.cancel_button.isEnabled()
