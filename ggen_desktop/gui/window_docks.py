"""The side panels as tabbed docks: built once, raised and focused from the keyboard, sized to the screen.

Alt+N must leave the user able to type in the panel it brings forward, so a
raised panel also gets the keyboard focus (its first control). On a first
start the window is fitted to the screen's available area and the docks take
a share of it, so a small screen still shows the result columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QTabBar, QWidget

DEFAULT_SIZE = QSize(1280, 800)
SCREEN_SHARE = 0.95  # of the available area, at most, on a first start (room for the frame)
DOCK_SHARE = 0.28  # of the window's width for the docks on a first start
DOCK_WIDTH = 390  # at most: room for the docks' tables, the rest for the results
MIN_DOCK_WIDTH = 200
# name: (tab title, menu title). Tabs get short titles: four of them share a quarter of a small window.
PANEL_TITLES = {
    "metrics": ("Metrics", "Query metrics"),
    "peers": ("Peers", "Peer reputation"),
    "publish": ("Publish", "Publish"),
    "node": ("Node", "Node"),
    "transfers": ("Transfers", "Transfers"),
}


def build_docks(window: QMainWindow, panels: dict[str, QWidget], scrolling: Iterable[str] = (),
                bottom: Iterable[str] = ()) -> dict[str, QDockWidget]:
    """One dock per panel (named as in PANEL_TITLES) on the right, tabbed together, the first one in front.

    The panels named in `scrolling` are long forms: they scroll up and down in a short dock
    instead of squeezing their rows together. Those in `bottom` (wide tables, like the transfers)
    go under the results instead, hidden until first asked for.
    """
    docks: dict[str, QDockWidget] = {}
    scroll, below = set(scrolling), set(bottom)
    for name, widget in panels.items():
        tab_title, menu_title = PANEL_TITLES[name]
        dock = QDockWidget(tab_title, window)
        dock.setObjectName(f"{name}Dock")
        dock.setAccessibleName(f"{menu_title} panel")
        if name in scroll:
            scroller = QScrollArea()
            scroller.setWidgetResizable(True)
            scroller.setFrameShape(QFrame.Shape.NoFrame)
            scroller.setWidget(widget)
            dock.setWidget(scroller)
        else:
            dock.setWidget(widget)
        if name in below:
            window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            dock.hide()
        else:
            window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        docks[name] = dock
    ordered = [dock for name, dock in docks.items() if name not in below]
    for left, right in pairwise(ordered):
        window.tabifyDockWidget(left, right)
    ordered[0].raise_()
    return docks


def readable_tabs(window: QMainWindow) -> None:
    """Panel tabs show their whole title (Qt's default cuts it to "Quer…" in a narrow dock area)."""
    for bar in window.findChildren(QTabBar):
        bar.setElideMode(Qt.TextElideMode.ElideNone)


def focus_panel(dock: QDockWidget) -> None:
    """Bring a panel to the front and put the keyboard focus on its first control in Tab order."""
    dock.show()
    dock.raise_()
    content = dock.widget()
    walker = content.nextInFocusChain()
    while walker is not None and walker is not content:  # the chain is a ring through the whole window
        if (content.isAncestorOf(walker) and walker.isVisibleTo(dock) and walker.isEnabled()
                and walker.focusPolicy() & Qt.FocusPolicy.TabFocus):
            walker.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return
        walker = walker.nextInFocusChain()
    content.setFocus(Qt.FocusReason.ShortcutFocusReason)


def first_run_geometry(available: QRect, preferred: QSize = DEFAULT_SIZE) -> QRect:
    """The preferred size, shrunk to fit the screen's available area (minus a margin), centred in it."""
    width = min(preferred.width(), int(available.width() * SCREEN_SHARE))
    height = min(preferred.height(), int(available.height() * SCREEN_SHARE))
    geometry = QRect(0, 0, width, height)
    geometry.moveCenter(available.center())
    return geometry


def first_run_dock_width(window_width: int) -> int:
    """The docks' share of the window: a proportion, within limits."""
    return max(MIN_DOCK_WIDTH, min(DOCK_WIDTH, int(window_width * DOCK_SHARE)))


def available_area(window: QWidget) -> QRect:
    """The available geometry of the screen the window is on (the primary screen before it is shown)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()
