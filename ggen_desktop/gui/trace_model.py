"""Per-peer trace of one query (asked, answered, timed out, results) for the metrics panel.

Once the query has ended, a peer still "waiting" is given its final state: "not needed" when the
search finished without its answer, "cancelled" or "no answer" otherwise. A row never says
"waiting" under a search that says it is over.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from PySide6.QtCore import QObject

from ggen_desktop.core.search import PeerTrace, QueryStatus, QueryTrace
from ggen_desktop.gui.table_model import (
    ALIGNMENT,
    DISPLAY,
    RIGHT_ALIGNED,
    TOOLTIP,
    ColumnTableModel,
)

# what a peer that never answered did for a query that ended this way
UNANSWERED = {
    QueryStatus.FINISHED: "not needed",
    QueryStatus.CANCELLED: "cancelled",
    QueryStatus.TIMED_OUT: "no answer",
    QueryStatus.FAILED: "no answer",
}


def peer_state(peer: PeerTrace, status: QueryStatus) -> str:
    """The peer's state as shown: its own, or for a peer still waiting, the query's end."""
    if peer.error:
        return peer.error
    state = peer.state
    if state == "waiting" and status is not QueryStatus.RUNNING:
        return UNANSWERED[status]
    return state


class TraceModel(ColumnTableModel[PeerTrace]):
    """Rows follow `QueryTrace.peers` (insertion ordered); refreshing appends and updates in place."""

    class Columns(IntEnum):
        PEER = 0
        ADDRESS = 1
        STATE = 2
        RESULTS = 3
        ANSWER_MS = 4

    HEADERS = ("Peer", "Address", "State", "Results", "Answer (ms)")
    NUMERIC = frozenset((Columns.RESULTS, Columns.ANSWER_MS))

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.trace: QueryTrace | None = None

    def show_trace(self, trace: QueryTrace | None) -> None:
        if trace is not self.trace:
            self.trace = trace
            self.replace_rows(list(trace.peers.values()) if trace else [])
        else:
            self.refresh()

    def refresh(self) -> None:
        """Peers' states change in place (one span); peers asked since the last refresh are appended."""
        if self.trace is None:
            return
        self.rows_changed(0, len(self._rows) - 1)
        peers = list(self.trace.peers.values())
        self.append_rows(peers[len(self._rows):])

    def cell(self, item: PeerTrace, column: int, role: int) -> Any:
        if role == ALIGNMENT:
            return RIGHT_ALIGNED if column in self.NUMERIC else None
        if role == TOOLTIP and column == self.Columns.PEER:
            return f"{item.peer_id}\n{item.address}"
        if role != DISPLAY:
            return None
        match column:
            case self.Columns.PEER:
                return item.peer_id[:12]
            case self.Columns.ADDRESS:
                return item.address
            case self.Columns.STATE:
                return peer_state(item, self.trace.status) if self.trace is not None else item.state
            case self.Columns.RESULTS:
                return str(item.results)
            case self.Columns.ANSWER_MS:
                return "–" if item.answered_at_ms is None else f"{item.answered_at_ms - item.asked_at_ms:.1f}"
        return None
