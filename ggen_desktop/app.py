"""Composition root: settings, database, node and (without a bootstrap peer) the demo network.

Both front ends build one `App` and reach the engine only through it: the GUI
wraps it in Qt, the CLI drives it headless. It owns start-up and shutdown
order: the database opens first (and refuses a data folder another process
holds), the demo network starts before the node that joins it, and shutdown
runs the other way round.

The network code (kademlia) and the keyring load when an App is made or a key
is asked for, not when this module is imported: the window is shown first.
The engine's errors and types the front ends need are re-exported here.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ggen_desktop.core.keywords import keyword_counts, plan_lookup
from ggen_desktop.core.overview import Overview, build_overview
from ggen_desktop.core.provenance import Continuity
from ggen_desktop.core.query import Query, QueryError
from ggen_desktop.core.settings import Settings, SettingsError, parse_peer
from ggen_desktop.core.suggest import suggest
from ggen_desktop.publishers import PublisherBook
from ggen_desktop.store import paths
from ggen_desktop.store.database import Database
from ggen_desktop.store.errors import StoreError as StoreError
from ggen_desktop.store.errors import StoreLocked as StoreLocked
from ggen_desktop.store.saved_metrics import load_metrics, save_metrics

if TYPE_CHECKING:
    from ggen_desktop.core.package import Package
    from ggen_desktop.core.reachability import Reachability
    from ggen_desktop.core.record import SignedRecord
    from ggen_desktop.net.control_socket import ControlServer
    from ggen_desktop.net.demo import DemoNetwork
    from ggen_desktop.net.dependencies import DependencyStatus as DependencyStatus
    from ggen_desktop.net.node import MarketplaceNode
    from ggen_desktop.net.node import NodeError as NodeError
    from ggen_desktop.net.node import PublishReport as PublishReport
    from ggen_desktop.net.sharing import ArchiveSharing, OnTransfer
    from ggen_desktop.net.transfer_job import Transfer as Transfer
    from ggen_desktop.net.transfer_types import TransferCancelled as TransferCancelled
    from ggen_desktop.net.transfer_types import TransferError as TransferError
    from ggen_desktop.net.transfer_types import TransferStatus as TransferStatus
    from ggen_desktop.net.visibility import ReplicaCount, VisibilityReport
    from ggen_desktop.store.identity import IdentityError as IdentityError
    from ggen_desktop.store.identity import PublisherIdentity as PublisherIdentity
    from ggen_desktop.store.rows import MyPackage

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
NO_PORT_MAPPING_ENV = "GGEN_DESKTOP_NO_PORT_MAPPING"  # "1": never look for the router (the test suite sets it)

# Re-exported on first use (PEP 562), so importing this module stays cheap.
_ENGINE_NAMES = {
    "NodeError": "ggen_desktop.net.node",
    "PublishReport": "ggen_desktop.net.node",
    "IdentityError": "ggen_desktop.store.identity",
    "PublisherIdentity": "ggen_desktop.store.identity",
    "TransferError": "ggen_desktop.net.transfer_types",
    "TransferCancelled": "ggen_desktop.net.transfer_types",
}

if not TYPE_CHECKING:  # mypy reads the imports above; at run time the names resolve here

    def __getattr__(name: str) -> object:
        module = _ENGINE_NAMES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)


class App:
    """One running ggen-desktop: what the GUI and the CLI share."""

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        config_dir: Path | None = None,
        port: int | None = None,
        bootstrap: Sequence[str] = (),
        demo_size: int = 24,
        interface: str | None = None,
        allow_demo: bool = True,
        memory_if_locked: bool = False,
        seed: bool = True,
        serve_commands: bool = True, client_mode: bool = False, port_mapping: bool | None = None,
    ) -> None:
        """Load settings and open the database; raises NodeError for a bad bootstrap address and
        StoreLocked (one sentence) when another process holds the data folder, unless
        `memory_if_locked`: then the node keeps nothing on disk (`in_memory`). With
        `allow_demo=False` and no bootstrap peer the node starts a network of its own.
        With `seed` (and a data folder) the archives of the folder's content store are seeded and
        announced while the app runs; a short-lived command passes False, and False for `serve_commands`
        too: else the folder's one-shot commands run in this app, sent over its control socket (control.py).
        `client_mode`, `port_mapping`: `_make_node`."""
        from ggen_desktop.net.node import NodeError

        self.config_dir = paths.config_dir(config_dir)
        self.settings, self.settings_problems = Settings.load(self.config_dir)
        try:
            self._bootstrap = [parse_peer(p) for p in bootstrap] or self.settings.bootstrap()
        except SettingsError as exc:
            raise NodeError(str(exc)) from None
        self._port = port
        self._allow_demo = allow_demo
        self._interface_asked = interface
        self.is_demo = allow_demo and not self._bootstrap
        self.demo_size = demo_size
        self._interface = interface or ("127.0.0.1" if self.is_demo else "0.0.0.0")
        self.database = self._open_database(data_dir, memory_if_locked)
        self.content_dir = paths.data_dir(data_dir)  # archives live here even when another process holds it
        self._seed = seed
        self._serve_commands = serve_commands
        self.control: ControlServer | None = None
        self.sharing: ArchiveSharing | None = None
        self._client_mode, self._port_mapping = client_mode, port_mapping
        self.node = self._make_node()
        self.demo: DemoNetwork | None = None
        self._stopped = False
        self.publishers = PublisherBook(self.database)
        self.provenance, self.petnames = self.publishers.provenance, self.publishers.petnames
        self._load_metrics()

    def _make_node(self) -> MarketplaceNode:
        """Off the demo network (its peers live for one run: not kept) the node checks its reachability and may map a
        router port unless `port_mapping` is False (None: unless NO_PORT_MAPPING_ENV is "1"); `client_mode`: ask only."""
        from ggen_desktop.net.node import MarketplaceNode

        mapping = self._port_mapping if self._port_mapping is not None else os.environ.get(NO_PORT_MAPPING_ENV) != "1"
        return MarketplaceNode(self.database, self.settings.query_config(), remember_contacts=not self.is_demo,
                               client_mode=self._client_mode, check_reachability=not self.is_demo,
                               port_mapping=mapping and not self.is_demo)

    def reachability(self) -> Reachability:  # "Reachable at … via UPnP", "Behind NAT: client mode"
        return self.node.reachability

    @staticmethod
    def _open_database(data_dir: Path | None, memory_if_locked: bool) -> Database | None:
        try:
            return Database(data_dir)
        except StoreLocked:
            if not memory_if_locked:
                raise
            return None

    @staticmethod
    def default_config_dir() -> Path:
        """The settings folder an App made without `config_dir` uses (the window needs it before the App)."""
        return paths.config_dir()

    @property
    def in_memory(self) -> bool:
        """True when the data folder was in use, so nothing of this run is kept on disk."""
        return self.database is None

    @property
    def data_dir(self) -> Path | None:
        """The data folder in use, None when in memory."""
        return self.database.data_dir if self.database is not None else None

    @property
    def downloads_dir(self) -> Path:
        """Where downloaded archives are saved: the settings' folder, else the data folder's "downloads"
        (created by the first fetch). Read at each download, so a change applies at once."""
        return self.settings.downloads_dir(self.content_dir / "downloads")

    @property
    def port(self) -> int:
        return self._port if self._port is not None else self.settings.listen_port

    async def start(self, progress: Progress | None = None) -> None:
        """Start the demo network when there is no bootstrap peer, then the node. Returns after the node's
        first try to join: when nobody answered it keeps trying (`node.connection_status()`)."""
        from ggen_desktop.net.demo import DemoNetwork

        report = progress or (lambda stage, done, total: None)
        bootstrap = list(self._bootstrap)
        if self.is_demo:
            self.demo = DemoNetwork(self.demo_size)
            bootstrap = await self.demo.start(lambda done, total: report("Starting demo network", done, total))
        report("Joining", 0, 1)
        await self.node.start(self.port, bootstrap, self._interface)
        self.observe_records(self.known_records())  # announcements received while this node was away
        report("Joining", 1, 1)
        if self.sharing is not None:  # a node restart keeps the running sharing: announce to the new network
            await self.sharing.announce_again()
        elif not self.in_memory:
            from ggen_desktop.net.transfer_types import TransferError

            try:
                self.sharing = await self._start_sharing(self.content_dir, announce=self._seed)
            except (TransferError, OSError, TimeoutError) as exc:  # search and publish still work without it
                log.warning("archive sharing is off: BitTorrent could not start: %s", exc)
        if self._serve_commands and self.control is None:
            from ggen_desktop.control import serve

            self.control = await serve(self)

    async def _start_sharing(self, content_dir: Path, announce: bool) -> ArchiveSharing:
        from ggen_desktop.net.sharing import ArchiveSharing
        from ggen_desktop.store.content import ContentStore, digest_of

        store = ContentStore(content_dir)
        sharing = ArchiveSharing(store, lambda: self.node.providers, self._interface, announce=announce,
                                 reputation=lambda: self.node.reputation, seed_downloads=self.settings.seed_downloads,
                                 own=lambda: {digest_of(p.record.package.content_hash) for p in self.my_packages()})
        try:
            await sharing.start()
        except BaseException:
            await sharing.close()
            raise
        return sharing

    async def stop(self) -> None:
        """Node, then demo, then database, then archive sharing. A second call does nothing.

        Sharing closes last: destroying a libtorrent session is the one step that has been seen to fail
        (about one close in two hundred, inside libtorrent), and by then everything is saved."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.control is not None:
                await self.control.close()
            self.save_metrics()
            await self.node.stop()
        finally:
            try:
                if self.demo is not None:
                    await self.demo.stop()
            finally:
                try:
                    if self.database is not None:
                        self.database.close()
                finally:
                    if self.sharing is not None:
                        try:
                            await self.sharing.close()
                        except Exception:
                            log.exception("archive sharing did not close cleanly")

    def apply_settings(self, settings: Settings) -> list[str]:
        """Save, and apply what can change live (the query config); returns the changed settings
        that wait for the next start (port, bootstrap peers)."""
        settings.save(self.config_dir)
        waiting = settings.restart_needed(self.settings)
        self.settings = settings
        self.node.query_config = settings.query_config()
        if self.sharing is not None:
            self.sharing.set_seed_downloads(settings.seed_downloads)
        return waiting

    async def restart_node(self, progress: Progress | None = None) -> None:
        """Network settings changed: stop the node (and a demo network), start a new one on the saved port
        and bootstrap peers, with the same database; the window stays. Metrics are saved and read back."""
        self.save_metrics()
        await self.node.stop()
        if self.demo is not None:
            await self.demo.stop()
            self.demo = None
        self._bootstrap = self.settings.bootstrap()
        self._port = None  # the settings' port from now on, not the command line's
        self.is_demo = self._allow_demo and not self._bootstrap
        self._interface = self._interface_asked or ("127.0.0.1" if self.is_demo else "0.0.0.0")
        if self.sharing is not None and self.sharing.host != self._interface:  # e.g. from the demo to a real network
            await self.sharing.close()
            self.sharing = None
        self.node = self._make_node()
        self._load_metrics()
        await self.start(progress)

    # -- query metrics, kept across restarts --------------------------------------------
    def _load_metrics(self) -> None:
        if self.database is None:
            return
        try:
            saved = load_metrics(self.database)
            if saved is not None:
                self.node.metrics.restore(saved)
        except (StoreError, ValueError) as exc:
            log.warning("query metrics start from zero: %s", exc)

    def save_metrics(self) -> None:
        """Keep the query metrics (after each search, and at shutdown); a failed write is logged."""
        if self.database is None:
            return
        try:
            save_metrics(self.database, self.node.metrics.saved())
        except StoreError as exc:
            log.warning("query metrics not saved: %s", exc)

    # -- publishing ------------------------------------------------------------------
    async def publish(self, record: SignedRecord) -> PublishReport:
        """Store a signed record on the network and keep it among my packages for republishing.
        NodeError when no peer stored it, StoreError when it could not be kept on disk."""
        try:
            return await self.node.publish(record)
        finally:
            self.observe_records([record])

    async def add_archive(self, package: Package, archive: Path) -> Package:
        """Keep an archive in the data folder's content store and return the package naming it (size and
        torrent info-hash, to be signed). Seeded now when this app seeds, else on the folder's next start."""
        from ggen_desktop.net.sharing import ArchiveSharing
        from ggen_desktop.store.content import ContentStore

        if self.sharing is not None:
            return await self.sharing.add_archive(package, archive)
        offline = ArchiveSharing(ContentStore(self.content_dir), lambda: self.node.providers, self._interface,
                                 announce=False)
        return await offline.add_archive(package, archive)

    async def fetch(self, package: Package, output_dir: Path, on_transfer: OnTransfer | None = None) -> Path:
        """Download the archive of a package record from the nodes that seed it, check it against the
        record's sha256 and copy it into `output_dir`; returns the copy's path. TransferError otherwise."""
        import tempfile

        from ggen_desktop.net.sharing import export_archive

        destination = Path(output_dir) / f"{package.id.namespace}-{package.id.name}-{package.version}"
        if self.sharing is not None:
            stored = await self.sharing.fetch(package, on_transfer)
            return await asyncio.to_thread(export_archive, stored, destination)
        with tempfile.TemporaryDirectory(prefix="ggen-fetch-") as scratch:  # in memory: keep nothing here
            sharing = await self._start_sharing(Path(scratch), announce=False)
            try:
                stored = await sharing.fetch(package, on_transfer)
                return await asyncio.to_thread(export_archive, stored, destination)
            finally:
                await sharing.close()

    async def resolve_dependencies(self, record: SignedRecord) -> list[DependencyStatus]:
        """Each dependency of a package, resolved on the network: the version to fetch and its seeders, or why not."""
        from ggen_desktop.net.dependencies import DependencyResolver

        return await DependencyResolver(self.node.list_versions, lambda sha256: self.node.providers.find(sha256)).resolve(record)

    def my_packages(self) -> list[MyPackage]:
        return self.node.my_packages()

    async def check_visibility(self, record: SignedRecord) -> VisibilityReport:
        """Can others find it? Lookups started from peers far from its keys (NodeError when not running)."""
        return await self.node.check_visibility(record)

    async def refresh_replicas(self) -> None:
        """The Replicas column from the network: each of my packages' holders counted now (after the join)."""
        if not await self.node.wait_joined(self.node.query_config.default_timeout):
            return
        for mine in self.my_packages():
            await self.count_replicas(mine.record)

    async def count_replicas(self, record: SignedRecord) -> ReplicaCount:
        """How many of the package key's closest nodes hold the record now (kept for `replica_count`)."""
        return await self.node.count_replicas(record)

    def replica_count(self, record: SignedRecord) -> ReplicaCount | None:
        """The last count of a record's replicas on the network, None when not counted in this run."""
        return self.node.replica_counts.get(record.identity)

    # -- what this node knows --------------------------------------------------------
    def known_records(self) -> list[SignedRecord]:
        """My packages and the records discovered from others (not the replicas kept for the DHT)."""
        return self.node.local_search(Query())

    def overview(self) -> Overview:
        """The start view's content: categories with counts, recent packages, recent searches."""
        def seen_at(record: SignedRecord) -> float | None:
            name, version, fingerprint = record.identity
            return self.provenance.first_seen(name, fingerprint, version)

        mine = {p.record.identity for p in self.node.my_packages()}
        return build_overview(self.known_records(), mine=mine, seen_at=seen_at, recent_searches=self.recent_searches())

    def recent_searches(self) -> list[Query]:
        """The user's recent searches, newest first, as queries to run again (unreadable ones skipped)."""
        out = []
        for recent in self.node.recent_queries():
            try:
                out.append(Query(text=recent.text, categories=tuple(recent.filters.get("categories", ())),
                                 tags=tuple(recent.filters.get("tags", ()))))
            except (QueryError, TypeError, ValueError) as exc:
                log.warning("skipping recent search %r: %s", recent.text, exc)
        return out

    def suggestions(self, query: Query) -> list[str]:
        """Keywords of known packages close to the query's words ("did you mean …?")."""
        return suggest(query.words, keyword_counts(r.package for r in self.known_records()))

    def why_not_asked(self, query: Query) -> str:
        """Why a search of this query does not ask the network ("" when it does)."""
        return plan_lookup(query, keyword_counts(r.package for r in self.known_records())).reason

    # -- publishers: continuity and petnames (publishers.py) ------------------------
    def observe_records(self, records: Iterable[SignedRecord]) -> None:
        self.publishers.observe_records(records)

    def continuity(self, record: SignedRecord) -> Continuity:
        return self.publishers.continuity(record)

    def set_petname(self, fingerprint: str, text: str) -> str | None:
        return self.publishers.set_petname(fingerprint, text)

    # -- the publisher key (before any App exists for the CLI, so static) ------------
    @staticmethod
    def keyring_identity() -> PublisherIdentity | None:
        """The publisher key in the OS keyring, None when there is none yet; IdentityError without a keyring."""
        from ggen_desktop.store.identity import load_keyring_identity

        return load_keyring_identity()

    @staticmethod
    def create_keyring_identity() -> PublisherIdentity:
        """A new publisher key, kept in the OS keyring; IdentityError without a usable keyring."""
        from ggen_desktop.store.identity import create_keyring_identity

        return create_keyring_identity()

    @staticmethod
    def delete_keyring_identity() -> bool:
        """Remove the publisher key from the OS keyring (False when there was none); IdentityError without one."""
        from ggen_desktop.store.identity import delete_keyring_identity

        return delete_keyring_identity()

    @staticmethod
    def delete_key_file(path: Path) -> PublisherIdentity:
        """Delete a key file after checking it holds a publisher key; IdentityError otherwise."""
        from ggen_desktop.store.identity import delete_key_file

        return delete_key_file(path)

    @staticmethod
    def open_key_file(path: Path) -> tuple[PublisherIdentity, bool]:
        """The publisher key in a file the user chose, created owner-only if missing (True when created)."""
        from ggen_desktop.store.identity import open_key_file

        return open_key_file(path)
