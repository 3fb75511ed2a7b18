"""Small read-only tables for the node and publish panels: routing contacts, transport counters, my packages."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from PySide6.QtCore import Qt

from ggen_desktop.gui.table_model import ColumnTableModel

TEXT_ROLES = frozenset((Qt.ItemDataRole.DisplayRole.value, Qt.ItemDataRole.ToolTipRole.value))


class RowsModel(ColumnTableModel[tuple[str, ...]]):
    """A table of plain tuples of text; `set_rows` resets only when the content really changed.

    Contacts and my packages are short lists that change rarely, so a reset on
    change is cheap and keeps these models trivially correct.
    """

    def set_rows(self, rows: list[tuple[str, ...]]) -> None:
        if rows != self._rows:
            self.replace_rows(rows)

    def row(self, row: int) -> tuple[str, ...]:
        return self.row_item(row)

    def cell(self, item: tuple[str, ...], column: int, role: int) -> Any:
        return item[column] if role in TEXT_ROLES else None


class ContactsModel(RowsModel):
    class Columns(IntEnum):
        PEER = 0
        ADDRESS = 1

    HEADERS = ("Peer id", "Address")


class MyPackagesModel(RowsModel):
    class Columns(IntEnum):
        NAME = 0
        VERSION = 1
        PUBLISHED = 2
        REPUBLISHED = 3
        REPLICAS = 4

    HEADERS = ("Name", "Version", "Published", "Last republished", "Replicas")


class CountersModel(RowsModel):
    class Columns(IntEnum):
        COUNTER = 0
        VALUE = 1

    HEADERS = ("Transport counter", "Value")

    def set_counters(self, counters: dict[str, int]) -> None:
        self.set_rows([(name.replace("_", " ").capitalize(), f"{value:,}") for name, value in sorted(counters.items())])
