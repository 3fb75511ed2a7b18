"""The status bar: the network state on the left, the search summary and the join progress on the right.

While no peer answers, the node keeps trying: the bar counts down to the next
try and offers "Retry now", and a search typed meanwhile runs once it joins.
After a search with few results, a "Did you mean …?" link offers a close keyword this node knows.
A permanent indicator on the right says how many peers the node knows, whether
peers can reach it ("Reachable at 203.0.113.5:4433 via UPnP", "Behind NAT:
client mode") and its traffic in and out.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar, QToolButton, QWidget

from ggen_desktop.core.connection import ConnectionState, ConnectionStatus
from ggen_desktop.core.reachability import Reachability, ReachState
from ggen_desktop.core.traffic import format_rate

# Join progress as one bar across the start-up stages: (first %, share %) of each stage's span.
STAGE_SPAN = {"Starting demo network": (0, 85), "Joining": (85, 15)}
DEMO_HINT = "Demo network: {peers} local peers with sample packages. To join a real one: Settings → Bootstrap peers"
DEMO_TIP = "The demo network runs on this computer only. To join a real network, add one or more of its peers " \
    "(HOST:PORT) in File → Settings → Bootstrap peers and restart, or start with --bootstrap HOST:PORT."


REACH_TIPS = {
    ReachState.REACHABLE: "Peers on the internet can reach this node: it answers searches and holds records for others.",
    ReachState.CLIENT: "Peers cannot reach this node, so it runs as a client: searching and publishing work, "
                       "holding records for others does not. A UDP port forwarded on the router would change that.",
    ReachState.CHECKING: "Asking peers which address they see this node at, and whether they can reach it there.",
    ReachState.UNKNOWN: "Not checked: no peer could tell yet.",
}


def network_summary(peers: int, reach: Reachability, rate_in: float, rate_out: float, demo: bool) -> tuple[str, str]:
    """The indicator's text and tooltip: peers known, reachability, traffic in (↓) and out (↑)."""
    where = "Demo network" if demo else reach.describe()
    text = f"{peers} peer{'' if peers == 1 else 's'} · {where} · ↓ {format_rate(rate_in)} ↑ {format_rate(rate_out)}"
    tip = "The demo network runs on this computer only." if demo else REACH_TIPS[reach.state]
    return text, tip + (f"\n{reach.detail}" if reach.detail and not demo else "")


class StatusBar(QStatusBar):
    """`network_label` says how the node is connected; `join_progress` runs while it joins;
    `retry_button` ("Retry now") shows while it waits for its next try and emits `retry_requested`;
    `suggestion` is a link (its `linkActivated` carries the keyword) shown after a search with few results."""

    retry_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.network_label = QLabel("Starting the node…")
        self.network_label.setAccessibleName("Network status")
        # a long status must not set the window's minimum width: it is cut instead, and the tooltip has it all
        self.network_label.setMinimumWidth(1)
        self.network_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.search_status = QLabel("")
        self.search_status.setObjectName("searchStatus")
        self.search_status.setAccessibleName("Search status")
        self.suggestion = QLabel("")
        self.suggestion.setObjectName("searchSuggestion")
        self.suggestion.setAccessibleName("Search suggestion")
        self.suggestion.setTextFormat(Qt.TextFormat.RichText)
        self.suggestion.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                                | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.suggestion.setOpenExternalLinks(False)
        self.suggestion.hide()
        self.join_progress = QProgressBar()
        self.join_progress.setAccessibleName("Joining the network")
        self.join_progress.setMaximumWidth(180)
        self.join_progress.setRange(0, 0)  # busy until the engine reports its first stage
        self.join_progress.setFormat("%p%")
        self.retry_button = QToolButton()
        self.retry_button.setText("Retry now")
        self.retry_button.setObjectName("retryJoin")
        self.retry_button.setToolTip("Ask the bootstrap peers and saved contacts again now")
        self.retry_button.clicked.connect(self.retry_requested)
        self.retry_button.hide()
        self.addWidget(self.network_label, 1)
        self.addWidget(self.retry_button)
        self.addPermanentWidget(self.suggestion)
        self.addPermanentWidget(self.search_status)
        self.addPermanentWidget(self.join_progress)
        self.network_indicator = QLabel("")
        self.network_indicator.setObjectName("networkIndicator")
        self.network_indicator.setAccessibleName("Peers, reachability and traffic")
        self.addPermanentWidget(self.network_indicator)

    def show_network(self, peers: int, reach: Reachability, rate_in: float, rate_out: float, demo: bool) -> None:
        text, tip = network_summary(peers, reach, rate_in, rate_out, demo)
        if self.network_indicator.text() != text:
            self.network_indicator.setText(text)
        self.network_indicator.setToolTip(tip)

    def show_join_progress(self, label: str, done: int, total: int, demo: bool) -> None:
        """One determinate bar over all start-up stages, so it never runs backwards between them."""
        if label == "Joining":
            text = "Joining the demo network…" if demo else "Joining the network through the bootstrap peers…"
        else:
            text = f"{label}… ({done}/{total})" if total else f"{label}…"
        self.network_label.setText(text)
        self.network_label.setToolTip(text)
        first, share = STAGE_SPAN.get(label, (0, 100)) if demo else (0, 100)
        if not demo and total <= 1 and done < total:
            self.join_progress.setRange(0, 0)  # one step of unknown length (real peers): busy, not a stuck 0 %
        else:
            self.join_progress.setRange(0, 100)
            self.join_progress.setValue(first + (share * done // total if total > 0 else 0))

    def show_connecting(self, status: ConnectionStatus) -> None:
        """No peer has answered yet: when the next try is, and "Retry now" while waiting for it."""
        self.join_progress.hide()
        waiting = status.state is ConnectionState.WAITING
        text = f"Connecting… next try in {status.seconds_to_next_try()} s" if waiting else "Connecting…"
        self.network_label.setText(text)
        asked = ", ".join(status.asked) or "no peer"
        self.network_label.setToolTip(
            f"No peer has answered yet ({status.attempts} tr{'ies' if status.attempts != 1 else 'y'}; asked {asked}). "
            "The node keeps trying, waiting longer each time up to a minute; searches typed now run once it joins.")
        self.retry_button.setVisible(True)
        self.retry_button.setEnabled(waiting)

    def show_joined(self, *, demo_peers: int | None, contacts: int, this_node: str) -> None:
        """The node has joined: the demo network (and how to leave it) or the size of the routing table."""
        self.join_progress.hide()
        self.retry_button.hide()
        text = DEMO_HINT.format(peers=demo_peers) if demo_peers is not None \
            else f"Connected: {contacts} peers in the routing table"
        self.network_label.setText(text)
        self.network_label.setToolTip(f"{DEMO_TIP if demo_peers is not None else text}\nThis node: {this_node}")

    def show_suggestions(self, keywords: list[str]) -> None:
        """"Did you mean X?" for the best of them, as a link that searches it; hidden when there are none."""
        if not keywords:
            self.suggestion.hide()
            self.suggestion.clear()
            return
        best = keywords[0]
        self.suggestion.setText(f'<a href="{escape(best)}">Did you mean {escape(best)}?</a>')
        others = ", ".join(keywords[1:])
        self.suggestion.setToolTip(f"Search for {best} instead" + (f" (also close: {others})" if others else ""))
        self.suggestion.show()

    def show_not_connected(self, reason: str) -> None:
        self.join_progress.hide()
        self.retry_button.hide()
        self.network_label.setText(f"Not connected: {reason}")
