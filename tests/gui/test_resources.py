"""Bundled resources: icons load, forms load offscreen, the desktop entry is valid."""

from __future__ import annotations

import configparser
import shutil
import subprocess

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from ggen_desktop.gui.resources import APP_ICON, icon, load_ui, resource_path


def test_icons_load(qtbot: QtBot) -> None:
    for name in (APP_ICON, "warning", "search", "cancel", "single-source"):
        assert not icon(name).isNull(), name
        assert not icon(name).pixmap(32, 32).isNull(), name


@pytest.mark.parametrize("form", ["publish.ui", "settings.ui"])
def test_forms_load_offscreen(qtbot: QtBot, form: str) -> None:
    widget = load_ui(form)
    qtbot.addWidget(widget)
    assert isinstance(widget, QWidget) and widget.findChildren(QWidget)


def test_desktop_entry() -> None:
    path = resource_path("ggen-desktop.desktop")
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(path, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Exec"] == "ggen-desktop" and section["Icon"] == "ggen-desktop"
    assert section["Categories"] == "Network;P2P;"  # one main category: listed once in menus
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is not installed (package desktop-file-utils)")
    result = subprocess.run([validator, str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "", result.stdout  # not even a hint
