"""Make the screenshots in docs/ offscreen, from a real window on the real demo network.

Run: `python tests/gui/make_screenshots.py [OUT_DIR]` (default: docs/). Not a test
(pytest collects only test_*.py); re-run it when the window changes.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget
from qasync import run  # after PySide6, so qasync binds to it

from ggen_desktop.app import App
from ggen_desktop.core.query import QueryConfig
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.settings_dialog import SettingsDialog
from ggen_desktop.gui.tasks import wait_for


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


async def shoot(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(Path(tmp) / "config")  # at its first-run size, as a new user sees it
        window.show()
        app = App(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config")
        window.attach(app)
        report = window.on_progress

        def on_progress(label: str, done: int, total: int) -> None:
            report(label, done, total)
            if done == total // 2 and label.startswith("Starting demo"):
                save(window, out / "main-window-joining.png")

        window.on_progress = on_progress  # type: ignore[method-assign]
        ready = wait_for(window.ready)
        window.tasks.spawn(window.start_engine(), "joining the network")
        await ready
        app.node.query_config = QueryConfig(max_results=200, default_timeout=5.0)
        # a first search, so metrics, the chart and peer reputation have something to show
        for term in ("postgres", "auth", "deploy"):
            finished = wait_for(window.session.finished)
            window.search_bar.field.setText(term)
            window.search()
            await finished
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
        panels = {"metrics": window.metrics_panel, "peers": window.peers_panel, "node": window.node_panel,
                  "publish": window.publish_panel}
        for name, panel in panels.items():
            window.docks[name].raise_()
            await asyncio.sleep(0.05)
            if name == "publish":
                panel.set_text("id", "Acme/My Tool")
                panel.set_text("version", "1.0")
                panel.set_text("title", "My tool generator")
                panel.set_text("tags", "cli, rust")
                panel.validate()
            save(panel, out / f"{name}.png")
        dialog = SettingsDialog(app.settings, window)
        dialog.show()
        await asyncio.sleep(0.05)
        save(dialog, out / "settings.png")
        dialog.close()
        # the same window with a dark system palette: nothing may be hardcoded for a light one
        # (offscreen has no colour-scheme switching, so set a dark palette as a dark desktop would)
        QApplication.setPalette(dark_palette())
        window.docks["metrics"].raise_()
        await asyncio.sleep(0.2)
        save(window, out / "main-window-dark.png")
        window.close()
        await window.shutdown()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    QApplication(sys.argv[:1]).setQuitOnLastWindowClosed(False)  # the coroutine decides when to stop
    run(shoot(out))


if __name__ == "__main__":
    main()
