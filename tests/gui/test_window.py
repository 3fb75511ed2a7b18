"""The window's life: start before the network, panels that follow the node, state that persists."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from ggen_desktop.app import App
from ggen_desktop.core.query import QueryConfig
from ggen_desktop.core.settings import SETTINGS_FILE, Settings
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.results_model import ResultsModel
from ggen_desktop.gui.settings_dialog import SettingsDialog
from tests.gui.conftest import Runner
from tests.gui.test_search import search


def test_window_is_shown_before_the_network_joins_and_shuts_down_cleanly(
    qtbot: QtBot, run: Runner, config_dir: Path, tmp_path: Path
) -> None:
    window = MainWindow(config_dir)
    with qtbot.waitSignal(window.shown, timeout=5000):
        window.show()
    assert window.isVisible() and not window.is_ready
    app = App(data_dir=tmp_path / "data", config_dir=config_dir, demo_size=8)
    window.attach(app)
    progress: list[str] = []
    window.join_progress.valueChanged.connect(lambda _v: progress.append(window.network_label.text()))
    with qtbot.waitSignal(window.ready, timeout=30000):
        window.tasks.spawn(window.start_engine(), "joining the network")
        assert window.join_progress.isVisible()
    assert any("Starting demo network" in text for text in progress)
    assert not window.join_progress.isVisible()
    assert window.network_label.text().startswith("Demo network")
    node = app.node
    assert node.is_running
    window.close()
    run(window.shutdown())
    run(window.shutdown())  # idempotent
    assert not node.is_running
    assert (config_dir / "window.ini").exists()
    window.deleteLater()


def test_a_search_typed_before_joining_runs_once_joined(qtbot: QtBot, run: Runner, config_dir: Path,
                                                        tmp_path: Path) -> None:
    window = MainWindow(config_dir)
    window.show()
    window.attach(App(data_dir=tmp_path / "data", config_dir=config_dir, demo_size=8))
    window.search_field.setText("rust")
    window.search()
    assert "Waiting for the network" in window.search_status.text()
    with qtbot.waitSignal(window.session.finished, timeout=30000):
        window.tasks.spawn(window.start_engine(), "joining the network")
    assert window.results_model.rowCount() > 0
    run(window.shutdown())
    window.close()
    window.deleteLater()


def test_data_folder_in_use_is_shown_in_the_window(qtbot: QtBot, run: Runner, config_dir: Path,
                                                   tmp_path: Path) -> None:
    from argparse import Namespace

    from ggen_desktop.gui.launch import create_app

    holder = App(data_dir=tmp_path / "data", config_dir=config_dir, demo_size=1)
    window = MainWindow(config_dir)
    window.show()
    try:
        args = Namespace(data_dir=tmp_path / "data", port=None, bootstrap=[], self_check=False)
        assert create_app(args, window) is None
        assert window.error_box is not None and window.error_box.isVisible()
        assert "already in use" in window.error_box.text()
        assert "already in use" in window.statusBar().currentMessage()
    finally:
        window.error_box.close() if window.error_box else None
        run(holder.stop())
        window.close()
        window.deleteLater()


def test_metrics_peers_and_node_panels_follow_the_node(qtbot: QtBot, window: MainWindow) -> None:
    # enough wanted results that peers are asked even if records were handed over while joining
    window.app.node.query_config = QueryConfig(max_results=500, default_timeout=5.0)  # type: ignore[union-attr]
    window.docks["node"].raise_()
    window.poll()
    peers_before = window.peers_panel.model.rowCount()
    node_labels = window.node_panel.labels
    assert node_labels["node_id"].text() == window.app.node.node_id_hex  # type: ignore[union-attr]
    assert "demo network" in node_labels["network"].text()
    assert window.node_panel.contacts_model.rowCount() > 0
    assert "contacts" in node_labels["contacts"].text()
    search(qtbot, window, "rust")
    window.docks["metrics"].raise_()  # brought to front: it refreshes at once
    qtbot.waitUntil(lambda: window.metrics_panel.labels["total"].text() == "1", timeout=2000)
    assert window.metrics_panel.labels["successful"].text() == "1"
    assert window.metrics_panel.labels["avg_duration"].text().endswith(" ms")
    assert len(window.metrics_panel.chart.values) == 1
    assert window.metrics_panel.trace_model.rowCount() > 0
    assert "answered" in window.metrics_panel.trace_title.text()
    window.docks["peers"].raise_()
    peers = window.peers_panel.model
    qtbot.waitUntil(lambda: peers.rowCount() > 0, timeout=2000)
    assert peers.rowCount() >= peers_before
    assert any(int(peers.index(r, peers.Columns.SUCCESSES).data()) > 0 for r in range(peers.rowCount()))
    # block a peer from the panel; the node avoids it and the table says so in place
    panel = window.peers_panel
    panel.view.selectRow(0)
    peer_id = panel.selected_peer().peer_id  # type: ignore[union-attr]
    resets: list[int] = []
    peers.modelReset.connect(lambda: resets.append(1))
    panel.block_button.click()
    assert window.app.node.reputation.is_avoided(peer_id)  # type: ignore[union-attr]
    row = next(r for r in range(peers.rowCount()) if peers.peer(r).peer_id == peer_id)
    assert peers.index(row, peers.Columns.STATE).data() == "blocked"
    assert panel.block_button.text() == "Unblock" and not resets
    panel.block_button.click()
    assert not window.app.node.reputation.is_avoided(peer_id)  # type: ignore[union-attr]


def test_settings_round_trip_through_their_file(qtbot: QtBot, window: MainWindow, config_dir: Path) -> None:
    assert window.app is not None
    dialog = SettingsDialog(window.app.settings, window)
    qtbot.addWidget(dialog)
    dialog.timeout.setValue(4.5)
    dialog.max_results.setValue(77)
    dialog.fan_out.setValue(5)
    dialog.adaptive.setChecked(False)
    dialog.port.setValue(45678)
    dialog.bootstrap.setPlainText("not-a-peer")
    dialog.accept()
    assert "bootstrap_peers" in dialog.error_label.text() and dialog.result_settings is None
    dialog.bootstrap.setPlainText("127.0.0.1:4433\n\n")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.result_settings is not None
    assert dialog.restart_needed(dialog.result_settings) == ["listen_port", "bootstrap_peers"]
    window.apply_settings(dialog.result_settings)
    saved = json.loads((config_dir / SETTINGS_FILE).read_text())
    assert saved["default_timeout"] == 4.5 and saved["max_results"] == 77 and saved["fan_out"] == 5
    assert saved["adaptive_timeout"] is False and saved["listen_port"] == 45678
    assert saved["bootstrap_peers"] == ["127.0.0.1:4433"]
    assert window.app.node.query_config == QueryConfig(default_timeout=4.5, max_results=77, adaptive_timeout=False,
                                                       fan_out=5)
    assert "restart" in window.statusBar().currentMessage()
    reloaded, problems = Settings.load(config_dir)
    assert not problems and reloaded.as_dict() == dialog.result_settings.as_dict()
    again = SettingsDialog(reloaded)
    qtbot.addWidget(again)
    assert again.values() == {k: v for k, v in saved.items()}


def test_geometry_docks_columns_and_sort_persist_across_windows(qtbot: QtBot, run: Runner, config_dir: Path) -> None:
    first = MainWindow(config_dir)
    first.show()
    first.resize(731, 517)  # inside the offscreen screen (800×600); Qt may still grow it to the docks' minimum
    first.docks["peers"].raise_()
    header = first.results_view.horizontalHeader()
    header.resizeSection(ResultsModel.Columns.TITLE, 333)
    first.results_view.sortByColumn(ResultsModel.Columns.SOURCES, Qt.SortOrder.DescendingOrder)
    first.docks["node"].hide()
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.docks["metrics"])
    qtbot.wait(50)  # let the layout settle: the window grows to what the new dock layout needs
    size = (first.width(), first.height())
    first.close()
    store = QSettings(str(config_dir / "window.ini"), QSettings.Format.IniFormat)
    assert isinstance(store.value("geometry"), QByteArray)
    second = MainWindow(config_dir)
    second.show()
    try:
        assert (second.width(), second.height()) == size
        header = second.results_view.horizontalHeader()
        assert header.sectionSize(ResultsModel.Columns.TITLE) == 333
        assert header.sortIndicatorSection() == ResultsModel.Columns.SOURCES
        assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        assert second.docks["node"].isHidden()
        assert second.dockWidgetArea(second.docks["metrics"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    finally:
        second.close()
        for window in (first, second):
            window.deleteLater()


def test_menus_show_the_shortcuts_and_controls_have_accessible_names(window: MainWindow) -> None:
    def keys(action: object) -> set[str]:
        return {s.toString() for s in action.shortcuts()}  # type: ignore[attr-defined]

    assert {"Ctrl+L", "Ctrl+F"} <= keys(window.focus_action)
    assert {"F5", "Ctrl+R"} <= keys(window.again_action)
    assert "Esc" in keys(window.cancel_action)
    assert "Ctrl+Shift+P" in keys(window.publish_action)
    assert "Ctrl+Q" in keys(window.quit_action)
    assert "Ctrl+," in keys(window.settings_action)
    assert QKeySequence(QKeySequence.StandardKey.Preferences) in window.settings_action.shortcuts() or \
        QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences) == []
    for widget in (window.search_field, window.category_box, window.tags_field, window.search_button,
                   window.cancel_button, window.results_view, window.details, window.peers_panel.view):
        assert widget.accessibleName()
    assert QApplication.instance() is not None


def test_a_failing_task_is_reported_in_the_window(qtbot: QtBot, window: MainWindow) -> None:
    async def broken() -> None:
        raise OSError("disk full while saving")

    with qtbot.waitSignal(window.tasks.failed, timeout=2000):
        window.tasks.spawn(broken(), "saving the catalogue")
    assert window.error_box is not None and window.error_box.isVisible()
    assert window.error_box.windowTitle() == "Saving the catalogue failed"
    assert "disk full" in window.error_box.text()
    assert "disk full" in window.statusBar().currentMessage()
    window.error_box.close()


def test_about_names_the_version(config_dir: Path) -> None:
    from ggen_desktop import __version__
    from ggen_desktop.gui.about import about_text

    text = about_text(Path("/data"), config_dir)
    assert f"ggen-desktop {__version__}" in text and str(config_dir) in text
