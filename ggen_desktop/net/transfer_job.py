"""One archive being downloaded or seeded: its lifecycle, from first peer to the checked file in the store.

Holds no libtorrent object of its own: TransferSession (net/transfer.py) turns
alerts into the `on_*` calls below and gives it a typed `TorrentHandle`. What it
owns is the policy: the stall timeout, resume data written atomically as pieces
complete, peers banned for bad bytes, and the rule that a download is complete
only once its file hashes to the expected sha256 inside the content store.

libtorrent's `peer_ban_alert` is a suspicion, not a verdict: it blames a failed piece on the
peers its piece picker records for the piece's blocks, and for a v2 torrent the block
hashes that settle the blame can arrive after the piece was restored and re-requested,
so an honest peer that only finished a piece a rogue had spoilt gets banned (seen: the
honest seeder banned, first or after the rogue, in about one download in six with two
rogues). libtorrent keeps its ban for the torrent's lifetime, so such a download could
never finish. Hence a ban here takes the torrent out and adds it again from its resume
data, without libtorrent's bans or its partly downloaded pieces (where the rogue's
blocks were), and reconnects every peer. A peer is convicted (`banned`, and by address
for the whole session) once it was the first banned in two lives of the torrent: a later
ban in the same life may be the first banned peer's leftover blocks blamed on another.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from ggen_desktop.net.transfer_types import (
    ACTIVE_DOWNLOAD,
    Peer,
    TorrentControl,
    TransferCancelled,
    TransferError,
    TransferHost,
    TransferMismatch,
    TransferState,
    TransferStatus,
    TransferTimeout,
)
from ggen_desktop.store.content import ContentError, ContentMismatch, ContentStore, StoredArchive

log = logging.getLogger(__name__)

RESUME_INTERVAL_S = 0.5
SOURCES_INTERVAL_S = 0.25
DEFAULT_STALL_TIMEOUT_S = 60.0
STEP_TIMEOUT_S = 30.0  # bound on each wait for libtorrent: a flush, a removal, a resume save
CONVICTING_BANS = 2  # lives of a torrent in which libtorrent must ban a peer first before it is banned here
MAX_RETRIALS = 6  # times a download is added again to retry the peers libtorrent banned


def resume_path(store: ContentStore, info_hash: str) -> Path:
    """Where a download's resume data lives: next to its partial file, named by the info-hash."""
    return store.partial_dir / f"{info_hash}.resume"


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=".resume-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class Transfer:
    """One archive being downloaded or seeded; made by TransferSession, awaited with `finished()`."""

    def __init__(self, session: TransferHost, info_hash: str, sha256: str, *, seeding: bool,
                 stall_timeout: float = DEFAULT_STALL_TIMEOUT_S) -> None:
        self._session, self._loop = session, session.loop
        self._handle: TorrentControl | None = None
        self.info_hash, self.sha256, self.stall_timeout = info_hash, sha256, stall_timeout
        self.sources: set[Peer] = set()  # peers seen sending data (sampled as pieces complete, and at the end)
        self.banned: set[str] = set()  # addresses banned here for sending bytes that failed the hash check
        self.suspects: Counter[str] = Counter()  # by address: lives of the torrent in which libtorrent banned it first
        self.retrials = 0
        self._banned_in_this_life: set[str] = set()
        self._retrial: asyncio.Task[None] | None = None
        self._peers: set[Peer] = set()  # every peer given, reconnected when the torrent is added again
        self.hash_failures = 0
        self.started_at = self._last_progress = self._loop.time()
        self.first_piece_at: float | None = None  # loop time the first piece passed its hash check
        self._state = TransferState.SEEDING if seeding else TransferState.CHECKING
        self._status = TransferStatus(self._state)
        self._done: asyncio.Future[StoredArchive] = self._loop.create_future()
        self._done.add_done_callback(lambda f: f.cancelled() or f.exception())  # read by finished(), if anyone asks
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._saving, self._last_save, self._last_sample = False, 0.0, 0.0
        self._writing: asyncio.Future[None] | None = None
        self._verifying: asyncio.Task[None] | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        if seeding:
            path = session.store.path_for(sha256)
            self._done.set_result(StoredArchive(sha256, path.stat().st_size, path))
        else:
            self._stall_timer = self._loop.call_later(stall_timeout, self._check_stall)

    @property
    def state(self) -> TransferState:
        return self._state

    @property
    def resume_path(self) -> Path:
        return resume_path(self._session.store, self.info_hash)

    async def finished(self) -> StoredArchive:
        """The archive in the content store, once complete and its sha256 checked; else a TransferError."""
        return await asyncio.shield(self._done)

    def status(self) -> TransferStatus:
        """A snapshot (one quick call into libtorrent); the last one, without rates, once the transfer ended."""
        if self._handle is None:
            self._status = dataclasses.replace(self._status, state=self._state, download_rate=0, upload_rate=0, peers=0)
        else:
            self._status = self._handle.status(self._state)
        return self._status

    def add_peers(self, peers: Iterable[Peer]) -> None:
        """Connect to (more) peers, say provider records that arrived later; banned addresses are skipped."""
        for host, port in peers:
            self._peers.add((host, port))
            if host in self._session.banned_ips:
                log.info("not connecting to %s:%d for %s: banned for sending bad data", host, port, self.sha256)
            elif self._handle is not None:
                self._handle.connect((host, port))

    def pause(self) -> None:
        """Stop exchanging data, keeping what arrived; resume data is saved."""
        if self._handle is not None and self._state in ACTIVE_DOWNLOAD - {TransferState.PAUSED}:
            self._handle.pause()
            self._state = TransferState.PAUSED
            self._request_resume_save(force=True)

    def resume(self) -> None:
        if self._handle is not None and self._state is TransferState.PAUSED:
            self._handle.resume()
            self._state, self._last_progress = TransferState.DOWNLOADING, self._loop.time()

    async def cancel(self) -> None:
        """Stop. A download's partial file and resume data are deleted; a seed is no longer offered.

        Too late once the last piece arrived (verifying, complete): the archive goes to the store.
        """
        if self._state not in ACTIVE_DOWNLOAD | {TransferState.SEEDING}:
            return
        seeding = self._state is TransferState.SEEDING
        await self._remove(delete_files=not seeding)
        if not seeding:
            await self._drop_resume()
        self._end(TransferState.CANCELLED, TransferCancelled(f"the transfer of {self.sha256} was cancelled"))

    # -- events from TransferSession -----------------------------------------------------------

    def attach(self, handle: TorrentControl) -> None:
        self._handle = handle

    def on_piece(self) -> None:
        """A piece passed its hash check: progress, and time to note who sends data and to save resume data."""
        now = self._last_progress = self._loop.time()
        self.first_piece_at = self.first_piece_at or now
        if self._handle is not None and now - self._last_sample >= SOURCES_INTERVAL_S:
            self._last_sample = now
            self.sources |= self._handle.peers_with_data()
        self._request_resume_save()

    def on_hash_failed(self) -> None:
        self.hash_failures += 1

    def on_banned(self, ip: str) -> None:
        """libtorrent banned a peer for a failed piece: convicted the second time it is the first banned in a life of
        the torrent (the blocks a banned peer left in partial pieces may be blamed on the next); else a retrial."""
        if ip in self.banned or ip in self._banned_in_this_life or self._state not in ACTIVE_DOWNLOAD:
            return
        first = not self._banned_in_this_life
        self._banned_in_this_life.add(ip)
        if first:
            self.suspects[ip] += 1
            if self.suspects[ip] >= CONVICTING_BANS:
                self.banned.add(ip)
                self._session.ban(ip)
                return
        if self._retrial is None and self.retrials < MAX_RETRIALS:
            log.info("libtorrent banned %s for a failed piece of %s; adding the torrent again to retry it", ip, self.sha256)
            self.retrials += 1
            self._retrial = self._loop.create_task(self._add_again())

    def on_metadata(self, name: str) -> None:
        """The torrent arrived from a peer (checked by libtorrent against the info-hash): does it name our archive?"""
        self._last_progress = self._loop.time()
        if name != self.sha256:
            self._fail_soon(TransferMismatch(f"info-hash {self.info_hash} names archive {name}, not {self.sha256}",
                                             frozenset(self.sources)), delete_files=True)

    def on_finished(self, confirmed: bool = True) -> None:
        """libtorrent has every piece (from an alert, or `confirmed=False`: look at the status): verify and store."""
        if self._verifying is not None or self._state not in ACTIVE_DOWNLOAD or self._handle is None:
            return
        if confirmed or self._handle.is_finished():
            self._state = TransferState.VERIFYING
            self._verifying = self._loop.create_task(self._verify_and_store())

    def on_resume_data(self, data: bytes | None) -> None:
        """Resume data to write (None: libtorrent could not make it)."""
        if data is None or self._state not in ACTIVE_DOWNLOAD:  # ended meanwhile: the file would be stale
            self._saved(None)
            return
        self._writing = asyncio.ensure_future(asyncio.to_thread(_write_atomically, self.resume_path, data))
        self._writing.add_done_callback(self._saved)

    def on_error(self, message: str) -> None:
        if self._state is TransferState.SEEDING:
            log.warning("seeding %s: %s", self.sha256, message)
        self._fail_soon(TransferError(f"{self.sha256}: {message}"))

    def on_flushed(self) -> None:
        self._wake("flushed")

    def on_removed(self) -> None:
        self._wake("removed")

    async def save_resume_now(self) -> None:
        """Write resume data now (before the session closes); waits at most STEP_TIMEOUT_S per step."""
        if self._saving and self._is_live_download():  # a save is under way: wait for it, then take a fresh one
            await self._step("resume", lambda: None)
        # Asked again after the wait: the last piece may have come meanwhile, and a download being verified has
        # let go of its torrent, so no resume data would come (this waited STEP_TIMEOUT_S, one close in ten).
        if self._is_live_download():
            await self._step("resume", lambda: self._request_resume_save(force=True))

    def _is_live_download(self) -> bool:
        return self._handle is not None and self._state in ACTIVE_DOWNLOAD

    def close(self) -> None:
        """The session is closing: an unfinished download ends; its partial file and resume data stay."""
        self._handle = None
        if self._retrial is not None:
            self._retrial.cancel()
        if self._verifying is not None:  # the partial file and resume data stay: the next run verifies again
            self._verifying.cancel()
        state = self._state if self._state is TransferState.SEEDING else TransferState.CANCELLED
        self._end(state, TransferCancelled(f"the transfer session closed before {self.sha256} finished"))

    # -- internals ------------------------------------------------------------------------------

    async def _add_again(self) -> None:
        """A new life for the torrent: out of the session, then in again from resume data, without libtorrent's
        bans or partly downloaded pieces; every peer not convicted is asked again."""
        try:
            await self.save_resume_now()
            if self._verifying is not None or not self._is_live_download():
                return  # the last piece came meanwhile, or the download ended
            await self._remove(delete_files=False)
            if self._state not in ACTIVE_DOWNLOAD or not self._session.is_open:
                return
            self._banned_in_this_life = set()
            self._last_progress = self._loop.time()
            handle = self._session.add_again(self)  # attached to this transfer again
            if self._state is TransferState.PAUSED:
                handle.pause()
            self.add_peers(self._peers)
        except (TimeoutError, TransferError) as exc:
            self._fail_soon(TransferError(f"could not add {self.sha256} again to retry its peers: {exc}"))
        finally:
            self._retrial = None

    async def _verify_and_store(self) -> None:
        """Flush, let go of the file, hash it as it moves into the store; then the session seeds it."""
        store = self._session.store
        try:
            if self._handle is not None:
                self.sources |= self._handle.peers_with_data()
                await self._step("flushed", self._handle.flush)
            await self._remove(delete_files=False)
            stored = await asyncio.to_thread(store.adopt, store.partial_dir / self.sha256, self.sha256)
        except ContentMismatch as exc:
            await self._drop_resume()
            peers = ", ".join(f"{host}:{port}" for host, port in sorted(self.sources)) or "none"
            self._end(TransferState.FAILED, TransferMismatch(f"{exc} (data came from {peers})", frozenset(self.sources)))
            return
        except (ContentError, OSError, TimeoutError) as exc:
            self._end(TransferState.FAILED, TransferError(f"could not store {self.sha256}: {exc}"))
            return
        await self._drop_resume()
        self._state = TransferState.COMPLETE
        self._done.set_result(stored)
        self._session.forget(self)
        self._session.seed_downloaded(stored)

    def _check_stall(self) -> None:
        if self._state not in ACTIVE_DOWNLOAD:
            return
        checking = self._handle is not None and self._handle.status(self._state).state is TransferState.CHECKING
        if self._state is TransferState.PAUSED or checking:  # neither is a stall: the clock restarts after
            self._last_progress = self._loop.time()
        idle = self._loop.time() - self._last_progress
        if idle < self.stall_timeout:
            self._stall_timer = self._loop.call_later(self.stall_timeout - idle, self._check_stall)
            return
        self._fail_soon(TransferTimeout(f"no peer sent any of {self.sha256} (info-hash {self.info_hash}) in "
                                        f"{self.stall_timeout:g} s; {self.status().peers} peer(s) connected"))

    def _fail_soon(self, error: TransferError, delete_files: bool = False) -> None:
        if self._state in ACTIVE_DOWNLOAD:
            self.status()
            self._state = TransferState.FAILED
            self._loop.create_task(self._fail(error, delete_files))

    async def _fail(self, error: TransferError, delete_files: bool) -> None:
        await self._remove(delete_files)
        if delete_files:
            await self._drop_resume()
        self._end(TransferState.FAILED, error)

    async def _remove(self, delete_files: bool) -> None:
        handle, self._handle = self._handle, None
        if handle is not None and self._session.is_open:
            with contextlib.suppress(TimeoutError):
                await self._step("removed", lambda: self._session.remove(handle, delete_files))

    def _end(self, state: TransferState, error: TransferError) -> None:
        self._state = state
        if self._stall_timer is not None:
            self._stall_timer.cancel()
        if not self._done.done():
            log.info("transfer of %s ended: %s", self.sha256, error)
            self._done.set_exception(error)
        self._session.forget(self)

    async def _step(self, name: str, start: Callable[[], object]) -> None:
        """Start something in libtorrent and wait, bounded, for the event that says it is done."""
        waiter = self._waiters.setdefault(name, self._loop.create_future())
        start()
        await asyncio.wait_for(asyncio.shield(waiter), STEP_TIMEOUT_S)

    def _wake(self, name: str) -> None:
        waiter = self._waiters.pop(name, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _request_resume_save(self, force: bool = False) -> None:
        now = self._loop.time()
        if self._handle is not None and not self._saving and (force or now - self._last_save >= RESUME_INTERVAL_S):
            self._saving, self._last_save = True, now
            self._handle.request_resume_data()

    def _saved(self, written: asyncio.Future[None] | None) -> None:
        self._saving = False
        if written is not None and written.exception() is not None:
            log.warning("could not write resume data for %s: %s", self.sha256, written.exception())
        self._wake("resume")

    async def _drop_resume(self) -> None:
        """Delete the resume data, after any write still under way (which would bring it back)."""
        if self._writing is not None:
            await asyncio.wait([self._writing], timeout=STEP_TIMEOUT_S)
        self.resume_path.unlink(missing_ok=True)
