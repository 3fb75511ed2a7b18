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

from kademlia.node import Node

from ggen_desktop.core.connection import ConnectionStatus
from ggen_desktop.core.metrics import QueryMetrics
from ggen_desktop.core.package import PackageMetadata
from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.reachability import Reachability
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.core.search import QueryTrace
from ggen_desktop.net.address_policy import AddressPolicy
from ggen_desktop.net.announce import Announcer
from ggen_desktop.net.dht_server import DhtServer
from ggen_desktop.net.discovered import DiscoveredRecords
from ggen_desktop.net.errors import NodeError
from ggen_desktop.net.joining import FIRST_RETRY_S, MAX_RETRY_S, Attempt, Joiner
from ggen_desktop.net.known_records import KnownRecords
from ggen_desktop.net.lookup import OnRecords, StreamingLookup, start_lookup
from ggen_desktop.net.node_lookup import NODE_LOOKUP_ALPHA
from ggen_desktop.net.node_state import CONTACTS_SAVE_INTERVAL_S, NodeState
from ggen_desktop.net.protocol import MarketProtocol
from ggen_desktop.net.providers import ProviderDirectory
from ggen_desktop.net.publish_report import PublishReport
from ggen_desktop.net.publishing import REPUBLISH_CHECK_S, REPUBLISH_INTERVAL_S, Publisher
from ggen_desktop.net.reachability import NodeReachability
from ggen_desktop.net.record_digests import VerifiedRecords
from ggen_desktop.net.registry import PackageRegistry
from ggen_desktop.net.search_handle import SearchHandle
from ggen_desktop.net.search_runner import SearchRunner
from ggen_desktop.net.storage import RecordStorage
from ggen_desktop.net.visibility import FAR_PEERS, ReplicaCount, VisibilityReport, check_visibility, count_replicas
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
        alpha: int = NODE_LOOKUP_ALPHA,
        remember_contacts: bool = True,
        republish_interval: float = REPUBLISH_INTERVAL_S,
        republish_check: float = REPUBLISH_CHECK_S,
        join_backoff: tuple[float, float] = (FIRST_RETRY_S, MAX_RETRY_S),
        contacts_save_interval: float = CONTACTS_SAVE_INTERVAL_S,
        enforce_node_ids_on_private: bool = False,
        client_mode: bool = False, check_reachability: bool = False, port_mapping: bool = False,
    ) -> None:
        """`remember_contacts=False` neither rejoins nor saves routing contacts (a throw-away network).
        My packages are stored again every `republish_interval` s, checked every `republish_check` s.
        While nobody answers, joining is tried again after `join_backoff[0]` s, doubling up to
        `join_backoff[1]` s; routing contacts are saved every `contacts_save_interval` s.
        `enforce_node_ids_on_private` holds loopback and private peers to the public address rules
        (BEP 42 ids, one party per IP), so tests on 127.x.y.z can stand for distinct hosts.
        `client_mode`, `check_reachability` and `port_mapping` (router discovery): see `NodeReachability`."""
        self.address_policy = AddressPolicy(enforce_node_ids_on_private)
        self.database = database
        self.republish_check = republish_check
        self.contacts_save_interval = contacts_save_interval
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
        self.discovered = DiscoveredRecords(self.state.record_seen, self.publisher.is_mine)
        self.known = KnownRecords(self.publisher.records, self.discovered.sourced)
        self.verified = VerifiedRecords()  # record bytes already verified, by digest: each is checked once
        self.searches = SearchRunner(self.metrics, self.known, self._own_replicas, self._learn, self._lookup,
                                     lambda: self.node_id_hex if self.is_running else None)
        self.registry = PackageRegistry(self.known.records, self.local_search, self._lookup, lambda: self.is_running,
                                        lambda: self.query_config, self._own_replicas)
        self.joiner = Joiner(self._try_join, self._on_joined, first_delay=join_backoff[0], max_delay=join_backoff[1])
        self.replica_counts: dict[tuple[str, str, str], ReplicaCount] = {}  # checked on the network, by identity
        self.reach = NodeReachability(client_mode=client_mode, check=check_reachability, port_mapping=port_mapping)
        self._node_id = node_id
        self._server: DhtServer | None = None
        self._announcer: Announcer | None = None
        self._providers: ProviderDirectory | None = None
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
    def providers(self) -> ProviderDirectory:
        """Provider records: who seeds which archive (`provide`, `find`)."""
        if self._providers is None:
            raise NodeError("the node is not running; start it first")
        return self._providers

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

    @property
    def joined(self) -> bool:
        """True once a peer answered (or when there was nobody to ask: the first node of a network)."""
        return self.joiner.joined

    @property
    def reachability(self) -> Reachability:
        return self.reach.status

    def connection_status(self) -> ConnectionStatus:
        """Joined, trying, or waiting for the next try (and when it is)."""
        return self.joiner.status

    def retry_join(self) -> None:
        """Try to join now rather than at the end of the current wait."""
        self.joiner.retry_now()

    async def wait_joined(self, timeout: float) -> bool:
        """True once joined; False when `timeout` s pass first."""
        return await self.joiner.wait_joined(timeout)

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
        """Listen, then join through the bootstrap peers and saved contacts (§2.3's joining procedure).

        Returns after the first try: joined when a peer answered; otherwise the node keeps running
        and tries again with backoff (`connection_status()`), and searches wait for the join."""
        if self._started:
            raise NodeError("the node is already started; a stopped node cannot be restarted")
        self._started = True
        try:
            await self._load_state()
        except BaseException:
            self._stopped = True
            raise
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
        await self.state.save_node_id(self._node_id)  # chosen once: a crash must not lose it
        self._server.protocol.use_policy(self.address_policy)
        self.reach.attach(self._server.protocol, self.state.save_node_id)
        self._announcer = Announcer(self._server.protocol, self._learn)
        self._providers = ProviderDirectory(self._server.protocol, self.ksize, self.alpha)
        log.info("node %s listening on %s:%d", self.node_id_hex[:12], *self.address)
        self.bootstrap_peers = list(bootstrap)
        self._every("republish", self.republish_check, self.publisher.republish_due)
        self._every("contacts", self.contacts_save_interval, lambda: self.state.keep_contacts(self.contacts()))
        if not await self.joiner.try_once():
            self._spawn(self.joiner.keep_trying())

    async def _load_state(self) -> None:
        """Read (and verify) what the store keeps on its thread, so the loop keeps running meanwhile."""
        stored = await self.state.load()
        if self._node_id is None:
            self._node_id = stored.node_id
        self.publisher.load(stored.my_packages)
        self.discovered.load(stored.discovered)

    async def _resolve_bootstrap(self) -> tuple[list[tuple[str, int]], list[str]]:
        """The configured peers' addresses, resolved at each try (offline, a name does not resolve yet),
        and the names that did not resolve this time ("host:port (unresolved)")."""
        addresses: list[tuple[str, int]] = []
        unresolved: list[str] = []
        for host, port in self.bootstrap_peers:
            try:
                address = await self._resolve((host, port))
            except NodeError as exc:
                log.info("%s; tried again with the next join attempt", exc)
                unresolved.append(f"{host}:{port} (unresolved)")
                continue
            addresses.append(address)
            # configured by the user: trusted whatever id they claim (a node on 0.0.0.0 cannot know the
            # address its id should conform to until peers tell it)
            self.protocol.router.trusted_addresses.add(address)
        return addresses, unresolved

    async def _resolve(self, peer: tuple[str, int]) -> tuple[str, int]:
        """Host names become addresses: answers are accepted only from the exact address asked."""
        host, port = peer
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, family=socket.AF_INET,
                                                                 type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise NodeError(f"cannot resolve the bootstrap peer {host}:{port}: {exc.strerror or exc}") from None
        return str(infos[0][4][0]), port

    async def _try_join(self) -> Attempt:
        """Ping the bootstrap peers, the saved contacts and whoever contacted us meanwhile; look up our
        own id from those that answered. With nobody at all to ask, this is the first node of its network."""
        server = self.server
        configured, unresolved = await self._resolve_bootstrap()
        saved = [(c.host, c.port) for c in self.state.saved_contacts()]
        known = [(n.ip, n.port) for n in server.protocol.known_nodes()]
        addresses = [a for a in dict.fromkeys([*configured, *saved, *known]) if a != self.address]
        asked = (*(f"{host}:{port}" for host, port in addresses), *unresolved)
        if not addresses:
            return Attempt(not unresolved, asked)
        if not await server.bootstrap(addresses):
            return Attempt(False, asked)
        log.info("joined with %d contacts", len(self.contacts()))
        await self.state.keep_contacts(self.contacts())
        return Attempt(True, asked)

    def _on_joined(self) -> None:
        """My packages not yet stored anywhere (published while nobody answered) go out now; reachability is checked."""
        self._spawn(self.publisher.republish_due())
        self.reach.joined()

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
        await self.reach.close()
        if self._server is not None:
            try:
                await self.state.save(self.node_id, self.contacts())
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

    def _lookup(self, key: bytes, trace: QueryTrace, on_records: OnRecords, config: QueryConfig) -> StreamingLookup:
        """A lookup started before the node joined waits for the join when it runs (within the query's timeout)."""
        return start_lookup(self.protocol, key, trace, on_records, config, self.ksize, self.verified,
                            joined=self.joiner.wait_joined)

    # -- records I know of -------------------------------------------------------

    def _learn(self, record: SignedRecord, peer: Node) -> None:
        """A verified record a peer announced or answered with: remembered, tagged with that peer and its network."""
        self.discovered.add(record, peer.id.hex(), self.protocol.policy.group(peer.ip, peer.port))
        self.known.changed()

    def _own_replicas(self, key: bytes) -> list[SignedRecord]:
        """What this node holds under `key` when it is among the k closest to it (§2.3): its own answer."""
        target = Node(key)
        nearest = self.protocol.router.find_neighbors(target, k=self.ksize)
        if len(nearest) >= self.ksize and target.distance_to(self.server.node) > max(map(target.distance_to, nearest)):
            return []
        return self.storage.records(key)

    def local_search(self, query: Query) -> list[SignedRecord]:
        """My packages and discovered records matching the query: what a search shows first.

        Records this node merely holds as a DHT replica for others are not local
        knowledge; a lookup counts them as this node's own answer for its key.
        """
        return [record for record, _ in self.known.matches(query)]

    def suggestions(self, query: Query) -> list[str]:
        """Keywords this node knows that are close to the query's words ("Did you mean kubernetes?")."""
        return self.known.suggestions(query)

    def my_packages(self) -> list[MyPackage]:
        return self.publisher.my_packages()

    # -- publishing and searching ------------------------------------------------------

    async def publish(self, record: SignedRecord) -> PublishReport:
        """Store a signed record on the k closest nodes of its package key and of each keyword.

        Saved among my packages first; raises StoreError (nothing changed) when it cannot be saved,
        and NodeError when no peer acknowledged any copy (it is published again later).
        """
        self.known.changed()
        return await self.publisher.publish(record)

    def delete(self, package_id: str, version: str | None = None) -> int:
        """Forget my own package (all versions, or one) locally; the network's copies expire."""
        self.known.changed()
        return self.publisher.delete(package_id, version)

    def set_peer_blocked(self, peer: str, blocked: bool) -> None:
        """Block or unblock a peer by its reputation key: its address ("ip:port"), never a claimed id."""
        self.reputation.set_blocked(peer, blocked)

    def search(self, query: Query, config: QueryConfig | None = None) -> SearchHandle:
        """Start a search now; the handle of its first page (`handle.more()` for the next while `trace.more`)."""
        return self.searches.start(query, config or self.query_config)

    def tracked_queries(self) -> list[str]:
        return self.searches.tracked()

    async def check_visibility(self, record: SignedRecord, peers: int = FAR_PEERS) -> VisibilityReport:
        """Can others find it? `peers` lookups of its package key, each seeded with one contact far from its keys."""
        return await check_visibility(self.protocol, record, self.query_config, self.ksize, peers)

    async def count_replicas(self, record: SignedRecord) -> ReplicaCount:
        """How many of the package key's closest nodes hold the record now; kept in `replica_counts`."""
        count = await count_replicas(self.protocol, record, self.query_config, self.ksize, self.alpha)
        self.replica_counts[record.identity] = count
        return count

    def remember_query(self, query: Query) -> None:
        """Keep a search among the recent ones (GUI and CLI); without a database or on a write error, nothing is kept."""
        if self.database is None or not (query.text or query.categories or query.tags):
            return
        try:
            self.database.add_recent_query(query.text, {"categories": list(query.categories), "tags": list(query.tags)})
        except StoreError as exc:
            log.warning("recent query not saved: %s", exc)

    def recent_queries(self) -> list[RecentQuery]:
        """Recent searches, newest first (empty without a database)."""
        return self.database.recent_queries() if self.database is not None else []

    # -- registry operations (the seed's Registry trait) -----------------------------

    async def list_versions(self, package_id: str, publisher: str | None = None) -> list[SignedRecord]:
        """Every version of a package known locally or on the DHT, newest first."""
        return await self.registry.list_versions(package_id, publisher)

    async def get_package(self, package_id: str, publisher: str | None = None, version: str | None = None
                          ) -> SignedRecord | None:
        """The newest (or asked) version from `publisher` or the name's only one; else AmbiguousPublisher."""
        return await self.registry.get_package(package_id, publisher, version)

    async def exists(self, package_id: str) -> bool:
        return await self.registry.exists(package_id)

    async def metadata(self, package_id: str, publisher: str | None = None) -> PackageMetadata | None:
        return await self.registry.metadata(package_id, publisher)

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped" if self._stopped else "new"
        return f"<MarketplaceNode {self._node_id.hex()[:12] if self._node_id else '?'} {state}>"


__all__ = ["MarketplaceNode", "NodeError", "PublishReport", "SearchHandle"]
