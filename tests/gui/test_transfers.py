"""Download from the window: the Download action, the Transfers panel and its buttons, on the real demo
network with real libtorrent sessions (a seeder on a demo peer, the window's App downloading)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from ggen_desktop.core.package import Package
from ggen_desktop.core.record import sign
from ggen_desktop.core.search import SearchHit
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.transfers_model import COMPLETED, TransferRow, TransfersModel
from ggen_desktop.net.sharing import ArchiveSharing
from ggen_desktop.net.transfer_types import TransferState
from tests.gui.conftest import Runner
from tests.helpers.packages import make_package
from tests.helpers.seeding import random_archive, share_package, sharing_for


@pytest.fixture
def seeder(window: MainWindow, run: Runner, tmp_path: Path) -> Iterator[ArchiveSharing]:
    """A BitTorrent seeder on one of the demo network's peers, announcing on the DHT the window joined."""
    assert window.app is not None and window.app.demo is not None
    node = window.app.demo.nodes[0]
    sharing = sharing_for(node, tmp_path / "seeder", "127.0.0.1")
    run(sharing.start())
    yield sharing
    run(sharing.close())


def publish_archive(run: Runner, seeder: ArchiveSharing, tmp_path: Path, size: int) -> tuple[Package, bytes]:
    source = random_archive(tmp_path / "archive.tgz", size)
    return run(share_package(seeder, source)), source.read_bytes()


def state_of(row: TransferRow) -> TransferState | None:
    return row.transfer.status().state if row.transfer is not None else None


def select(window: MainWindow, package: Package) -> None:
    """The result actions acting on a hit for `package` (as when its row is selected)."""
    window.area.result_actions.set_hit(SearchHit(sign(package, Ed25519PrivateKey.generate()), set(), 0.0))


def test_download_lands_a_verified_file_and_the_panel_says_so(window: MainWindow, seeder: ArchiveSharing, run: Runner,
                                                              qtbot: QtBot, tmp_path: Path, qtmodeltester: ModelTester) -> None:
    assert window.app is not None and window.app.sharing is not None
    package, payload = publish_archive(run, seeder, tmp_path, 1_500_000)
    select(window, package)
    action = window.area.result_actions.download
    assert action.isEnabled()
    action.trigger()
    panel = window.transfers_panel
    assert panel.model.rowCount() == 1
    row = panel.model.row_item(0)
    qtbot.waitUntil(lambda: row.is_over, timeout=60000)
    assert row.error == "" and row.path is not None
    assert row.path.read_bytes() == payload and row.path.parent == window.app.downloads_dir
    state = panel.model.index(0, TransfersModel.Columns.STATE).data()
    assert state == COMPLETED
    assert panel.model.index(0, TransfersModel.Columns.PROGRESS).data() == "100 %"
    assert window.docks["transfers"].isVisible()
    qtmodeltester.check(panel.model, force_py=True)  # type: ignore[no-untyped-call]


def test_a_package_without_archive_cannot_be_downloaded(window: MainWindow) -> None:
    actions = window.area.result_actions
    select(window, make_package())
    assert not actions.download.isEnabled()
    assert "without a shared archive" in actions.download.toolTip()
    actions.download.trigger()
    assert window.transfers_panel.model.rowCount() == 0


def test_pause_resume_and_cancel_act_on_the_transfer(window: MainWindow, seeder: ArchiveSharing, run: Runner,
                                                     qtbot: QtBot, tmp_path: Path) -> None:
    package, _ = publish_archive(run, seeder, tmp_path, 3_000_000)
    assert seeder.session is not None
    seeder.session.set_rate_limits(upload=100_000)  # slow enough to press every button before it ends
    select(window, package)
    window.area.result_actions.download.trigger()
    panel = window.transfers_panel
    row = panel.model.row_item(0)
    qtbot.waitUntil(lambda: state_of(row) is TransferState.DOWNLOADING, timeout=20000)
    panel.refresh(force=True)
    assert panel.pause_button.isEnabled() and not panel.resume_button.isEnabled()
    panel.pause_button.click()
    qtbot.waitUntil(lambda: state_of(row) is TransferState.PAUSED, timeout=10000)
    panel.refresh(force=True)
    assert panel.model.index(0, TransfersModel.Columns.STATE).data() == "Paused"
    assert panel.resume_button.isEnabled() and not panel.pause_button.isEnabled()
    panel.resume_button.click()
    qtbot.waitUntil(lambda: state_of(row) is TransferState.DOWNLOADING, timeout=10000)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: row.is_over, timeout=10000)
    assert row.path is None and row.error == "Cancelled"
    assert panel.model.index(0, TransfersModel.Columns.STATE).data() == "Cancelled"
    assert not panel.cancel_button.isEnabled() and panel.open_button.isEnabled()
