"""The composition root's reachability decisions: checked off the demo network, router discovery only when allowed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ggen_desktop.app import App
from ggen_desktop.core.reachability import ReachHow, ReachState
from ggen_desktop.net.node import MarketplaceNode

pytestmark = pytest.mark.asyncio


async def test_on_a_real_network_the_app_checks_reachability_without_router_discovery_in_tests(tmp_path: Path) -> None:
    peers = [MarketplaceNode(), MarketplaceNode()]
    await peers[0].start(0, [], "127.0.0.1")
    await peers[1].start(0, [peers[0].address], "127.0.0.1")
    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", port=0,
              bootstrap=[f"127.0.0.1:{peers[0].address[1]}"], interface="127.0.0.1")
    try:
        assert app.node.reach.checks and not app.node.reach.port_mapping  # the suite's environment forbids it
        await app.start()
        for _ in range(250):
            if app.reachability().state is ReachState.REACHABLE:
                break
            await asyncio.sleep(0.02)
        assert app.reachability().state is ReachState.REACHABLE and app.reachability().how is ReachHow.DIRECT
    finally:
        await app.stop()
        for peer in peers:
            await peer.stop()


async def test_the_demo_network_never_checks_nor_maps(tmp_path: Path) -> None:
    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", demo_size=3, port_mapping=True)
    assert not app.node.reach.checks and not app.node.reach.port_mapping
    assert app.reachability().state is ReachState.UNKNOWN
    await app.stop()


async def test_a_client_mode_app_says_so(tmp_path: Path) -> None:
    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", bootstrap=["127.0.0.1:9"], client_mode=True)
    assert app.reachability().state is ReachState.CLIENT and not app.node.reach.checks
    assert app.reachability().describe() == "Client mode"
    await app.stop()


async def test_outside_tests_router_discovery_is_allowed_off_the_demo_network(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GGEN_DESKTOP_NO_PORT_MAPPING")
    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", bootstrap=["127.0.0.1:9"])
    assert app.node.reach.port_mapping  # decided, not run: nothing here starts the node
    await app.stop()
