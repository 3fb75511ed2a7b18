"""The peer reputation panel on its own: a real table fed from a real reputation book, right-clicked."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu, QWidget
from pytestqt.qtbot import QtBot

from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.gui.peers_panel import PeersPanel

# a popup menu on the offscreen platform: its notices, not ours
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (raise|grabbing the keyboard)")
PEERS = ("aa" * 20, "bb" * 20, "cc" * 20)


def shown_panel(qtbot: QtBot) -> PeersPanel:
    book = ReputationBook()
    for number, peer in enumerate(PEERS):
        book.record_success(peer, rtt_ms=10.0 * (number + 1), host="127.0.0.1", port=4000 + number)
    panel = PeersPanel()
    qtbot.addWidget(panel)
    panel.resize(600, 300)
    panel.show()
    qtbot.waitExposed(panel)
    panel.show_peers(book.snapshot())
    return panel


def right_click(widget: QWidget, pos: QPoint) -> None:
    """What the platform sends for a right-click (QTest's mouse clicks synthesize no context menu event)."""
    QApplication.sendEvent(widget, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos)))


def right_click_row(qtbot: QtBot, panel: PeersPanel, row: int) -> QMenu:
    view = panel.view
    pos = view.visualRect(view.model().index(row, 0)).center()
    right_click(view.viewport(), pos)
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=2000)
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    return menu


def test_right_click_offers_to_block_that_peer(qtbot: QtBot) -> None:
    panel = shown_panel(qtbot)
    menu = right_click_row(qtbot, panel, 0)
    peer = panel.model.peer(panel.proxy.mapToSource(panel.view.model().index(0, 0)).row())
    [action] = menu.actions()
    assert action.text() == f"Block peer {peer.peer_id[:12]}"
    with qtbot.waitSignal(panel.block_requested, timeout=2000) as blocker:
        action.trigger()
    assert blocker.args == [peer.peer_id, True]
    menu.close()


def test_each_context_menu_is_deleted_once_closed(qtbot: QtBot) -> None:
    """A menu per right-click used to stay behind as a hidden child of the panel, for the life of the window."""
    panel = shown_panel(qtbot)
    for row in (0, 1, 2, 0):
        menu = right_click_row(qtbot, panel, row)
        menu.close()
        qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None, timeout=2000)
    qtbot.waitUntil(lambda: not panel.findChildren(QMenu), timeout=2000)


def test_right_click_beside_the_rows_opens_no_menu(qtbot: QtBot) -> None:
    panel = shown_panel(qtbot)
    view = panel.view
    below = QPoint(10, view.visualRect(view.model().index(len(PEERS) - 1, 0)).bottom() + 20)
    right_click(view.viewport(), below)
    assert QApplication.activePopupWidget() is None and not panel.findChildren(QMenu)
