"""Small read-only tables for the node and publish panels: routing contacts and my packages."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the invalid index: parent of every row in a flat table


class RowsModel(QAbstractTableModel):
    """A table of plain tuples of text; `set_rows` resets only when the content really changed.

    Contacts and my packages are short lists that change rarely, so a reset on
    change is cheap and keeps these models trivially correct.
    """

    def __init__(self, headers: Sequence[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._headers = tuple(headers)
        self._rows: list[tuple[str, ...]] = []

    def set_rows(self, rows: list[tuple[str, ...]]) -> None:
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def row(self, row: int) -> tuple[str, ...]:
        return self._rows[row]

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self._headers):
            return self._headers[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._rows[index.row()][index.column()]
        return None


class ContactsModel(RowsModel):
    class Columns(IntEnum):
        PEER = 0
        ADDRESS = 1

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(("Peer id", "Address"), parent)


class MyPackagesModel(RowsModel):
    class Columns(IntEnum):
        NAME = 0
        VERSION = 1
        PUBLISHED = 2
        REPUBLISHED = 3
        REPLICAS = 4

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(("Name", "Version", "Published", "Last republished", "Replicas"), parent)

