"""Actions on a result: the context menu and the details toolbar copy, open links, show all versions or the
publisher's packages, and Enter or a double-click does the main action. Menus are deleted once closed."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QAction, QContextMenuEvent, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from ggen_desktop.core.search import SearchHit
from ggen_desktop.gui.main_window import MainWindow
from tests.gui.test_search import search

# a popup menu on the offscreen platform: its own notices, not the app's
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support raise", "This plugin does not support grabbing")


class Browser(QObject):
    """Stands in for the desktop's browser: QDesktopServices hands it every https URL opened."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def handle(self, url: QUrl) -> None:
        self.opened.append(url.toString())


@pytest.fixture
def browser() -> Iterator[Browser]:
    handler = Browser()
    QDesktopServices.setUrlHandler("https", handler, "handle")  # type: ignore[arg-type]  # PySide takes the name as str
    yield handler
    QDesktopServices.unsetUrlHandler("https")


def right_click_row(qtbot: QtBot, window: MainWindow, row: int) -> QMenu:
    view = window.results_view
    at = view.visualRect(view.model().index(row, 0)).center()
    # what the platform delivers on a right click (or the Menu key); offscreen has no mouse to make one
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, view.viewport().mapToGlobal(at))
    QApplication.sendEvent(view.viewport(), event)
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=2000)
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu) and menu.objectName() == "resultMenu"
    return menu


def entry(menu: QMenu, text: str) -> QAction:
    for action in menu.actions():
        if action.text() == text:
            return action
        if action.menu() is not None:
            for sub in action.menu().actions():  # type: ignore[union-attr]
                if sub.text() == text:
                    return sub
    raise AssertionError(f"no {text!r} in {[a.text() for a in menu.actions()]}")


def row_of(window: MainWindow, wanted: str) -> tuple[int, SearchHit]:
    """The first row (in the view) whose package has a homepage and no repository, or the first row."""
    view = window.results_view
    for row in range(view.model().rowCount()):
        hit = view.model().index(row, 0).data(Qt.ItemDataRole.UserRole + 2)
        meta = hit.record.package.metadata
        if wanted == "homepage only" and meta.homepage and not meta.repository:
            return row, hit
        if wanted == "both" and meta.homepage and meta.repository:
            return row, hit
    raise AssertionError(f"no result with {wanted}")


def test_the_context_menu_copies_and_is_deleted_once_closed(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "rust")
    menu = right_click_row(qtbot, window, 1)
    hit = window.results_view.selected_hit()  # the right-clicked row is selected, so details and menu agree
    assert hit is not None and hit is window.results_view.model().index(1, 0).data(Qt.ItemDataRole.UserRole + 2)
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Download", "Download with dependencies", "Copy", "Open homepage", "Open repository", "Show all versions",
                     "Show this publisher's packages", "Name this publisher…"]
    download = next(a for a in menu.actions() if a.text() == "Download")
    assert not download.isEnabled()  # demo records name no shared archive: nothing enabled that would do nothing
    assert not entry(menu, "Download with dependencies").isEnabled()
    entry(menu, "Copy id").trigger()
    menu.close()
    assert QGuiApplication.clipboard().text() == str(hit.record.package.id)
    assert window.status.currentMessage().startswith(f"Copied the id of {hit.record.package.id}")
    qtbot.waitUntil(lambda: not window.findChildren(QMenu, "resultMenu"), timeout=2000)  # deleted, not hidden
    for _ in range(3):  # menus do not pile up
        right_click_row(qtbot, window, 0).close()
    qtbot.waitUntil(lambda: not window.findChildren(QMenu, "resultMenu"), timeout=2000)


def test_the_details_toolbar_copies_every_field(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "rust")
    window.results_view.selectRow(0)
    hit = window.results_view.selected_hit()
    assert hit is not None
    copies = {a.text(): a for a in window.area.copy_button.actions()}
    clipboard = QGuiApplication.clipboard()
    for text, expected in (("Copy id", str(hit.record.package.id)), ("Copy version", str(hit.record.package.version)),
                           ("Copy content hash", hit.record.package.content_hash),
                           ("Copy publisher key", base64.b64encode(hit.record.publisher).decode())):
        copies[text].trigger()
        assert clipboard.text() == expected, text


def test_links_open_in_the_browser_and_a_missing_link_is_disabled(qtbot: QtBot, window: MainWindow,
                                                                 browser: Browser) -> None:
    search(qtbot, window, "postgres")
    row, hit = row_of(window, "both")
    menu = right_click_row(qtbot, window, row)
    entry(menu, "Open homepage").trigger()
    entry(menu, "Open repository").trigger()
    menu.close()
    meta = hit.record.package.metadata
    assert browser.opened == [meta.homepage, meta.repository]
    actions = window.area.result_actions
    actions.set_hit(None)
    assert not actions.open_homepage.isEnabled() and not actions.copies["copy_id"].isEnabled()


def test_show_all_versions_searches_the_id_and_shows_only_that_package(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "rust")
    window.results_view.selectRow(0)
    hit = window.results_view.selected_hit()
    assert hit is not None
    name = hit.identity[0]
    with qtbot.waitSignal(window.session.finished, timeout=20000):
        window.area.result_actions.show_versions.trigger()
    view = window.results_view.model()
    assert window.search_bar.field.text() == name
    assert {view.index(r, 0).data() for r in range(view.rowCount())} == {name}
    assert window.results_model.rowCount() >= view.rowCount() >= 1
    assert window.area.filter_label.text().startswith(f"Every version of {name} found: {view.rowCount()} of ")


def test_show_this_publishers_packages_filters_by_the_whole_key(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "postgres")
    window.results_view.selectRow(0)
    hit = window.results_view.selected_hit()
    assert hit is not None
    window.area.toolbar.widgetForAction(window.area.result_actions.show_publisher).click()  # type: ignore[union-attr]
    view = window.results_view.model()
    keys = {view.index(r, 0).data(Qt.ItemDataRole.UserRole + 2).record.fingerprint for r in range(view.rowCount())}
    assert keys == {hit.record.fingerprint}
    assert view.rowCount() < window.results_model.rowCount()
    assert "Only packages signed by " in window.area.filter_label.text()
    window.area.clear_filter_button.click()
    assert view.rowCount() == window.results_model.rowCount()


@pytest.mark.parametrize("how", ["enter", "double-click"])
def test_enter_or_double_click_opens_the_details_with_the_focus(qtbot: QtBot, window: MainWindow, how: str) -> None:
    search(qtbot, window, "rust")
    view, splitter = window.results_view, window.splitter
    splitter.setSizes([sum(splitter.sizes()), 0])  # the user had collapsed the details
    assert splitter.sizes()[1] == 0
    view.setFocus()
    view.selectRow(2)
    if how == "enter":
        qtbot.keyClick(view, Qt.Key.Key_Return)
    else:
        at = view.visualRect(view.model().index(2, 2)).center()
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)  # a double-click's first click
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert splitter.sizes()[1] > 0 and window.details.hasFocus()
    hit = view.selected_hit()
    assert hit is not None and str(hit.record.package.id) in window.details.toPlainText()


def test_download_is_offered_but_disabled_for_a_record_without_archive(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "rust")
    window.results_view.selectRow(0)
    download = window.area.result_actions.download
    assert window.app is not None and window.app.sharing is not None  # sharing runs: only the record stops it
    assert download in window.area.toolbar.actions() and not download.isEnabled()
    assert "without a shared archive" in download.toolTip()


def test_showing_the_publishers_packages_keeps_the_result_selected_and_detailed(qtbot: QtBot, window: MainWindow) -> None:
    """Filtering by the selected result's publisher emptied the selection and the details pane."""
    search(qtbot, window, "postgres")
    window.results_view.selectRow(window.results_view.model().rowCount() - 1)
    hit = window.results_view.selected_hit()
    assert hit is not None and window.area.result_actions.hit is hit
    window.area.toolbar.widgetForAction(window.area.result_actions.show_publisher).click()  # type: ignore[union-attr]
    assert window.results_view.model().rowCount() < window.results_model.rowCount()
    assert window.results_view.selected_hit() is hit
    assert window.area.result_actions.hit is hit  # the details pane and its actions still show it
