"""The composition root: demo mode end to end, shutdown order, settings applied live, locked data dir."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from ggen_desktop.app import App
from ggen_desktop.core.connection import ConnectionState
from ggen_desktop.core.query import Query
from ggen_desktop.core.settings import Settings
from ggen_desktop.net.node import NodeError
from ggen_desktop.store.database import Database
from ggen_desktop.store.errors import StoreLocked
from tests.helpers.packages import make_record


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
    await App(data_dir=tmp_path / "data", config_dir=tmp_path / "config").stop()


@pytest.mark.asyncio
async def test_apply_settings_saves_and_changes_the_query_config(tmp_path: Path) -> None:
    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    try:
        settings = Settings(default_timeout=2.5, fan_out=5)
        assert app.apply_settings(settings) == []  # search settings apply at once
        assert app.node.query_config.default_timeout == 2.5 and app.node.query_config.fan_out == 5
        assert Settings.load(tmp_path / "config")[0].fan_out == 5
        later = replace(settings, listen_port=4500, bootstrap_peers=("127.0.0.1:4433",))
        assert app.apply_settings(later) == ["listen_port", "bootstrap_peers"]
    finally:
        await app.stop()


def test_second_app_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    try:
        with pytest.raises(StoreLocked, match="already in use"):
            App(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    finally:
        asyncio.run(first.stop())


def test_bad_bootstrap_address_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="HOST:PORT"):
        App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", bootstrap=["nonsense"])


@pytest.mark.asyncio
async def test_an_unreachable_bootstrap_peer_leaves_the_app_running_and_retrying(tmp_path: Path) -> None:
    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", bootstrap=["127.0.0.1:9"], port=0)
    try:
        assert not app.is_demo
        await app.start()  # no exception: the node runs and tries again
        status = app.node.connection_status()
        assert app.node.is_running and not status.joined
        assert status.state is ConnectionState.WAITING and status.asked == ("127.0.0.1:9",)
    finally:
        await app.stop()


@pytest.mark.asyncio
async def test_a_locked_data_folder_can_fall_back_to_an_in_memory_node(tmp_path: Path) -> None:
    """What the CLI's one-shot commands do while the window holds the data folder."""
    holder = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    assert holder.data_dir == tmp_path / "data" and not holder.in_memory
    guest = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", demo_size=4, memory_if_locked=True)
    try:
        assert guest.in_memory and guest.data_dir is None
        await guest.start()
        record = make_record("acme/in-memory", tags=["memory"])
        report = await guest.publish(record)
        assert report.replicas > 0
        assert [mine.record for mine in guest.my_packages()] == [record]
    finally:
        await guest.stop()
        await holder.stop()
    with closing(Database(tmp_path / "data")) as database:  # the holder's folder got nothing of the guest's run
        assert database.my_packages() == []


def test_a_key_file_is_created_once_then_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "publisher.key"
    created, is_new = App.open_key_file(key_file)
    again, is_new_again = App.open_key_file(key_file)
    assert is_new and not is_new_again
    assert again.fingerprint == created.fingerprint
    assert key_file.stat().st_mode & 0o077 == 0


def test_the_engine_names_are_re_exported_without_loading_the_network_code() -> None:
    """The window is shown before kademlia and the keyring load; `App`'s module must not pull them in."""
    script = (
        "import sys\n"
        "import ggen_desktop.app as app\n"
        "early = sorted(m for m in ('kademlia', 'rpcudp', 'keyring', 'ggen_desktop.net.node') if m in sys.modules)\n"
        "from ggen_desktop.app import IdentityError, NodeError, PublisherIdentity, PublishReport\n"
        "import ggen_desktop.net.node as node, ggen_desktop.store.identity as identity\n"
        "same = (NodeError is node.NodeError, PublishReport is node.PublishReport,\n"
        "        IdentityError is identity.IdentityError, PublisherIdentity is identity.PublisherIdentity)\n"
        "try:\n"
        "    app.NoSuchThing\n"
        "except AttributeError as exc:\n"
        "    missing = str(exc)\n"
        "print(early, all(same), missing)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] True module 'ggen_desktop.app' has no attribute 'NoSuchThing'"


@pytest.mark.asyncio
async def test_an_app_seeds_and_announces_what_its_data_folder_holds_and_stops_sharing_with_it(tmp_path: Path) -> None:
    from ggen_desktop.store.content import ContentStore

    archive = tmp_path / "held.tgz"
    archive.write_bytes(b"held archive " * 10_000)
    held = ContentStore(tmp_path / "data").add_file(archive)  # e.g. kept by a `publish` while no node ran
    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", demo_size=4)
    try:
        await app.start()
        assert app.sharing is not None and app.sharing.session is not None
        assert [t.sha256 for t in app.sharing.session.transfers()] == [held.sha256]
        assert ("127.0.0.1", app.sharing.port) in await app.node.providers.find(held.sha256)
    finally:
        await app.stop()
    assert not app.sharing.session.is_open and not app.node.is_running
    guest_holder = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    guest = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", demo_size=4, memory_if_locked=True)
    try:
        await guest.start()
        assert guest.sharing is None  # in memory: the folder's archives are the holder's to seed
    finally:
        await guest.stop()
        await guest_holder.stop()
