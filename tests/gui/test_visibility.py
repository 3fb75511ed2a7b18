"""The Publish panel's "Can others find it?": publish from the window, then peers far from the package's keys
look it up on a real loopback network; once its holders stop, the panel says none found it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from qasync import QEventLoop

from ggen_desktop.app import App
from ggen_desktop.core.query import QueryConfig
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import package_dht_key
from ggen_desktop.store.identity import PublisherIdentity
from tests.gui.conftest import Runner
from tests.helpers.packages import make_package, make_record

KSIZE = 4
CONFIG = QueryConfig(default_timeout=3.0, grace_period=0.5)


@pytest.fixture
def peers(run: Runner) -> Iterator[list[MarketplaceNode]]:
    nodes: list[MarketplaceNode] = []

    async def start() -> None:
        for _ in range(15):
            node = MarketplaceNode(query_config=CONFIG, ksize=KSIZE, remember_contacts=False)
            nodes.append(node)
            await node.start(0, [n.address for n in nodes[:3] if n is not node])

    run(start())
    yield nodes

    async def stop() -> None:
        for node in nodes:
            await node.stop()

    run(stop())


def open_on(qtbot: QtBot, peers: list[MarketplaceNode], config_dir: Path, data_dir: Path) -> MainWindow:
    """A window whose node (k = KSIZE, so few peers hold each key) joins the loopback peers."""
    win = MainWindow(config_dir)
    with qtbot.waitSignal(win.shown, timeout=5000):
        win.show()
    app = App(data_dir=data_dir, config_dir=config_dir, interface="127.0.0.1",
              bootstrap=[f"{host}:{port}" for host, port in (p.address for p in peers[:3])])
    app.node = MarketplaceNode(app.database, CONFIG, ksize=KSIZE, remember_contacts=False)
    win.attach(app)
    with qtbot.waitSignal(win.ready, timeout=30000):
        win.tasks.spawn(win.start_engine(), "joining the network")
    return win


@pytest.fixture
def window(qtbot: QtBot, qloop: QEventLoop, run: Runner, config_dir: Path, tmp_path: Path,
           peers: list[MarketplaceNode]) -> Iterator[MainWindow]:
    win = open_on(qtbot, peers, config_dir, tmp_path / "data")
    yield win
    run(win.shutdown())
    win.close()
    win.deleteLater()


def test_at_start_the_replicas_column_is_counted_on_the_network_not_taken_from_the_last_publish(
        qtbot: QtBot, run: Runner, config_dir: Path, tmp_path: Path, peers: list[MarketplaceNode]) -> None:
    first = open_on(qtbot, peers, config_dir, tmp_path / "data")
    assert first.app is not None
    run(first.app.publish(make_record("gui-test/recounted", "Recounted")))
    key = package_dht_key("gui-test/recounted")
    for holder in [p for p in peers if p.storage.records(key)]:
        holder.storage.clear()  # the copies are gone while this node was away
    run(first.shutdown())
    first.close()
    first.deleteLater()
    window = open_on(qtbot, peers, config_dir, tmp_path / "data")
    try:
        rows = window.publish_panel.my_packages
        qtbot.waitUntil(lambda: rows.rowCount() == 1 and rows.row(0)[4] == "0 replicas, checked just now",
                        timeout=10000)
    finally:
        run(window.shutdown())
        window.close()
        window.deleteLater()


def test_after_publishing_far_peers_find_it_and_once_its_holders_stop_the_panel_says_none_did(
        qtbot: QtBot, run: Runner, window: MainWindow, peers: list[MarketplaceNode]) -> None:
    panel = window.publish_panel
    package = make_package("gui-test/far-seen", "Far seen", tags=("farseen",))
    run(panel.publish_package(package, PublisherIdentity.generate()))
    assert panel.result_label.text().startswith("✓ Published gui-test/far-seen")
    # The check runs right after the publish, from peers far from the package's keys.
    text = panel.visibility_label.text()
    assert text.startswith("✓ gui-test/far-seen 1.0.0: found by 5 of 5 peers in "), text
    assert re.fullmatch(r"[1-9]\d* replicas?, checked just now", panel.my_packages.row(0)[4])

    key = package_dht_key("gui-test/far-seen")
    for holder in [p for p in peers if p.storage.records(key)]:
        run(holder.stop())
    view = panel.my_packages_view
    view.selectRow(0)
    qtbot.mouseClick(panel.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "found by 0 of 5 peers" in panel.visibility_label.text(), timeout=20000)
    text = panel.visibility_label.text()
    assert text.startswith("⚠ gui-test/far-seen 1.0.0: found by 0 of 5 peers in "), text
    assert "5 did not find it" in text
    qtbot.waitUntil(lambda: panel.my_packages.row(0)[4] == "0 replicas, checked just now", timeout=5000)
