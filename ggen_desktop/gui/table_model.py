"""The one base for our read-only flat table models, and the compact look shared by their views.

Every table in the window (results, peers, trace, contacts, my packages) is a
list of row objects shown through a nested `Columns` enum with one header
each. The counting, headers, index checks and insert/change signalling live
here once; a model only says how one cell of one row reads (`cell`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import IntEnum
from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the invalid index: parent of every row in a flat table
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
# Roles as plain ints: comparing them in data() is several times cheaper than comparing enum members.
DISPLAY = Qt.ItemDataRole.DisplayRole.value
DECORATION = Qt.ItemDataRole.DecorationRole.value
TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole.value
RIGHT_ALIGNED = (Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value

RowT = TypeVar("RowT")


class ColumnTableModel(QAbstractTableModel, Generic[RowT]):
    """Rows of `RowT` under the columns of the subclass's nested `Columns` enum, titled by `HEADERS`."""

    Columns: ClassVar[type[IntEnum]]
    HEADERS: ClassVar[Sequence[str]]

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[RowT] = []
        self._column_count = len(self.Columns)

    def row_item(self, row: int) -> RowT:
        return self._rows[row]

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else self._column_count

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY and 0 <= section < self._column_count:
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        return self.cell(self._rows[index.row()], index.column(), role)

    def cell(self, item: RowT, column: int, role: int) -> Any:
        """What `role` of `column` reads for one row; None for roles the model does not serve."""
        raise NotImplementedError

    # -- changes, each as few signals as the views need ------------------------------
    def replace_rows(self, rows: list[RowT]) -> None:
        """A reset, for short lists that change rarely (a reset is then cheap and trivially correct)."""
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def append_rows(self, rows: Sequence[RowT]) -> None:
        """One insert signal for the whole batch, at the end: existing rows never move."""
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(ROOT, first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def rows_changed(self, first: int, last: int, first_column: int = 0, last_column: int | None = None) -> None:
        """One dataChanged span (rows and columns inclusive); the default is every column."""
        if first > last:
            return
        right = self._column_count - 1 if last_column is None else last_column
        self.dataChanged.emit(self.index(first, first_column), self.index(last, right))


def make_compact(view: QTableView) -> None:
    """Text-height rows, no row numbers, whole-row selection, Tab leaves the table: the same for every table."""
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setTabKeyNavigation(False)  # Tab moves to the next control, not to the next cell
    view.setWordWrap(False)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    vertical = view.verticalHeader()
    vertical.hide()
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row measuring
    vertical.setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setHighlightSections(False)
