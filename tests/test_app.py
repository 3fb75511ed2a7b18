"""The composition root: demo mode end to end, shutdown order, settings applied live, locked data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from ggen_desktop.app import App
from ggen_desktop.core.query import Query
from ggen_desktop.core.settings import Settings
from ggen_desktop.net.node import NodeError
from ggen_desktop.store.errors import StoreLocked


@pytest.mark.asyncio
async def test_demo_mode_starts_searches_and_stops_twice(tmp_path: Path) -> None:
    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", demo_size=6)
    stages: list[tuple[str, int, int]] = []
    try:
        assert app.is_demo
        await app.start(lambda stage, done, total: stages.append((stage, done, total)))
        assert stages[0] == ("Starting demo network", 1, 6)
        assert stages[-1] == ("Joining", 1, 1)
        assert app.demo is not None and len(app.demo.nodes) == 6
        trace = await app.node.search(Query(text="rust")).wait()
        assert trace.result_count > 0
    finally:
        await app.stop()
    await app.stop()
    assert not app.node.is_running
    # the data folder is released: a new App can open it
    App(data_dir=tmp_path / "data", config_dir=tmp_path / "config").database.close()


@pytest.mark.asyncio
async def test_apply_settings_saves_and_changes_the_query_config(tmp_path: Path) -> None:
    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    try:
        settings = Settings({"default_timeout": 2.5, "fan_out": 5})
        assert app.apply_settings(settings) == []  # search settings apply at once
        assert app.node.query_config.default_timeout == 2.5 and app.node.query_config.fan_out == 5
        assert Settings.load(tmp_path / "config")[0].get("fan_out") == 5
        later = Settings({**settings.as_dict(), "listen_port": 4500, "bootstrap_peers": ["127.0.0.1:4433"]})
        assert app.apply_settings(later) == ["listen_port", "bootstrap_peers"]
    finally:
        await app.stop()


def test_second_app_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    try:
        with pytest.raises(StoreLocked, match="already in use"):
            App(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    finally:
        first.database.close()


def test_bad_bootstrap_address_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="HOST:PORT"):
        App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", bootstrap=["nonsense"])


@pytest.mark.asyncio
async def test_unreachable_bootstrap_fails_start(tmp_path: Path) -> None:
    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", bootstrap=["127.0.0.1:9"], port=0)
    try:
        assert not app.is_demo
        with pytest.raises(NodeError, match="no reachable bootstrap peer"):
            await app.start()
    finally:
        await app.stop()
