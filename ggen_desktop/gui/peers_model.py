"""The peer reputation table, refreshed from `ReputationBook.snapshot()` in place.

Refreshing with dataChanged (never a model reset) keeps the user's selection,
sort order and scroll position while scores move every half second.
"""

from __future__ import annotations

import time
from dataclasses import astuple
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from ggen_desktop.core.reputation import PeerStats
from ggen_desktop.gui.results_model import SORT_ROLE

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the invalid index: parent of every row in a flat table
PEER_ID_ROLE = Qt.ItemDataRole.UserRole + 3


def ago(timestamp: float, now: float | None = None) -> str:
    """'12 s ago' style text; 'never' for a peer never heard from."""
    if not timestamp:
        return "never"
    seconds = max(0, int((time.time() if now is None else now) - timestamp))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


class PeersModel(QAbstractTableModel):
    class Columns(IntEnum):
        PEER = 0
        ADDRESS = 1
        SCORE = 2
        SUCCESSES = 3
        FAILURES = 4
        TIMEOUTS = 5
        INVALID = 6
        RTT = 7
        LAST_SEEN = 8
        STATE = 9

    HEADERS = ("Peer", "Address", "Score", "OK", "Failed", "Timeouts", "Invalid", "RTT (ms)", "Last seen", "State")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._peers: list[PeerStats] = []
        self._row_of: dict[str, int] = {}

    def update(self, snapshot: list[PeerStats]) -> None:
        """Merge a snapshot: changed rows get one dataChanged span, new peers one insert at the end."""
        changed: list[int] = []
        new: list[PeerStats] = []
        for stats in snapshot:
            row = self._row_of.get(stats.peer_id)
            if row is None:
                new.append(stats)
            elif astuple(self._peers[row]) != astuple(stats):
                self._peers[row] = stats
                changed.append(row)
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(self.Columns) - 1))
        elif self._peers:
            # "last seen" is relative to now: refresh that column even when nothing else moved
            column = self.Columns.LAST_SEEN
            self.dataChanged.emit(self.index(0, column), self.index(len(self._peers) - 1, column))
        if new:
            first = len(self._peers)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for offset, stats in enumerate(new):
                self._row_of[stats.peer_id] = first + offset
            self._peers.extend(new)
            self.endInsertRows()

    def peer(self, row: int) -> PeerStats:
        return self._peers[row]

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._peers)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.Columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._peers):
            return None
        stats = self._peers[index.row()]
        column = self.Columns(index.column())
        if role == PEER_ID_ROLE:
            return stats.peer_id
        if role == SORT_ROLE:
            return self._sort_key(stats, column)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(stats, column)
        if role == Qt.ItemDataRole.ToolTipRole and column == self.Columns.PEER:
            return stats.peer_id
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= self.Columns.SCORE and column != self.Columns.STATE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _state(self, stats: PeerStats) -> str:
        if stats.blocked:
            return "blocked"
        if stats.avoid_until > time.time():
            return "avoided"
        return "ok"

    def _display(self, stats: PeerStats, column: Columns) -> str:
        match column:
            case self.Columns.PEER:
                return stats.peer_id[:12]
            case self.Columns.ADDRESS:
                return f"{stats.host}:{stats.port}" if stats.host else "?"
            case self.Columns.SCORE:
                return f"{stats.score():.2f}"
            case self.Columns.SUCCESSES:
                return str(stats.successes)
            case self.Columns.FAILURES:
                return str(stats.failures)
            case self.Columns.TIMEOUTS:
                return str(stats.timeouts)
            case self.Columns.INVALID:
                return str(stats.invalid_records)
            case self.Columns.RTT:
                return "–" if stats.avg_rtt_ms is None else f"{stats.avg_rtt_ms:.1f}"
            case self.Columns.LAST_SEEN:
                return ago(stats.last_seen)
            case self.Columns.STATE:
                return self._state(stats)
        return ""

    def _sort_key(self, stats: PeerStats, column: Columns) -> Any:
        match column:
            case self.Columns.SCORE:
                return stats.score()
            case self.Columns.SUCCESSES:
                return stats.successes
            case self.Columns.FAILURES:
                return stats.failures
            case self.Columns.TIMEOUTS:
                return stats.timeouts
            case self.Columns.INVALID:
                return stats.invalid_records
            case self.Columns.RTT:
                return -1.0 if stats.avg_rtt_ms is None else stats.avg_rtt_ms
            case self.Columns.LAST_SEEN:
                return stats.last_seen
        return self._display(stats, column)
