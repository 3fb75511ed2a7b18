"""The search results table: one row per distinct (name, version, publisher), filled in batches.

Rows are only ever appended (in arrival order) while a query streams, so an
unsorted view never moves rows under the user. A known result that gains a
source changes in place (dataChanged on its Sources cell). A name published by
two different keys keeps separate rows, each flagged with a warning.
"""

from __future__ import annotations

import logging
from enum import IntEnum
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from ggen_desktop.core.search import SearchEvent, SearchHit
from ggen_desktop.gui.resources import icon

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the invalid index: parent of every row in a flat table
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
HIT_ROLE = Qt.ItemDataRole.UserRole + 2
# plain ints: comparing them is several times cheaper than comparing enum members in data()
DISPLAY = Qt.ItemDataRole.DisplayRole.value
DECORATION = Qt.ItemDataRole.DecorationRole.value
TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole.value
RIGHT_ALIGNED = (Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value


class ResultsModel(QAbstractTableModel):
    """Thin, typed table over SearchHits; the owner feeds it whole batches of SearchEvents."""

    class Columns(IntEnum):
        NAME = 0
        VERSION = 1
        TITLE = 2
        PUBLISHER = 3
        CATEGORIES = 4
        TAGS = 5
        SOURCES = 6
        ARRIVAL = 7

    HEADERS: ClassVar[dict[Columns, str]] = {
        Columns.NAME: "Name",
        Columns.VERSION: "Version",
        Columns.TITLE: "Title",
        Columns.PUBLISHER: "Publisher",
        Columns.CATEGORIES: "Categories",
        Columns.TAGS: "Tags",
        Columns.SOURCES: "Sources",
        Columns.ARRIVAL: "Arrived (ms)",
    }

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.query_id: str | None = None
        self._hits: list[SearchHit] = []
        # per-row caches filled on first use (only visible rows are ever displayed; keys only when sorted);
        # the Sources column is always live
        self._text: list[tuple[str, ...] | None] = []
        self._keys: list[tuple[Any, ...] | None] = []
        self._row_of: dict[tuple[str, str, str], int] = {}
        self._publishers: dict[str, set[str]] = {}  # package name -> publisher fingerprints

    # -- feeding -----------------------------------------------------------------
    def reset(self, query_id: str | None) -> None:
        """Empty the table for a new query; later batches for any other query id are dropped."""
        self.beginResetModel()
        self.query_id = query_id
        self._hits.clear()
        self._text.clear()
        self._keys.clear()
        self._row_of.clear()
        self._publishers.clear()
        self.endResetModel()

    def add_events(self, events: list[SearchEvent]) -> int:
        """Apply one batch: one beginInsertRows for all new rows, one dataChanged per changed span.

        Returns the number of rows added. Events of another query are stale and ignored.
        """
        new: list[SearchHit] = []
        changed_rows: set[int] = set()
        conflicted: set[str] = set()
        seen_new: set[tuple[str, str, str]] = set()
        for event in events:
            if event.query_id != self.query_id:
                continue
            identity = event.hit.identity
            row = self._row_of.get(identity)
            if row is not None:
                changed_rows.add(row)  # the hit object is shared: its sources are already updated
                continue
            if identity in seen_new:
                continue
            seen_new.add(identity)
            new.append(event.hit)
            name = identity[0]
            keys = self._publishers.setdefault(name, set())
            keys.add(identity[2])
            if len(keys) > 1:
                conflicted.add(name)
        if new:
            first = len(self._hits)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for offset, hit in enumerate(new):
                self._row_of[hit.identity] = first + offset
            self._hits.extend(new)
            self._text.extend([None] * len(new))
            self._keys.extend([None] * len(new))
            self.endInsertRows()
        if changed_rows:
            column = self.Columns.SOURCES
            self.dataChanged.emit(self.index(min(changed_rows), column), self.index(max(changed_rows), column))
        if conflicted:
            rows = [r for r, h in enumerate(self._hits) if h.identity[0] in conflicted]
            self.dataChanged.emit(self.index(min(rows), self.Columns.NAME), self.index(max(rows), self.Columns.NAME))
        return len(new)

    # -- reading -----------------------------------------------------------------
    def hit(self, row: int) -> SearchHit:
        return self._hits[row]

    def publishers_of(self, name: str) -> int:
        return len(self._publishers.get(name, ()))

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._hits)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else COLUMN_COUNT

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.Columns):
            return self.HEADERS[self.Columns(section)]
        return None

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        # Hot path: a repaint asks ~8 roles for every visible cell, so display text and sort keys
        # are precomputed per row and the common roles are answered with plain int comparisons.
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if row >= len(self._hits):
            return None
        if role == DISPLAY:
            if column == SOURCES_COLUMN:
                return str(len(self._hits[row].sources))
            text = self._text[row]
            if text is None:
                text = self._text[row] = tuple(self._display(self._hits[row], c) for c in self.Columns)
            return text[column]
        if role == SORT_ROLE:
            return self.sort_key(row, column)
        if role == DECORATION:
            if column == NAME_COLUMN and self.publishers_of(self._hits[row].identity[0]) > 1:
                return icon("warning")
            return None
        if role == ALIGNMENT:
            return RIGHT_ALIGNED if column in NUMERIC_COLUMNS else None
        if role == HIT_ROLE:
            return self._hits[row]
        if role == TOOLTIP:
            return self._tooltip(self._hits[row], self.Columns(column))
        return None

    def sort_key(self, row: int, column: int) -> Any:
        """The cached sort key of one cell (the proxy's lessThan calls this directly: it is hot)."""
        if column == SOURCES_COLUMN:
            return len(self._hits[row].sources)
        keys = self._keys[row]
        if keys is None:
            keys = self._keys[row] = tuple(self._sort_key(self._hits[row], c) for c in self.Columns)
        return keys[column]

    def _tooltip(self, hit: SearchHit, column: Columns) -> str:
        publishers = self.publishers_of(hit.identity[0])
        if column == self.Columns.NAME and publishers > 1:
            return f"{publishers} publishers use this name: check the publisher key"
        if column == self.Columns.PUBLISHER:
            return f"Publisher key fingerprint {hit.record.fingerprint}; signature verified"
        if column == self.Columns.SOURCES:
            return "Returned by: " + ", ".join(sorted(s[:12] for s in hit.sources))
        return self._display(hit, column)

    def _display(self, hit: SearchHit, column: Columns) -> str:
        package = hit.record.package
        meta = package.metadata
        match column:
            case self.Columns.NAME:
                return str(package.id)
            case self.Columns.VERSION:
                return str(package.version)
            case self.Columns.TITLE:
                return meta.title
            case self.Columns.PUBLISHER:
                return f"{hit.record.fingerprint[:8]} ✓"
            case self.Columns.CATEGORIES:
                return ", ".join(meta.categories)
            case self.Columns.TAGS:
                return ", ".join(meta.tags)
            case self.Columns.SOURCES:
                return str(len(hit.sources))
            case self.Columns.ARRIVAL:
                return f"{hit.first_seen_ms:.0f}"
        return ""

    def _sort_key(self, hit: SearchHit, column: Columns) -> Any:
        if column == self.Columns.SOURCES:
            return len(hit.sources)
        if column == self.Columns.ARRIVAL:
            return hit.first_seen_ms
        if column == self.Columns.VERSION:
            v = hit.record.package.version.semver
            # zero-padded so string order is version order; a release sorts after its pre-releases
            return f"{v.major:09d}.{v.minor:09d}.{v.patch:09d}.{0 if v.prerelease else 1}.{v.prerelease or ''}"
        return self._display(hit, column).lower()


NAME_COLUMN = ResultsModel.Columns.NAME.value
SOURCES_COLUMN = ResultsModel.Columns.SOURCES.value
NUMERIC_COLUMNS = frozenset((SOURCES_COLUMN, ResultsModel.Columns.ARRIVAL.value))
COLUMN_COUNT = len(ResultsModel.Columns)
