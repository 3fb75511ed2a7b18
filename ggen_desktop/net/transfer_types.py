"""What the transfer layer hands out: the canonical-torrent rule, transfer states, status and errors.

Plain values with no libtorrent in them, so GUI and CLI code can name them
without importing the BitTorrent engine (net/transfer.py is its only importer).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from ggen_desktop.store.content import ContentStore, StoredArchive

Peer = tuple[str, int]
"""A peer's (host, port) for BitTorrent, as provider records carry it."""

HEX64 = re.compile(r"^[0-9a-f]{64}$")
MIN_PIECE = 64 * 1024
MAX_PIECE = 4 * 1024 * 1024
TARGET_PIECES = 1024


def piece_length_for(size: int) -> int:
    """The piece length every node uses for an archive of `size` bytes.

    Part of the canonical torrent, hence of the info-hash: changing it changes every
    archive's info-hash. Powers of two from 64 KiB to 4 MiB, about 1024 pieces.
    """
    length = MIN_PIECE
    while length < MAX_PIECE and length * TARGET_PIECES < size:
        length *= 2
    return length


def check_hex(value: str, what: str) -> str:
    """The 64-digit lowercase hex in `value` (a "sha256:" prefix allowed), or TransferError naming `what`."""
    digest = value.removeprefix("sha256:")
    if not HEX64.match(digest):
        raise TransferError(f"{value!r} is not a {what} (64 lowercase hex digits)")
    return digest


class TransferError(Exception):
    """A transfer failed; the message says which archive and why, for a person to read."""


class TorrentRejected(TransferError):
    """Torrent bytes that are not the canonical torrent of one archive (see `make_torrent`)."""


class TransferTimeout(TransferError):
    """No peer sent anything for the stall timeout."""


class TransferCancelled(TransferError):
    """The transfer was cancelled, or its session closed before it finished."""


class TransferMismatch(TransferError):
    """The bytes are not the archive that was asked for; nothing was kept. `peers` sent them."""

    def __init__(self, message: str, peers: frozenset[Peer] = frozenset()) -> None:
        super().__init__(message)
        self.peers = peers


class TransferState(Enum):
    CHECKING = "checking"
    METADATA = "fetching metadata"
    DOWNLOADING = "downloading"
    PAUSED = "paused"
    VERIFYING = "verifying"
    COMPLETE = "complete"  # checked and in the content store; a seeding transfer takes over
    SEEDING = "seeding"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_DOWNLOAD = frozenset({TransferState.CHECKING, TransferState.METADATA, TransferState.DOWNLOADING,
                             TransferState.PAUSED})


@dataclass(frozen=True)
class TransferStatus:
    state: TransferState
    progress: float = 0.0  # 0..1
    done_bytes: int = 0
    size: int = 0  # 0 until the torrent's metadata is known
    download_rate: int = 0  # payload bytes per second
    upload_rate: int = 0
    peers: int = 0
    downloaded: int = 0  # payload bytes this session received for this transfer
    eta_s: float | None = None


@dataclass(frozen=True)
class TorrentInfo:
    """The canonical v2 torrent of one archive."""

    info_hash: str  # v2 info-hash, 64 hex digits
    sha256: str  # the archive's sha256, also the torrent's single file name
    size: int
    piece_length: int
    torrent: bytes = field(repr=False)  # bencoded .torrent: info dict and piece layers


class TorrentControl(Protocol):
    """What a Transfer asks of its torrent (net/transfer.py's TorrentHandle wraps libtorrent's)."""

    def connect(self, peer: Peer) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def flush(self) -> None: ...
    def request_resume_data(self) -> None: ...
    def peers_with_data(self) -> set[Peer]: ...
    def is_finished(self) -> bool: ...
    def status(self, state: TransferState) -> TransferStatus: ...


class TransferHost(Protocol):
    """What a Transfer asks of the session that made it, so transfer_job need not import transfer."""

    loop: asyncio.AbstractEventLoop
    store: ContentStore
    banned_ips: set[str]

    @property
    def is_open(self) -> bool: ...
    def seed_downloaded(self, stored: StoredArchive) -> object: ...
    def remove(self, handle: Any, delete_files: bool) -> None: ...
    def add_again(self, transfer: Any) -> TorrentControl: ...
    def ban(self, ip: str) -> None: ...
    def forget(self, transfer: Any) -> None: ...
