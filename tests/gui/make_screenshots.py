"""Make the screenshots in docs/ offscreen, from a real window on the real demo network.

Run: `python tests/gui/make_screenshots.py [OUT_DIR]` (default: docs/). Not a test
(pytest collects only test_*.py); re-run it when the window changes. The shots are taken on an
offscreen screen of 1440×900 (the window at its first-run 1280×800), and the small-screen one in a
second process whose screen is 1024×640, and the HiDPI one in a third whose 3200×2000 screen is scaled by 2
(QT_SCALE_FACTOR=2: 1600×1000 logical pixels, the image in device pixels).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SMALL = "--small"
SCALE2 = "--scale2"  # the window at scale factor 2 (docs/window-scale2.png)
TRANSFERS = "--transfers"  # only the Transfers shots (docs/transfers*.png)
DEPENDENCIES = "--dependencies"  # only the dependency view (docs/dependencies.png)


def offscreen_screen(width: int, height: int) -> None:
    """Make the offscreen platform's one screen this size (before the QApplication exists)."""
    config = Path(tempfile.mkdtemp()) / "screen.json"
    config.write_text(json.dumps({"screens": [{"name": "shots", "x": 0, "y": 0, "width": width, "height": height,
                                               "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QContextMenuEvent, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QMenu, QWidget
from qasync import run  # after PySide6, so qasync binds to it

from ggen_desktop.app import App
from ggen_desktop.core.query import QueryConfig
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.settings_dialog import SettingsDialog
from ggen_desktop.gui.tasks import wait_for
from tests.helpers.packages import make_record


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.WindowText, "#e6e6e6"),
                         (QPalette.ColorRole.Base, "#1e1e1e"), (QPalette.ColorRole.AlternateBase, "#262626"),
                         (QPalette.ColorRole.Text, "#e6e6e6"), (QPalette.ColorRole.Button, "#333333"),
                         (QPalette.ColorRole.ButtonText, "#e6e6e6"), (QPalette.ColorRole.Highlight, "#3d6fb4"),
                         (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.Mid, "#555555"),
                         (QPalette.ColorRole.Link, "#7fb0ff"), (QPalette.ColorRole.PlaceholderText, "#8a8a8a")):
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))  # greyed out, as a dark theme does
    return palette


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"wrote {path} ({widget.width()}×{widget.height()})")


def save_with_popup(window: QWidget, popup: QWidget, path: Path) -> None:
    """The window with an open popup menu drawn where it is on screen (each is its own top-level window)."""
    image = window.grab()
    painter = QPainter(image)
    painter.drawPixmap(window.mapFromGlobal(popup.mapToGlobal(QPoint(0, 0))), popup.grab())
    painter.end()
    image.save(str(path))
    print(f"wrote {path} ({window.width()}×{window.height()}, with its menu)")


async def search(window: MainWindow, text: str) -> None:
    finished = wait_for(window.session.finished)
    window.search_bar.field.setText(text)
    window.search()
    await finished
    await asyncio.sleep(0.05)


async def open_window(tmp: str) -> tuple[MainWindow, App]:
    window = MainWindow(Path(tmp) / "config")  # at its first-run size, as a new user sees it
    window.show()
    app = App(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config")
    window.attach(app)
    return window, app


async def joined(window: MainWindow) -> None:
    """Start the window's engine (the demo network) and wait until it has joined."""
    ready = wait_for(window.ready)
    window.tasks.spawn(window.start_engine(), "joining the network")
    await ready


async def shoot(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        window, app = await open_window(tmp)
        report = window.on_progress

        def on_progress(label: str, done: int, total: int) -> None:
            report(label, done, total)
            if done == total // 2 and label.startswith("Starting demo"):
                save(window, out / "main-window-joining.png")

        window.on_progress = on_progress  # type: ignore[method-assign]
        await joined(window)
        app.node.query_config = QueryConfig(max_results=200, default_timeout=5.0)
        # a first search, so metrics, the chart and peer reputation have something to show
        for term in ("postgres", "auth", "deploy"):
            await search(window, term)
        finished = wait_for(window.session.finished)
        window.search_bar.field.setText("rust")
        window.search()
        while window.results_model.rowCount() < 8 and window.session.running:
            await asyncio.sleep(0.005)
        window.results_view.selectRow(1)
        save(window, out / "main-window-streaming.png")
        await finished
        window.poll()
        window.results_view.selectRow(0)
        await asyncio.sleep(0.1)
        save(window, out / "main-window.png")
        await context_menu(window, out)
        await continuity_warning(window, app, out)
        window.search_bar.field.clear()  # back to browsing, with what the searches found
        await asyncio.sleep(0.1)
        save(window, out / "start-view.png")
        await panels(window, app, out)
        await publish_flow(window, out)
        # the same window with a dark system palette: nothing may be hardcoded for a light one
        # (offscreen has no colour-scheme switching, so set a dark palette as a dark desktop would)
        QApplication.setPalette(dark_palette())
        await search(window, "rust")
        window.results_view.selectRow(0)
        window.docks["metrics"].raise_()
        await asyncio.sleep(0.2)
        save(window, out / "main-window-dark.png")
        window.close()
        await window.shutdown()


async def context_menu(window: MainWindow, out: Path) -> None:
    view = window.results_view
    at = view.visualRect(view.model().index(2, 0)).center()
    QApplication.sendEvent(view.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at,
                                                              view.viewport().mapToGlobal(at)))
    await asyncio.sleep(0.1)
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    save_with_popup(window, menu, out / "context-menu.png")
    menu.close()


async def continuity_warning(window: MainWindow, app: App, out: Path) -> None:
    """A known package name published again by a new key, and only that key's row in the results."""
    await search(window, "postgres")
    model = window.results_model
    original = model.hit(0).record
    app.set_petname(original.fingerprint, original.package.id.namespace.replace("-", " ").title())
    impostor = make_record(str(original.package.id), "Zebrafinch edition", key=Ed25519PrivateKey.generate(),
                           version="9.9.9", tags=("zebrafinch",), description="Looks like the real one")
    assert app.demo is not None
    await app.demo.nodes[3].publish(impostor)
    await search(window, "zebrafinch")
    window.results_view.selectRow(0)
    await asyncio.sleep(0.1)
    save(window, out / "continuity-warning.png")


async def panels(window: MainWindow, app: App, out: Path) -> None:
    for name, panel in {"metrics": window.metrics_panel, "peers": window.peers_panel, "node": window.node_panel,
                        "publish": window.publish_panel}.items():
        window.docks[name].raise_()
        await asyncio.sleep(0.05)
        save(panel, out / f"{name}.png")
    dialog = SettingsDialog(app.settings, window)
    dialog.show()
    await asyncio.sleep(0.05)
    save(dialog, out / "settings.png")
    dialog.close()


async def publish_flow(window: MainWindow, out: Path) -> None:
    """The form after "Sign and publish" with mistakes: each message beside its field."""
    window.show_publish()
    dialog = window.publish_panel.dialog
    form = dialog.form
    for name, value in (("id", "Acme/My Tool"), ("version", "1.0"), ("title", "My tool generator"),
                        ("tags", "cli, Rust"), ("content_hash", "sha256:1234")):
        form.set_text(name, value)
    form.category_boxes["Utility"].setChecked(True)
    form.other_box.setChecked(True)
    form.other_field.setText("Robotics")
    dialog.publish_button.click()
    dialog.scroller.verticalScrollBar().setValue(0)
    await asyncio.sleep(0.1)
    save(dialog, out / "publish-dialog.png")
    dialog.close()


async def shoot_small(out: Path, name: str = "window-1024x640.png") -> None:
    """The window on a small (or scaled) screen, as it opens there the first time, after a search."""
    with tempfile.TemporaryDirectory() as tmp:
        window, _app = await open_window(tmp)
        await joined(window)
        await search(window, "rust")
        window.results_view.selectRow(0)
        await asyncio.sleep(0.1)
        save(window, out / name)
        window.close()
        await window.shutdown()


async def shoot_transfers(out: Path) -> None:
    """The Transfers panel with one verified download and one slow one in progress, from a seeder on a demo peer."""
    import hashlib

    from ggen_desktop.core.record import sign
    from ggen_desktop.core.search import SearchHit
    from ggen_desktop.gui.transfers_model import TransfersModel
    from tests.helpers.packages import make_package
    from tests.helpers.seeding import sharing_for

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        window, app = await open_window(tmp)
        await joined(window)
        assert app.demo is not None
        node = app.demo.nodes[0]
        seeder = sharing_for(node, Path(tmp) / "seeder", "127.0.0.1")
        await seeder.start()
        packages = []
        for name, size in (("acme/rust-cli", 1_500_000), ("acme/postgres-schema", 8_000_000)):
            payload = os.urandom(size)
            source = Path(tmp) / f"{name.replace('/', '-')}.tgz"
            source.write_bytes(payload)
            package = make_package(name, content_hash="sha256:" + hashlib.sha256(payload).hexdigest())
            packages.append(await seeder.add_archive(package, source))
        await search(window, "rust")
        window.results_view.selectRow(0)
        actions = window.area.result_actions
        actions.set_hit(SearchHit(sign(packages[0], Ed25519PrivateKey.generate()), set(), 0.0))
        actions.download.trigger()
        window.area.show_selected()  # the actions follow the selected row again
        window.resizeDocks([window.docks["transfers"]], [220], Qt.Orientation.Vertical)
        row = window.transfers_panel.model.row_item(0)
        while not row.is_over:
            await asyncio.sleep(0.05)
        assert seeder.session is not None
        seeder.session.set_rate_limits(upload=300_000)
        window.download(packages[1])
        while TransfersModel.progress(window.transfers_panel.model.row_item(1)) < 0.2:
            await asyncio.sleep(0.2)
            window.transfers_panel.refresh(force=True)
        save(window.transfers_panel, out / "transfers.png")
        save(window, out / "transfers-window.png")
        window.close()
        await window.shutdown()
        await seeder.close()


async def shoot_dependencies(out: Path) -> None:
    """The details pane of a package with three dependencies, resolved on the demo network: two available
    (seeded by demo peers), one published nowhere."""
    from tests.helpers.seeding import publish_with_dependencies, sharing_for

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        window, app = await open_window(tmp)
        await joined(window)
        assert app.demo is not None
        nodes = app.demo.nodes
        seeders = (sharing_for(nodes[0], Path(tmp) / "seeder-1", "127.0.0.1"),
                   sharing_for(nodes[1], Path(tmp) / "seeder-2", "127.0.0.1"))
        for seeder in seeders:
            await seeder.start()
        await publish_with_dependencies(nodes[2], seeders, Path(tmp) / "archives", Ed25519PrivateKey.generate())
        await search(window, "zebra")
        window.results_view.selectRow(0)
        window.splitter.setSizes([200, 520])
        while "looking on the network" in window.details.toPlainText():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)  # one more paint
        save(window.area, out / "dependencies.png")
        window.close()
        await window.shutdown()
        for seeder in seeders:
            await seeder.close()


def main() -> None:
    small = SMALL in sys.argv
    if DEPENDENCIES in sys.argv:
        offscreen_screen(1440, 900)
        QApplication(sys.argv[:1]).setQuitOnLastWindowClosed(False)
        run(shoot_dependencies(Path(next((a for a in sys.argv[1:] if a != DEPENDENCIES), ROOT / "docs"))))
        return
    if TRANSFERS in sys.argv:
        offscreen_screen(1440, 900)
        QApplication(sys.argv[:1]).setQuitOnLastWindowClosed(False)
        run(shoot_transfers(Path(next((a for a in sys.argv[1:] if a != TRANSFERS), ROOT / "docs"))))
        return
    args = [a for a in sys.argv[1:] if a not in (SMALL, SCALE2)]
    out = Path(args[0]) if args else ROOT / "docs"
    if SCALE2 in sys.argv:
        offscreen_screen(3200, 2000)
        os.environ["QT_SCALE_FACTOR"] = "2"
        QApplication(sys.argv[:1]).setQuitOnLastWindowClosed(False)
        run(shoot_small(out, "window-scale2.png"))
        return
    if small:
        offscreen_screen(1024, 640)
    else:
        offscreen_screen(1440, 900)
    QApplication(sys.argv[:1]).setQuitOnLastWindowClosed(False)  # the coroutine decides when to stop
    run(shoot_small(out) if small else shoot(out))
    if not small:
        subprocess.run([sys.executable, __file__, str(out), SMALL], check=True)
        subprocess.run([sys.executable, __file__, str(out), SCALE2], check=True)


if __name__ == "__main__":
    main()
