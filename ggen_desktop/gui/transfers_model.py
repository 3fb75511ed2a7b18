"""The Transfers table: one row per archive download started from the window, read from its Transfer.

A row keeps the Transfer (libtorrent's live status, read once per refresh) and,
once the fetch is over, what came of it: the verified file's path, or the
engine's sentence for why it failed (a hash mismatch, no provider, a stall).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ggen_desktop.core.package import Package
from ggen_desktop.gui.table_model import ALIGNMENT, DISPLAY, RIGHT_ALIGNED, SORT_ROLE, TOOLTIP, ColumnTableModel

if TYPE_CHECKING:
    from ggen_desktop.app import Transfer, TransferStatus

COMPLETED = "Completed, verified"
PROGRESS_ROLE = SORT_ROLE  # the progress column's value 0..1, drawn as a bar by the panel's delegate
# TransferState values, compared as text: the window does not load the BitTorrent engine's modules to draw a row
PAUSED, DOWNLOADING = "paused", "downloading"
ACTIVE = frozenset({"checking", "fetching metadata", DOWNLOADING, PAUSED})


@dataclass
class TransferRow:
    """One download: the package, its Transfer once the engine made one, and its outcome."""

    package: Package
    folder: Path
    transfer: Transfer | None = None
    status: TransferStatus | None = None  # the last snapshot read from the transfer
    path: Path | None = None  # the verified archive, once complete
    error: str = ""  # the engine's sentence when it failed or was cancelled

    @property
    def name(self) -> str:
        return f"{self.package.id} {self.package.version}"

    @property
    def is_over(self) -> bool:
        return self.path is not None or bool(self.error)

    def state_text(self) -> str:
        if self.path is not None:
            return COMPLETED
        if self.error:
            return self.error
        return self.state.capitalize() if self.state else "Looking for peers"

    @property
    def state(self) -> str:
        """The transfer's state (a TransferState value), "" before the engine made the transfer."""
        return self.status.state.value if self.status is not None else ""

    def refresh(self) -> None:
        if self.transfer is not None and not self.is_over:
            self.status = self.transfer.status()


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # unreachable: the loop returns at GiB


def eta_text(eta_s: float | None) -> str:
    if eta_s is None:
        return "∞"
    seconds = int(eta_s)
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m {seconds % 60:02d}s"


class TransfersModel(ColumnTableModel[TransferRow]):
    """Name, size, progress, rate, peers, ETA, state; `refresh()` re-reads every live transfer."""

    class Columns(IntEnum):
        NAME = 0
        SIZE = 1
        PROGRESS = 2
        RATE = 3
        PEERS = 4
        ETA = 5
        STATE = 6

    HEADERS: ClassVar[tuple[str, ...]] = ("Name", "Size", "Progress", "Down rate", "Peers", "ETA", "State")

    def add(self, row: TransferRow) -> int:
        self.append_rows([row])
        return self.rowCount() - 1

    def row_of(self, row: TransferRow) -> int:
        return next(i for i in range(self.rowCount()) if self.row_item(i) is row)

    def changed(self, row: TransferRow) -> None:
        index = self.row_of(row)
        self.rows_changed(index, index)

    def refresh(self) -> None:
        live = [i for i in range(self.rowCount()) if not self.row_item(i).is_over]
        for i in live:
            self.row_item(i).refresh()
        if live:
            self.rows_changed(min(live), max(live))

    def cell(self, item: TransferRow, column: int, role: int) -> Any:
        c = self.Columns
        status = item.status
        size = (status.size if status is not None else 0) or item.package.size or 0
        if role == DISPLAY:
            live = status is not None and not item.is_over
            if column == c.NAME:
                return item.name
            if column == c.SIZE:
                return human_size(size) if size else "–"
            if column == c.PROGRESS:
                return f"{self.progress(item) * 100:.0f} %"
            if column == c.RATE:
                return f"{human_size(status.download_rate)}/s" if live and status is not None else "–"
            if column == c.PEERS:
                return str(status.peers) if live and status is not None else "–"
            if column == c.ETA:
                return eta_text(status.eta_s) if live and status is not None and item.state == DOWNLOADING else "–"
            if column == c.STATE:
                return item.state_text()
        elif role == PROGRESS_ROLE:
            return self.progress(item) if column == c.PROGRESS else None
        elif role == TOOLTIP:
            if column == c.STATE:
                return item.state_text()
            if column == c.NAME:
                return str(item.path or item.folder)
        elif role == ALIGNMENT and column in (c.SIZE, c.RATE, c.PEERS, c.ETA):
            return RIGHT_ALIGNED
        return None

    @staticmethod
    def progress(item: TransferRow) -> float:
        return 1.0 if item.path is not None else item.status.progress if item.status is not None else 0.0
