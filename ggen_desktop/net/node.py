"""MarketplaceNode: the one object GUI, CLI and tests use to take part in the marketplace.

It composes a kademlia `Server` subclass (our protocol and validated storage),
the streaming lookup, gossip, reputation and metrics, and persists what must
survive a restart (node id, contacts, reputation, my packages, discovered
records) in the store when one is given. Everything runs on the caller's
asyncio loop; nothing here blocks it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kademlia.crawling import NodeSpiderCrawl
from kademlia.network import Server
from kademlia.node import Node

from ggen_desktop.core.keywords import lookup_keyword
from ggen_desktop.core.metrics import QueryMetrics
from ggen_desktop.core.package import PackageError, PackageId, PackageMetadata
from ggen_desktop.core.query import Query, QueryConfig, matches_query
from ggen_desktop.core.record import RecordError, SignedRecord, decode_and_verify
from ggen_desktop.core.reputation import PeerStats, ReputationBook
from ggen_desktop.core.search import THIS_NODE_SOURCE, QueryStatus, QueryTrace, SearchEvent
from ggen_desktop.net.announce import Announcer
from ggen_desktop.net.lookup import StreamingLookup
from ggen_desktop.net.protocol import DEFAULT_RPC_TIMEOUT, MarketProtocol
from ggen_desktop.net.storage import (
    RecordStorage,
    StorageRefused,
    keyword_key,
    package_dht_key,
    record_keys,
)
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.rows import Contact, MyPackage, RecentQuery

if TYPE_CHECKING:
    from ggen_desktop.store.database import Database

log = logging.getLogger(__name__)

REPUBLISH_INTERVAL_S = 12 * 3600.0  # well inside the 24 h record lifetime (paper §2.5)
REPUBLISH_CHECK_S = 600.0
REPUTATION_SAVE_DELAY_S = 2.0  # debounce: many updates per search, one write
MAX_DISCOVERED = 5000
MAX_SAVED_CONTACTS = 200
REGISTRY_QUERY_LIMIT = 500

Merge = Callable[[Node, list[SignedRecord]], bool]
"""Receives each peer's verified, matching records; returns True to end the lookup early."""


class NodeError(Exception):
    """A node operation failed; the message is one sentence for a person to read."""


@dataclass(frozen=True)
class PublishReport:
    record: SignedRecord
    replicas: int
    keys: int
    keyword_replicas: int


class DhtServer(Server):
    """kademlia's Server with our protocol, validated storage and bounded refresh."""

    protocol_class = MarketProtocol
    protocol: MarketProtocol

    def __init__(self, ksize: int, alpha: int, node_id: bytes | None, storage: RecordStorage,
                 reputation: ReputationBook) -> None:
        super().__init__(ksize=ksize, alpha=alpha, node_id=node_id, storage=storage)
        self.storage = storage  # Server tests `storage or ForgetfulStorage()`; an empty one is falsy
        self.reputation = reputation

    def _create_protocol(self) -> MarketProtocol:
        return MarketProtocol(self.node, self.storage, self.ksize, self.reputation)

    async def _refresh_table(self) -> None:
        """Refresh lonely buckets (§2.3) only: records are republished by their publishers, not by
        every holder through `Server.set`, which would also write unverified values."""
        crawls = []
        for node_id in self.protocol.get_refresh_ids():
            node = Node(node_id)
            nearest = self.protocol.router.find_neighbors(node, self.alpha)
            crawls.append(NodeSpiderCrawl(self.protocol, node, nearest, self.ksize, self.alpha).find())
        await asyncio.gather(*crawls)

    async def bootstrap_node(self, addr: tuple[str, int]) -> Node | None:
        ok, answer = await self.protocol.ping(addr, self.node.id)
        if ok and isinstance(answer, bytes) and len(answer) == 20 and answer != self.node.id:
            node = Node(answer, addr[0], addr[1])
            self.protocol.welcome_if_new(node)
            return node
        return None


class SearchHandle:
    """A running search: iterate it for events, `cancel()` it, or `await wait()` for the trace."""

    def __init__(self, node: MarketplaceNode, query: Query, config: QueryConfig) -> None:
        self.trace = QueryTrace(query)
        self.query_id = self.trace.query_id
        self.config = config
        self._node = node
        self._queue: asyncio.Queue[SearchEvent | None] = asyncio.Queue()
        self._finished = False
        self._cancelled = False
        node.metrics.started()
        self._task = asyncio.get_running_loop().create_task(node._run_search(self), name=f"search {self.query_id}")

    @property
    def done(self) -> bool:
        return self._finished

    def emit(self, event: SearchEvent | None) -> None:
        """Queue an event, unless the query has ended (a late answer is never merged)."""
        if event is not None and not self._finished:
            self._queue.put_nowait(event)

    def finish(self, status: QueryStatus, error: str | None = None) -> None:
        """End the query exactly once: status, metrics, end of stream."""
        if self._finished:
            return
        self._finished = True
        self.trace.finish(status, error)
        self._node.metrics.finished(self.trace)
        self._node._query_ended(self)
        self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[SearchEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[SearchEvent]:
        while True:
            event = await self._queue.get()
            if event is None or self._cancelled:
                return
            yield event

    def cancel(self) -> None:
        """Stop now: nothing of this query is yielded after this call."""
        if self._finished:
            return
        self._cancelled = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self.finish(QueryStatus.CANCELLED)
        self._task.cancel()

    async def wait(self) -> QueryTrace:
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise
        return self.trace


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
    ) -> None:
        """`remember_contacts=False` neither rejoins nor saves routing contacts (a throw-away network).
        My packages are stored again every `republish_interval` s, checked every `republish_check` s."""
        self.database = database
        self.republish_interval = republish_interval
        self.republish_check = republish_check
        self.remember_contacts = remember_contacts
        self.query_config = query_config
        self.ksize = ksize
        self.alpha = alpha
        self.reputation = ReputationBook()
        self.metrics = QueryMetrics()
        self.storage = RecordStorage()
        self.bootstrap_peers: list[tuple[str, int]] = []
        self._node_id = node_id
        self._server: DhtServer | None = None
        self._announcer: Announcer | None = None
        self._mine: dict[tuple[str, str, str], MyPackage] = {}
        self._discovered: OrderedDict[tuple[str, str, str], SignedRecord] = OrderedDict()
        self._queries: dict[str, SearchHandle] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}  # each periodic job's next tick, and only that
        self._dirty_peers: set[str] = set()
        self._save_handle: asyncio.TimerHandle | None = None
        self._started = False
        self._stopped = False
        self.reputation.listeners.append(self._peer_changed)

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
        stats["queries_in_flight"] = sum(1 for h in self._queries.values() if not h.done)
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
        self._server = DhtServer(self.ksize, self.alpha, self._node_id, self.storage, self.reputation)
        try:
            await self._server.listen(port, interface)
        except OSError as exc:
            self._server = None
            self._stopped = True
            raise NodeError(f"cannot listen on UDP {interface}:{port}: {exc.strerror or exc}") from None
        self._node_id = self._server.node.id
        self._announcer = Announcer(self._server.protocol, self._discovered_record)
        log.info("node %s listening on %s:%d", self.node_id_hex[:12], *self.address)
        try:
            self.bootstrap_peers = [await self._resolve(peer) for peer in bootstrap]
        except NodeError:
            await self.stop()
            raise
        await self._join()
        self._every("republish", self.republish_check, self._republish_due)
        self._spawn(self._republish_due())

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
        saved = [(c.host, c.port) for c in self._saved_contacts()]
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
        self._save_contacts()

    async def stop(self) -> None:
        """Stop searches and timers, save state, close the socket. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        for handle in list(self._queries.values()):
            handle.cancel()
        for timer in self._timers.values():
            timer.cancel()
        if self._save_handle is not None:
            self._save_handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._announcer is not None:
            self._announcer.close()
        if self._server is not None:
            try:
                self._save_contacts()
                self._save_state()
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

    # -- persistence -----------------------------------------------------------

    def _load_state(self) -> None:
        db = self.database
        if db is None:
            return
        if self._node_id is None:
            self._node_id = db.load_node_id()
        for peer_id, data in db.load_peers().items():
            try:
                self.reputation.peers[peer_id] = PeerStats.from_dict({**data, "peer_id": peer_id})
            except (TypeError, ValueError):
                log.warning("ignoring damaged reputation entry for %s", peer_id[:12])
        for mine in db.my_packages():
            self._mine[mine.record.identity] = mine
        for found in db.discovered_records():
            self._discovered[found.record.identity] = found.record

    def _saved_contacts(self) -> list[Contact]:
        if self.database is None or not self.remember_contacts:
            return []
        return self.database.load_contacts()[:MAX_SAVED_CONTACTS]

    def _save_contacts(self) -> None:
        if self.database is None or self._server is None or not self.remember_contacts:
            return
        now = time.time()
        contacts = []
        for node_hex, host, port in self.contacts()[:MAX_SAVED_CONTACTS]:
            stats = self.reputation.peers.get(node_hex)
            contacts.append(Contact(bytes.fromhex(node_hex), host, port, stats.last_seen if stats and stats.last_seen else now))
        if contacts:
            self.database.save_contacts(contacts)

    def _save_state(self) -> None:
        if self.database is None:
            return
        self.database.save_node_id(self.node_id)
        self.database.save_peers({p.peer_id: p.to_dict() for p in self.reputation.snapshot()})
        self._dirty_peers.clear()

    def _peer_changed(self, stats: PeerStats) -> None:
        if self.database is None or self._stopped:
            return
        self._dirty_peers.add(stats.peer_id)
        if self._save_handle is None:
            self._save_handle = asyncio.get_running_loop().call_later(REPUTATION_SAVE_DELAY_S, self._flush_peers)

    def _flush_peers(self) -> None:
        self._save_handle = None
        if self.database is None or not self._dirty_peers:
            return
        dirty, self._dirty_peers = self._dirty_peers, set()
        try:
            self.database.save_peers({p: self.reputation.peers[p].to_dict() for p in dirty if p in self.reputation.peers})
        except StoreError as exc:
            self._dirty_peers |= dirty  # tried again on the next change, and at stop
            log.warning("peer reputation not saved: %s", exc)

    # -- records I know of -------------------------------------------------------

    def _discovered_record(self, record: SignedRecord, peer_id: str) -> None:
        """A verified record from an announcement or a search answer: remember it."""
        if record.identity in self._mine:
            return
        known = self._discovered.get(record.identity)
        if known is None or not record.is_older_than(known):
            self._discovered[record.identity] = record
        self._discovered.move_to_end(record.identity)
        while len(self._discovered) > MAX_DISCOVERED:
            self._discovered.popitem(last=False)
        if self.database is not None:
            try:
                self.database.upsert_discovered(record, peer_id)
            except StoreError as exc:  # a full disk must not fail the search that found it
                log.warning("discovered record not saved: %s", exc)

    def _known_records(self) -> list[SignedRecord]:
        """My packages, then discovered records (announced to me or found by my searches)."""
        seen: dict[tuple[str, str, str], SignedRecord] = {}
        for record in [m.record for m in self._mine.values()] + list(self._discovered.values()):
            seen.setdefault(record.identity, record)
        return list(seen.values())

    def local_search(self, query: Query) -> list[SignedRecord]:
        """My packages and discovered records matching the query: what a search shows first.

        Records this node merely holds as a DHT replica for others are not local
        knowledge; a lookup counts them as this node's own answer for its key.
        """
        return [r for r in self._known_records() if matches_query(r.package, query)]

    def my_packages(self) -> list[MyPackage]:
        return sorted(self._mine.values(), key=lambda m: (m.record.identity, m.published_at))

    # -- publishing ----------------------------------------------------------------

    async def publish(self, record: SignedRecord) -> PublishReport:
        """Store a signed record on the k closest nodes of its package key and of each keyword.

        The record is saved among my packages before anything goes on the wire, so a crash (or a
        network where nobody answers) leaves it to be republished on the next start or check.
        Raises StoreError (nothing changed) when it cannot be saved, e.g. on a full disk, and
        NodeError when no peer acknowledged any copy.
        """
        try:
            record = decode_and_verify(record.encoded)
        except RecordError as exc:
            raise NodeError(f"the record cannot be published: {exc}") from None
        now = time.time()
        old = self._mine.get(record.identity)
        if self.database is not None:
            if old is None:
                self.database.add_my_package(record, published_at=now)
            else:
                self.database.update_my_package(record)
        self._mine[record.identity] = (MyPackage(record, now) if old is None
                                       else MyPackage(record, old.published_at, old.last_republished_at, old.replicas))
        had_peers = bool(self.contacts())  # dead ones leave the routing table during the store
        report = await self._store_everywhere(record)
        if self._announcer is not None:
            self._announcer.announce(record)
        if report.replicas == 0 and report.keyword_replicas == 0:
            why = "every neighbour failed to answer" if had_peers else "this node knows no peers"
            raise NodeError(f"no peer stored {record.package.id} {record.package.version} ({why}); it is kept "
                            "among my packages and published again when peers answer")
        return report

    async def _store_everywhere(self, record: SignedRecord) -> PublishReport:
        keys = record_keys(record)
        acks = await asyncio.gather(*(self._store_on_closest(key, record) for key in keys))
        now = time.time()
        mine = self._mine.get(record.identity)
        if mine is not None:
            self._mine[record.identity] = MyPackage(record, mine.published_at, now, acks[0])
            if self.database is not None:
                try:
                    self.database.mark_republished(record.identity, replicas=acks[0], at=now)
                except StoreError as exc:  # the copies are out; only the bookkeeping is lost
                    log.warning("publish of %s not noted: %s", record.package.id, exc)
        log.info("published %s %s: %d replicas, %d keyword acks over %d keys",
                 record.package.id, record.package.version, acks[0], sum(acks[1:]), len(keys))
        return PublishReport(record, acks[0], len(keys), sum(acks[1:]))

    async def _store_on_closest(self, key: bytes, record: SignedRecord) -> int:
        """§2.3's store: find the k closest nodes to the key, then store on each; returns the acks."""
        server = self.server
        target = Node(key)
        nearest = server.protocol.router.find_neighbors(target)
        nodes: list[Node] = []
        if nearest:
            nodes = await NodeSpiderCrawl(server.protocol, target, nearest, self.ksize, self.alpha).find()
        if len(nodes) < self.ksize or server.node.distance_to(target) < max(n.distance_to(target) for n in nodes):
            try:
                self.storage.add(key, record.encoded)
            except StorageRefused as exc:
                log.warning("not keeping my own record locally: %s", exc)
        results = await asyncio.gather(*(server.protocol.call_store(n, key, record.encoded) for n in nodes))
        return sum(1 for ok, stored in results if ok and stored)

    def _republish_is_due(self, mine: MyPackage, now: float) -> bool:
        """Due after the interval, and at once when no peer ever acknowledged it (a crash mid-publish,
        or no peer answering then)."""
        if mine.last_republished_at is None or mine.replicas == 0:
            return True
        return now - mine.last_republished_at >= self.republish_interval

    async def _republish_due(self) -> None:
        """The original publisher's periodic republish (§2.5), which kademlia does not implement."""
        now = time.time()
        for mine in list(self._mine.values()):
            if self._republish_is_due(mine, now) and mine.record.identity in self._mine:
                await self._store_everywhere(mine.record)

    def delete(self, package_id: str, version: str | None = None) -> int:
        """Forget my own package (all versions, or one) locally; the network's copies expire."""
        doomed = [i for i in self._mine if i[0] == package_id and (version is None or i[1] == version)]
        for identity in doomed:
            del self._mine[identity]
            if self.database is not None:
                self.database.delete_my_package(identity)
        return len(doomed)

    def set_peer_blocked(self, peer_id: str, blocked: bool) -> None:
        self.reputation.set_blocked(peer_id, blocked)

    # -- searching -------------------------------------------------------------------

    def search(self, query: Query, config: QueryConfig | None = None) -> SearchHandle:
        """Start a search on the running loop and return its handle at once."""
        handle = SearchHandle(self, query, config or self.query_config)
        self._queries[handle.query_id] = handle
        return handle

    def _query_ended(self, handle: SearchHandle) -> None:
        """Keep the entry for timeout + grace so late answers are recognised, then drop it."""
        asyncio.get_running_loop().call_later(handle.config.grace_period, self._queries.pop, handle.query_id, None)

    def tracked_queries(self) -> list[str]:
        """Ids of running queries and of ended ones kept for their grace period."""
        return list(self._queries)

    async def _run_search(self, handle: SearchHandle) -> None:
        trace, config = handle.trace, handle.config

        def offer(record: SignedRecord, source: str) -> bool:
            """Merge one record from one source; True once the query has all the results it wants."""
            handle.emit(trace.add(record, source))
            return trace.result_count >= config.max_results

        try:
            word = lookup_keyword(trace.query)
            key = keyword_key(word) if word is not None and self.is_running else None
            held = [(record, THIS_NODE_SOURCE) for record in self.local_search(trace.query)]
            if key is not None:
                # This node may be one of the k closest to the key (§2.3): its replicas are its answer.
                held += [(record, self.node_id_hex) for record in self.storage.records(key)
                         if matches_query(record.package, trace.query)]
            if any(offer(record, source) for record, source in held):
                handle.finish(QueryStatus.FINISHED)
                return
            if key is not None:
                def merge(node: Node, records: list[SignedRecord]) -> bool:
                    if handle.done:
                        return True
                    peer = node.id.hex()
                    for record in records:
                        self._discovered_record(record, peer)
                        if offer(record, peer):
                            return True
                    return False

                await self._lookup(key, trace, merge, config)
                if trace.peers and not trace.answering_peers:
                    handle.finish(QueryStatus.TIMED_OUT)  # everyone asked timed out: what we have is partial
                    return
            handle.finish(QueryStatus.FINISHED)
        except TimeoutError:
            handle.finish(QueryStatus.TIMED_OUT)
        except asyncio.CancelledError:
            handle.finish(QueryStatus.CANCELLED)
            raise
        except Exception as exc:
            log.exception("search %s failed", handle.query_id)
            handle.finish(QueryStatus.FAILED, str(exc))

    async def _lookup(self, key: bytes, trace: QueryTrace, merge: Merge, config: QueryConfig) -> None:
        """A streaming lookup toward `key` for `trace.query`, ended by the query's overall timeout
        (asyncio.TimeoutError); each request's own timeout is bounded well below it."""
        lookup = StreamingLookup(
            self.protocol, key, trace.query, trace, merge, fan_out=config.fan_out,
            request_timeout=min(config.default_timeout, DEFAULT_RPC_TIMEOUT * 2),
            adaptive_timeout=config.adaptive_timeout, ksize=self.ksize,
        )
        remaining = config.default_timeout - trace.elapsed_ms() / 1000.0
        await asyncio.wait_for(lookup.run(), max(remaining, 0.0))

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
        try:
            PackageId.parse(package_id)
        except PackageError as exc:
            raise NodeError(f"'{package_id}' is not a package id: {exc.rule}") from None
        trace = QueryTrace(Query(text=package_id, limit=REGISTRY_QUERY_LIMIT))
        for record in self.local_search(trace.query):
            trace.add(record, THIS_NODE_SOURCE)
        if self.is_running:
            def merge(node: Node, records: list[SignedRecord]) -> bool:
                for record in records:
                    trace.add(record, node.id.hex())
                return False

            try:
                await self._lookup(package_dht_key(package_id), trace, merge, self.query_config)
            except TimeoutError:
                log.info("list_versions(%s) timed out; returning what arrived", package_id)
        records = [
            h.record for h in trace.hits.values()
            if str(h.record.package.id) == package_id and (publisher is None or h.record.fingerprint == publisher)
        ]
        return sorted(records, key=lambda r: r.package.version, reverse=True)

    async def get_package(self, package_id: str, publisher: str | None = None,
                          version: str | None = None) -> SignedRecord | None:
        """The newest version (or the one asked for); without `publisher`, any publisher's newest."""
        for record in await self.list_versions(package_id, publisher):
            if version is None or str(record.package.version) == version:
                return record
        return None

    async def exists(self, package_id: str) -> bool:
        if any(str(r.package.id) == package_id for r in self._known_records()):
            return True
        return bool(await self.list_versions(package_id))

    async def metadata(self, package_id: str) -> PackageMetadata | None:
        record = await self.get_package(package_id)
        return record.package.metadata if record is not None else None

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped" if self._stopped else "new"
        return f"<MarketplaceNode {self._node_id.hex()[:12] if self._node_id else '?'} {state}>"


__all__ = ["MarketplaceNode", "NodeError", "PublishReport", "SearchHandle"]
