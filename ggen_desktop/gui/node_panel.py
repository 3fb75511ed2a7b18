"""Node dock: who we are on the network, whom we know, and the transport counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.gui.list_models import ContactsModel


@dataclass(frozen=True)
class NodeInfo:
    """A plain snapshot of the node, taken by the window's poll timer."""

    node_id: str = ""
    address: str = "not started"
    network: str = "starting…"
    bootstrap: tuple[str, ...] = ()
    contacts: tuple[tuple[str, str], ...] = ()
    transport: dict[str, int] = field(default_factory=dict)


class NodePanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, title in (("node_id", "Node id"), ("address", "Listening on"), ("network", "Network"),
                           ("bootstrap", "Bootstrap peers"), ("contacts", "Routing table"),
                           ("transport", "Transport")):
            label = QLabel("–")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setAccessibleName(title)
            self.labels[key] = label
            form.addRow(title + ":", label)
        self.contacts_model = ContactsModel(self)
        self.contacts_view = QTableView()
        self.contacts_view.setAccessibleName("Routing table contacts")
        self.contacts_view.setModel(self.contacts_model)
        self.contacts_view.verticalHeader().hide()
        self.contacts_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.contacts_view, 1)
        self.show_info(NodeInfo())

    def show_info(self, info: NodeInfo) -> None:
        items = [f"{k.replace('_', ' ')}: {v}" for k, v in sorted(info.transport.items())]
        transport = "\n".join(" · ".join(items[i:i + 2]) for i in range(0, len(items), 2))
        texts = {
            "node_id": info.node_id or "–",
            "address": info.address,
            "network": info.network,
            "bootstrap": ", ".join(info.bootstrap) or "none",
            "contacts": f"{len(info.contacts)} contacts",
            "transport": transport or "–",
        }
        for key, text in texts.items():
            if self.labels[key].text() != text:
                self.labels[key].setText(text)
        self.contacts_model.set_rows([(peer, address) for peer, address in info.contacts])
