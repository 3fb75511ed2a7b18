"""MarketplaceNode: the one object GUI, CLI and tests use to take part in the marketplace.

It is a facade over the parts of a node, each in its own module: the kademlia
server (`dht_server`), my packages (`publishing`), records learned from others
(`discovered`), searches (`search_runner`), registry look-ups (`registry`) and
what survives a restart (`node_state`). It owns their wiring and the node's
life: start, join, periodic jobs, stop. Everything runs on the caller's
asyncio loop; nothing here blocks it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from kademlia.crawling import NodeSpiderCrawl

from ggen_desktop.core.metrics import QueryMetrics
from ggen_desktop.core.package import PackageMetadata
from ggen_desktop.core.query import Query, QueryConfig, matches_query
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.core.search import QueryTrace
from ggen_desktop.net.address_policy import AddressPolicy
from ggen_desktop.net.announce import Announcer
from ggen_desktop.net.dht_server import DhtServer
from ggen_desktop.net.discovered import DiscoveredRecords
from ggen_desktop.net.errors import NodeError
from ggen_desktop.net.lookup import OnRecords, lookup_within_timeout
from ggen_desktop.net.node_state import NodeState
from ggen_desktop.net.protocol import MarketProtocol
from ggen_desktop.net.publishing import REPUBLISH_CHECK_S, REPUBLISH_INTERVAL_S, Publisher, PublishReport
from ggen_desktop.net.registry import PackageRegistry
from ggen_desktop.net.search_handle import SearchHandle
from ggen_desktop.net.search_runner import SearchRunner
from ggen_desktop.net.storage import RecordStorage
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.rows import MyPackage, RecentQuery

if TYPE_CHECKING:
    from ggen_desktop.store.database import Database

log = logging.getLogger(__name__)


class MarketplaceNode:
    """A DHT node of the marketplace: publish signed packages, search as peers answer."""

    def __init__(
        self,
        database: Database | None = None,
        query_config: QueryConfig = QueryConfig(),
        *,
        node_id: bytes | None = None,
        ksize: int = 20,
        alpha: int = 3,
        remember_contacts: bool = True,
        republish_interval: float = REPUBLISH_INTERVAL_S,
        republish_check: float = REPUBLISH_CHECK_S,
        enforce_node_ids_on_private: bool = False,
    ) -> None:
        """`remember_contacts=False` neither rejoins nor saves routing contacts (a throw-away network).
        My packages are stored again every `republish_interval` s, checked every `republish_check` s.
        `enforce_node_ids_on_private` holds loopback and private peers to the public address rules
        (BEP 42 ids, one party per IP), so tests on 127.x.y.z can stand for distinct hosts."""
        self.address_policy = AddressPolicy(enforce_node_ids_on_private)
        self.database = database
        self.republish_check = republish_check
        self.query_config = query_config
        self.ksize = ksize
        self.alpha = alpha
        self.reputation = ReputationBook()
        self.metrics = QueryMetrics()
        self.storage = RecordStorage()
        self.bootstrap_peers: list[tuple[str, int]] = []
        self.state = NodeState(database, self.reputation, remember_contacts)
        self.publisher = Publisher(database, self.storage, lambda: self.server, self._announce, ksize=ksize, alpha=alpha,
                                   republish_interval=republish_interval)
        self.discovered = DiscoveredRecords(database, self.publisher.is_mine)
        self.searches = SearchRunner(self.metrics, self.storage, self.local_search, self.discovered.add, self._lookup,
                                     lambda: self.node_id_hex if self.is_running else None)
        self.registry = PackageRegistry(self._known_records, self.local_search, self._lookup, lambda: self.is_running,
                                        lambda: self.query_config)
        self._node_id = node_id
        self._server: DhtServer | None = None
        self._announcer: Announcer | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}  # each periodic job's next tick, and only that
        self._started = False
        self._stopped = False

    # -- properties ------------------------------------------------------------

    @property
    def server(self) -> DhtServer:
        if self._server is None or self._server.protocol is None:
            raise NodeError("the node is not running; start it first")
        return self._server

    @property
    def protocol(self) -> MarketProtocol:
        return self.server.protocol

    @property
    def node_id(self) -> bytes:
        if self._server is not None:
            node_id: bytes = self._server.node.id
            return node_id
        if self._node_id is None:
            raise NodeError("the node has no id until it is started")
        return self._node_id

    @property
    def node_id_hex(self) -> str:
        return self.node_id.hex()

    @property
    def address(self) -> tuple[str, int]:
        sockname = self.server.transport.get_extra_info("sockname")
        return sockname[0], sockname[1]

    @property
    def is_running(self) -> bool:
        return self._started and not self._stopped

    def contacts(self) -> list[tuple[str, str, int]]:
        if self._server is None or self._server.protocol is None:
            return []
        return [(n.id.hex(), n.ip, n.port) for n in self._server.protocol.known_nodes()]

    def transport_stats(self) -> dict[str, int]:
        """Counters for the Node panel: datagrams in/out, drops by reason, timeouts, storage."""
        stats = self.protocol.transport_stats() if self._server and self._server.protocol else {}
        stats["stored_records"] = len(self.storage)
        stats["queries_in_flight"] = self.searches.in_flight()
        stats["contacts"] = len(self.contacts())
        return stats

    # -- lifecycle -------------------------------------------------------------

    async def start(self, port: int = 0, bootstrap: Sequence[tuple[str, int]] = (),
                    interface: str = "127.0.0.1") -> None:
        """Listen, then rejoin saved contacts and the bootstrap peers (§2.3's joining procedure)."""
        if self._started:
            raise NodeError("the node is already started; a stopped node cannot be restarted")
        self._started = True
        self._load_state()
        self._node_id = self.address_policy.own_id(self._node_id, interface)
        self._server = DhtServer(self.ksize, self.alpha, self._node_id, self.storage, self.reputation)
        try:
            await self._server.listen(port, interface)
        except OSError as exc:
            self._server = None
            self._stopped = True
            self.state.close()
            raise NodeError(f"cannot listen on UDP {interface}:{port}: {exc.strerror or exc}") from None
        self._node_id = self._server.node.id
        self._server.protocol.use_policy(self.address_policy)
        self._announcer = Announcer(self._server.protocol, self.discovered.add)
        log.info("node %s listening on %s:%d", self.node_id_hex[:12], *self.address)
        try:
            self.bootstrap_peers = [await self._resolve(peer) for peer in bootstrap]
            self._server.protocol.router.trusted_addresses.update(self.bootstrap_peers)
        except NodeError:
            await self.stop()
            raise
        await self._join()
        self._every("republish", self.republish_check, self.publisher.republish_due)
        self._spawn(self.publisher.republish_due())

    def _load_state(self) -> None:
        if self._node_id is None:
            self._node_id = self.state.load_node_id()
        self.state.load_reputation()
        self.publisher.load()
        self.discovered.load()

    async def _resolve(self, peer: tuple[str, int]) -> tuple[str, int]:
        """Host names become addresses: answers are accepted only from the exact address asked."""
        host, port = peer
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, family=socket.AF_INET,
                                                                 type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise NodeError(f"cannot resolve the bootstrap peer {host}:{port}: {exc.strerror or exc}") from None
        return str(infos[0][4][0]), port

    async def _join(self) -> None:
        server = self.server
        saved = [(c.host, c.port) for c in self.state.saved_contacts()]
        addresses = list(dict.fromkeys([*self.bootstrap_peers, *saved]))
        addresses = [a for a in addresses if a != self.address]
        answered = await asyncio.gather(*(server.bootstrap_node(a) for a in addresses))
        nodes = [n for n in answered if n is not None]
        if self.bootstrap_peers and not any(
            n is not None and a in self.bootstrap_peers for a, n in zip(addresses, answered, strict=True)
        ):
            peers = ", ".join(f"{h}:{p}" for h, p in self.bootstrap_peers)
            await self.stop()
            raise NodeError(f"no reachable bootstrap peer among {peers}; check the address and that it is running")
        if nodes:
            await NodeSpiderCrawl(server.protocol, server.node, nodes, self.ksize, self.alpha).find()
        log.info("joined with %d contacts", len(self.contacts()))
        self.state.save_contacts(self.contacts())

    async def stop(self) -> None:
        """Stop searches and timers, save state, close the socket. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.state.close()
        self.searches.cancel_all()
        for timer in self._timers.values():
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._announcer is not None:
            self._announcer.close()
        if self._server is not None:
            try:
                self.state.save_contacts(self.contacts())
                self.state.save(self.node_id)
            except StoreError as exc:  # e.g. a full disk: still close the socket
                log.warning("state not saved at shutdown: %s", exc)
            finally:
                self._server.stop()
                await asyncio.sleep(0)  # let the transport deliver connection_lost

    def _every(self, name: str, interval: float, job: Callable[[], Coroutine[Any, Any, object]]) -> None:
        """Run `job` every `interval` s until stop; only the next tick's timer is kept, under `name`."""
        loop = asyncio.get_running_loop()

        def tick() -> None:
            if self._stopped:
                return
            self._spawn(job())
            self._timers[name] = loop.call_later(interval, tick)

        self._timers[name] = loop.call_later(interval, tick)

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> asyncio.Task[object]:
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def _announce(self, record: SignedRecord) -> None:
        if self._announcer is not None:
            self._announcer.announce(record)

    async def _lookup(self, key: bytes, trace: QueryTrace, on_records: OnRecords, config: QueryConfig) -> None:
        await lookup_within_timeout(self.protocol, key, trace, on_records, config, self.ksize)

    # -- records I know of -------------------------------------------------------

    def _known_records(self) -> list[SignedRecord]:
        """My packages, then discovered records (announced to me or found by my searches)."""
        seen: dict[tuple[str, str, str], SignedRecord] = {}
        for record in self.publisher.records() + self.discovered.records():
            seen.setdefault(record.identity, record)
        return list(seen.values())

    def local_search(self, query: Query) -> list[SignedRecord]:
        """My packages and discovered records matching the query: what a search shows first.

        Records this node merely holds as a DHT replica for others are not local
        knowledge; a lookup counts them as this node's own answer for its key.
        """
        return [r for r in self._known_records() if matches_query(r.package, query)]

    def my_packages(self) -> list[MyPackage]:
        return self.publisher.my_packages()

    # -- publishing and searching ------------------------------------------------------

    async def publish(self, record: SignedRecord) -> PublishReport:
        """Store a signed record on the k closest nodes of its package key and of each keyword.

        Saved among my packages first; raises StoreError (nothing changed) when it cannot be saved,
        and NodeError when no peer acknowledged any copy (it is published again later).
        """
        return await self.publisher.publish(record)

    def delete(self, package_id: str, version: str | None = None) -> int:
        """Forget my own package (all versions, or one) locally; the network's copies expire."""
        return self.publisher.delete(package_id, version)

    def set_peer_blocked(self, peer_id: str, blocked: bool) -> None:
        self.reputation.set_blocked(peer_id, blocked)

    def search(self, query: Query, config: QueryConfig | None = None) -> SearchHandle:
        """Start a search on the running loop and return its handle at once."""
        return self.searches.start(query, config or self.query_config)

    def tracked_queries(self) -> list[str]:
        """Ids of running queries and of ended ones kept for their grace period."""
        return self.searches.tracked()

    # -- recent queries ----------------------------------------------------------------

    def remember_query(self, query: Query) -> None:
        """Keep a search among the recent ones (the one place GUI and CLI record them); without a
        database, or when it cannot be written, nothing is kept and the search is not affected."""
        if self.database is None or not (query.text or query.categories or query.tags):
            return
        try:
            self.database.add_recent_query(query.text, {"categories": list(query.categories),
                                                        "tags": list(query.tags)})
        except StoreError as exc:
            log.warning("recent query not saved: %s", exc)

    def recent_queries(self) -> list[RecentQuery]:
        """Recent searches, newest first (empty without a database)."""
        return self.database.recent_queries() if self.database is not None else []

    # -- registry operations (the seed's Registry trait) -----------------------------

    async def list_versions(self, package_id: str, publisher: str | None = None) -> list[SignedRecord]:
        """Every version of a package known locally or on the DHT, newest first."""
        return await self.registry.list_versions(package_id, publisher)

    async def get_package(self, package_id: str, publisher: str | None = None,
                          version: str | None = None) -> SignedRecord | None:
        """The newest version (or the one asked for); without `publisher`, any publisher's newest."""
        return await self.registry.get_package(package_id, publisher, version)

    async def exists(self, package_id: str) -> bool:
        return await self.registry.exists(package_id)

    async def metadata(self, package_id: str) -> PackageMetadata | None:
        return await self.registry.metadata(package_id)

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped" if self._stopped else "new"
        return f"<MarketplaceNode {self._node_id.hex()[:12] if self._node_id else '?'} {state}>"


__all__ = ["MarketplaceNode", "NodeError", "PublishReport", "SearchHandle"]
