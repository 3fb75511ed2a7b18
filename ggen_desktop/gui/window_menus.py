"""The main window's menu bar: every command with its shortcuts, shown in the menus so they can be learnt there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu

from ggen_desktop import __version__
from ggen_desktop.gui.window_docks import PANEL_TITLES

if TYPE_CHECKING:
    from ggen_desktop.gui.main_window import MainWindow


@dataclass(frozen=True)
class WindowActions:
    publish: QAction
    settings: QAction
    quit: QAction
    focus: QAction
    again: QAction
    cancel: QAction
    more: QAction
    about: QAction
    docks: tuple[QAction, ...]
    dock_widgets: tuple[QDockWidget, ...]

    def sync_docks(self) -> None:
        """Each panel's check mark says whether it is open (in front or behind a tab), whatever changed it."""
        for action, dock in zip(self.docks, self.dock_widgets, strict=True):
            action.setChecked(not dock.isHidden())


def _action(window: MainWindow, menu: QMenu, text: str, slot: Callable[..., object],
            shortcuts: list[QKeySequence | str], tip: str) -> QAction:
    """An action in a menu that also works while the menu bar is closed (a window-wide shortcut)."""
    action = QAction(text, window)
    action.setShortcuts([QKeySequence(s) if isinstance(s, str) else s for s in shortcuts])
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(slot)
    action.setStatusTip(tip)
    menu.addAction(action)
    window.addAction(action)
    return action


def _dock_actions(window: MainWindow, menu: QMenu) -> tuple[QAction, ...]:
    """Alt+1… bring a panel to the front with the focus, or close it; checked while the panel is open."""
    actions = []
    for number, (name, dock) in enumerate(window.docks.items(), start=1):
        title = PANEL_TITLES[name][1]
        action = _action(window, menu, title, partial(window.toggle_dock, dock), [f"Alt+{number}"],
                         f"Bring the {title} panel to the front, or close it")
        action.setCheckable(True)
        action.setChecked(not dock.isHidden())
        # closed by its title bar button, or opened again by Qt: the mark follows
        dock.toggleViewAction().toggled.connect(lambda _on, action=action, dock=dock: action.setChecked(not dock.isHidden()))
        actions.append(action)
    return tuple(actions)


def build_menus(window: MainWindow) -> WindowActions:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    publish = _action(window, file_menu, "&Publish a package…", window.show_publish, ["Ctrl+Shift+P"],
                      "Open the package form to sign and publish a package")
    # Ctrl+, first: the menu shows the first shortcut, and the platform's Preferences key may be empty
    settings = _action(window, file_menu, "&Settings…", window.show_settings,
                       ["Ctrl+,", QKeySequence(QKeySequence.StandardKey.Preferences)],
                       "Search timeouts, listening port, bootstrap peers")
    file_menu.addSeparator()
    quit_ = _action(window, file_menu, "&Quit", window.close, ["Ctrl+Q"], "Shut the node down and quit")
    search_menu = bar.addMenu("&Search")
    focus = _action(window, search_menu, "&Focus search field", window.search_bar.focus_text, ["Ctrl+L", "Ctrl+F"],
                    "Type a new search")
    again = _action(window, search_menu, "Search &again", window.search, ["F5", "Ctrl+R"],
                    "Run the search in the fields again")
    cancel = _action(window, search_menu, "&Cancel search", window.cancel_search, ["Esc"],
                     "Stop asking peers; results so far stay")
    more = _action(window, search_menu, "Load &more results", window.area.load_more, ["Ctrl+M"],
                   "The next page of this search, from the same lookup")
    docks = _dock_actions(window, bar.addMenu("&View"))
    about = _action(window, bar.addMenu("&Help"), f"&About ggen-desktop {__version__}", window.show_about, ["F1"],
                    "Version, data and settings folders")
    return WindowActions(publish, settings, quit_, focus, again, cancel, more, about, docks,
                         tuple(window.docks.values()))
