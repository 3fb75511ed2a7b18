"""My packages: publishing them on the DHT, republishing them before they expire, forgetting them.

A record is stored on the k nodes closest to its package key and to each of
its keywords (§2.3): each store goes out as soon as the node lookup settles
its holder, and is sent once more when it stalls (a lost datagram), so a
publish waits neither for the whole lookup nor for a store's timeout. It is
saved among my packages first, so a crash or a network where nobody answers
leaves it to be published again. Kademlia
expects the original publisher to store its values again before they expire
(§2.5); kademlia's library does not, so this module does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kademlia.node import Node

from ggen_desktop.core.keywords import package_keywords
from ggen_desktop.core.record import RecordError, SignedRecord, decode_and_verify
from ggen_desktop.net.dht_server import DhtServer
from ggen_desktop.net.errors import NodeError
from ggen_desktop.net.node_lookup import NodeLookup, leave_running
from ggen_desktop.net.protocol import Result
from ggen_desktop.net.publish_report import KeyCopies, PublishReport
from ggen_desktop.net.stall_rule import StallRule
from ggen_desktop.net.storage import RecordStorage, StorageRefused, record_keys
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.rows import MyPackage

if TYPE_CHECKING:
    from ggen_desktop.store.database import Database

log = logging.getLogger(__name__)

REPUBLISH_INTERVAL_S = 12 * 3600.0  # well inside the 24 h record lifetime (paper §2.5)
REPUBLISH_CHECK_S = 600.0

Identity = tuple[str, str, str]


class Publisher:
    """Publishes, republishes and forgets my packages; `mine` holds them by identity."""

    def __init__(self, database: Database | None, storage: RecordStorage, server: Callable[[], DhtServer],
                 announce: Callable[[SignedRecord], None], *, ksize: int, alpha: int, republish_interval: float) -> None:
        """`server()` is the running server (NodeError when stopped); `announce(record)` starts its gossip.
        My packages are stored again every `republish_interval` s."""
        self.database = database
        self.storage = storage
        self.server = server
        self.announce = announce
        self.ksize = ksize
        self.alpha = alpha
        self.republish_interval = republish_interval
        self.mine: dict[Identity, MyPackage] = {}

    def load(self, stored: list[MyPackage]) -> None:
        """My packages as read (and verified) from the store at start."""
        for mine in stored:
            self.mine[mine.record.identity] = mine

    def is_mine(self, identity: Identity) -> bool:
        return identity in self.mine

    def records(self) -> list[SignedRecord]:
        return [m.record for m in self.mine.values()]

    def my_packages(self) -> list[MyPackage]:
        return sorted(self.mine.values(), key=lambda m: (m.record.identity, m.published_at))

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
        old = self.mine.get(record.identity)
        if self.database is not None:
            if old is None:
                self.database.add_my_package(record, published_at=now)
            else:
                self.database.update_my_package(record)
        self.mine[record.identity] = (MyPackage(record, now) if old is None
                                      else MyPackage(record, old.published_at, old.last_republished_at, old.replicas))
        had_peers = bool(self.server().protocol.known_nodes())  # dead ones leave the routing table during the store
        report = await self._store_everywhere(record)
        self.announce(record)
        if report.replicas == 0 and report.keyword_replicas == 0:
            why = "every neighbour failed to answer" if had_peers else "this node knows no peers"
            if any(k.refused for k in report.per_key):
                why = "the peers that answered refused every copy: those keys are full"
            raise NodeError(f"no peer stored {record.package.id} {record.package.version} ({why}); it is kept "
                            "among my packages and published again when peers answer")
        return report

    async def _store_everywhere(self, record: SignedRecord) -> PublishReport:
        keys = record_keys(record)
        words: list[str | None] = [None, *package_keywords(record.package)]
        per_key = tuple(await asyncio.gather(*(self._store_on_closest(key, word, record)
                                               for key, word in zip(keys, words, strict=True))))
        report = PublishReport(record, per_key)
        now = time.time()
        # Re-read after the await: the user may have re-signed or deleted the package meanwhile.
        # Only the bookkeeping changes here; the record kept is whatever is newest now.
        mine = self.mine.get(record.identity)
        if mine is not None:
            self.mine[record.identity] = MyPackage(mine.record, mine.published_at, now, report.replicas)
            if self.database is not None:
                try:
                    self.database.mark_republished(record.identity, replicas=report.replicas, at=now)
                except StoreError as exc:  # the copies are out; only the bookkeeping is lost
                    log.warning("publish of %s not noted: %s", record.package.id, exc)
        log.info("published %s %s: %d replicas, %d keyword copies over %d keys",
                 record.package.id, record.package.version, report.replicas, report.keyword_replicas, len(keys))
        for refused in report.refused_keywords():
            log.warning("publish of %s %s: %s", record.package.id, record.package.version, refused.describe())
        return report

    async def _store_on_closest(self, key: bytes, keyword: str | None, record: SignedRecord) -> KeyCopies:
        """§2.3's store on the k closest live nodes to the key (those that answered a streaming node lookup,
        so no store waits on a dead one). Each store goes out as soon as the lookup settles its node, not
        after the whole lookup. A closer node whose answer comes late, while those stores are still out,
        gets a copy too. Counts the answers of the nodes stored on."""
        server = self.server()
        target = Node(key)
        stores: dict[bytes, asyncio.Task[Result]] = {}

        def store(node: Node) -> None:
            stores[node.id] = asyncio.ensure_future(self._store_one(server, lookup.stall, node, key, record.encoded))

        lookup = NodeLookup(server.protocol, target, ksize=self.ksize, fan_out=self.alpha, on_settled=store)
        try:
            nodes = await lookup.run()
        except BaseException:
            for task in stores.values():
                task.cancel()
            raise
        if len(nodes) < self.ksize or server.node.distance_to(target) < max(n.distance_to(target) for n in nodes):
            try:
                self.storage.add(key, record.encoded)
            except StorageRefused as exc:
                log.warning("not keeping my own record locally: %s", exc)
        wanted = {n.id: stores[n.id] for n in nodes}
        late = lookup.late_closer()
        while late and not all(task.done() for task in wanted.values()):
            # While the stores run, a closer node whose answer was slow (or lost once) still gets its copy.
            done, _ = await asyncio.wait([*late, *(t for t in wanted.values() if not t.done())],
                                         return_when=asyncio.FIRST_COMPLETED)
            for future in done & late.keys():
                node = late.pop(future)
                if not future.cancelled() and future.result()[0] and node.id not in wanted:
                    store(node)
                    wanted[node.id] = stores[node.id]
        results = await asyncio.gather(*wanted.values())
        for node_id, task in stores.items():  # settled early, then pushed out by closer ones: an extra copy
            if node_id not in wanted:
                leave_running(task)
        stored = sum(1 for ok, answer in results if ok and answer)
        refused = sum(1 for ok, answer in results if ok and not answer)
        return KeyCopies(key, keyword, len(wanted), stored, refused)

    @staticmethod
    async def _store_one(server: DhtServer, stall: StallRule, node: Node, key: bytes, value: bytes) -> Result:
        """One store on a node that answered the lookup; when it stalls (a datagram was likely lost) it is
        sent once more, and the first answer of the two counts. A store stalls after half its timeout at
        the earliest: the peer verifies the record before it answers, and on loopback, where the CPU is the
        bottleneck, stores sent again at the lookup's 50 ms made bench_lookup's publish p95 517-626 ms, not 482."""
        first = asyncio.ensure_future(server.protocol.call_store(node, key, value))
        stalls_after = max(stall.stall_after(node), server.protocol.timeout_for(node) / 2)
        done, _ = await asyncio.wait({first}, timeout=stalls_after)
        if done and first.result()[0]:
            return first.result()
        again = asyncio.ensure_future(server.protocol.call_store(node, key, value))
        out = {first, again}
        while out:
            done, out = await asyncio.wait(out, return_when=asyncio.FIRST_COMPLETED)
            answered = [task.result() for task in done if task.result()[0]]
            if answered:
                for task in out:  # the other copy of the request finishes for the protocol's bookkeeping
                    leave_running(task)
                return answered[0]
        return False, None

    def _republish_is_due(self, mine: MyPackage, now: float) -> bool:
        """Due after the interval, and at once when no peer ever acknowledged it (a crash mid-publish,
        or no peer answering then)."""
        if mine.last_republished_at is None or mine.replicas == 0:
            return True
        return now - mine.last_republished_at >= self.republish_interval

    async def republish_due(self) -> None:
        """The original publisher's periodic republish (§2.5), which kademlia does not implement."""
        now = time.time()
        for identity in list(self.mine):
            mine = self.mine.get(identity)  # as it is now: an earlier store may have awaited a re-sign
            if mine is not None and self._republish_is_due(mine, now):
                await self._store_everywhere(mine.record)

    def delete(self, package_id: str, version: str | None = None) -> int:
        """Forget my own package (all versions, or one) locally; the network's copies expire."""
        doomed = [i for i in self.mine if i[0] == package_id and (version is None or i[1] == version)]
        for identity in doomed:
            del self.mine[identity]
            if self.database is not None:
                self.database.delete_my_package(identity)
        return len(doomed)
