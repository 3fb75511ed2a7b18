"""Open the main window on whatever screen the offscreen platform was given, and print its geometry as JSON.

Run by tests/gui/test_screens.py in a subprocess, because a screen's size is fixed when the
QApplication starts: `QT_QPA_PLATFORM=offscreen:configfile=screen.json python geometry_probe.py CONFIG_DIR [W H]`;
with W H the user resizes the window to that size before closing it (and the size is saved).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTabBar

from ggen_desktop.gui.main_window import MainWindow


def main() -> None:
    qapp = QApplication(sys.argv[:1])
    window = MainWindow(Path(sys.argv[1]))
    window.show()
    window.area.setCurrentWidget(window.area.results_page)  # the table as it is once a search ran
    for _ in range(10):
        qapp.processEvents()
    view = window.results_view
    dock = next(d for d in window.docks.values() if not d.visibleRegion().isEmpty())
    tabbed = sum(window.dockWidgetArea(d) == Qt.DockWidgetArea.RightDockWidgetArea for d in window.docks.values())
    tabs = next(bar for bar in window.findChildren(QTabBar) if bar.isVisible() and bar.count() == tabbed)
    print(json.dumps({
        "available": window.screen().availableGeometry().getRect(),
        "frame": window.frameGeometry().getRect(),
        "dock_width": dock.width(),
        "columns_width": view.horizontalHeader().length(),
        "table_width": view.viewport().width(),
        "tab_titles": [tabs.tabText(i) for i in range(tabs.count())],
        "tabs_width": sum(tabs.tabRect(i).width() for i in range(tabs.count())),
        "tab_bar_width": tabs.width(),
        "tabs_elided": tabs.elideMode() != Qt.TextElideMode.ElideNone,
        # a tab narrower or lower than its title's text is clipped, whatever the elide mode says
        "tabs_clipped": [tabs.tabText(i) for i in range(tabs.count())
                         if tabs.tabRect(i).width() < tabs.fontMetrics().horizontalAdvance(tabs.tabText(i))
                         or tabs.tabRect(i).height() < tabs.fontMetrics().height()],
        "tabs_visible": tabs.isVisible() and all(tabs.rect().contains(tabs.tabRect(i)) for i in range(tabs.count())),
        "device_pixel_ratio": window.devicePixelRatio(),
    }))
    if len(sys.argv) == 4:
        window.resize(int(sys.argv[2]), int(sys.argv[3]))
        qapp.processEvents()
    window.close()


if __name__ == "__main__":
    main()
