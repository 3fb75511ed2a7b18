"""Seeders for transfer tests: random archives, and a node's ArchiveSharing that seeds and announces them.

The one place tests build a seeder, so the net tests (test_sharing, test_transfer) and the GUI tests
start and publish archives the same way.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import libtorrent as lt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.package import Package
from ggen_desktop.core.record import sign
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.sharing import ArchiveSharing
from ggen_desktop.net.transfer import TransferSession
from ggen_desktop.net.transfer_types import TorrentInfo, TransferState
from ggen_desktop.store.content import ContentStore
from tests.helpers.packages import make_package
from tests.helpers.waiting import wait_until


def random_archive(path: Path, size: int) -> Path:
    """`size` random bytes at `path`: an archive no other test shares by chance."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


async def seed_archive(session: TransferSession, archive: Path) -> TorrentInfo:
    """Add an archive to a bare TransferSession's store and seed it (no DHT involved)."""
    info, transfer = await session.share(archive)
    assert transfer.state is TransferState.SEEDING
    return info


def sharing_for(node: MarketplaceNode, store_dir: Path, host: str, **options: Any) -> ArchiveSharing:
    """An ArchiveSharing announcing through `node`'s provider records, with its content store in `store_dir`."""
    return ArchiveSharing(ContentStore(store_dir), lambda: node.providers, host, **options)


@asynccontextmanager
async def running_seeder(node: MarketplaceNode, store_dir: Path, host: str, **options: Any) -> AsyncIterator[ArchiveSharing]:
    """`sharing_for(...)`, started, and closed on the way out."""
    sharing = sharing_for(node, store_dir, host, **options)
    await sharing.start()
    try:
        yield sharing
    finally:
        await sharing.close()


async def share_package(sharing: ArchiveSharing, archive: Path, pid: str = "acme/rust-cli", **fields: Any) -> Package:
    """A package (from `make_package(pid, **fields)`) whose content hash is the archive's, seeded and announced
    by `sharing`: the package names the archive's size and info-hash, ready to be signed."""
    package = make_package(pid, content_hash="sha256:" + hashlib.sha256(archive.read_bytes()).hexdigest(), **fields)
    return await sharing.add_archive(package, archive)


DEPENDENCIES = ({"id": "acme/dep-a", "requirement": ">=1.0.0,<2.0.0"}, {"id": "acme/dep-b", "requirement": ">=0.3.0"},
                {"id": "acme/dep-missing", "requirement": ">=1.0.0"})


async def publish_with_dependencies(publisher: MarketplaceNode, seeders: tuple[ArchiveSharing, ArchiveSharing],
                                    folder: Path, key: Ed25519PrivateKey) -> dict[str, Package]:
    """A package ("acme/zebra-app") with three dependencies, all signed by `key` and published through `publisher`:
    acme/dep-a in 1.0.0, 1.2.0 (seeded by both seeders) and 2.0.0 (outside the requirement), acme/dep-b 0.3.1
    (seeded by the second), and acme/dep-missing, published nowhere. Returns the packages by "id version"."""
    first, second = seeders
    packages: list[Package] = []
    for index, (sharing, pid, version) in enumerate(((first, "acme/dep-a", "1.0.0"), (first, "acme/dep-a", "1.2.0"),
                                                     (second, "acme/dep-a", "1.2.0"), (first, "acme/dep-a", "2.0.0"),
                                                     (second, "acme/dep-b", "0.3.1"))):
        archive = folder / f"{pid.replace('/', '-')}-{version}.tgz"
        if not archive.exists():
            random_archive(archive, 150_000 + index)
        packages.append(await share_package(sharing, archive, pid, version=version, title=f"{pid} library"))
    app = await share_package(first, random_archive(folder / "zebra-app.tgz", 300_000), "acme/zebra-app",
                              title="Zebra app", description="An app with three dependencies",
                              dependencies=list(DEPENDENCIES))
    by_name = {f"{p.id} {p.version}": p for p in (*packages, app)}
    for package in by_name.values():
        await publisher.publish(sign(package, key))
    return by_name


class RawSeeder:
    """A bare libtorrent session seeding `torrent` from `directory`: the adversaries are built from this.

    It checks the file once when added, like any client; what happens to the bytes afterwards is up to the test.
    """

    def __init__(self, host: str, directory: Path, torrent: bytes) -> None:
        self.session = lt.session({"listen_interfaces": f"{host}:0", "outgoing_interfaces": host, "enable_dht": False,
                                   "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False, "alert_mask": 0})
        params = lt.add_torrent_params()
        params.ti, params.save_path = lt.torrent_info(torrent), str(directory)
        params.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
        self.host, self.handle = host, self.session.add_torrent(params)

    async def ready(self) -> tuple[str, int]:
        await wait_until(lambda: self.handle.status().is_seeding and self.session.listen_port() > 0,
                         "the raw seeder to check its file")
        return (self.host, self.session.listen_port())

    def uploaded(self) -> int:
        return int(self.handle.status().total_payload_upload)


def alter_every_piece(path: Path, piece_length: int) -> None:
    """Flip one byte in each piece, in place: the file the seeder already checked now lies."""
    with path.open("r+b") as handle:
        for offset in range(100, path.stat().st_size, piece_length):
            handle.seek(offset)
            byte = handle.read(1)
            handle.seek(offset)
            handle.write(bytes([byte[0] ^ 0xFF]))
