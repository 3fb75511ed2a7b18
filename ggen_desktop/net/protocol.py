"""The marketplace's kademlia protocol: who becomes a contact, what each RPC answers, calls with reputation.

On the checked transport (`rpc_transport`), kademlia's semantics with the
network treated as hostile (design notes, "Peers are adversaries"):

- a peer heard from becomes a routing contact only after it answered a ping
  of ours with the id it claims (a probe, at most one a minute per party),
  and only within the routing table's id and diversity rules; contacts in
  answers are candidates to ask, never contacts;
- a ping answered with another id than the one asked is refused;
- stores, search pages and values go only to verified addresses; an
  unverified one gets a challenge (a token) or a short contact list;
- §2.5's hand-over runs only for a contact newly placed in the routing table;
- a request marked as a client-mode node's (`rpc_transport.CLIENT_MARK`) is
  answered, but its sender never becomes a contact (BEP 43);
- reputation is kept per address (`peer_key`), never per claimed id;
- other modules serve RPCs of their own through `register_rpc` (announcements
  do), so this module imports none of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryError, matches_query
from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.net.address_policy import AddressPolicy, is_ip_literal, peer_key
from ggen_desktop.net.address_validation import AddressValidation
from ggen_desktop.net.handover import Handover
from ggen_desktop.net.record_digests import set_digest
from ggen_desktop.net.request_limits import RequestLimits
from ggen_desktop.net.routing_table import DiverseRoutingTable
from ggen_desktop.net.rpc_transport import (
    DEFAULT_RPC_TIMEOUT,
    ERROR_KEY,
    ArgCheck,
    CheckedRpcProtocol,
    PendingRequest,
    Result,
    int_in,
    is_node_id,
    serving_client,
)
from ggen_desktop.net.storage import RecordStorage, StorageRefused

log = logging.getLogger(__name__)

PROBE_TIMEOUT = DEFAULT_RPC_TIMEOUT
CONFIRMED_CAPACITY = 1024  # addresses whose ping answer (their id) we remember
MAX_HAVE = 16  # record sets a searcher may say it already has, in one search request

__all__ = ["DEFAULT_RPC_TIMEOUT", "ERROR_KEY", "ArgCheck", "MarketProtocol", "Result", "int_in", "is_node_id",
           "parse_contacts"]


def parse_contacts(value: object, limit: int = 64) -> list[Node]:
    """Contacts from an untrusted answer; malformed entries (a host name among them) are skipped."""
    if not isinstance(value, list):
        return []
    nodes = []
    for item in value[:limit]:
        if (
            isinstance(item, list) and len(item) == 3 and is_node_id(item[0]) and is_ip_literal(item[1])
            and isinstance(item[2], int) and not isinstance(item[2], bool) and 0 < item[2] < 65536
        ):
            nodes.append(Node(item[0], item[1], item[2]))
    return nodes


class MarketProtocol(CheckedRpcProtocol):
    """kademlia's protocol with admission by probe, diverse routing, address validation and our RPCs."""

    router: DiverseRoutingTable

    def __init__(self, source_node: Node, storage: RecordStorage, ksize: int, reputation: ReputationBook,
                 policy: AddressPolicy | None = None) -> None:
        super().__init__(source_node, storage, ksize, policy or AddressPolicy())
        self.reputation = reputation
        self.handover = Handover(storage, source_node, ksize, self._store_handed_over, self.stats)
        self._confirmed: OrderedDict[tuple[str, int], bytes] = OrderedDict()  # address -> id it answered a ping with
        self.use_policy(self.policy)

    def use_policy(self, policy: AddressPolicy) -> None:
        """Apply the address rules (the node sets them before any peer is known)."""
        if self.known_nodes():
            raise RuntimeError("the address policy must be set before the routing table has contacts")
        self.policy = policy
        self.validation = AddressValidation(policy)
        self.limits = RequestLimits(policy)
        self.router = DiverseRoutingTable(self, self.router.ksize, self.source_node, policy)

    # -- who becomes a contact -------------------------------------------------

    def welcome_if_new(self, node: Node) -> None:
        """kademlia calls this for every peer heard from. A contact already held is refreshed (§2.2);
        any other peer gets a probe, and joins the routing table only when it answers with this id.
        A client-mode node asking is no candidate at all: it is not probed."""
        if serving_client.get() or node.id == self.source_node.id or not is_ip_literal(node.ip):
            return
        if self.router.holds(node):
            self.router.touch(node)
        elif self._confirmed.get((node.ip, node.port)) == node.id:
            self._admit(node)
        elif not self.validation.is_verified(node.ip, node.port) or self.router.admits(node):
            self._probe(node)

    def _probe(self, node: Node) -> None:
        """Ping a peer to learn whether it receives at its address and owns its id. Sent at once, so it
        reaches the peer before our answer to the request that made us curious."""
        if not self.limits.allow_probe(node.ip, node.port):
            self.stats["probes_limited"] += 1
            return
        self.stats["probes"] += 1
        future = self.request((node.ip, node.port), "ping", [self.source_node.id], PROBE_TIMEOUT)
        future.add_done_callback(lambda done: self._probed(node, done))

    def _probed(self, node: Node, done: asyncio.Future[Result]) -> None:
        if done.cancelled():
            return
        ok, answer = done.result()
        if not ok:
            return
        if answer != node.id:
            self.stats["answers_wrong_id"] += 1
            log.debug("%s:%d answered a probe as %r, not as the id it claimed", node.ip, node.port, answer)
            return
        self._admit(node)

    def _admit(self, node: Node) -> None:
        """A peer that answered us with its id: a contact if the table takes it, owed a hand-over if new."""
        contacts = self.known_nodes() if len(self.storage) else []  # before the newcomer joins them
        if self.router.add_contact(node):
            self.stats["contacts_added"] += 1
            self.handover.start(node, contacts)

    def _answered(self, pending: PendingRequest, payload: Any) -> None:
        if pending.name == "ping" and is_node_id(payload):
            self._confirmed[pending.address] = payload
            self._confirmed.move_to_end(pending.address)
            while len(self._confirmed) > CONFIRMED_CAPACITY:
                self._confirmed.popitem(last=False)
        super()._answered(pending, payload)

    def candidates(self, value: object) -> list[Node]:
        """Contacts from an answer worth asking: well formed, with ids their addresses may use, not us."""
        return [n for n in parse_contacts(value)
                if n.id != self.source_node.id and self.policy.conforms(n.id, n.ip)]

    def known_nodes(self) -> list[Node]:
        """Every contact in the routing table (kademlia keeps them per bucket and has no accessor)."""
        return [node for bucket in self.router.buckets for node in bucket.get_nodes()]

    # -- calls with reputation and answer checks -----------------------------

    def timeout_for(self, node: Node) -> float:
        return self.reputation.timeout_for(peer_key(node.ip, node.port), DEFAULT_RPC_TIMEOUT)

    async def _call(self, node: Node, name: str, args: list[Any]) -> Result:
        started = time.monotonic()
        result = await self.request((node.ip, node.port), name, args, self.timeout_for(node))
        peer = peer_key(node.ip, node.port)
        if result[0]:
            self.reputation.record_success(peer, (time.monotonic() - started) * 1000.0, host=node.ip, port=node.port)
        else:
            self.reputation.record_timeout(peer, host=node.ip, port=node.port)
        return result

    def _responded(self, node: Node, ok: bool, answer: Any) -> Result:
        """kademlia's bookkeeping for an answer (routing table, welcome) on our checked result."""
        result: Result = self.handle_call_response((ok, answer), node)
        return result

    async def call_find_node(self, node_to_ask: Node, node_to_find: Node) -> Result:
        ok, answer = await self._call(node_to_ask, "find_node", [self.source_node.id, node_to_find.id])
        if ok:
            answer = [tuple(n) for n in self.candidates(answer)]
        return self._responded(node_to_ask, ok, answer)

    async def call_ping(self, node_to_ask: Node) -> Result:
        """A ping that must be answered with the id asked: another id is refused, as no answer is."""
        ok, answer = await self._call(node_to_ask, "ping", [self.source_node.id])
        if ok and answer != node_to_ask.id:
            self.stats["answers_wrong_id"] += int(is_node_id(answer))
            ok, answer = False, None
        return self._responded(node_to_ask, ok, answer)

    async def call_store(self, node_to_ask: Node, key: bytes, value: bytes) -> Result:
        """Store on a node that has answered us from its address (never on a mere candidate)."""
        if not self.validation.is_verified(node_to_ask.ip, node_to_ask.port):
            self.stats["stores_to_unverified_skipped"] += 1
            return False, None
        ok, answer = await self._call(node_to_ask, "store", [self.source_node.id, key, value])
        return self._responded(node_to_ask, ok, answer is True if ok else None)

    async def _store_handed_over(self, node: Node, key: bytes, value: bytes) -> bool:
        ok, _ = await self.request((node.ip, node.port), "store", [self.source_node.id, key, value])
        return ok

    # -- RPC handlers --------------------------------------------------------

    def rpc_ping(self, sender: tuple[str, int], nodeid: bytes) -> bytes:
        self.welcome_if_new(Node(nodeid, sender[0], sender[1]))
        return bytes(self.source_node.id)

    def rpc_find_node(self, sender: tuple[str, int], nodeid: bytes, key: bytes) -> list[tuple[bytes, str, int]]:
        """Our closest contacts to `key`, 1.5 k of them: some are dead, and the asker looks for the k closest
        live nodes. For an unverified address the transport cuts the list to fit."""
        source = Node(nodeid, sender[0], sender[1])
        self.welcome_if_new(source)
        return [tuple(n) for n in self.router.find_neighbors(Node(key), k=self.router.ksize * 3 // 2, exclude=source)]

    def rpc_find_value(self, sender: tuple[str, int], nodeid: bytes, key: bytes) -> Any:
        """A value goes to a verified address only; others get contacts, as when we hold none."""
        if self.validation.is_verified(sender[0], sender[1]):
            value = self.storage.get(key)
            if value is not None:
                self.welcome_if_new(Node(nodeid, sender[0], sender[1]))
                return {"value": value}
        return self.rpc_find_node(sender, nodeid, key)

    def rpc_store(self, sender: tuple[str, int], nodeid: bytes, key: bytes, value: Any) -> bool | dict[str, bytes]:
        """Store only a verified record that belongs under `key`, from a verified address; a bad record
        counts against the address that sent it, and its share is the sending IP's."""
        self.welcome_if_new(Node(nodeid, sender[0], sender[1]))
        if not self.validation.is_verified(sender[0], sender[1]):
            return self.challenge(sender)
        try:
            self.storage.add(key, value, sender=sender[0])
        except StorageRefused as exc:
            self.stats["records_refused"] += 1
            if exc.invalid:
                self.stats["records_invalid"] += 1
                self.reputation.record_invalid(peer_key(*sender), host=sender[0], port=sender[1])
            log.debug("refused a store from %s: %r", sender, str(exc))
            return False
        return True

    def rpc_search(self, sender: tuple[str, int], nodeid: bytes, key: bytes, query: dict[str, Any], page: int
                   ) -> dict[str, Any]:
        """One step of a keyword lookup: matching records held under `key` (paged) and closer contacts; a first
        page names the matching set (digest, count) and sends no records when the searcher "have"s it."""
        source = Node(nodeid, sender[0], sender[1])
        self.welcome_if_new(source)
        if not self.validation.is_verified(sender[0], sender[1]):
            return self.challenge(sender)
        try:
            parsed = Query.from_dict(query)
        except QueryError as exc:
            return {ERROR_KEY: str(exc)}
        answer: dict[str, Any] = {"nodes": [list(n) for n in self.router.find_neighbors(Node(key), exclude=source)]}
        if page == 0:
            matching = [r.encoded for r in self.storage.records(key) if matches_query(r.package, parsed)]
            answer["set"], answer["count"] = set_digest(matching), len(matching)
            have = query.get("have")
            if isinstance(have, list) and answer["set"] in have[:MAX_HAVE]:
                return {**answer, "records": [], "next": None, "same": True}
        answer["records"], answer["next"] = self.storage.search(key, parsed, page)
        return answer

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.handover.close()
