"""The status bar's permanent network indicator and the Node panel: peers, reachability, traffic rates."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot
from qasync import QEventLoop

from ggen_desktop.app import App
from ggen_desktop.core.query import Query
from ggen_desktop.core.reachability import Reachability, ReachHow, ReachState
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.status_bar import StatusBar
from ggen_desktop.net.node import MarketplaceNode
from tests.gui.conftest import Runner


def test_the_indicator_says_peers_reachability_and_rates(qtbot: QtBot) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    behind = Reachability(ReachState.CLIENT, ("203.0.113.5", 4433), ReachHow.CLIENT_MODE, "no peer's dial-back reached it")
    bar.show_network(3, behind, 1536.0, 0.0, demo=False)
    assert bar.network_indicator.text() == "3 peers · Behind NAT: client mode · ↓ 1.5 KB/s ↑ 0 B/s"
    assert "client" in bar.network_indicator.toolTip() and "dial-back" in bar.network_indicator.toolTip()
    mapped = Reachability(ReachState.REACHABLE, ("203.0.113.5", 4433), ReachHow.UPNP)
    bar.show_network(1, mapped, 0.0, 20_000.0, demo=False)
    assert bar.network_indicator.text() == "1 peer · Reachable at 203.0.113.5:4433 via UPnP · ↓ 0 B/s ↑ 20 KB/s"
    bar.show_network(9, Reachability(), 0.0, 0.0, demo=True)
    assert bar.network_indicator.text().startswith("9 peers · Demo network · ")


def test_on_a_real_network_the_window_shows_the_checked_reachability_and_live_traffic(
        qtbot: QtBot, qloop: QEventLoop, run: Runner, config_dir: Path, tmp_path: Path) -> None:
    peers = [MarketplaceNode(), MarketplaceNode()]
    run(peers[0].start(0, [], "127.0.0.1"))
    run(peers[1].start(0, [peers[0].address], "127.0.0.1"))
    window = MainWindow(config_dir)
    try:
        with qtbot.waitSignal(window.shown, timeout=5000):
            window.show()
        app = App(data_dir=tmp_path / "data", config_dir=config_dir, port=0, interface="127.0.0.1",
                  bootstrap=[f"127.0.0.1:{peers[0].address[1]}"])
        window.attach(app)
        with qtbot.waitSignal(window.ready, timeout=30000):
            window.tasks.spawn(window.start_engine(), "joining the network")
        port = app.node.address[1]
        indicator = window.status.network_indicator
        qtbot.waitUntil(lambda: f"Reachable at 127.0.0.1:{port} ·" in indicator.text(), timeout=10000)
        assert indicator.text().startswith("2 peers · ")
        window.docks["node"].raise_()
        window.poll()
        assert window.node_panel.labels["reachability"].text() == f"Reachable at 127.0.0.1:{port}"
        run(_search(app))  # traffic while the poller samples: the rates move off zero
        qtbot.waitUntil(lambda: "↓ 0 B/s" not in indicator.text() and "↑ 0 B/s" not in indicator.text(), timeout=5000)
        assert "B/s in, ↑" in window.node_panel.labels["traffic"].text()
    finally:
        run(window.shutdown())
        window.close()
        window.deleteLater()
        for peer in peers:
            run(peer.stop())


async def _search(app: App) -> None:
    for word in ("rust", "python", "go"):
        handle = app.node.search(Query(text=word))
        await handle.wait()
