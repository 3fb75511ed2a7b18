"""Small screens: on a first start the window fits the screen's available area, the side panels take a
proportionate share, and every result column is on screen. Each case is a fresh process whose offscreen
screen has the size under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, QSize

from ggen_desktop.gui.window_docks import first_run_dock_width, first_run_geometry

PROBE = Path(__file__).with_name("geometry_probe.py")


def open_on_screen(tmp_path: Path, width: int, height: int, config_dir: Path, *resize: int,
                   scale: int | None = None) -> dict[str, Any]:
    """The probe's report; `width`×`height` are device pixels, and with `scale` Qt scales everything by it
    (QT_SCALE_FACTOR, as a HiDPI desktop sets it), so the window sees a screen `scale` times smaller."""
    screen = tmp_path / f"screen-{width}x{height}.json"
    screen.write_text(json.dumps({"screens": [{"name": "test", "x": 0, "y": 0, "width": width, "height": height,
                                               "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {key: value for key, value in os.environ.items() if not key.startswith("QT_SCALE")}
    env["QT_QPA_PLATFORM"] = f"offscreen:configfile={screen}"
    if scale is not None:
        env["QT_SCALE_FACTOR"] = str(scale)
    done = subprocess.run([sys.executable, str(PROBE), str(config_dir), *map(str, resize)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize(("width", "height"), [(1024, 640), (1366, 768)])
def test_first_start_fits_a_small_screen_with_every_column_in_view(tmp_path: Path, width: int, height: int) -> None:
    shown = open_on_screen(tmp_path, width, height, tmp_path / "config")
    frame = QRect(*shown["frame"])
    assert QRect(*shown["available"]).contains(frame), shown
    assert frame.width() >= width * 0.9 and frame.height() >= height * 0.9, shown  # and uses most of it
    assert shown["dock_width"] <= 0.3 * frame.width(), shown
    assert shown["columns_width"] <= shown["table_width"], shown  # no column off-screen
    assert shown["tab_titles"] == ["Metrics", "Peers", "Publish", "Node"] and not shown["tabs_elided"]
    assert shown["tabs_width"] <= shown["tab_bar_width"], shown  # every panel tab readable, no scroll arrows
    assert shown["tabs_clipped"] == [] and shown["tabs_visible"], shown


@pytest.mark.parametrize(("width", "height"), [(3200, 2000), (2048, 1280)])
def test_at_scale_factor_2_the_window_fits_and_every_panel_tab_reads_whole(tmp_path: Path, width: int,
                                                                           height: int) -> None:
    shown = open_on_screen(tmp_path, width, height, tmp_path / "config", scale=2)
    assert shown["device_pixel_ratio"] == 2.0, shown  # the scale applies
    available, frame = QRect(*shown["available"]), QRect(*shown["frame"])
    assert available.size() == QSize(width // 2, height // 2), shown
    assert available.contains(frame), shown  # not 2560×1600 device pixels' worth on a smaller screen
    assert shown["tab_titles"] == ["Metrics", "Peers", "Publish", "Node"] and not shown["tabs_elided"], shown
    assert shown["tabs_clipped"] == [] and shown["tabs_visible"], shown
    assert shown["tabs_width"] <= shown["tab_bar_width"], shown
    assert shown["columns_width"] <= shown["table_width"], shown


def test_a_very_small_screen_still_fits_the_window(tmp_path: Path) -> None:
    shown = open_on_screen(tmp_path, 800, 600, tmp_path / "config")
    assert QRect(*shown["available"]).contains(QRect(*shown["frame"])), shown
    assert shown["dock_width"] <= 0.3 * QRect(*shown["frame"]).width(), shown


def test_a_later_start_keeps_the_size_the_user_left(tmp_path: Path) -> None:
    config = tmp_path / "config"
    open_on_screen(tmp_path, 1024, 640, config, 700, 500)  # the user makes it smaller
    again = open_on_screen(tmp_path, 1024, 640, config)
    assert QRect(*again["frame"]).size() == QSize(704, 504)  # not refitted: as left (plus the 2-pixel frame)


def test_first_run_geometry_is_the_preferred_size_on_a_large_screen_and_centred() -> None:
    big = QRect(0, 0, 2560, 1440)
    geometry = first_run_geometry(big, QSize(1280, 800))
    assert geometry.size() == QSize(1280, 800) and geometry.center() == big.center()
    assert first_run_geometry(QRect(0, 0, 1024, 640)).size() == QSize(972, 608)
    assert first_run_dock_width(972) == 272 and first_run_dock_width(3000) == 390 and first_run_dock_width(500) == 200
