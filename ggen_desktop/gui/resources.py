"""Paths and loaders for bundled icons, forms and the stylesheet, found through importlib.resources.

Going through `importlib.resources` makes the same code work from a source tree,
an installed wheel and a frozen bundle.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from typing import TypeVar

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)
W = TypeVar("W", bound=QWidget)

APP_ICON = "ggen-desktop.svg"


def resource_path(name: str) -> Path:
    """A bundled data file as a real path (resources are plain files in every layout we ship)."""
    with as_file(files("ggen_desktop.resources").joinpath(name)) as path:
        return Path(path)


def ui_path(name: str) -> Path:
    with as_file(files("ggen_desktop.ui").joinpath(name)) as path:
        return Path(path)


@cache
def icon(name: str) -> QIcon:
    """An SVG icon from resources/icons (or the app icon), cached because views ask for it per row."""
    path = resource_path(name if name == APP_ICON else f"icons/{name}.svg")
    if not path.exists():
        log.warning("icon %s is missing", path)
        return QIcon()
    return QIcon(str(path))


def load_ui(name: str, parent: QWidget | None = None) -> QWidget:
    """Build a widget tree from a Qt Designer form in ggen_desktop/ui.

    Loaded from a file path: QUiLoader on an in-memory QBuffer crashed offscreen
    in PySide6 6.12 during our checks.
    """
    from PySide6.QtUiTools import (
        QUiLoader,  # only forms need the loader; keep start-up light
    )

    loader = QUiLoader()
    widget = loader.load(str(ui_path(name)), parent)
    if widget is None:
        raise RuntimeError(f"cannot load form {name}: {loader.errorString()}")
    return widget


def child(form: QWidget, kind: type[W], name: str) -> W:
    """A named widget of a loaded form; a renamed or missing one is a clear error, not a None later."""
    widget = form.findChild(kind, name)
    if widget is None:
        raise RuntimeError(f"form {form.objectName()} has no {kind.__name__} named {name!r}")
    return widget
