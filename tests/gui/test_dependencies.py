"""Dependencies before a download, in a real window on the real demo network: two seeders on demo peers,
a package with three dependencies of which one is published nowhere; the details pane resolves them on
the DHT, and "Download with dependencies" fetches the package and the two available ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pytestqt.qtbot import QtBot

from ggen_desktop.core.package import Package
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.net.sharing import ArchiveSharing
from tests.gui.conftest import Runner
from tests.gui.test_search import search
from tests.helpers.seeding import publish_with_dependencies, sharing_for


@pytest.fixture
def seeders(window: MainWindow, run: Runner, tmp_path: Path) -> Iterator[tuple[ArchiveSharing, ArchiveSharing]]:
    """Two BitTorrent seeders, each on a demo peer, announcing on the DHT the window joined."""
    assert window.app is not None and window.app.demo is not None
    nodes = window.app.demo.nodes
    pair = (sharing_for(nodes[0], tmp_path / "seeder-1", "127.0.0.1"), sharing_for(nodes[1], tmp_path / "seeder-2",
                                                                                     "127.0.0.1"))
    for sharing in pair:
        run(sharing.start())
    yield pair
    for sharing in pair:
        run(sharing.close())


@pytest.fixture
def published(window: MainWindow, seeders: tuple[ArchiveSharing, ArchiveSharing], run: Runner,
              tmp_path: Path) -> dict[str, Package]:
    assert window.app is not None and window.app.demo is not None
    return run(publish_with_dependencies(window.app.demo.nodes[2], seeders, tmp_path / "archives",
                                         Ed25519PrivateKey.generate()), timeout_s=60)


def dependency_lines(window: MainWindow) -> list[str]:
    """The lines of the details pane's Dependencies row."""
    lines = [line.strip() for line in window.details.toPlainText().splitlines()]
    return lines[lines.index("Dependencies") + 1:lines.index("Content hash")]


def test_the_details_pane_shows_which_dependencies_can_be_fetched(qtbot: QtBot, window: MainWindow,
                                                                  published: dict[str, Package]) -> None:
    search(qtbot, window, "zebra")
    assert window.results_model.rowCount() == 1
    window.results_view.selectRow(0)
    assert "looking on the network" in window.details.toPlainText()  # shown at once, resolved in the background

    qtbot.waitUntil(lambda: "looking on the network" not in window.details.toPlainText(), timeout=30000)
    assert dependency_lines(window) == [
        "✓ acme/dep-a >=1.0.0,<2.0.0: available, 1.2.0 from 2 providers",  # newest in range; 2.0.0 is out of it
        "✓ acme/dep-b >=0.3.0: available, 0.3.1 from 1 provider",
        "✗ acme/dep-missing >=1.0.0: missing: no version of it was found on the network",
    ]


def test_download_with_dependencies_fetches_the_package_and_the_available_ones(
        qtbot: QtBot, window: MainWindow, published: dict[str, Package]) -> None:
    assert window.app is not None
    search(qtbot, window, "zebra")
    window.results_view.selectRow(0)
    action = window.area.result_actions.download_with_dependencies
    assert action in window.area.toolbar.actions() and action.isEnabled()
    messages: list[str] = []
    window.transfers_panel.message.connect(messages.append)

    action.trigger()  # before the resolution ended: it waits for it, then starts every transfer
    panel = window.transfers_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3, timeout=30000)
    rows = [panel.model.row_item(i) for i in range(3)]
    assert sorted(f"{row.package.id} {row.package.version}" for row in rows) == [
        "acme/dep-a 1.2.0", "acme/dep-b 0.3.1", "acme/zebra-app 1.0.0"]
    assert any("not available: acme/dep-missing >=1.0.0: missing" in text for text in messages)
    qtbot.waitUntil(lambda: all(row.is_over for row in rows), timeout=60000)
    for row in rows:
        assert row.error == "" and row.path is not None
        wanted = published[f"{row.package.id} {row.package.version}"]
        assert row.package == wanted and row.path.parent == window.app.downloads_dir
    assert window.app.sharing is not None
    assert {t.sha256 for t in window.app.sharing.session.transfers()} >= {  # type: ignore[union-attr]
        row.package.content_hash.removeprefix("sha256:") for row in rows}  # verified, and seeded from now on
