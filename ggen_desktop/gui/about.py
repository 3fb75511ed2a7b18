"""The About box: version, what this is, and where its files are."""

from __future__ import annotations

import html
import sys
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from ggen_desktop import __version__

ICON_SIZE = 64


def about_text(data_dir: Path | None, config_dir: Path | None) -> str:
    e = html.escape
    return (
        f"<h3>ggen-desktop {e(__version__)}</h3>"
        "<p>A desktop browser and node for the ggen peer-to-peer package marketplace: "
        "search signed packages across a Kademlia network, watch every query, publish your own.</p>"
        f"<p>Python {e(sys.version.split()[0])} · PySide6 {e(pyside_version)}</p>"
        f"<p>Data: <code>{e(str(data_dir or '–'))}</code><br>Settings: <code>{e(str(config_dir or '–'))}</code></p>"
    )


def show_about(parent: QWidget, data_dir: Path | None, config_dir: Path | None) -> QMessageBox:
    """Open the box the way `QMessageBox.about` lays it out (the app icon beside the text), but without
    blocking: the node keeps answering peers while it is open. It is deleted once closed."""
    box = QMessageBox(QMessageBox.Icon.NoIcon, f"About ggen-desktop {__version__}", about_text(data_dir, config_dir),
                      QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("aboutBox")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window_icon = box.windowIcon()
    box.setIconPixmap(window_icon.pixmap(window_icon.actualSize(QSize(ICON_SIZE, ICON_SIZE))))
    box.open()
    return box
