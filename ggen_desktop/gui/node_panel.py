"""Node dock: who we are on the network, whether peers can reach us, whom we know, and the transport counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.gui.list_models import ContactsModel, CountersModel, RowsModel
from ggen_desktop.gui.table_model import make_compact


@dataclass(frozen=True)
class NodeInfo:
    """A plain snapshot of the node, taken by the window's poll timer."""

    node_id: str = ""
    address: str = "not started"
    network: str = "starting…"
    bootstrap: tuple[str, ...] = ()
    contacts: tuple[tuple[str, str], ...] = ()
    transport: dict[str, int] = field(default_factory=dict)
    reachability: str = "–"  # "Reachable at 203.0.113.5:4433 via UPnP", "Behind NAT: client mode"
    traffic: str = "–"  # "↓ 1.5 KB/s ↑ 300 B/s"


class NodePanel(QWidget):
    """Plain fields above two tables (contacts, transport counters) in a splitter the user can move."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout()
        # a 64-digit id cannot wrap: a read-only field scrolls and copies instead of widening the dock
        self.node_id_field = QLineEdit("–")
        self.node_id_field.setReadOnly(True)
        self.node_id_field.setAccessibleName("Node id")
        self.node_id_field.setToolTip("This node's Kademlia id (160 bits, hex); select to copy")
        form.addRow("Node id:", self.node_id_field)
        self.labels: dict[str, QLabel] = {}
        for key, title in (("address", "Listening on"), ("network", "Network"), ("reachability", "Reachability"),
                           ("traffic", "Traffic"), ("bootstrap", "Bootstrap peers"), ("contacts", "Routing table")):
            label = QLabel("–")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setAccessibleName(title)
            self.labels[key] = label
            form.addRow(title + ":", label)
        self.contacts_model = ContactsModel(self)
        self.contacts_view = self._table(self.contacts_model, "Routing table contacts")
        self.counters_model = CountersModel(self)
        self.counters_view = self._table(self.counters_model, "Transport counters")
        self.tables = QSplitter(Qt.Orientation.Vertical)
        self.tables.addWidget(self.contacts_view)
        self.tables.addWidget(self.counters_view)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.tables, 1)
        self.show_info(NodeInfo())

    @staticmethod
    def _table(model: RowsModel, name: str) -> QTableView:
        view = QTableView()
        view.setAccessibleName(name)
        view.setModel(model)
        make_compact(view)
        header = view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        return view

    def show_info(self, info: NodeInfo) -> None:
        node_id = info.node_id or "–"
        if self.node_id_field.text() != node_id:
            self.node_id_field.setText(node_id)
            self.node_id_field.setCursorPosition(0)
        texts = {
            "address": info.address,
            "network": info.network,
            "reachability": info.reachability,
            "traffic": info.traffic,
            "bootstrap": ", ".join(info.bootstrap) or "none",
            "contacts": f"{len(info.contacts)} contacts",
        }
        for key, text in texts.items():
            if self.labels[key].text() != text:
                self.labels[key].setText(text)
        self.contacts_model.set_rows([(peer, address) for peer, address in info.contacts])
        self.counters_model.set_counters(info.transport)
