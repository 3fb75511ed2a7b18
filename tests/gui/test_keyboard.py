"""Keyboard: Tab walks controls (not table cells), Alt+N raises and focuses a panel, the View menu's marks
follow the panels, Ctrl+Tab leaves the table without losing the selection."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QTableView
from pytestqt.qtbot import QtBot

from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.panel_poller import in_view
from tests.gui.test_search import search


def dock_action(window: MainWindow, title: str) -> QAction:
    return next(a for a in window.actions() if a.text() == title)


def test_tab_leaves_the_results_table_instead_of_walking_its_cells(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "rust")
    view = window.results_view
    view.setFocus()
    view.selectRow(1)
    current = view.currentIndex()
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not view  # one Tab: the next control
    assert view.currentIndex() == current and view.selectionModel().selectedRows()[0].row() == 1
    for table in window.findChildren(QTableView):
        assert not table.tabKeyNavigation(), table.objectName()


def test_ctrl_tab_in_the_table_keeps_the_selection(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "rust")
    view = window.results_view
    view.setFocus()
    view.selectRow(2)
    qtbot.keyClick(view, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert [index.row() for index in view.selectionModel().selectedRows()] == [2]
    assert window.results_view.selected_hit() is not None


def test_alt_n_raises_a_tabbed_panel_and_puts_the_focus_in_it(qtbot: QtBot, window: MainWindow) -> None:
    window.search_bar.field.setFocus()
    for key, name in ((Qt.Key.Key_2, "peers"), (Qt.Key.Key_3, "publish"), (Qt.Key.Key_4, "node"),
                      (Qt.Key.Key_1, "metrics")):
        qtbot.keyClick(window, key, Qt.KeyboardModifier.AltModifier)
        dock = window.docks[name]
        qtbot.waitUntil(lambda dock=dock: in_view(dock), timeout=1000)
        focused = QApplication.focusWidget()
        assert focused is not None and dock.isAncestorOf(focused), (name, focused)


def test_view_menu_marks_follow_the_panels(qtbot: QtBot, window: MainWindow) -> None:
    peers, action = window.docks["peers"], dock_action(window, "Peer reputation")
    window.docks["metrics"].raise_()
    qtbot.waitUntil(lambda: not in_view(peers), timeout=1000)
    assert action.isChecked()  # open, behind a tab
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)  # to the front: still open, still checked
    qtbot.waitUntil(lambda: in_view(peers), timeout=1000)
    assert action.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)  # in front: closed
    assert peers.isHidden() and not action.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert not peers.isHidden() and action.isChecked()
    peers.close()  # its title bar's close button
    assert not action.isChecked()
    action.trigger()  # from the menu
    assert not peers.isHidden() and action.isChecked()
    window.show_publish()  # File → Publish opens the publish panel and checks it
    assert dock_action(window, "Publish").isChecked()
    assert all(a.isChecked() == (not d.isHidden()) for a, d in zip(window.commands.docks, window.docks.values(),
                                                                    strict=True))
