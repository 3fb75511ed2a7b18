"""The peer reputation table, refreshed from `ReputationBook.snapshot()` in place.

Refreshing with dataChanged (never a model reset) keeps the user's selection,
sort order and scroll position while scores move every half second.
"""

from __future__ import annotations

import time
from dataclasses import astuple
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QObject, Qt

from ggen_desktop.core.reputation import PeerStats
from ggen_desktop.gui.table_model import (
    ALIGNMENT,
    DISPLAY,
    RIGHT_ALIGNED,
    SORT_ROLE,
    TOOLTIP,
    ColumnTableModel,
)

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


class PeersModel(ColumnTableModel[PeerStats]):
    class Columns(IntEnum):
        # what decides trust first, so a narrow dock shows it without scrolling sideways
        PEER = 0
        SCORE = 1
        STATE = 2
        RTT = 3
        LAST_SEEN = 4
        SUCCESSES = 5
        FAILURES = 6
        TIMEOUTS = 7
        INVALID = 8
        ADDRESS = 9

    HEADERS = ("Peer", "Score", "State", "RTT (ms)", "Last seen", "OK", "Failed", "Timeouts", "Invalid", "Address")
    NUMERIC = frozenset((Columns.SCORE, Columns.RTT, Columns.SUCCESSES, Columns.FAILURES, Columns.TIMEOUTS,
                         Columns.INVALID))

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._row_of: dict[str, int] = {}

    def update(self, snapshot: list[PeerStats]) -> None:
        """Merge a snapshot: changed rows get one dataChanged span, new peers one insert at the end."""
        changed: list[int] = []
        new: list[PeerStats] = []
        for stats in snapshot:
            row = self._row_of.get(stats.peer_id)
            if row is None:
                new.append(stats)
            elif astuple(self._rows[row]) != astuple(stats):
                self._rows[row] = stats
                changed.append(row)
        if changed:
            self.rows_changed(min(changed), max(changed))
        else:
            # "last seen" is relative to now: refresh that column even when nothing else moved
            column = self.Columns.LAST_SEEN
            self.rows_changed(0, len(self._rows) - 1, column, column)
        for offset, stats in enumerate(new):
            self._row_of[stats.peer_id] = len(self._rows) + offset
        self.append_rows(new)

    def peer(self, row: int) -> PeerStats:
        return self.row_item(row)

    def cell(self, item: PeerStats, column: int, role: int) -> Any:
        if role == DISPLAY:
            return self._display(item, self.Columns(column))
        if role == SORT_ROLE:
            return self._sort_key(item, self.Columns(column))
        if role == PEER_ID_ROLE:
            return item.peer_id
        if role == TOOLTIP and column == self.Columns.PEER:
            return item.peer_id
        if role == ALIGNMENT and column in self.NUMERIC:
            return RIGHT_ALIGNED
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
