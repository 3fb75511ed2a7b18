"""Package archives over BitTorrent v2: one libtorrent session per node, driven by the asyncio loop.

libtorrent runs its own network and disk threads. Its alerts reach the loop through
`set_alert_fd`: libtorrent writes a byte to one end of a socket pair when its alert
queue turns non-empty, and the loop (`add_reader`, or a relay thread on loops without
it) drains the queue; every alert is handled on the loop thread, and no Python object
is in libtorrent's hands (net/alert_wakeups.py). Peers come from the caller (our DHT's
provider records) through `connect_peer`, over TCP; libtorrent's DHT, LSD, UPnP,
NAT-PMP, PEX and uTP are off and the torrents carry no trackers. A torrent leaves the
session (removal, close) paused and once libtorrent's disk threads are done with it
(`_disk_idle`): tearing a storage down under a piece being hashed crashes libtorrent 2.1.

A torrent is a function of the archive alone (`make_torrent`), so every node that
holds an archive derives the same v2 info-hash and a record's info-hash can be
checked. Downloads go to the content store's `partial/` folder; when libtorrent
reports the last piece verified, the file is hashed against the expected sha256
and only then moved into the store. A peer libtorrent bans (`peer_ban_alert`) for bytes
that failed the v2 merkle check is banned by address for the whole session once the
evidence holds (net/transfer_job.py: `Transfer.on_banned`).
Resume data goes to `partial/<info-hash>.resume` as pieces complete, so a download
killed at any moment continues where it was.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

import libtorrent as lt

from ggen_desktop import __version__
from ggen_desktop.net.alert_wakeups import AlertWakeups
from ggen_desktop.net.transfer_job import DEFAULT_STALL_TIMEOUT_S, STEP_TIMEOUT_S, Transfer, resume_path
from ggen_desktop.net.transfer_types import (
    ACTIVE_DOWNLOAD,
    HEX64,
    Peer,
    TorrentInfo,
    TorrentRejected,
    TransferError,
    TransferMismatch,
    TransferState,
    TransferStatus,
    check_hex,
    piece_length_for,
)
from ggen_desktop.store.content import ContentStore, StoredArchive, hash_file

log = logging.getLogger(__name__)

DISK_IDLE_TIMEOUT_S = 5.0  # bound on the wait for libtorrent's disk threads at close
DISK_JOBS = ("disk.num_jobs", "disk.queued_disk_jobs", "disk.num_running_disk_jobs", "disk.blocked_disk_jobs")
DISK_BLOCKS = ("disk.disk_blocks_in_use",)
_ALERTS = (lt.alert_category.error | lt.alert_category.status | lt.alert_category.peer | lt.alert_category.storage
           | lt.alert_category.ip_block | lt.alert_category.piece_progress)
_F = lt.torrent_flags
_STATES = lt.torrent_status.states


def make_torrent(path: Path) -> TorrentInfo:
    """The canonical torrent of an archive named by its sha256, as the content store holds it.

    v2-only, one file named by the archive's sha256, piece length from the size, and no
    creator, date, tracker or comment: the same archive gives the same info-hash everywhere.
    Reads the file twice (sha256, then the merkle tree): run it off the event loop.
    """
    sha256, size = hash_file(path)
    if path.name != sha256:
        raise TorrentRejected(f"{path} is not named by its sha256 ({sha256}); add it to the content store first")
    if size == 0:
        raise TorrentRejected(f"{path} is empty; BitTorrent cannot share an empty archive")
    creator = lt.create_torrent([lt.create_file_entry(sha256, size)], piece_length_for(size), lt.create_torrent.v2_only)
    creator.set_creator("")
    creator.set_creation_date(0)
    lt.set_piece_hashes(creator, str(path.parent))
    return read_torrent(lt.bencode(creator.generate()))


def read_torrent(torrent: bytes) -> TorrentInfo:
    """Parse torrent bytes; TorrentRejected unless they are the canonical torrent of one archive."""
    try:
        info = lt.torrent_info(torrent)
    except RuntimeError as exc:
        raise TorrentRejected(f"not a torrent file: {exc}") from exc
    hashes, name, piece_length, layout = info.info_hashes(), info.name(), info.piece_length(), info.layout()
    if hashes.has_v1() or not hashes.has_v2():
        raise TorrentRejected(f"torrent {name!r} is not v2-only")
    files = [(layout.file_path(i), layout.file_size(i)) for i in range(layout.num_files())
             if not layout.file_flags(i) & lt.file_storage.flag_pad_file]  # v2 pads each file to whole pieces
    if len(files) != 1 or files[0][0] != name or not HEX64.match(name):
        raise TorrentRejected(f"torrent {name!r} is not one file named by its sha256")
    size = files[0][1]
    if piece_length != piece_length_for(size):
        raise TorrentRejected(f"torrent {name} has {piece_length}-byte pieces; an archive of {size} bytes has "
                              f"{piece_length_for(size)}")
    return TorrentInfo(str(hashes.v2), name, size, piece_length, bytes(torrent))


class TorrentHandle:
    """A typed face on `lt.torrent_handle`.

    Each call either posts to libtorrent's thread or waits briefly for its answer with the GIL
    released (the bindings do that), so the alert callback, which needs the GIL, never deadlocks.
    """

    def __init__(self, handle: lt.torrent_handle) -> None:
        self.raw = handle

    def connect(self, peer: Peer) -> None:
        self.raw.connect_peer(peer)

    def pause(self) -> None:
        self.raw.pause()

    def resume(self) -> None:
        self.raw.resume()

    def flush(self) -> None:
        """Write out cached blocks; a cache_flushed_alert follows."""
        self.raw.flush_cache()

    def request_resume_data(self) -> None:
        """Ask for resume data, with the info dict (an info-hash-only download resumes without peers).

        The disk cache is flushed first: resume data only lists pieces already written to disk.
        """
        self.raw.save_resume_data(lt.torrent_handle.save_info_dict | lt.torrent_handle.flush_disk_cache)

    def peers_with_data(self) -> set[Peer]:
        """Connected peers that have sent this torrent payload bytes."""
        return {(str(p.ip[0]), int(p.ip[1])) for p in self.raw.get_peer_info() if p.total_download > 0}

    def name(self) -> str:
        return str(self.raw.status().name)

    def is_finished(self) -> bool:
        return bool(self.raw.status().is_finished)

    def status(self, state: TransferState) -> TransferStatus:
        """libtorrent's status, with its state folded into ours for a download in progress."""
        st = self.raw.status()
        if state in (TransferState.CHECKING, TransferState.METADATA, TransferState.DOWNLOADING):
            if st.state == _STATES.downloading_metadata:
                state = TransferState.METADATA
            elif st.state in (_STATES.checking_files, _STATES.checking_resume_data):
                state = TransferState.CHECKING
            else:
                state = TransferState.DOWNLOADING
        rate, remaining = int(st.download_payload_rate), int(st.total_wanted - st.total_wanted_done)
        return TransferStatus(state, float(st.progress), int(st.total_wanted_done), int(st.total_wanted), rate,
                              int(st.upload_payload_rate), int(st.num_peers), int(st.total_payload_download),
                              remaining / rate if rate > 0 else None)


class TransferSession:
    """The node's one libtorrent session: seeds what the content store holds and downloads into it."""

    def __init__(self, store: ContentStore, host: str = "127.0.0.1", port: int = 0, *, public_dht: bool = False,
                 upload_limit: int = 0, download_limit: int = 0,
                 stall_timeout: float = DEFAULT_STALL_TIMEOUT_S) -> None:
        self.store, self.host, self.stall_timeout = store, host, stall_timeout
        self.loop = asyncio.get_running_loop()
        self.banned_ips: set[str] = set()
        self.seed_downloads = True  # a download that reached the store is seeded (off: kept, not offered)
        self._transfers: dict[str, Transfer] = {}  # by v2 info-hash
        self._by_handle: dict[lt.torrent_handle, Transfer] = {}
        self._listening: asyncio.Future[int] = self.loop.create_future()
        self._stats: list[asyncio.Future[dict[str, int]]] = []  # waiting for the next session_stats_alert
        self._removals: set[asyncio.Task[None]] = set()
        self._closing = False
        self._flags = (_F.default_flags & ~(_F.paused | _F.auto_managed)) | _F.disable_pex | _F.disable_lsd
        if not public_dht:
            self._flags |= _F.disable_dht
        engine = lt.session({
            "listen_interfaces": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "outgoing_interfaces": "" if host in ("0.0.0.0", "::") else host,
            "listen_system_port_fallback": False, "max_retry_port_bind": 0,  # the port asked for, or an error
            "enable_dht": public_dht, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
            "dht_bootstrap_nodes": lt.default_settings()["dht_bootstrap_nodes"] if public_dht else "",
            "alert_mask": _ALERTS, "alert_queue_size": 100_000,
            "upload_rate_limit": upload_limit, "download_rate_limit": download_limit,
            "user_agent": f"ggen-desktop/{__version__}",
            # TCP only. A uTP connection outlives its process (UDP sends no FIN): seeders went on sending
            # to dead downloaders for many seconds (a 50 MB fetch on loopback: 3.9 s over uTP, 0.4 s over TCP).
            "enable_outgoing_utp": False, "enable_incoming_utp": False,
            # A node restarted after a crash or a network loss comes back from the same address while its
            # peers may still hold the old connection: without this they would refuse the new one.
            "allow_multiple_connections_per_ip": True,
            "tick_interval": 100,  # peers given by connect_peer are dialled on the next tick: 0.5 s by default
        })
        # libtorrent exempts local networks (loopback, LANs) from rate limits through a peer class of
        # their own; put every address in the global class so that a limit means what it says.
        everyone = lt.ip_filter()
        everyone.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
        everyone.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1 << lt.session.global_peer_class_id)
        engine.set_peer_class_filter(everyone)
        self._wakeups = AlertWakeups(self.loop, self._drain)
        engine.set_alert_fd(self._wakeups.fd)  # set once: libtorrent keeps only the number, never a Python object
        self._lt: lt.session | None = engine  # None once closed

    @property
    def is_open(self) -> bool:
        return self._lt is not None and not self._closing

    async def start(self) -> Peer:
        """Wait until the session listens; returns the (host, port) to put in provider records."""
        port = await asyncio.wait_for(asyncio.shield(self._listening), STEP_TIMEOUT_S)
        return (self.host, port)

    def set_rate_limits(self, upload: int = 0, download: int = 0) -> None:
        """Bytes per second for the whole session; 0 is unlimited."""
        self._engine().apply_settings({"upload_rate_limit": upload, "download_rate_limit": download})

    def transfers(self) -> list[Transfer]:
        return list(self._transfers.values())

    def resumable(self) -> list[str]:
        """Info-hashes of downloads with resume data in `partial/`, to restart after a crash or a close."""
        return sorted(p.stem for p in self.store.partial_dir.glob("*.resume") if HEX64.match(p.stem))

    def ban(self, ip: str) -> None:
        """Exchange no more data with this address in this session (it sent bytes that failed a hash check)."""
        if ip not in self.banned_ips:
            log.warning("banning peer %s: it sent data that failed the hash check", ip)
            self.banned_ips.add(ip)
            if self._lt is None:
                return
            rules = lt.ip_filter()
            for banned in self.banned_ips:
                rules.add_rule(banned, banned, 1)
            self._lt.set_ip_filter(rules)

    async def share(self, archive: Path) -> tuple[TorrentInfo, Transfer]:
        """Copy an archive into the content store, make its canonical torrent and seed it."""
        stored = await asyncio.to_thread(self.store.add_file, archive)
        info = await asyncio.to_thread(make_torrent, stored.path)
        return info, self.seed(info)

    def seed(self, torrent: TorrentInfo | bytes) -> Transfer:
        """Offer an archive the content store holds, under its canonical torrent."""
        self._engine()
        info = torrent if isinstance(torrent, TorrentInfo) else read_torrent(torrent)
        if (existing := self._transfers.get(info.info_hash)) is not None:
            return existing
        self.store.path_for(info.sha256)  # ContentMissing unless the store holds it
        handle = self._add(info.torrent, self.store.root, seed=True)
        return self._register(Transfer(self, info.info_hash, info.sha256, seeding=True), handle)

    async def download(self, source: TorrentInfo | bytes | str, sha256: str, peers: Iterable[Peer] = (), *,
                       stall_timeout: float | None = None) -> Transfer:
        """Fetch the archive `sha256` (hex, or "sha256:<hex>") from `peers` into the content store.

        `source` is its torrent, or only its v2 info-hash: the torrent then comes from the peers,
        checked against the info-hash. Resume data from an earlier run is used when present.
        An archive already held is checked against the info-hash and seeded instead.
        """
        self._engine()
        expected = check_hex(sha256, "sha256 content hash")
        torrent: bytes | None = None
        if isinstance(source, str):
            info_hash = check_hex(source, "v2 info-hash")
        else:
            info = source if isinstance(source, TorrentInfo) else read_torrent(source)
            if info.sha256 != expected:
                raise TransferMismatch(f"torrent {info.info_hash} is for archive {info.sha256}, not {expected}")
            info_hash, torrent = info.info_hash, info.torrent
        if (existing := self._transfers.get(info_hash)) is not None:
            if existing.sha256 != expected:
                raise TransferMismatch(f"info-hash {info_hash} is already fetched as archive {existing.sha256}, "
                                       f"not {expected}")
            existing.add_peers(peers)
            return existing
        if self.store.has(expected):
            held = await asyncio.to_thread(make_torrent, self.store.path_for(expected))
            if held.info_hash != info_hash:
                raise TransferMismatch(f"archive {expected}, held here, has info-hash {held.info_hash}, not {info_hash}")
            return self.seed(held)
        handle = self._add(torrent, self.store.partial_dir, info_hash=info_hash,
                           resume=resume_path(self.store, info_hash))
        transfer = self._register(Transfer(self, info_hash, expected, seeding=False, stall_timeout=(
            self.stall_timeout if stall_timeout is None else stall_timeout)), handle)
        transfer.add_peers(peers)
        return transfer

    def seed_downloaded(self, stored: StoredArchive) -> None:
        """A download reached the store: seed it under its canonical torrent (made off the loop), unless
        downloads are not seeded."""
        if not self.seed_downloads:
            return
        async def seed() -> None:
            try:
                info = await asyncio.to_thread(make_torrent, stored.path)
            except (TransferError, OSError) as exc:
                log.warning("downloaded %s but cannot seed it: %s", stored.sha256, exc)
                return
            if self.is_open:
                self.seed(info)

        self.loop.create_task(seed())

    def remove(self, handle: TorrentHandle, delete_files: bool) -> None:
        """Take a torrent out of the session, paused first and once the disk jobs under way have ended (see
        `_disk_idle`); a torrent_removed_alert follows."""
        engine = self._engine()
        handle.pause()
        removal = self.loop.create_task(self._remove_when_idle(engine, handle, delete_files))
        self._removals.add(removal)
        removal.add_done_callback(self._removals.discard)

    async def _remove_when_idle(self, engine: lt.session, handle: TorrentHandle, delete_files: bool) -> None:
        await self._disk_idle(engine, DISK_JOBS)
        if self._lt is engine and not self._closing:  # else close() removes it
            engine.remove_torrent(handle.raw, lt.session.delete_files if delete_files else 0)

    def add_again(self, transfer: Transfer) -> TorrentHandle:
        """Add a removed download again from its resume data, without the peers libtorrent banned and without its
        partly downloaded pieces, attached to the same Transfer: a retrial of peers it may have blamed wrongly
        (`Transfer.on_banned`)."""
        handle = self._add(None, self.store.partial_dir, info_hash=transfer.info_hash, resume=transfer.resume_path,
                           retrial=True)
        self._register(transfer, handle)
        return handle

    def forget(self, transfer: Transfer) -> None:
        if self._transfers.get(transfer.info_hash) is transfer:
            del self._transfers[transfer.info_hash]

    async def close(self) -> None:
        """Save resume data, remove every torrent and stop the session: bounded, never hangs."""
        if self._lt is None or self._closing:
            return
        self._closing = True
        downloads = [t for t in self._transfers.values() if t.state in ACTIVE_DOWNLOAD]
        results = await asyncio.gather(*(t.save_resume_now() for t in downloads), return_exceptions=True)
        for transfer, result in zip(downloads, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("could not save resume data for %s: %r", transfer.sha256, result)
        engine = self._lt
        engine.pause()  # no block arrives any more, so no new disk job is made
        for removal in self._removals:  # torrents on their way out: removed below with the others
            removal.cancel()
        await self._disk_idle(engine, DISK_JOBS)
        for handle in self._by_handle:
            engine.remove_torrent(handle)
        for transfer in list(self._transfers.values()):
            transfer.close()
        await self._disk_idle(engine, DISK_JOBS + DISK_BLOCKS)
        self._lt = None  # from here on, alerts stay in libtorrent's queue
        self._wakeups.stop()
        # No Python object is in libtorrent's hands (the alert fd), so its threads never need the GIL while the
        # destructor joins them holding it. The socket pair closes only once the session is gone, so libtorrent
        # never writes to a descriptor number the process has reused.
        if sys.getrefcount(engine) > 2:  # this name and getrefcount's argument: anything more outlives us
            log.warning("the libtorrent session is still referenced at close; keeping its wake-up socket open")
            return
        del engine
        self._wakeups.close()

    async def _disk_idle(self, engine: lt.session, counters: tuple[str, ...]) -> None:
        """Wait, bounded, until libtorrent's disk threads have none of `counters` (jobs, cached blocks) left.

        libtorrent 2.1's pread disk backend crashes (SIGSEGV in disk_cache::hash_piece, on a disk thread, seen
        under gdb) when a torrent's storage is torn down while one of its pieces is being hashed: by a removal,
        or by the session's destructor. A torrent's disk jobs outlive both the pause and the removal by some
        milliseconds (seen: 127 jobs and 124 cached blocks just after remove_torrent, none 10 ms later). So the
        session closes paused, then idle, then removes, then idle again. Each check is one session_stats_alert,
        asked for again until the counters read zero.
        """
        deadline = self.loop.time() + DISK_IDLE_TIMEOUT_S
        while True:
            stats: asyncio.Future[dict[str, int]] = self.loop.create_future()
            self._stats.append(stats)
            engine.post_session_stats()
            try:
                values = await asyncio.wait_for(stats, max(0.0, deadline - self.loop.time()))
            except TimeoutError:
                log.warning("libtorrent's disk threads were still busy after %g s; closing anyway", DISK_IDLE_TIMEOUT_S)
                return
            if not any(values.get(counter, 0) for counter in counters):
                return

    def _add(self, torrent: bytes | None, save_path: Path, *, seed: bool = False, info_hash: str = "",
             resume: Path | None = None, retrial: bool = False) -> TorrentHandle:
        params = None
        if resume is not None and resume.exists():
            try:
                params = lt.read_resume_data(resume.read_bytes())
                if str(params.info_hashes.v2) != info_hash:
                    raise RuntimeError(f"it is for info-hash {params.info_hashes.v2}")
            except RuntimeError as exc:
                log.warning("ignoring damaged resume data %s: %s", resume, exc)
                params = None
                resume.unlink(missing_ok=True)
        if params is not None:  # libtorrent's bans are suspicions (Transfer.on_banned); convicted peers are filtered
            params.banned_peers = []
            if retrial:  # the blocks of partly downloaded pieces: a banned peer's bad ones may be among them
                params.unfinished_pieces = {}
        if params is None:
            params = lt.add_torrent_params()
            if torrent is not None:
                params.ti = lt.torrent_info(torrent)
            else:
                params.info_hashes = lt.info_hash_t(lt.sha256_hash(bytes.fromhex(info_hash)))
        params.save_path = str(save_path)
        params.flags = self._flags | (_F.seed_mode if seed else 0)
        try:
            return TorrentHandle(self._engine().add_torrent(params))
        except RuntimeError as exc:
            raise TransferError(f"libtorrent refused the torrent: {exc}") from exc

    def _engine(self) -> lt.session:
        if self._lt is None or self._closing:
            raise TransferError("the transfer session is closed")
        return self._lt

    def _register(self, transfer: Transfer, handle: TorrentHandle) -> Transfer:
        transfer.attach(handle)
        self._transfers[transfer.info_hash] = transfer
        self._by_handle[handle.raw] = transfer
        return transfer

    def _drain(self) -> None:
        if self._lt is None:
            return
        for alert in self._lt.pop_alerts():
            try:
                self._dispatch(alert)
            except Exception:
                log.exception("error handling libtorrent alert %s", alert.message())

    def _dispatch(self, alert: lt.alert) -> None:
        if isinstance(alert, lt.listen_succeeded_alert):
            if alert.sock_type == lt.listen_succeeded_alert_socket_type_t.tcp and not self._listening.done():
                self._listening.set_result(alert.port)
        elif isinstance(alert, lt.listen_failed_alert):
            if not self._listening.done():
                self._listening.set_exception(TransferError(
                    f"cannot listen for transfers on {self.host}:{alert.port}: {alert.error.message()}"))
        elif isinstance(alert, lt.alerts_dropped_alert):
            log.warning("libtorrent dropped alerts; checking transfers by status")
            for active in list(self._transfers.values()):
                active.on_finished(confirmed=False)
        elif isinstance(alert, lt.session_stats_alert):
            waiting, self._stats = self._stats, []
            for stats in waiting:
                if not stats.done():
                    stats.set_result(dict(alert.values))
        elif isinstance(alert, lt.peer_blocked_alert):
            log.info("refused a connection with banned peer %s", alert.endpoint[0])
        elif isinstance(alert, lt.torrent_alert):
            transfer = self._by_handle.get(alert.handle)
            if isinstance(alert, lt.torrent_removed_alert):
                self._by_handle.pop(alert.handle, None)
            if transfer is not None:
                self._to_transfer(transfer, alert)

    def _to_transfer(self, transfer: Transfer, alert: lt.torrent_alert) -> None:
        """Turn a torrent's alert into the Transfer's event."""
        if isinstance(alert, lt.piece_finished_alert):
            transfer.on_piece()
        elif isinstance(alert, lt.hash_failed_alert):
            transfer.on_hash_failed()
        elif isinstance(alert, lt.peer_ban_alert):
            transfer.on_banned(alert.endpoint[0])
        elif isinstance(alert, lt.metadata_received_alert):
            transfer.on_metadata(TorrentHandle(alert.handle).name())
        elif isinstance(alert, lt.torrent_finished_alert):
            transfer.on_finished()
        elif isinstance(alert, lt.save_resume_data_alert):
            transfer.on_resume_data(lt.write_resume_data_buf(alert.params))
        elif isinstance(alert, lt.save_resume_data_failed_alert):
            transfer.on_resume_data(None)
        elif isinstance(alert, (lt.torrent_error_alert, lt.file_error_alert)):
            transfer.on_error(alert.message())
        elif isinstance(alert, lt.cache_flushed_alert):
            transfer.on_flushed()
        elif isinstance(alert, lt.torrent_removed_alert):
            transfer.on_removed()

