"""The results table's sort and filter layer: the shown order kept as a list of model rows, new rows placed by bisection.

Qt's QSortFilterProxyModel places each inserted row by binary search too, but then remaps its whole
source-to-proxy table and tells the view about every insertion point apart: at 10,000 sorted rows a
batch cost ~1.5 ms per row. Here a batch is one insert at the end of the table, then one layout
change that moves the new rows into place, persistent indexes (the selection, the current row)
following them. The work is a bisection per row on the cached sort keys and one copy of two lists,
both in C. It is a table model of its own (not a QAbstractProxyModel), so index(), parent() and
flags(), which a repaint asks for every cell, stay in C++; only data() is Python, as with the model.

The model only ever appends rows, changes cells in place, or resets (`ResultsModel`), so those are
the changes followed here. Sorted by Sources, whose keys change as results gain sources, the rows of a
batch that changed leave their places and are placed again by bisection, as new rows are (a full
re-sort per batch read every row's key in Python: ~50 ms a batch at 100,000 rows). A filter change
keeps the selection and current row on their results while those still pass (a reset cleared them).
"""

from __future__ import annotations

import itertools
import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QAbstractTableModel, QModelIndex, QObject, Qt

from ggen_desktop.core.search import SearchHit
from ggen_desktop.gui.results_model import SERVED_ROLES, SOURCES_COLUMN, ResultsModel, spans
from ggen_desktop.gui.table_model import DISPLAY, ROOT, Index

UNSORTED = -1
# Rows move, come and go, columns never: the horizontal header keeps its sections (without the hint it
# re-laid them out and resized the stretched last one, repainting the whole table for every batch).
ROWS_ONLY = QAbstractItemModel.LayoutChangeHint.VerticalSortHint
WITH_HINT = ("QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint")  # the signals' overload


class ResultsProxy(QAbstractTableModel):
    """Sorted (by the model's cached column keys) or arrival order, and optionally filtered, view of a ResultsModel.

    Rows are kept in `_asc` ascending by key (ties in arrival order; in reverse arrival order when
    the view is descending, so that reading `_asc` backwards keeps ties in arrival order): (key, row),
    or (key, -row) descending, strictly increases along `_asc`, so a placed row is found by bisection.
    Rows just inserted and not yet placed sit in `_tail`, after the placed ones.
    """

    def __init__(self, model: ResultsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._accept: Callable[[SearchHit], bool] | None = None
        self._column = UNSORTED
        self._descending = False
        self._asc: list[int] = []  # model rows in ascending key order (arrival order when unsorted)
        self._asc_keys: list[Any] = []  # their keys, for bisection (empty when unsorted)
        self._tail: list[int] = []
        self._live: list[Any] = []  # by model row, the live column's keys the rows were placed under
        self._shown_row_of: dict[int, int] | None = None  # model row -> shown row, built when first asked
        self._changed_from: int | None = None  # the first shown row that moved since `take_changed_from`
        model.modelAboutToBeReset.connect(self.beginResetModel)
        model.modelReset.connect(self._model_reset)
        model.rowsInserted.connect(self._rows_inserted)
        model.dataChanged.connect(self._data_changed)
        model.sources_changed.connect(self._sources_changed)
        self._rebuild()

    # -- the shown order -------------------------------------------------------------------
    def source_row(self, row: int) -> int:
        """The model row shown at `row`."""
        placed = len(self._asc)
        if row >= placed:
            return self._tail[row - placed]
        return self._asc[placed - 1 - row] if self._descending else self._asc[row]

    def mapToSource(self, index: Index) -> QModelIndex:
        if not index.isValid():
            return QModelIndex()
        return self._model.index(self.source_row(index.row()), index.column())

    def mapFromSource(self, index: Index) -> QModelIndex:
        if not index.isValid():
            return QModelIndex()
        if self._shown_row_of is None:  # built in C, not a Python call per row: a filtered view needs it every batch
            placed = reversed(self._asc) if self._descending else iter(self._asc)
            self._shown_row_of = dict(zip(itertools.chain(placed, self._tail), range(self.rowCount()), strict=True))
        row = self._shown_row_of.get(index.row())
        return QModelIndex() if row is None else self.index(row, index.column())

    def take_changed_from(self) -> int | None:
        """The first shown row that may have moved or come in since the last call (rows above it are as they
        were); None when nothing did. The view repaints the rows on screen only when some are past it."""
        changed_from, self._changed_from = self._changed_from, None
        return changed_from

    def _changed(self, shown_row: int) -> None:
        self._changed_from = shown_row if self._changed_from is None else min(self._changed_from, shown_row)

    def sortOrder(self) -> Qt.SortOrder:
        return Qt.SortOrder.DescendingOrder if self._descending else Qt.SortOrder.AscendingOrder

    # -- QAbstractTableModel ---------------------------------------------------------------
    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._asc) + len(self._tail)

    def columnCount(self, parent: Index = ROOT) -> int:
        return self._model.columnCount(parent)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> Any:
        return self._model.headerData(section, orientation, role)

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        # Hot path (a repaint asks 7 roles of every visible cell): the roles the model never answers end here.
        if role not in SERVED_ROLES or not index.isValid():
            return None
        return self._model.cell_data(self.source_row(index.row()), index.column(), role)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Re-sort every row (a header click); column -1 is arrival order. Selection and current row follow."""
        self._column = column if 0 <= column < self.columnCount() else UNSORTED
        self._descending = order == Qt.SortOrder.DescendingOrder and self._column != UNSORTED
        self._relayout(self._order(self._accepted(range(self._model.rowCount()))))

    def set_row_filter(self, accept: Callable[[SearchHit], bool] | None) -> None:
        """Show only the results `accept` keeps (None: all of them); the selection and current row stay on
        their results that still pass, and go with those that do not."""
        self._accept = accept
        self._relayout(self._order(self._accepted(range(self._model.rowCount()))))

    # -- following the model -------------------------------------------------------------------
    def _model_reset(self) -> None:
        self._rebuild()
        self.endResetModel()

    def _rebuild(self) -> None:
        self._asc, self._asc_keys = self._order(self._accepted(range(self._model.rowCount())))
        self._tail = []
        self._shown_row_of = None
        self._changed(0)

    def _rows_inserted(self, parent: Index, first: int, last: int) -> None:
        new = self._accepted(range(first, last + 1))
        if not new:
            return
        shown = self.rowCount()
        self.beginInsertRows(ROOT, shown, shown + len(new) - 1)
        self._shown_row_of = None
        if self._column == UNSORTED:
            self._changed(shown)
            self._asc.extend(new)  # arrival order: appended rows are already in place
            self.endInsertRows()
            return
        self._tail = new
        self.endInsertRows()
        self._place_tail()

    def _sources_changed(self, rows: list[int]) -> None:
        """A batch changed these rows' Sources (their dataChanged spans follow): filtered in or out, or moved."""
        if not self._refilter(rows) and self._column == SOURCES_COLUMN:
            self._move(rows)

    def _data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, roles: Sequence[int] = ()) -> None:
        if not top_left.column() == bottom_right.column() == SOURCES_COLUMN:  # Sources: `_sources_changed` did
            self._refilter(range(top_left.row(), bottom_right.row() + 1))
        # one span per run of shown rows: the view repaints the cells on screen among them, and nothing for
        # rows off screen (one span over every shown row repainted the whole table for each batch)
        shown = sorted(r for r in map(self._shown_row, range(top_left.row(), bottom_right.row() + 1)) if r is not None)
        for first, last in spans(shown):
            self.dataChanged.emit(self.index(first, top_left.column()), self.index(last, bottom_right.column()), list(roles))

    def _refilter(self, rows: Sequence[int]) -> bool:
        """Whether one of `rows` came in or went out of the filter; the view is then rebuilt (rare)."""
        if self._accept is None or all(self._shown(r) == self._accept(self._model.hit(r)) for r in rows):
            return False
        self.set_row_filter(self._accept)
        return True

    def _shown(self, source_row: int) -> bool:
        return self._shown_row_of_map(source_row) is not None

    def _shown_row(self, source_row: int) -> int | None:
        """Where a model row is shown (None: filtered out); by bisection when sorted, so no map of every row."""
        if self._column == UNSORTED:
            return source_row if self._accept is None else self._shown_row_of_map(source_row)
        place = self._place_of(source_row, self._keys()[source_row])
        if place >= len(self._asc) or self._asc[place] != source_row:
            return None
        return len(self._asc) - 1 - place if self._descending else place

    def _shown_row_of_map(self, source_row: int) -> int | None:
        shown = self.mapFromSource(self._model.index(source_row, 0))
        return shown.row() if shown.isValid() else None

    def _layout_about_to_change(self) -> None:
        self.layoutAboutToBeChanged[WITH_HINT].emit([], ROWS_ONLY)  # type: ignore[index]

    def _layout_changed(self) -> None:
        self.layoutChanged[WITH_HINT].emit([], ROWS_ONLY)  # type: ignore[index]

    # -- ordering ------------------------------------------------------------------------------
    def _accepted(self, rows: range) -> list[int]:
        accept, hit = self._accept, self._model.hit
        return list(rows) if accept is None else [r for r in rows if accept(hit(r))]

    def _keys(self, refresh: bool = False) -> list[Any]:
        """Every model row's key in the sort column. A live column's (Sources) are the keys the rows were
        placed under, kept here: read afresh for a full sort (`refresh`), read for new rows, and changed
        with the rows that move (`_move`)."""
        keys = self._model.column_keys(self._column)
        if keys is not None:
            return keys
        live, key, column = self._live, self._model.sort_key, self._column
        if refresh:
            live.clear()
        live.extend([key(r, column) for r in range(len(live), self._model.rowCount())])
        return live

    def _order(self, rows: list[int]) -> tuple[list[int], list[Any]]:
        """`rows` in ascending key order, and their keys; ties in arrival order (reversed when descending)."""
        if self._column == UNSORTED:
            return rows, []
        keys = self._keys(refresh=True)
        ordered = sorted(reversed(rows) if self._descending else rows, key=keys.__getitem__)
        return ordered, [keys[r] for r in ordered]

    def _place_tail(self) -> None:
        """Move the rows just inserted at the end to their sorted places: one layout change for the batch."""
        keys = self._keys()
        tail = sorted(self._tail, key=lambda r: (keys[r], -r if self._descending else r))
        place = bisect_left if self._descending else bisect_right
        positions = [place(self._asc_keys, keys[r]) for r in tail]  # non-decreasing, in the old list
        asc, asc_keys = self._merged(tail, positions, keys)
        placed_at = {row: position + i for i, (position, row) in enumerate(zip(positions, tail, strict=True))}
        old_placed = len(self._asc)
        self._changed(len(asc) - 1 - max(placed_at.values()) if self._descending else positions[0])

        def new_asc_index(shown_row: int) -> int:
            if shown_row >= old_placed:
                return placed_at[self._tail[shown_row - old_placed]]
            old = old_placed - 1 - shown_row if self._descending else shown_row
            return old + bisect_right(positions, old)

        self._layout_about_to_change()
        persistent = self.persistentIndexList()
        moved = [new_asc_index(index.row()) for index in persistent]
        self._asc, self._asc_keys, self._tail = asc, asc_keys, []
        self._shown_row_of = None
        total = len(asc)
        self.changePersistentIndexList(persistent, [self.index(total - 1 - a if self._descending else a, index.column())
                                                    for a, index in zip(moved, persistent, strict=True)])
        self._layout_changed()

    def _relayout(self, order: tuple[list[int], list[Any]]) -> None:
        """Show every row in a new order (same rows): persistent indexes follow their model rows."""

        def rearrange() -> Callable[[int, int], QModelIndex]:
            self._asc, self._asc_keys = order
            self._tail = []
            self._shown_row_of = None
            self._changed(0)
            return lambda source, column: self.mapFromSource(self._model.index(source, column))

        self._rearranged(rearrange)

    def _rearranged(self, rearrange: Callable[[], Callable[[int, int], QModelIndex]]) -> None:
        """One layout change around `rearrange()`, which changes the shown order and returns where a model row
        (in a column) is shown after it: the persistent indexes (selection, current row) follow their results."""
        self._layout_about_to_change()
        persistent = self.persistentIndexList()
        sources = [self.source_row(index.row()) for index in persistent]
        shown_at = rearrange()
        self.changePersistentIndexList(persistent, [shown_at(s, index.column())
                                                    for s, index in zip(sources, persistent, strict=True)])
        self._layout_changed()

    def _merged(self, rows: list[int], positions: list[int], keys: list[Any]) -> tuple[list[int], list[Any]]:
        """`_asc` and its keys with `rows` spliced in at `positions` (non-decreasing): slices copied in C."""
        asc: list[int] = []
        asc_keys: list[Any] = []
        start = 0
        for position, row in zip(positions, rows, strict=True):
            asc += self._asc[start:position]
            asc_keys += self._asc_keys[start:position]
            asc.append(row)
            asc_keys.append(keys[row])
            start = position
        asc += self._asc[start:]
        asc_keys += self._asc_keys[start:]
        return asc, asc_keys

    def _place_of(self, row: int, key: Any) -> int:
        """Where `row`, under `key`, is or would be in `_asc`: among its key's ties, by arrival."""
        low = bisect_left(self._asc_keys, key)
        high = bisect_right(self._asc_keys, key, low)
        if self._descending:
            return bisect_left(self._asc, -row, low, high, key=operator.neg)
        return bisect_left(self._asc, row, low, high)

    def _move(self, rows: list[int]) -> None:
        """Rows whose live key changed leave their places and are placed again: one layout change for all."""
        live, key, column = self._keys(), self._model.sort_key, self._column
        leaving: list[int] = []  # their places in `_asc`
        moving: list[int] = []
        for row in rows:
            new = key(row, column)
            if new == live[row]:
                continue
            place = self._place_of(row, live[row])
            if place < len(self._asc) and self._asc[place] == row:  # shown (not filtered out)
                leaving.append(place)
                moving.append(row)
            live[row] = new
        if not moving:
            return

        def rearrange() -> Callable[[int, int], QModelIndex]:
            leaving.sort()
            last = len(self._asc) - 1
            self._changed(last - leaving[-1] if self._descending else leaving[0])
            self._asc, self._asc_keys = without(self._asc, leaving), without(self._asc_keys, leaving)
            moving.sort(key=lambda r: (live[r], -r if self._descending else r))
            positions = [self._place_of(r, live[r]) for r in moving]
            self._asc, self._asc_keys = self._merged(moving, positions, live)
            self._shown_row_of = None
            self._changed(last - (positions[-1] + len(positions) - 1) if self._descending else positions[0])

            def shown_at(source: int, column: int) -> QModelIndex:
                place = self._place_of(source, live[source])
                return self.index(last - place if self._descending else place, column)

            return shown_at

        self._rearranged(rearrange)

def without(items: list[Any], places: list[int]) -> list[Any]:
    """`items` without the entries at `places` (sorted): the slices between them, copied in C."""
    bounds = zip([-1, *places], [*places, len(items)], strict=True)
    return list(itertools.chain.from_iterable(items[a + 1:b] for a, b in bounds))
