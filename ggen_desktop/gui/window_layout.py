"""What the user arranged in the window, kept across sessions: geometry, docks, splitter, columns and sort order.

Stored with QSettings in an ini file in the config folder; Qt's own state blobs,
so a file from another Qt version or a damaged one is ignored piece by piece.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

WINDOW_SETTINGS_FILE = "window.ini"

Save = Callable[[], QByteArray]
Restore = Callable[[QByteArray], bool]


class WindowLayout:
    """Each part is a key in the ini file with the widget's own save and restore (e.g. `saveGeometry`)."""

    def __init__(self, config_dir: Path, parts: dict[str, tuple[Save, Restore]]) -> None:
        self.path = Path(config_dir) / WINDOW_SETTINGS_FILE
        self.parts = parts

    def _store(self) -> QSettings:
        return QSettings(str(self.path), QSettings.Format.IniFormat)

    def restore(self) -> set[str]:
        """Restore every part saved last time; returns the keys that were (the others keep their defaults)."""
        store = self._store()
        restored = set()
        for key, (_save, restore) in self.parts.items():
            value = store.value(key)
            if isinstance(value, QByteArray) and not value.isEmpty() and restore(value):
                restored.add(key)
        return restored

    def save(self) -> None:
        store = self._store()
        for key, (save, _restore) in self.parts.items():
            store.setValue(key, save())
        store.sync()
