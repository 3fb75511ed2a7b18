"""Peer reputation dock: a sortable table with block/unblock (button and context menu)."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QPoint, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.core.reputation import PeerStats
from ggen_desktop.gui.peers_model import PeersModel
from ggen_desktop.gui.table_model import SORT_ROLE, make_compact


class PeersPanel(QWidget):
    """Emits `block_requested(peer_id, blocked)`; the window applies it to the node."""

    block_requested = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = PeersModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.view = QTableView()
        self.view.setObjectName("peersView")
        self.view.setAccessibleName("Peer reputation table")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(PeersModel.Columns.SCORE, Qt.SortOrder.DescendingOrder)
        make_compact(self.view)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setToolTip("Peers this node has talked to, best first; right-click a peer to block or unblock it")
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        self.columns_sized = False  # sized to the first peers shown, unless the saved layout had widths
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().selectionChanged.connect(self._update_button)
        self.model.dataChanged.connect(self._update_button)
        self.summary = QLabel("No peers yet")
        self.block_button = QPushButton("Block")
        self.block_button.setAccessibleName("Block or unblock the selected peer")
        self.block_button.setToolTip("A blocked peer is not asked in searches until you unblock it")
        self.block_button.setEnabled(False)
        self.block_button.clicked.connect(self._toggle_selected)
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.block_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(bar)

    def show_peers(self, snapshot: list[PeerStats]) -> None:
        self.model.update(snapshot)
        if not self.columns_sized and snapshot:
            self.view.resizeColumnsToContents()  # once: later widths are the user's
            self.columns_sized = True
        blocked = sum(1 for p in snapshot if p.blocked)
        text = f"{len(snapshot)} peers known, {blocked} blocked"
        if self.summary.text() != text:
            self.summary.setText(text)

    def selected_peer(self) -> PeerStats | None:
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.peer(self.proxy.mapToSource(rows[0]).row())

    def _update_button(self) -> None:
        peer = self.selected_peer()
        self.block_button.setEnabled(peer is not None)
        self.block_button.setText("Unblock" if peer is not None and peer.blocked else "Block")

    def _toggle_selected(self) -> None:
        peer = self.selected_peer()
        if peer is not None:
            self.block_requested.emit(peer.peer_id, not peer.blocked)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        peer = self.model.peer(self.proxy.mapToSource(index).row())
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one menu per right-click: gone once closed
        action = menu.addAction(f"{'Unblock' if peer.blocked else 'Block'} peer {peer.peer_id[:12]}")
        action.triggered.connect(partial(self.block_requested.emit, peer.peer_id, not peer.blocked))
        menu.popup(self.view.viewport().mapToGlobal(pos))
