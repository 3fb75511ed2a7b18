"""Per-peer trace of one query (asked, answered, timed out, results) for the metrics panel."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from ggen_desktop.core.search import PeerTrace, QueryTrace

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the invalid index: parent of every row in a flat table


class TraceModel(QAbstractTableModel):
    """Rows follow `QueryTrace.peers` (insertion ordered); polling appends and updates in place."""

    class Columns(IntEnum):
        PEER = 0
        ADDRESS = 1
        STATE = 2
        RESULTS = 3
        ANSWER_MS = 4

    HEADERS = ("Peer", "Address", "State", "Results", "Answer (ms)")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.trace: QueryTrace | None = None
        self._rows: list[PeerTrace] = []

    def show_trace(self, trace: QueryTrace | None) -> None:
        if trace is not self.trace:
            self.beginResetModel()
            self.trace = trace
            self._rows = list(trace.peers.values()) if trace else []
            self.endResetModel()
            return
        self.refresh()

    def refresh(self) -> None:
        if self.trace is None:
            return
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(self.Columns) - 1))
        peers = list(self.trace.peers.values())
        if len(peers) > len(self._rows):
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, len(peers) - 1)
            self._rows = peers
            self.endInsertRows()

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.Columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows) or role != Qt.ItemDataRole.DisplayRole:
            return None
        peer = self._rows[index.row()]
        match self.Columns(index.column()):
            case self.Columns.PEER:
                return peer.peer_id[:12]
            case self.Columns.ADDRESS:
                return peer.address
            case self.Columns.STATE:
                return peer.error or peer.state
            case self.Columns.RESULTS:
                return str(peer.results)
            case self.Columns.ANSWER_MS:
                if peer.answered_at_ms is None:
                    return "–"
                return f"{peer.answered_at_ms - peer.asked_at_ms:.1f}"
        return None
