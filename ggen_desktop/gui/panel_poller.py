"""Keeps the side panels current: every half second, the panels in view are refreshed from cheap snapshots.

Polling, not a signal per change: a busy node changes its metrics and peer
table hundreds of times a second, and a hidden panel (closed, or behind
another's tab) costs nothing at all. The status bar's network indicator (peers,
reachability, traffic rates) is permanent, so it is refreshed on every tick.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from ggen_desktop.core.traffic import TrafficMeter, format_rate
from ggen_desktop.gui.metrics_panel import MetricsPanel
from ggen_desktop.gui.node_panel import NodeInfo, NodePanel
from ggen_desktop.gui.peers_panel import PeersPanel
from ggen_desktop.gui.publish_panel import PublishPanel
from ggen_desktop.gui.search_session import SearchSession
from ggen_desktop.gui.status_bar import StatusBar

if TYPE_CHECKING:
    from ggen_desktop.app import App

POLL_MS = 500


def in_view(widget: QWidget) -> bool:
    """Shown and not covered: a dock behind another's tab still says isVisible(), but has no visible region."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def node_info(app: App, rates: tuple[float, float] = (0.0, 0.0)) -> NodeInfo:
    """What the Node panel shows, from the node's public state (and the traffic rates measured by the poller)."""
    node = app.node
    reach = app.reachability()
    return NodeInfo(
        node_id=node.node_id_hex,
        address=f"{node.address[0]}:{node.address[1]} (UDP)",
        network="demo network (local peers, sample packages)" if app.is_demo else "public network",
        bootstrap=tuple(f"{h}:{p}" for h, p in node.bootstrap_peers),
        contacts=tuple((peer, f"{host}:{port}") for peer, host, port in node.contacts()),
        transport=node.transport_stats(),
        reachability="not checked on the demo network" if app.is_demo else reach.describe()
        + (f" ({reach.detail})" if reach.detail else ""),
        traffic=f"↓ {format_rate(rates[0])} in, ↑ {format_rate(rates[1])} out",
    )


@dataclass(frozen=True)
class Panels:
    metrics: MetricsPanel
    peers: PeersPanel
    node: NodePanel
    publish: PublishPanel
    status: StatusBar | None = None  # its network indicator


class PanelPoller(QObject):
    """Emits `ticked` on every poll, before the panels are refreshed (the window's own per-tick updates)."""

    ticked = Signal()

    def __init__(self, panels: Panels, session: SearchSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panels = panels
        self.session = session
        self.app: App | None = None
        self.traffic = TrafficMeter()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    def engine_ready(self, app: App) -> None:
        """From now on the panels follow this node (before it has joined there is nothing to show)."""
        self.app = app

    def stop(self) -> None:
        self.timer.stop()

    def refresh_soon(self) -> None:
        """A panel brought to the front shows current numbers at once, not after the next tick."""
        if self.timer.isActive():
            QTimer.singleShot(0, self.poll)

    def poll(self) -> None:
        self.ticked.emit()
        if self.app is None:
            return
        node, panels = self.app.node, self.panels
        stats = node.transport_stats()
        rates = self.traffic.sample(time.monotonic(), stats.get("bytes_in", 0), stats.get("bytes_out", 0))
        if panels.status is not None:
            panels.status.show_network(stats["contacts"], node.reachability, *rates, self.app.is_demo)
        if in_view(panels.metrics):
            panels.metrics.show_metrics(node.metrics.snapshot())
            panels.metrics.show_trace(self.session.trace)
        if in_view(panels.peers):
            panels.peers.show_peers(node.reputation.snapshot())
        if in_view(panels.node):
            panels.node.show_info(node_info(self.app, rates))
        if in_view(panels.publish):
            panels.publish.refresh_my_packages()
