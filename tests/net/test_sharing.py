"""Archive sharing on real loopback nodes and real libtorrent sessions: announce, refresh, checks."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import libtorrent as lt
import pytest
import pytest_asyncio

from ggen_desktop.net.address_policy import peer_key
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.providers import ProviderStore, provider_key
from ggen_desktop.net.sharing import ArchiveSharing, NoProvider, export_archive
from ggen_desktop.net.transfer import make_torrent, read_torrent
from ggen_desktop.net.transfer_job import Transfer
from ggen_desktop.net.transfer_types import TransferMismatch, TransferState, piece_length_for
from ggen_desktop.store.content import ContentStore
from tests.helpers.packages import make_package
from tests.helpers.seeding import (
    RawSeeder,
    alter_every_piece,
    random_archive,
    running_seeder,
    share_package,
    sharing_for,
)
from tests.helpers.waiting import wait_until
from tests.net.conftest import FAST, joined_pair


@pytest_asyncio.fixture
async def pair() -> AsyncIterator[tuple[MarketplaceNode, MarketplaceNode]]:
    async with joined_pair("127.0.12.2", "127.0.12.1") as (holder, seeder):
        yield seeder, holder


@pytest.mark.asyncio
async def test_held_archives_are_seeded_announced_and_refreshed(pair: tuple[MarketplaceNode, MarketplaceNode],
                                                                tmp_path: Path) -> None:
    seeder, holder = pair
    stored = ContentStore(tmp_path / "seeder").add_file(random_archive(tmp_path / "a.tgz", 300_000))
    async with running_seeder(seeder, tmp_path / "seeder", "127.0.12.1", refresh_s=0.3) as sharing:
        key = provider_key(stored.sha256)
        assert holder.providers.store.get(key) == [("127.0.12.1", sharing.port)]
        assert sharing.session is not None and [t.sha256 for t in sharing.session.transfers()] == [stored.sha256]
        holder.providers.store = ProviderStore()  # as if the record had expired there
        await wait_until(lambda: holder.providers.store.get(key) == [("127.0.12.1", sharing.port)])


@pytest.mark.asyncio
async def test_an_archive_that_is_not_the_manifests_is_refused(pair: tuple[MarketplaceNode, MarketplaceNode],
                                                               tmp_path: Path) -> None:
    seeder, _ = pair
    sharing = sharing_for(seeder, tmp_path / "s", "127.0.12.1", announce=False)
    archive = tmp_path / "a.tgz"
    archive.write_bytes(b"the real bytes")
    package = make_package()  # its content_hash is not the archive's
    with pytest.raises(TransferMismatch, match="not the manifest's"):
        await sharing.add_archive(package, archive)
    right = make_package(content_hash="sha256:" + hashlib.sha256(b"the real bytes").hexdigest())
    named = await sharing.add_archive(right, archive)
    assert named.size == len(b"the real bytes") and named.info_hash is not None and len(named.info_hash) == 64
    assert (named.id, named.content_hash) == (right.id, right.content_hash)


def test_export_copies_the_checked_archive(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "data")
    source = tmp_path / "src"
    source.write_bytes(b"payload" * 1000)
    stored = store.add_file(source)
    out = export_archive(stored, tmp_path / "out" / "pkg")
    assert out.read_bytes() == source.read_bytes() and sorted(p.name for p in out.parent.iterdir()) == ["pkg"]


@pytest.mark.asyncio
async def test_fetch_refuses_an_archive_that_is_not_the_records(pair: tuple[MarketplaceNode, MarketplaceNode],
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record whose info-hash names other bytes than its content hash (a lying publisher): `fetch` fails with
    one sentence naming both, and writes nothing to the output folder."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ggen_desktop import cli
    from ggen_desktop.core.record import sign
    from ggen_desktop.net.transfer import make_torrent

    monkeypatch.setenv("GGEN_DESKTOP_CONFIG_DIR", str(tmp_path / "config"))
    seeder, _ = pair
    stored = ContentStore(tmp_path / "seeder").add_file(random_archive(tmp_path / "x.tgz", 200_000))
    async with running_seeder(seeder, tmp_path / "seeder", "127.0.12.1") as sharing:
        claimed = hashlib.sha256(b"what the record promises").hexdigest()
        info = make_torrent(stored.path)
        lie = make_package(content_hash=f"sha256:{claimed}", size=info.size, info_hash=info.info_hash)
        await seeder.publish(sign(lie, Ed25519PrivateKey.generate()))
        await seeder.providers.provide(claimed, sharing.port)  # the seeder answers for the promised archive
        args = cli.build_parser().parse_args([
            "fetch", str(lie.id), "--bootstrap", "{}:{}".format(*seeder.address), "--interface", "127.0.12.3",
            "--data-dir", str(tmp_path / "fetcher"), "--output", str(tmp_path / "out")])
        with pytest.raises(TransferMismatch, match=f"names archive {stored.sha256}, not {claimed}"):
            await asyncio.wait_for(cli.cmd_fetch(args), 60)
        assert not (tmp_path / "out").exists()
        assert list((tmp_path / "fetcher" / "content").iterdir()) == []


@pytest.mark.asyncio
async def test_a_download_is_checked_then_seeded_and_announced(pair: tuple[MarketplaceNode, MarketplaceNode],
                                                                tmp_path: Path) -> None:
    seeder_node, downloader_node = pair
    source = random_archive(tmp_path / "p.tgz", 1_500_000)
    async with running_seeder(seeder_node, tmp_path / "seeder", "127.0.12.1") as seeder, \
            running_seeder(downloader_node, tmp_path / "downloader", "127.0.12.2") as downloader:
        package = await share_package(seeder, source)
        stored = await asyncio.wait_for(downloader.fetch(package), 60)
        assert stored.path.read_bytes() == source.read_bytes() and stored.path.parent == tmp_path / "downloader" / "content"
        key = provider_key(stored.sha256)
        assert ("127.0.12.2", downloader.port) in seeder_node.providers.store.get(key)
        assert downloader.session is not None
        await wait_until(lambda: [t.sha256 for t in downloader.session.transfers()  # type: ignore[union-attr]
                                  if t.state.value == "seeding"] == [stored.sha256])


@pytest.mark.asyncio
async def test_three_seeders_are_all_found_and_used(tmp_path: Path) -> None:
    """Each seeder announces itself; the downloader finds all three and takes pieces from more than one."""
    nodes = [MarketplaceNode(query_config=FAST) for _ in range(4)]
    sharings: list[ArchiveSharing] = []
    try:
        for index, node in enumerate(nodes):
            await node.start(0, [nodes[0].address] if index else [], f"127.0.14.{index + 1}")
        source = random_archive(tmp_path / "big.tgz", 8 * 1024 * 1024)
        payload = source.read_bytes()
        for index, node in enumerate(nodes):
            store = ContentStore(tmp_path / str(index))
            if index < 3:
                store.add_file(source)
            sharings.append(sharing_for(node, tmp_path / str(index), f"127.0.14.{index + 1}"))
            await sharings[-1].start()
        sha256 = hashlib.sha256(payload).hexdigest()
        package = await share_package(sharings[0], source)
        expected = {(f"127.0.14.{i + 1}", sharings[i].port) for i in range(3)}
        assert set(await nodes[3].providers.find(sha256)) == expected
        transfers: list[Transfer] = []
        assert sharings[3].session is not None
        sharings[3].session.set_rate_limits(download=4_000_000)  # ~2 s: every seeder is connected in time, even under load
        stored = await asyncio.wait_for(sharings[3].fetch(package, transfers.append), 60)
        assert stored.path.read_bytes() == payload
        (transfer,) = transfers
        assert len(transfer.sources) >= 2 and transfer.sources <= expected
    finally:
        for sharing in sharings:
            await sharing.close()
        for node in nodes:
            await node.stop()


@pytest.mark.asyncio
async def test_a_fetch_killed_mid_transfer_finishes_when_run_again(tmp_path: Path) -> None:
    """`fetch` in a child process, SIGKILLed once its resume data is on disk, then run again on the same
    data folder: the second run picks the partial download up and writes the whole archive."""
    import signal
    import sys

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ggen_desktop.core.record import sign
    from tests.helpers.node_process import ROOT
    from tests.helpers.node_process import cli_env as _env

    async with joined_pair("127.0.15.2", "127.0.15.1") as (_holder, seeder_node):
        source = random_archive(tmp_path / "p.tgz", 4 * 1024 * 1024)
        payload = source.read_bytes()
        sharing = sharing_for(seeder_node, tmp_path / "seeder", "127.0.15.1")
        await sharing.start()
        home = tmp_path / "fetcher"
        command = [sys.executable, "-m", "ggen_desktop", "fetch", "acme/rust-cli", "--bootstrap",
                   "{}:{}".format(*seeder_node.address), "--interface", "127.0.15.3", "--data-dir", str(home / "data"),
                   "--output", str(home / "out")]
        try:
            package = await share_package(sharing, source)
            await seeder_node.publish(sign(package, Ed25519PrivateKey.generate()))
            assert sharing.session is not None
            sharing.session.set_rate_limits(upload=400_000)  # about ten seconds for the whole archive
            child = await asyncio.create_subprocess_exec(*command, env=_env(home), cwd=ROOT,
                                                         stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            resume = home / "data" / "partial" / f"{package.info_hash}.resume"
            await wait_until(lambda: resume.exists() or child.returncode is not None, timeout=30)
            assert child.returncode is None, "the first fetch ended before it could be killed"
            child.send_signal(signal.SIGKILL)
            assert await child.wait() == -signal.SIGKILL
            assert not (home / "out").exists()
            sharing.session.set_rate_limits()
            again = await asyncio.create_subprocess_exec(*command, env=_env(home), cwd=ROOT,
                                                         stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(again.communicate(), 90)
            assert again.returncode == 0, err.decode()
            assert Path(out.decode().strip()).read_bytes() == payload
            assert not resume.exists()  # the finished download left no partial state behind
        finally:
            await sharing.close()


@pytest_asyncio.fixture
async def swarm(tmp_path: Path) -> AsyncIterator[dict[str, MarketplaceNode]]:
    """DHT nodes, one per host: a holder, an honest seeder, a rogue and a downloader."""
    hosts = {"holder": "127.0.16.2", "honest": "127.0.16.1", "rogue": "127.0.16.66", "downloader": "127.0.16.9"}
    nodes: dict[str, MarketplaceNode] = {}
    try:
        for name, host in hosts.items():  # the holder first; the others join through it
            bootstrap = [nodes["holder"].address] if nodes else []
            nodes[name] = MarketplaceNode(query_config=FAST)
            await nodes[name].start(0, bootstrap, host)
        yield nodes
    finally:
        for node in nodes.values():
            await node.stop()


@pytest.mark.asyncio
async def test_a_seeder_of_altered_pieces_is_marked_in_reputation(swarm: dict[str, MarketplaceNode],
                                                                  tmp_path: Path) -> None:
    """A provider whose pieces fail the merkle check: the download still completes from the honest seeder,
    and the rogue's address is in the reputation book, avoided, and refused for that archive."""
    archive = random_archive(tmp_path / "pkg.tgz", 3_000_000)
    async with running_seeder(swarm["honest"], tmp_path / "honest", "127.0.16.1") as honest, \
            running_seeder(swarm["downloader"], tmp_path / "downloader", "127.0.16.9",
                           reputation=lambda: swarm["downloader"].reputation) as downloader:
        package = await share_package(honest, archive)
        assert package.info_hash is not None
        (tmp_path / "rogue").mkdir()
        info = make_torrent(ContentStore(tmp_path / "check").add_file(archive).path)
        (tmp_path / "rogue" / info.sha256).write_bytes(archive.read_bytes())
        rogue = RawSeeder("127.0.16.66", tmp_path / "rogue", info.torrent)
        rogue_address = await rogue.ready()
        alter_every_piece(tmp_path / "rogue" / info.sha256, info.piece_length)
        await swarm["rogue"].providers.provide(info.sha256, rogue_address[1])
        assert downloader.session is not None
        downloader.session.set_rate_limits(download=2_000_000)  # time enough for both seeders to send pieces
        assert rogue_address in await swarm["downloader"].providers.find(info.sha256)

        stored = await asyncio.wait_for(downloader.fetch(package), 60)

        assert stored.path.read_bytes() == archive.read_bytes() and rogue.uploaded() > 0
        key = peer_key(*rogue_address)
        book = swarm["downloader"].reputation
        assert book.peers[key].invalid_records == 1 and book.is_avoided(key)
        assert downloader.refused == {info.sha256: {rogue_address}}
        assert not any(stats.invalid_records for name, stats in book.peers.items() if name != key)


@pytest.mark.asyncio
async def test_a_seeder_whose_archive_fails_the_records_hash_is_marked_and_not_asked_again(
        swarm: dict[str, MarketplaceNode], tmp_path: Path) -> None:
    """Bytes that pass every piece check but not the record's sha256 (a torrent made for them, named as the
    record's archive): the fetch fails saying which peer sent them and that it is marked; a second fetch of
    the same archive does not ask that peer again, and says so."""
    real = random_archive(tmp_path / "real.tgz", 500_000)
    wanted = hashlib.sha256(real.read_bytes()).hexdigest()
    forged_bytes = random_archive(tmp_path / "forger" / wanted, 500_000)  # other bytes, under the wanted name
    creator = lt.create_torrent([lt.create_file_entry(wanted, 500_000)], piece_length_for(500_000),
                                lt.create_torrent.v2_only)
    lt.set_piece_hashes(creator, str(forged_bytes.parent))
    forged = read_torrent(lt.bencode(creator.generate()))
    forger = RawSeeder("127.0.16.66", forged_bytes.parent, forged.torrent)
    forger_address = await forger.ready()
    await swarm["rogue"].providers.provide(wanted, forger_address[1])
    package = make_package(content_hash=f"sha256:{wanted}", size=500_000, info_hash=forged.info_hash)
    async with running_seeder(swarm["downloader"], tmp_path / "downloader", "127.0.16.9",
                              reputation=lambda: swarm["downloader"].reputation) as downloader:
        message = f"{peer_key(*forger_address)} marked in the peer reputation and not asked for this archive again"
        with pytest.raises(TransferMismatch, match=message):
            await asyncio.wait_for(downloader.fetch(package), 60)
        sent = forger.uploaded()
        assert sent > 0 and not downloader.store.has(wanted)
        assert swarm["downloader"].reputation.peers[peer_key(*forger_address)].invalid_records == 1

        with pytest.raises(NoProvider, match="1 that do sent bad data before"):
            await asyncio.wait_for(downloader.fetch(package), 60)
        assert forger.uploaded() == sent
        assert swarm["downloader"].reputation.peers[peer_key(*forger_address)].invalid_records == 1


async def answers_for_itself(asker: MarketplaceNode, node: MarketplaceNode, sha256: str) -> bool:
    """Does `node` say, when asked over the network, that it seeds `sha256` itself?"""
    proto = asker.protocol
    ok, answer = await proto.request(node.address, "find_providers", [proto.source_node.id, provider_key(sha256)], 5.0)
    assert ok and isinstance(answer, list)
    return any(entry[0] == "" for entry in answer)


@pytest.mark.asyncio
async def test_seeding_downloads_follows_the_setting_at_once(pair: tuple[MarketplaceNode, MarketplaceNode],
                                                             tmp_path: Path) -> None:
    """With "seed downloads" off a download is kept but not offered, while the node's own archive is; switched
    on, the download is seeded and announced; switched off again, it is no longer offered and stays stored."""
    seeder_node, downloader_node = pair
    own = ContentStore(tmp_path / "downloader").add_file(random_archive(tmp_path / "mine.tgz", 200_000)).sha256
    async with running_seeder(seeder_node, tmp_path / "seeder", "127.0.12.1") as seeder, \
            running_seeder(downloader_node, tmp_path / "downloader", "127.0.12.2", seed_downloads=False,
                           own=lambda: {own}) as downloader:
        assert downloader.session is not None
        session = downloader.session

        def seeding() -> set[str]:
            return {t.sha256 for t in session.transfers() if t.state is TransferState.SEEDING}

        assert seeding() == {own} and await answers_for_itself(seeder_node, downloader_node, own)
        package = await share_package(seeder, random_archive(tmp_path / "p.tgz", 400_000))
        stored = await asyncio.wait_for(downloader.fetch(package), 60)
        assert seeding() == {own} and not await answers_for_itself(seeder_node, downloader_node, stored.sha256)
        assert ("127.0.12.2", downloader.port) not in seeder_node.providers.store.get(provider_key(stored.sha256))

        downloader.set_seed_downloads(True)
        await wait_until(lambda: seeding() == {own, stored.sha256}, "the download to be seeded")
        await wait_until(lambda: ("127.0.12.2", downloader.port) in seeder_node.providers.store.get(
            provider_key(stored.sha256)), "the download to be announced")
        assert await answers_for_itself(seeder_node, downloader_node, stored.sha256)

        downloader.set_seed_downloads(False)
        await wait_until(lambda: seeding() == {own}, "the download to be no longer seeded")
        assert not await answers_for_itself(seeder_node, downloader_node, stored.sha256)
        assert downloader.store.has(stored.sha256) and await answers_for_itself(seeder_node, downloader_node, own)
