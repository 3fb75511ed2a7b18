"""The window's life: start before the network, panels that follow the node, state that persists."""

from __future__ import annotations

import html
import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMenuBar,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTabBar,
    QTableView,
    QToolButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from ggen_desktop import __version__
from ggen_desktop.app import App
from ggen_desktop.core.query import QueryConfig
from ggen_desktop.core.search import QueryStatus
from ggen_desktop.core.settings import SETTINGS_FILE, Settings, declarations
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.panel_poller import in_view
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
    bar = window.status.join_progress
    progress: list[tuple[str, int, int]] = []
    label = window.status.network_label
    bar.valueChanged.connect(lambda v: progress.append((label.text(), bar.maximum(), v)))
    with qtbot.waitSignal(window.ready, timeout=30000):
        window.tasks.spawn(window.start_engine(), "joining the network")
        assert window.status.join_progress.isVisible()
    # one determinate bar over both stages, never running backwards: "Starting demo network i/8", then "Joining"
    assert [text for text, _, _ in progress if text.startswith("Starting demo network")][-1].endswith("(8/8)")
    assert any(text == "Joining the demo network…" for text, _, _ in progress)
    assert all(maximum == 100 for _, maximum, _ in progress)
    values = [value for _, _, value in progress]
    assert values == sorted(values) and values[-1] == 100
    assert not window.status.join_progress.isVisible()
    # then the status bar says this is the demo, and how to join a real network
    assert window.status.network_label.text() == ("Demo network: 8 local peers with sample packages. "
                                           "To join a real one: Settings → Bootstrap peers")
    assert "--bootstrap HOST:PORT" in window.status.network_label.toolTip()
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
    window.search_bar.field.setText("rust")
    window.search()
    assert "Waiting for the network" in window.status.search_status.text()
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
        args = Namespace(data_dir=tmp_path / "data", port=None, bootstrap=[], self_check=False, verbose=False)
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
    assert window.node_panel.node_id_field.text() == window.app.node.node_id_hex  # type: ignore[union-attr]
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
    assert dialog.error_label.text().startswith("⚠ Bootstrap peers: ") and dialog.result_settings is None
    dialog.bootstrap.setPlainText("127.0.0.1:4433\n\n")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.result_settings is not None
    window.confirm_restart = lambda text: False  # type: ignore[method-assign]  # restarting is tested elsewhere
    window.apply_settings(dialog.result_settings)
    assert "listen port and bootstrap peers apply after a restart" in window.statusBar().currentMessage()
    saved = json.loads((config_dir / SETTINGS_FILE).read_text())
    assert saved["default_timeout"] == 4.5 and saved["max_results"] == 77 and saved["fan_out"] == 5
    assert saved["adaptive_timeout"] is False and saved["listen_port"] == 45678
    assert saved["bootstrap_peers"] == ["127.0.0.1:4433"]
    assert window.app.node.query_config == QueryConfig(default_timeout=4.5, max_results=77, adaptive_timeout=False,
                                                       fan_out=5)
    assert "restart" in window.statusBar().currentMessage()
    reloaded, problems = Settings.load(config_dir)
    assert not problems and reloaded == dialog.result_settings
    again = SettingsDialog(reloaded)
    qtbot.addWidget(again)
    assert again.build() == reloaded  # the form shows what was saved
    assert again.fan_out.toolTip() == declarations()["fan_out"].description


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
    first.layout().activate()  # lay out now: the window grows to what the new dock layout needs
    first.close()
    size = (first.width(), first.height())  # as saved on close
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


def test_menus_show_the_shortcuts(window: MainWindow) -> None:
    def keys(action: QAction) -> list[str]:
        return [s.toString() for s in action.shortcuts()]

    assert keys(window.commands.focus)[:2] == ["Ctrl+L", "Ctrl+F"]
    assert keys(window.commands.again)[:2] == ["F5", "Ctrl+R"]
    assert keys(window.commands.cancel) == ["Esc"]
    assert keys(window.commands.publish) == ["Ctrl+Shift+P"]
    assert keys(window.commands.settings)[0] == "Ctrl+,"
    assert keys(window.commands.quit) == ["Ctrl+Q"]
    assert keys(window.commands.about) == ["F1"]
    # every action in every menu has a shortcut, and the menu shows it (Qt shows the first one)
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        assert isinstance(menu, QMenu)
        for action in menu.actions():
            if not action.isSeparator():
                assert action.shortcut().toString(), f"{menu.title()} → {action.text()} has no shortcut"
    view = {a.text(): a.shortcut().toString() for a in window.menuBar().actions()[2].menu().actions()}  # type: ignore[union-attr]
    assert view == {"Query metrics": "Alt+1", "Peer reputation": "Alt+2", "Publish": "Alt+3", "Node": "Alt+4",
                    "Transfers": "Alt+5"}


def test_panel_shortcuts_bring_a_tabbed_panel_to_the_front_before_hiding_it(qtbot: QtBot, window: MainWindow) -> None:
    peers = window.docks["peers"]
    window.docks["metrics"].raise_()
    qtbot.waitUntil(lambda: not in_view(peers), timeout=1000)  # behind the metrics tab
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: in_view(peers), timeout=1000)  # brought to the front, not hidden
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert peers.isHidden()
    action = next(a for a in window.actions() if a.text() == "Peer reputation")
    assert not action.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert not peers.isHidden() and action.isChecked()


def test_shortcuts_focus_search_and_cancel_a_running_search(qtbot: QtBot, window: MainWindow) -> None:
    window.results_view.setFocus()
    window.search_bar.field.setText("rust")
    qtbot.keyClick(window.results_view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.search_bar.field.hasFocus() and window.search_bar.field.selectedText() == "rust"
    with qtbot.waitSignal(window.session.started, timeout=2000):
        qtbot.keyClick(window.results_view, Qt.Key.Key_F5)
    qtbot.keyClick(window.search_bar.field, Qt.Key.Key_Escape)
    assert window.session.trace is not None and window.session.trace.status is QueryStatus.CANCELLED
    assert window.status.search_status.text().endswith(": cancelled")


def buddied_labels(root: QWidget) -> set[QWidget]:
    return {label.buddy() for label in root.findChildren(QLabel) if label.buddy() is not None and label.text()}


def test_every_control_of_the_window_has_an_accessible_name(window: MainWindow) -> None:
    """Screen readers name each control: an accessibleName, its own text, or a label that is its buddy."""
    labelled = buddied_labels(window)
    for form in window.findChildren(QFormLayout):  # a form row's label names its field
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label is not None and field is not None and field.widget() is not None:
                labelled.add(field.widget())
    kinds = (QLineEdit, QPushButton, QComboBox, QTableView, QToolButton, QAbstractSpinBox, QPlainTextEdit)
    controls = [w for w in window.findChildren(QWidget) if isinstance(w, kinds)]
    assert len(controls) > 20
    unnamed = []
    for widget in controls:
        parent = widget.parentWidget()
        if isinstance(parent, (QLineEdit, QAbstractSpinBox, QTabBar, QMenuBar)):
            continue  # clear buttons, spin box editors, scroll arrows, the menu bar's overflow: Qt's own
        own_text = widget.text() if isinstance(widget, QAbstractButton) else ""
        if not (widget.accessibleName() or own_text.replace("&", "") or widget in labelled):
            unnamed.append(f"{type(widget).__name__} {widget.objectName() or '?'} in {type(parent).__name__}")
    assert not unnamed, unnamed


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


def test_about_box_shows_the_version_and_the_folders_in_use(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                           config_dir: Path) -> None:
    qtbot.keyClick(window, Qt.Key.Key_F1)
    box = window.findChild(QMessageBox, "aboutBox")
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.windowTitle() == f"About ggen-desktop {__version__}"
    text = box.text()
    assert f"<h3>ggen-desktop {__version__}</h3>" in text
    assert f"Data: <code>{html.escape(str(tmp_path / 'data'))}</code>" in text
    assert f"Settings: <code>{html.escape(str(config_dir))}</code>" in text
    assert not box.iconPixmap().isNull()  # the app icon, as QMessageBox.about shows it
    assert box.windowModality() == Qt.WindowModality.WindowModal  # open(), not exec(): the node keeps running
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "aboutBox") is None, timeout=2000)  # deleted, not hidden


def test_each_error_box_is_deleted_once_closed(qtbot: QtBot, run: Runner, config_dir: Path) -> None:
    """An error box used to stay behind, hidden, as a child of the window after the user closed it."""
    window = MainWindow(config_dir)
    window.show()
    try:
        for number in range(3):
            window.show_error("Saving failed", f"disk full ({number})", serious=True)
            box = window.error_box
            assert box is not None and box.isVisible() and box.text() == f"disk full ({number})"
            box.button(QMessageBox.StandardButton.Ok).click()
            assert not box.isVisible()
        qtbot.waitUntil(lambda: not window.findChildren(QMessageBox), timeout=2000)
        assert window.error_box is None
    finally:
        run(window.shutdown())
        window.close()
        window.deleteLater()


def test_a_search_the_fields_cannot_make_is_explained_in_the_status_bar(qtbot: QtBot, run: Runner,
                                                                         config_dir: Path) -> None:
    window = MainWindow(config_dir)
    window.show()
    try:
        window.search()
        assert window.status.currentMessage() == "Type something to search for, or pick a category or tag"
        window.search_bar.field.setText("x" * 300)
        window.search()
        assert window.status.currentMessage().startswith("Cannot search: query text must be text of at most")
        assert window.session.handle is None and window.error_box is None  # nothing ran, no dialog
    finally:
        run(window.shutdown())
        window.close()
        window.deleteLater()
