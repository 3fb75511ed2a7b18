"""Archives over BitTorrent between real libtorrent sessions on loopback, each node on its own 127.x address.

The adversaries (a seeder that alters bytes after checking them, a torrent that
names the wrong archive) are plain libtorrent sessions built here, because our
own TransferSession refuses to be one.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest
import pytest_asyncio

from ggen_desktop.net.transfer import TransferSession, make_torrent, read_torrent
from ggen_desktop.net.transfer_types import (
    TorrentInfo,
    TorrentRejected,
    TransferCancelled,
    TransferError,
    TransferMismatch,
    TransferState,
    TransferTimeout,
    piece_length_for,
)
from ggen_desktop.store.content import ContentStore

MB = 1_000_000
REPO = Path(__file__).parents[2]
Node = tuple[TransferSession, tuple[str, int]]
Nodes = Callable[..., Awaitable[Node]]


def random_archive(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll a condition on the loop (other tasks keep running) until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[Nodes]:
    """`await nodes("127.61.0.2")` starts a TransferSession with its own content store on that address."""
    started: list[TransferSession] = []

    async def start(host: str, **options: Any) -> Node:
        session = TransferSession(ContentStore(tmp_path / host), host, **options)
        started.append(session)
        return session, await session.start()

    yield start
    for session in started:
        await session.close()


async def seeded(node: Node, archive: Path) -> TorrentInfo:
    info, transfer = await node[0].share(archive)
    assert transfer.state is TransferState.SEEDING
    return info


def test_the_same_archive_gives_the_same_torrent_on_every_node(tmp_path: Path) -> None:
    archive = random_archive(tmp_path / "pkg.tar.gz", 700_000)
    one = make_torrent(ContentStore(tmp_path / "a").add_file(archive).path)
    two = make_torrent(ContentStore(tmp_path / "b").add_file(archive).path)

    assert one == two
    assert one.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (one.size, one.piece_length) == (700_000, 64 * 1024)
    assert b"creation date" not in one.torrent and b"created by" not in one.torrent
    info = lt.torrent_info(one.torrent)
    assert not info.info_hashes().has_v1() and str(info.info_hashes().v2) == one.info_hash
    assert read_torrent(one.torrent) == one


def test_piece_length_grows_with_the_archive() -> None:
    """About 1024 pieces, between 64 KiB and 4 MiB: the rule every node applies."""
    kib, mib = 1024, 1024 * 1024
    assert [piece_length_for(size) for size in (1, 64 * mib, 64 * mib + 1, 1024 * mib, 100 * 1024 * mib)] == [
        64 * kib, 64 * kib, 128 * kib, 1 * mib, 4 * mib]


def test_torrents_that_are_not_canonical_are_rejected(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "store")
    stored = store.add_file(random_archive(tmp_path / "a", 300_000))
    with pytest.raises(TorrentRejected, match="not a torrent file"):
        read_torrent(b"d4:infoi3ee")
    for flags, piece, why in ((0, 64 * 1024, "not v2-only"), (lt.create_torrent.v2_only, 16 * 1024, "16384-byte pieces")):
        creator = lt.create_torrent([lt.create_file_entry(stored.sha256, stored.size)], piece, flags)
        lt.set_piece_hashes(creator, str(store.root))
        with pytest.raises(TorrentRejected, match=why):
            read_torrent(lt.bencode(creator.generate()))
    with pytest.raises(TorrentRejected, match="not named by its sha256"):
        make_torrent(random_archive(tmp_path / "loose.tar.gz", 1000))
    (store.root / hashlib.sha256(b"").hexdigest()).write_bytes(b"")
    with pytest.raises(TorrentRejected, match="empty"):
        make_torrent(store.root / hashlib.sha256(b"").hexdigest())


@pytest.mark.asyncio
async def test_an_archive_seeded_by_one_node_is_fetched_by_another_from_its_info_hash(nodes: Nodes,
                                                                                      tmp_path: Path) -> None:
    seeder, downloader = await nodes("127.61.0.1"), await nodes("127.61.0.2")
    archive = random_archive(tmp_path / "pkg.tar.gz", 5 * MB)
    info = await seeded(seeder, archive)

    transfer = await downloader[0].download(info.info_hash, "sha256:" + info.sha256, [seeder[1]])
    stored = await asyncio.wait_for(transfer.finished(), 30)

    assert stored.path == downloader[0].store.root / info.sha256
    assert stored.path.read_bytes() == archive.read_bytes()
    assert transfer.state is TransferState.COMPLETE
    assert transfer.sources == {seeder[1]}
    assert transfer.first_piece_at is not None and transfer.banned == set() and transfer.hash_failures == 0
    assert list(downloader[0].store.partial_dir.iterdir()) == []  # no partial file, no resume data left
    await wait_until(lambda: [t.state for t in downloader[0].transfers()] == [TransferState.SEEDING],
                     "the downloader to seed what it fetched")
    assert downloader[0].transfers()[0].info_hash == info.info_hash

    # the downloader now serves it: a third node fetches it from the downloader alone
    third = await nodes("127.61.0.3")
    again = await third[0].download(info.torrent, info.sha256, [downloader[1]])
    assert (await asyncio.wait_for(again.finished(), 30)).path.read_bytes() == archive.read_bytes()
    assert again.sources == {downloader[1]}
