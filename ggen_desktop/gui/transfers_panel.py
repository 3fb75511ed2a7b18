"""Transfers dock, the way qBittorrent shows downloads: a table with a progress bar per archive, and
pause, resume, cancel and open-folder buttons acting on the selected one.

It reads each live Transfer once a second, and only while the panel is in view:
a hidden panel costs nothing. A download is started by `download(app, package,
folder)`, which runs `App.fetch` in the window's TaskGroup; the row says
"Completed, verified" only once the engine checked the file against the
record's sha256, and shows the engine's sentence when it did not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QGridLayout,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.core.package import Package
from ggen_desktop.gui.panel_poller import in_view
from ggen_desktop.gui.table_model import make_compact
from ggen_desktop.gui.tasks import TaskGroup
from ggen_desktop.gui.transfers_model import ACTIVE, PAUSED, PROGRESS_ROLE, TransferRow, TransfersModel

if TYPE_CHECKING:
    from ggen_desktop.app import App, Transfer

REFRESH_MS = 1000


class ProgressDelegate(QStyledItemDelegate):
    """Draws the progress column as the style's progress bar."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        value = index.data(PROGRESS_ROLE)
        if value is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 2, -2, -2)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(float(value) * 1000)
        bar.text = index.data()
        bar.textVisible = True
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class TransfersPanel(QWidget):
    """Emits `message(text)` for the status bar when a download ends."""

    message = Signal(str)

    def __init__(self, tasks: TaskGroup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.model = TransfersModel(self)
        self.view = QTableView()
        self.view.setObjectName("transfersView")
        self.view.setAccessibleName("Transfers table")
        self.view.setModel(self.model)
        make_compact(self.view)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setItemDelegateForColumn(TransfersModel.Columns.PROGRESS, ProgressDelegate(self.view))
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.selectionModel().selectionChanged.connect(self.update_buttons)
        self.model.dataChanged.connect(self.update_buttons)
        self.summary = QLabel("No transfers yet: download a result's archive from its context menu")
        self.summary.setWordWrap(True)
        self.pause_button = self._button("Pause", "Stop exchanging data for the selected download, keeping what arrived",
                                         lambda t: t.pause())
        self.resume_button = self._button("Resume", "Continue the selected download", lambda t: t.resume())
        self.cancel_button = self._button("Cancel", "Stop the selected download and delete what arrived", self._cancel)
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Open the folder the selected archive is saved in")
        self.open_button.clicked.connect(self.open_folder)
        bar = QGridLayout()  # two by two: the dock stays as narrow as the other panels
        for number, button in enumerate((self.pause_button, self.resume_button, self.cancel_button, self.open_button)):
            bar.addWidget(button, number // 2, number % 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        layout.addLayout(bar)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.update_buttons()

    def _button(self, text: str, tip: str, act: Callable[[Transfer], object]) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda: self._act(act))
        return button

    def _act(self, act: Callable[[Transfer], object]) -> None:
        row = self.selected()
        if row is not None and row.transfer is not None and not row.is_over:
            act(row.transfer)
            self.refresh(force=True)

    def _cancel(self, transfer: Transfer) -> None:
        self.tasks.spawn(transfer.cancel(), f"cancelling the download of {transfer.sha256[:12]}")

    def selected(self) -> TransferRow | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.row_item(rows[0].row()) if rows else None

    def update_buttons(self) -> None:
        row = self.selected()
        live = row is not None and row.transfer is not None and not row.is_over
        state = row.state if row is not None else ""
        self.pause_button.setEnabled(live and state in ACTIVE - {PAUSED})
        self.resume_button.setEnabled(live and state == PAUSED)
        self.cancel_button.setEnabled(live)
        self.open_button.setEnabled(row is not None)

    def refresh(self, force: bool = False) -> None:
        """Re-read the live transfers: each tick while in view, or now (`force`)."""
        if force or in_view(self):
            self.model.refresh()
            self.update_buttons()

    def open_folder(self) -> None:
        row = self.selected()
        if row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(row.folder)))

    # -- starting downloads --------------------------------------------------------
    def download(self, app: App, package: Package, folder: Path) -> TransferRow:
        """Fetch `package`'s archive into `folder` in a task; its row is selected."""
        row = TransferRow(package, folder)
        index = self.model.add(row)
        self.view.selectRow(index)
        self.summary.setText(f"{self.model.rowCount()} transfer{'s' if self.model.rowCount() != 1 else ''}; "
                             f"saved in {folder}")

        def on_transfer(transfer: Transfer) -> None:
            row.transfer = transfer
            row.refresh()
            self.model.changed(row)

        self.tasks.spawn(self._fetch(app, row, on_transfer), f"downloading {row.name}")
        return row

    async def _fetch(self, app: App, row: TransferRow, on_transfer: Callable[[Transfer], None]) -> None:
        from ggen_desktop.app import TransferCancelled, TransferError

        try:
            row.path = await app.fetch(row.package, row.folder, on_transfer)
        except TransferCancelled:
            row.error = "Cancelled"
        except (TransferError, OSError) as exc:
            row.error = str(exc) or type(exc).__name__
        self.model.changed(row)
        self.update_buttons()
        self.message.emit(f"{row.name}: {row.state_text()}" + (f", saved as {row.path}" if row.path else ""))
