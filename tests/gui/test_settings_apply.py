"""Settings apply without a restart where they can: search settings at once, a new port restarts the node
in the same window after confirmation; a bad value is named by the field's label as the user sees it."""

from __future__ import annotations

import socket
from pathlib import Path

from pytestqt.qtbot import QtBot

from ggen_desktop.core.settings import Settings
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.settings_dialog import SettingsDialog


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_bad_value_is_named_by_its_label_as_typed_and_the_message_goes_once_it_is_fixed(
        qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None
    dialog = SettingsDialog(window.app.settings, window)
    qtbot.addWidget(dialog)
    dialog.bootstrap.setPlainText("not-a-peer")  # checked as typed, before OK
    assert dialog.error_label.text() == "⚠ Bootstrap peers: peer 'not-a-peer' must be HOST:PORT, for example 127.0.0.1:4433"
    dialog.bootstrap.setPlainText("127.0.0.1:4433")
    assert dialog.error_label.text() == ""
    dialog.fan_out.setMaximum(40)  # past the box's own bound: the settings' rule still speaks, by the label
    dialog.fan_out.setValue(20)
    dialog.accept()
    assert dialog.result_settings is None
    assert dialog.error_label.text() == "⚠ Peers asked at once: must be a whole number from 1 to 16"


def test_search_settings_apply_to_the_running_node_at_once(qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None
    node = window.app.node
    dialog = SettingsDialog(window.app.settings, window)
    qtbot.addWidget(dialog)
    dialog.fan_out.setValue(7)
    dialog.max_results.setValue(33)
    dialog.accept()
    assert dialog.result_settings is not None
    window.confirm_restart = lambda text: pytest_fail(text)  # type: ignore[method-assign]
    window.apply_settings(dialog.result_settings)
    assert window.app.node is node and node.is_running
    assert node.query_config.fan_out == 7 and node.query_config.max_results == 33
    assert "search and download settings apply now" in window.statusBar().currentMessage()


def pytest_fail(text: str) -> bool:
    raise AssertionError(f"no restart is needed for search settings, yet asked: {text}")


def test_a_new_port_restarts_the_node_in_the_same_window_after_confirmation(qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None
    old, sharing = window.app.node, window.app.sharing
    assert sharing is not None and sharing.session is not None
    port = free_udp_port()
    dialog = SettingsDialog(window.app.settings, window)
    qtbot.addWidget(dialog)
    dialog.port.setValue(port)
    dialog.accept()
    assert dialog.result_settings is not None
    asked: list[str] = []
    window.confirm_restart = lambda text: asked.append(text) is None  # type: ignore[method-assign]
    with qtbot.waitSignal(window.ready, timeout=30000):
        window.apply_settings(dialog.result_settings)
    assert asked == ["The listen port changed. Restart the node now to use them? "
                     "A running search stops; the window stays open."]
    node = window.app.node
    assert node is not old and not old.is_running
    assert node.is_running and node.joined and node.address == ("127.0.0.1", port)
    assert window.is_joined and window.isVisible()
    assert window.app.sharing is sharing and sharing.session.is_open  # one BitTorrent session, not a second one


def test_declining_the_restart_keeps_the_node_and_says_when_the_change_applies(qtbot: QtBot, window: MainWindow) -> None:
    assert window.app is not None
    old = window.app.node
    dialog = SettingsDialog(window.app.settings, window)
    qtbot.addWidget(dialog)
    dialog.port.setValue(free_udp_port())
    dialog.accept()
    assert dialog.result_settings is not None
    window.confirm_restart = lambda text: False  # type: ignore[method-assign]
    window.apply_settings(dialog.result_settings)
    assert window.app.node is old and old.is_running
    assert "listen port apply after a restart" in window.statusBar().currentMessage()


def test_download_settings_apply_at_once(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    """A downloads folder and "seed downloads" off, chosen in the dialog: the next download goes to that
    folder and the running sharing stops offering downloads, with no restart."""
    assert window.app is not None and window.app.sharing is not None
    node = window.app.node
    dialog = SettingsDialog(window.app.settings, window)
    qtbot.addWidget(dialog)
    assert dialog.seed_downloads.isChecked() and dialog.downloads_folder.text() == ""
    dialog.downloads_folder.setText("relative/folder")
    assert dialog.error_label.text().startswith("⚠ Downloads folder: must be an absolute path")
    dialog.downloads_folder.setText(str(tmp_path / "my downloads"))
    dialog.seed_downloads.setChecked(False)
    dialog.accept()
    assert dialog.result_settings is not None
    window.confirm_restart = lambda text: pytest_fail(text)  # type: ignore[method-assign]
    window.apply_settings(dialog.result_settings)
    assert window.app.node is node
    assert window.app.downloads_dir == tmp_path / "my downloads"
    assert window.app.sharing.seed_downloads is False
    assert window.app.sharing.session is not None and window.app.sharing.session.seed_downloads is False
    assert Settings.load(window.app.config_dir)[0].seed_downloads is False
