"""A Transfer's own protocol with libtorrent, step by step in an order real sessions produce only now and then.

The torrent and the session here are small recorders (the TorrentControl and TransferHost protocols): they
answer the way libtorrent does, but at the moment the test chooses. The Transfer itself is the real one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ggen_desktop.net.transfer_job import Transfer
from ggen_desktop.net.transfer_types import Peer, TransferError, TransferState, TransferStatus
from ggen_desktop.store.content import ContentStore, StoredArchive


class Torrent:
    """Records what the Transfer asks; answers a flush with its alert on the next loop turn, as libtorrent does."""

    def __init__(self) -> None:
        self.transfer: Transfer | None = None
        self.resume_requests = 0

    def connect(self, peer: Peer) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...

    def flush(self) -> None:
        assert self.transfer is not None
        asyncio.get_running_loop().call_soon(self.transfer.on_flushed)

    def request_resume_data(self) -> None:
        self.resume_requests += 1

    def peers_with_data(self) -> set[Peer]:
        return set()

    def is_finished(self) -> bool:
        return True

    def status(self, state: TransferState) -> TransferStatus:
        return TransferStatus(state)


class Session:
    """The TransferHost a Transfer talks to: a removal is answered with its alert on the next loop turn."""

    def __init__(self, store: ContentStore) -> None:
        self.loop = asyncio.get_running_loop()
        self.store = store
        self.banned_ips: set[str] = set()
        self.is_open = True

    def seed_downloaded(self, stored: StoredArchive) -> None: ...

    def remove(self, handle: Any, delete_files: bool) -> None:
        assert isinstance(handle, Torrent) and handle.transfer is not None
        self.loop.call_soon(handle.transfer.on_removed)

    def forget(self, transfer: Any) -> None: ...


@pytest.mark.asyncio
async def test_saving_resume_data_at_close_ends_when_the_download_finishes_meanwhile(tmp_path: Path) -> None:
    """Close asks for resume data while a periodic save is under way; before that save's data arrives the last
    piece comes and verification takes the torrent away. The close must not then wait for resume data that
    nobody will send (it waited 30 s, about one close in ten in test_closing_sessions_mid_transfer_...)."""
    torrent = Torrent()
    transfer = Transfer(Session(ContentStore(tmp_path / "store")), "ab" * 32, "cd" * 32, seeding=False)
    torrent.transfer = transfer
    transfer.attach(torrent)
    transfer.on_piece()  # the periodic save: requested, its data not yet here
    assert torrent.resume_requests == 1

    saving = asyncio.ensure_future(transfer.save_resume_now())  # close() waits for that save, then takes its own
    await asyncio.sleep(0)
    transfer.on_finished()  # the last piece: flush, remove the torrent, hash the file
    await asyncio.sleep(0.05)
    assert transfer.state is not TransferState.DOWNLOADING and not saving.done()
    transfer.on_resume_data(b"d4:infod4:name3:abcee")  # the periodic save's data, now for a download that ended

    await asyncio.wait_for(saving, 2)
    assert torrent.resume_requests == 1  # nothing more asked of a torrent that is gone
    with pytest.raises(TransferError):  # the partial file was never there: verification fails, and says so
        await transfer.finished()
