"""Sharing package archives: the node's BitTorrent session joined to its provider records.

What the content store holds is seeded and announced (a provider record on the k closest
nodes of its key, refreshed every PROVIDER_REFRESH_S while seeding); a download finds its
peers through provider records, fetches the torrent by its v2 info-hash from them, and
is checked against the record's sha256 before it counts. A seeder whose bytes fail a check
(a piece against the torrent's merkle tree, or the whole archive against the record's sha256)
is marked in the node's reputation book under its address and is not asked for that archive
again in this run. A short-lived command that only
fetches (`announce=False`) neither seeds nor announces what it holds: its port closes in
a moment, and a provider record pointing at it would send downloaders nowhere. With
`seed_downloads` off, only the node's own archives (`own`, the published ones) are seeded:
downloads are kept but not offered, and the switch applies at once (`set_seed_downloads`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ggen_desktop.core.package import Package
from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.net.address_policy import peer_key
from ggen_desktop.net.providers import PROVIDER_REFRESH_S, ProviderDirectory
from ggen_desktop.net.transfer import TransferSession, make_torrent
from ggen_desktop.net.transfer_job import Transfer
from ggen_desktop.net.transfer_types import Peer, TorrentInfo, TransferError, TransferMismatch, TransferState
from ggen_desktop.store.content import ContentStore, StoredArchive, digest_of, hash_file

log = logging.getLogger(__name__)

OnTransfer = Callable[[Transfer], None]


class NoProvider(TransferError):
    """No node on the network says it seeds the archive."""


class ArchiveSharing:
    """Seeds and announces the content store's archives; downloads archives a record names."""

    def __init__(self, store: ContentStore, providers: Callable[[], ProviderDirectory], host: str, *,
                 announce: bool = True, refresh_s: float = PROVIDER_REFRESH_S,
                 reputation: Callable[[], ReputationBook] | None = None, seed_downloads: bool = True,
                 own: Callable[[], set[str]] = set) -> None:
        """`own()`: the sha256 of the archives this node published, seeded even when downloads are not."""
        self.store, self._providers, self.host = store, providers, host
        self._reputation, self.seed_downloads, self._own = reputation, seed_downloads, own
        self._switching: asyncio.Task[None] | None = None
        self.refused: dict[str, set[Peer]] = {}  # by sha256: seeders that sent bad bytes for that archive
        self.announce, self.refresh_s = announce, refresh_s
        self.session: TransferSession | None = None
        self.port = 0
        self._seeded: set[str] = set()  # sha256 of every archive seeded and announced here
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the BitTorrent session; when announcing, seed and announce every archive held."""
        self.session = TransferSession(self.store, self.host, 0)
        self.session.seed_downloads = self.announce and self.seed_downloads
        _, self.port = await self.session.start()
        log.info("BitTorrent listening on %s:%d", self.host, self.port)
        if not self.announce:
            return
        await self._seed_held()
        self._refresher = asyncio.ensure_future(self._refresh_forever())

    async def _seed_held(self) -> None:
        """Seed and announce every archive held that is this node's own, or all of them when downloads are seeded."""
        own = self._own()
        for held in await asyncio.to_thread(self.store.held):
            if held.sha256 in self._seeded or not (self.seed_downloads or held.sha256 in own):
                continue
            try:
                await self.seed(held.path)
            except (TransferError, OSError) as exc:
                log.warning("not seeding %s: %s", held.sha256, exc)

    async def announce_again(self) -> None:
        """Say again what is seeded here: at every refresh, and at once when the node was restarted."""
        for sha256 in list(self._seeded):
            try:
                await self._provide(sha256)
            except Exception:  # one failed announcement must not end the others, or the refreshing
                log.exception("could not refresh the provider record of %s", sha256[:12])

    def set_seed_downloads(self, on: bool) -> None:
        """Offer downloaded archives (on) or stop offering them (off) from now on; the node's own stay seeded."""
        if on == self.seed_downloads:
            return
        self.seed_downloads = on
        if self.session is not None:
            self.session.seed_downloads = self.announce and on
        if self.announce and self.session is not None and self.session.is_open:
            previous = self._switching
            self._switching = asyncio.ensure_future(self._switch_seeding(previous))

    async def _switch_seeding(self, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        if self.seed_downloads:
            await self._seed_held()
            return
        own, session = self._own(), self._session()
        for transfer in session.transfers():
            if transfer.state is TransferState.SEEDING and transfer.sha256 not in own:
                self._seeded.discard(transfer.sha256)
                self._providers().withdraw(transfer.sha256)
                await transfer.cancel()  # the archive stays in the store; only the offer ends

    async def add_archive(self, package: Package, archive: Path) -> Package:
        """Copy an archive into the content store and name it in the package (size, info-hash); it is
        seeded and announced now when this node announces, else on its next start."""
        stored = await asyncio.to_thread(self.store.add_file, archive)
        if package.content_hash != f"sha256:{stored.sha256}":
            raise TransferMismatch(f"{archive} hashes to sha256:{stored.sha256}, not the manifest's {package.content_hash}")
        info = await self.seed(stored.path) if self.announce and self.session else await asyncio.to_thread(
            make_torrent, stored.path)
        return _with_archive(package, info)

    async def seed(self, path: Path) -> TorrentInfo:
        """Seed one archive of the store under its canonical torrent, and announce it."""
        info = await asyncio.to_thread(make_torrent, path)
        self._session().seed(info)
        await self._provide(info.sha256)
        return info

    async def fetch(self, package: Package, on_transfer: OnTransfer | None = None) -> StoredArchive:
        """Download the archive a package record names into the content store, checked against its sha256."""
        if package.info_hash is None:
            raise TransferError(f"{package.id} {package.version} was published without a shared archive")
        sha256 = digest_of(package.content_hash)
        if self.store.has(sha256):
            return await asyncio.to_thread(self.store.verify, sha256)
        found = [p for p in await self._providers().find(sha256) if p[1] != self.port or p[0] != self.host]
        refused = self.refused.get(sha256, set())
        peers = [p for p in found if p not in refused]
        if not peers:
            why = f"; {len(found)} that do sent bad data before" if found else ""
            raise NoProvider(f"no node on the network seeds {package.id} {package.version} (archive {sha256[:12]}…){why}")
        transfer = await self._session().download(package.info_hash, sha256, peers)
        if on_transfer is not None:
            on_transfer(transfer)
        try:
            stored = await transfer.finished()
        except TransferMismatch as exc:
            senders = set(exc.peers) | {p for p in peers if p[0] in transfer.banned}
            self._mark_bad(sha256, senders)
            raise TransferMismatch(f"{exc}; {_marked(senders)}", exc.peers) from exc
        finally:  # peers libtorrent banned for pieces failing the merkle check, again after a retrial
            if banned := self._mark_bad(sha256, {p for p in peers if p[0] in transfer.banned}):
                log.warning("%s %s: %s", package.id, package.version, _marked(banned))
        if self.announce and self.seed_downloads:
            await self._provide(sha256)
        return stored

    def _mark_bad(self, sha256: str, peers: set[Peer]) -> set[Peer]:
        """Seeders that sent bytes failing a check: never asked for this archive again, and marked (by address)
        in the reputation book, which then avoids them for a while. Returns those not marked before."""
        new = peers - self.refused.get(sha256, set())
        self.refused.setdefault(sha256, set()).update(peers)
        if self._reputation is not None:
            book = self._reputation()
            for host, port in sorted(new):
                book.record_invalid(peer_key(host, port), host=host, port=port)
        return new

    async def close(self) -> None:
        if self._switching is not None:
            await asyncio.gather(self._switching, return_exceptions=True)
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    async def _provide(self, sha256: str) -> None:
        """Announce an archive seeded here now, and again at every refresh."""
        if self.announce:
            self._seeded.add(sha256)
            stored = await self._providers().provide(sha256, self.port)
            log.info("announced archive %s on port %d to %d nodes", sha256[:12], self.port, stored)

    async def _refresh_forever(self) -> None:
        """Provider records expire after an hour: say again, every refresh interval, what is seeded here."""
        while True:
            await asyncio.sleep(self.refresh_s)
            await self.announce_again()

    def _session(self) -> TransferSession:
        if self.session is None or not self.session.is_open:
            raise TransferError("archive sharing is not running")
        return self.session


def _marked(peers: set[Peer]) -> str:
    named = ", ".join(peer_key(host, port) for host, port in sorted(peers))
    return (f"{named} marked in the peer reputation and not asked for this archive again" if peers
            else "no peer could be named as its source")


def _with_archive(package: Package, info: TorrentInfo) -> Package:
    return dataclasses.replace(package, size=info.size, info_hash=info.info_hash)


def export_archive(stored: StoredArchive, destination: Path) -> Path:
    """Copy an archive out of the store to `destination`, checked against its sha256 before it gets its name."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    try:
        with os.fdopen(fd, "wb") as out, stored.path.open("rb") as source:
            while chunk := source.read(1 << 20):
                out.write(chunk)
        sha256, _ = hash_file(Path(temp))
        if sha256 != stored.sha256:
            raise TransferMismatch(f"the copy of archive {stored.sha256} at {destination} hashes to {sha256}")
        os.replace(temp, destination)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return destination
