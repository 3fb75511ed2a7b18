"""A window whose bootstrap peer is down: it counts down to the next try, offers "Retry now", accepts a
search meanwhile and runs it once the peer answers. Real window offscreen, real nodes on loopback."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pytestqt.qtbot import QtBot

from ggen_desktop.app import App
from ggen_desktop.core.connection import ConnectionState
from ggen_desktop.core.query import QueryConfig
from ggen_desktop.core.search import QueryStatus
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import record_keys
from tests.gui.conftest import Runner
from tests.helpers.packages import make_record


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_status_bar_counts_down_to_the_next_try_and_retry_now_joins_at_once(
        qtbot: QtBot, run: Runner, config_dir: Path, tmp_path: Path) -> None:
    port = free_udp_port()
    record = make_record("acme/late", "Late", Ed25519PrivateKey.generate(), tags=("latejoin",))
    peer = MarketplaceNode()
    for key in record_keys(record):
        peer.storage.put(key, record)
    window = MainWindow(config_dir)
    with qtbot.waitSignal(window.shown, timeout=5000):
        window.show()
    app = App(data_dir=tmp_path / "data", config_dir=config_dir, bootstrap=[f"127.0.0.1:{port}"], port=0,
              interface="127.0.0.1")
    app.node.joiner.first_delay = 30.0  # the next try is far off: only "Retry now" joins within the test
    app.node.query_config = QueryConfig(default_timeout=30.0)
    window.attach(app)
    label, retry = window.status.network_label, window.status.retry_button
    try:
        window.tasks.spawn(window.start_engine(), "joining the network")
        qtbot.waitUntil(lambda: label.text().startswith("Connecting… next try in"), timeout=10000)
        assert re.fullmatch(r"Connecting… next try in (2\d|30) s", label.text()), label.text()
        assert f"asked 127.0.0.1:{port}" in label.toolTip() and "1 try" in label.toolTip()
        assert retry.isVisible() and retry.isEnabled() and not window.is_joined
        assert window.error_box is None  # an expected condition: no error dialog

        window.search_bar.field.setText("latejoin")  # typed while connecting: accepted, not refused
        window.search()
        assert window.session.running

        run(peer.start(port, interface="127.0.0.1"))  # the peer comes up
        with qtbot.waitSignal(window.ready, timeout=10000):  # long before the 30 s wait is over
            retry.click()
            assert app.node.connection_status().state is ConnectionState.TRYING
            assert label.text() == "Connecting…" and not retry.isEnabled()  # one try at a time
        assert label.text().startswith("Connected: ") and not retry.isVisible()
        qtbot.waitUntil(lambda: not window.session.running, timeout=10000)
        assert window.session.trace is not None and window.session.trace.status is QueryStatus.FINISHED
        assert [str(window.results_model.hit(r).record.package.id)
                for r in range(window.results_model.rowCount())] == ["acme/late"]
    finally:
        window.close()
        run(window.shutdown())
        run(peer.stop())
        window.deleteLater()
