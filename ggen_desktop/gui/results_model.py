"""The search results table: one row per distinct (name, version, publisher), filled in batches.

Rows are only ever appended (in arrival order) while a query streams, so an
unsorted view never moves rows under the user. A known result that gains a
source changes in place (dataChanged on its Sources cell). A name published by
two different keys keeps separate rows, each flagged with a warning. Sources
counts the peers that returned a result in answer to this search, and says
"known" for what this node knew before asking (its own packages, gossip). A
result from a single source (one peer, or only this node's own knowledge) is
flagged there: one peer may be lying, or be the only one that holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from ggen_desktop.core.search import KNOWN_VIA, THIS_NODE_SOURCE, SearchEvent, SearchHit
from ggen_desktop.gui import collector
from ggen_desktop.gui.resources import icon
from ggen_desktop.gui.table_model import (
    ALIGNMENT,
    DECORATION,
    DISPLAY,
    RIGHT_ALIGNED,
    SORT_ROLE,
    TOOLTIP,
    ColumnTableModel,
    Index,
)

log = logging.getLogger(__name__)

__all__ = ["HIT_ROLE", "SORT_ROLE", "ResultsModel"]

HIT_ROLE = Qt.ItemDataRole.UserRole + 2


class ResultsModel(ColumnTableModel[SearchHit]):
    """Thin, typed table over SearchHits; the owner feeds it whole batches of SearchEvents.

    `sources_changed(rows)`: the rows (sorted) whose Sources changed in one batch, before their dataChanged
    spans, so that a view sorted by Sources moves them all in one step, however scattered.
    """

    sources_changed = Signal(list)

    class Columns(IntEnum):
        NAME = 0
        VERSION = 1
        TITLE = 2
        PUBLISHER = 3
        CATEGORIES = 4
        TAGS = 5
        SOURCES = 6
        ARRIVAL = 7

    HEADERS = ("Name", "Version", "Title", "Publisher", "Categories", "Tags", "Sources", "Arrival (ms)")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.query_id: str | None = None
        self.own_source: str | None = None  # this node's id when its own replicas answered (the same party as "this node")
        # caches filled on first use: display text per row (only visible rows are ever displayed), sort keys
        # per column (only the sorted column's); the Sources column is always live
        self._text: list[tuple[str, ...] | None] = []
        self._column_keys: dict[int, list[Any]] = {}
        self._row_of: dict[tuple[str, str, str], int] = {}
        # package name -> its publisher's fingerprint, or the set of them once a second key uses the name (a set
        # per name was 40% of the table's own memory)
        self._publishers: dict[str, str | set[str]] = {}

    # -- feeding -----------------------------------------------------------------
    def reset(self, query_id: str | None) -> None:
        """Empty the table for a new query; later batches for any other query id are dropped."""
        self.beginResetModel()
        collector.let_go(self)  # the rows go now (full collections resume); the next ones hold them off again
        self.query_id = query_id
        self.own_source = None
        self._rows.clear()
        self._text.clear()
        self._column_keys.clear()
        self._row_of.clear()
        self._publishers.clear()
        self.endResetModel()

    def add_events(self, events: list[SearchEvent]) -> int:
        """Apply one batch: one beginInsertRows for all new rows, one dataChanged per run of adjacent changed rows.

        A proxy re-checks every row inside a dataChanged span (a Python call each): one span from the
        first to the last of a few hundred scattered rows would make it check the whole table.

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
            name, key = identity[0], identity[2]
            known = self._publishers.get(name)
            if known is None:
                self._publishers[name] = key
            elif isinstance(known, str):
                if known != key:
                    self._publishers[name] = {known, key}
                    conflicted.add(name)  # the rows shown so far get their flag; later rows come in with it
            else:
                known.add(key)
        if new:
            first = len(self._rows)
            for offset, hit in enumerate(new):
                self._row_of[hit.identity] = first + offset
            self._text.extend([None] * len(new))  # the cache grows first: the view reads rows on insert
            collector.hold(self)  # restarted per batch: the hold ends 2 s after the last rows, whatever ends the stream
            self.append_rows(new)
        if changed_rows:
            self.sources_changed.emit(sorted(changed_rows))
        for first_row, last_row in spans(changed_rows):
            self.rows_changed(first_row, last_row, SOURCES_COLUMN, SOURCES_COLUMN)
        if conflicted:  # a scan of every row, once per name that gains a second publisher (rare)
            rows = [r for r, h in enumerate(self._rows) if h.identity[0] in conflicted]
            for first_row, last_row in spans(rows):
                self.rows_changed(first_row, last_row, NAME_COLUMN, NAME_COLUMN)
        return len(new)

    # -- reading -----------------------------------------------------------------
    def hit(self, row: int) -> SearchHit:
        return self._rows[row]

    def publishers_of(self, name: str) -> int:
        known = self._publishers.get(name)
        return 0 if known is None else 1 if isinstance(known, str) else len(known)

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        # Hot path: a repaint asks ~8 roles for every visible cell, so display text and sort keys
        # are precomputed per row and the common roles are answered with plain int comparisons.
        if not index.isValid():
            return None
        return self.cell_data(index.row(), index.column(), role)

    def cell_data(self, row: int, column: int, role: int) -> Any:
        """data() without an index: the sorted view asks by model row (one Python call per cell, not three)."""
        if row >= len(self._rows):
            return None
        if role == DISPLAY:
            if column == SOURCES_COLUMN:
                return sources_text(self._rows[row])
            text = self._text[row]
            if text is None:
                text = self._text[row] = tuple(self._display(self._rows[row], c) for c in self.Columns)
            return text[column]
        if role == SORT_ROLE:
            return self.sort_key(row, column)
        if role == DECORATION:
            if column == NAME_COLUMN and self.publishers_of(self._rows[row].identity[0]) > 1:
                return icon("warning")
            if column == SOURCES_COLUMN and len(source_parties(self._rows[row], self.own_source)) == 1:
                return icon("single-source")
            return None
        if role == ALIGNMENT:
            return RIGHT_ALIGNED if column in NUMERIC_COLUMNS else None
        if role == HIT_ROLE:
            return self._rows[row]
        if role == TOOLTIP:
            return self._tooltip(self._rows[row], self.Columns(column))
        return None

    def sort_key(self, row: int, column: int) -> Any:
        """The sort key of one cell."""
        keys = self.column_keys(column)
        return sources_key(self._rows[row]) if keys is None else keys[row]

    def column_keys(self, column: int) -> list[Any] | None:
        """Every row's sort key in one column, by row, extended as rows arrive; None for the live Sources column.

        The proxy's lessThan indexes this list directly: a sorted insert makes ~log2(rows) comparisons
        per row, so each Python call saved per comparison counts.
        """
        if column == SOURCES_COLUMN:
            return None
        keys = self._column_keys.setdefault(column, [])
        if len(keys) < len(self._rows):
            keys.extend([self._sort_key(hit, self.Columns(column)) for hit in self._rows[len(keys):]])
        return keys

    def _tooltip(self, hit: SearchHit, column: Columns) -> str:
        publishers = self.publishers_of(hit.identity[0])
        if column == self.Columns.NAME and publishers > 1:
            return f"{publishers} publishers use this name: check the publisher key"
        if column == self.Columns.PUBLISHER:
            return f"Publisher key fingerprint {hit.record.fingerprint}; signature verified"
        if column == self.Columns.SOURCES:
            parties = source_parties(hit, self.own_source)
            lines = [single_source_warning(next(iter(parties)))] if len(parties) == 1 else []
            if hit.answered_by:
                lines.append("Returned by: " + ", ".join(sorted(s[:12] for s in hit.answered_by)))
            known = sorted(s.removeprefix(KNOWN_VIA)[:12] for s in hit.sources - hit.answered_by)
            if known:
                lines.append("Known before this search: " + ", ".join(
                    "this node's own package" if s == THIS_NODE_SOURCE else f"told by {s}" for s in known))
            return "\n".join(lines)
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
                return sources_text(hit)
            case self.Columns.ARRIVAL:
                return f"{hit.first_seen_ms:.0f}"

    def _sort_key(self, hit: SearchHit, column: Columns) -> Any:
        if column == self.Columns.SOURCES:
            return sources_key(hit)
        if column == self.Columns.ARRIVAL:
            return hit.first_seen_ms
        if column == self.Columns.VERSION:
            return hit.record.package.version.precedence
        return self._display(hit, column).lower()


def spans(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Runs of adjacent rows, each as (first, last): [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for row in sorted(rows):
        if runs and row == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


def sources_text(hit: SearchHit) -> str:
    """"3" peers answered with it; "known" when this node knew it before asking; "3 + known" both."""
    answered = len(hit.answered_by)
    if hit.is_known:
        return f"{answered} + known" if answered else "known"
    return str(answered)


def source_parties(hit: SearchHit, own_source: str | None = None) -> set[str]:
    """Who vouches for a result. One party each: a peer that answered and the same peer having told this node
    before; this node's own package and its own replica's answer (`own_source`, this node's id)."""
    parties = {source.removeprefix(KNOWN_VIA) for source in hit.sources}
    if own_source in parties:
        parties.discard(own_source)
        parties.add(THIS_NODE_SOURCE)
    return parties


def single_source_warning(party: str) -> str:
    """Why a result with one source is flagged, said for the source it is."""
    if party == THIS_NODE_SOURCE:
        return ("Only source: this node (its own package, or a copy it keeps). No other peer returned it to this "
                "search, so others may not be able to find it.")
    return (f"Only source: peer {party[:12]}. A single peer could be lying about this result, "
            "or be the only one that holds it (gone when it goes offline); more sources make it likelier genuine.")


def sources_key(hit: SearchHit) -> tuple[int, bool]:
    return len(hit.answered_by), hit.is_known


NAME_COLUMN = ResultsModel.Columns.NAME.value
SOURCES_COLUMN = ResultsModel.Columns.SOURCES.value
# the roles cell_data answers; a repaint also asks font, colours and check state of every cell (None here)
SERVED_ROLES = frozenset(int(role) for role in (DISPLAY, SORT_ROLE, DECORATION, ALIGNMENT, HIT_ROLE, TOOLTIP))
TABLE_ICONS = ("warning", "single-source")  # what cell_data decorates cells with
NUMERIC_COLUMNS = frozenset((SOURCES_COLUMN, ResultsModel.Columns.ARRIVAL.value))
