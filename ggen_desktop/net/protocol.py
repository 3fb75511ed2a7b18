"""The hardened UDP transport and the marketplace RPCs, on top of kademlia's protocol.

rpcudp trusts the network: it unpacks any datagram inside a task (a malformed
one raises there), matches a response by message id alone (any host that
guesses an id can answer for another), gives every request one fixed 5 s
timeout, sends no reply when a handler raises, and turns any misspelt
attribute into a remote call. `MarketProtocol` keeps the wire format (so plain
kademlia nodes still join and route) but replaces that machinery:

- every datagram is parsed and shape-checked synchronously; bad ones are
  dropped and counted (`stats`);
- a response is accepted only from the address its request went to;
- `request()` gives each call its own timeout, and only known RPC names can be
  sent (no `__getattr__` magic);
- handler errors are caught and counted; our own RPCs answer with an error
  marker so the caller does not wait for its timeout;
- every answer is bounded in size;
- other modules serve RPCs of their own through `register_rpc` (announcements
  do), so this module imports none of them.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import umsgpack
from kademlia.node import Node
from kademlia.protocol import KademliaProtocol

from ggen_desktop.core.query import Query, QueryError, matches_query
from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.net.record_digests import set_digest
from ggen_desktop.net.storage import RecordStorage, StorageRefused

log = logging.getLogger(__name__)

REQUEST = b"\x00"
RESPONSE = b"\x01"
MSG_ID_BYTES = 20
HEADER_BYTES = 1 + MSG_ID_BYTES
MAX_REQUEST_PAYLOAD = 8192  # rpcudp's own limit for a request's name and arguments
MAX_ANSWER_BYTES = 48 * 1024  # well under UDP's 65,507-byte datagram limit
MAX_DATAGRAM = 65_507
DEFAULT_RPC_TIMEOUT = 2.0
ERROR_KEY = "error"
MAX_HANDOVER = 512  # records handed to one new neighbour (§2.5)
HANDOVER_BATCH = 8
HANDOVER_SCAN_SLICE = 64  # keys checked between yields to the event loop
MAX_HAVE = 16  # record sets a searcher may say it already has, in one search request
MAX_HANDOVERS = 4  # new neighbours being handed records at once; more wait for their publishers' republish
RECEIVE_BUFFER = 1 << 20
STAT_NAMES = (
    "datagrams_in", "bytes_in", "requests", "responses", "requests_out", "bytes_out", "timeouts",
    "dropped_malformed", "dropped_oversized", "dropped_unknown_rpc", "dropped_spoofed", "dropped_unexpected",
    "handler_errors", "answers_too_large", "records_refused", "records_invalid",
    "announcements_received", "announcements_repeated", "handover_records", "handovers_skipped",
)

Result = tuple[bool, Any]
"""What a request resolves to, as in rpcudp: (answered, payload)."""

ArgCheck = Callable[[object], bool]
RpcHandler = Callable[..., Any]
"""Called as handler(sender, *args) with checked arguments; returns the answer, or an awaitable of it."""


def is_node_id(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == 20


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def int_in(low: int, high: int) -> ArgCheck:
    """A check for a whole number from `low` to `high` (bools are not numbers here)."""
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class _Rpc:
    """How one RPC is served: its argument checks, whether it is one of ours (ours answer an error
    marker when they fail; the standard ones stay silent, as plain kademlia does), and its handler
    (None: the protocol's own `rpc_<name>` method, looked up at each call)."""

    checks: tuple[ArgCheck, ...]
    ours: bool
    handler: RpcHandler | None = None


# The standard four (plus stun) keep plain kademlia nodes working; search is ours.
_BUILT_IN_RPCS: dict[str, _Rpc] = {
    "stun": _Rpc((), ours=False),
    "ping": _Rpc((is_node_id,), ours=False),
    "store": _Rpc((is_node_id, is_node_id, lambda v: True), ours=False),
    "find_node": _Rpc((is_node_id, is_node_id), ours=False),
    "find_value": _Rpc((is_node_id, is_node_id), ours=False),
    "search": _Rpc((is_node_id, is_node_id, lambda v: isinstance(v, dict), int_in(0, 9_999)), ours=True),
}


def parse_contacts(value: object, limit: int = 64) -> list[Node]:
    """Contacts from an untrusted answer; malformed entries are skipped, never fatal."""
    if not isinstance(value, list):
        return []
    nodes = []
    for item in value[:limit]:
        if (
            isinstance(item, list) and len(item) == 3 and is_node_id(item[0]) and isinstance(item[1], str)
            and 0 < len(item[1]) <= 255 and _is_int(item[2]) and 0 < item[2] < 65536
        ):
            nodes.append(Node(item[0], item[1], item[2]))
    return nodes


@dataclass
class _Pending:
    future: asyncio.Future[Result]
    timer: asyncio.TimerHandle
    address: tuple[str, int]
    name: str
    sent_at: float


class MarketProtocol(KademliaProtocol):
    """kademlia's protocol with a checked transport, per-request timeouts and our RPCs."""

    def __init__(self, source_node: Node, storage: RecordStorage, ksize: int, reputation: ReputationBook) -> None:
        super().__init__(source_node, storage, ksize)
        self.storage: RecordStorage = storage
        self.reputation = reputation
        self.stats: Counter[str] = Counter()
        self._rpcs: dict[str, _Rpc] = dict(_BUILT_IN_RPCS)
        self._pending: dict[bytes, _Pending] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._handovers: set[asyncio.Task[None]] = set()

    # -- receiving -----------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """Parse and check synchronously, so nothing malformed ever reaches a task."""
        self.stats["datagrams_in"] += 1
        self.stats["bytes_in"] += len(data)
        kind = data[:1]
        if len(data) < HEADER_BYTES + 1 or kind not in (REQUEST, RESPONSE):
            self._drop("dropped_malformed", addr, "short or unknown datagram")
            return
        if (kind == REQUEST and len(data) > HEADER_BYTES + MAX_REQUEST_PAYLOAD) or len(data) > MAX_DATAGRAM:
            self._drop("dropped_oversized", addr, f"{len(data)}-byte datagram")
            return
        try:
            payload = umsgpack.unpackb(data[HEADER_BYTES:])
        except Exception:  # umsgpack raises many types on hostile input
            self._drop("dropped_malformed", addr, "not msgpack")
            return
        msg_id = data[1:HEADER_BYTES]
        if kind == REQUEST:
            self._accept_checked_request(msg_id, payload, addr)
        else:
            self._accept_checked_response(msg_id, payload, addr)

    def register_rpc(self, name: str, arg_checks: Iterable[ArgCheck], handler: RpcHandler) -> None:
        """Serve one more RPC of ours: a request whose arguments all pass `arg_checks` is answered by
        `handler(sender, *args)`; a malformed one or a failing handler gets an error marker."""
        if name in self._rpcs:
            raise ValueError(f"rpc '{name}' is already served")
        self._rpcs[name] = _Rpc(tuple(arg_checks), ours=True, handler=handler)

    def _drop(self, counter: str, addr: object, why: str) -> None:
        self.stats[counter] += 1
        log.debug("dropping datagram from %s: %s", addr, why)

    def _accept_checked_response(self, msg_id: bytes, payload: Any, addr: tuple[str, int]) -> None:
        pending = self._pending.get(msg_id)
        if pending is None:
            self._drop("dropped_unexpected", addr, "response to no outstanding request")
            return
        if (addr[0], addr[1]) != pending.address:
            # Not popped: the real peer's answer may still arrive.
            self._drop("dropped_spoofed", addr, f"response for a request sent to {pending.address}")
            return
        del self._pending[msg_id]
        pending.timer.cancel()
        self.stats["responses"] += 1
        if not pending.future.done():
            pending.future.set_result((True, payload))

    def _accept_checked_request(self, msg_id: bytes, payload: Any, addr: tuple[str, int]) -> None:
        if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], str)
                and isinstance(payload[1], list)):
            self._drop("dropped_malformed", addr, "request is not [name, args]")
            return
        name, args = payload
        rpc = self._rpcs.get(name)
        if rpc is None:
            self._drop("dropped_unknown_rpc", addr, f"unknown rpc {name[:40]!r}")
            return
        checks = rpc.checks
        if len(args) != len(checks) or not all(check(arg) for check, arg in zip(checks, args, strict=True)):
            self.stats["dropped_malformed"] += 1
            if rpc.ours:
                self._reply(msg_id, {ERROR_KEY: "malformed arguments"}, addr)
            return
        self.stats["requests"] += 1
        self._spawn(self._serve(msg_id, name, rpc, args, addr))

    async def _serve(self, msg_id: bytes, name: str, rpc: _Rpc, args: list[Any], addr: tuple[str, int]) -> None:
        handler = rpc.handler if rpc.handler is not None else getattr(self, f"rpc_{name}")
        ours = rpc.ours
        try:
            answer = handler(addr, *args)
            if asyncio.iscoroutine(answer):
                answer = await answer
        except Exception:
            self.stats["handler_errors"] += 1
            log.exception("rpc_%s from %s failed", name, addr)
            if ours:
                self._reply(msg_id, {ERROR_KEY: "internal error"}, addr)
            return
        self._reply(msg_id, answer, addr, ours)

    def _reply(self, msg_id: bytes, answer: Any, addr: tuple[str, int], ours: bool = True) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        data = RESPONSE + msg_id + umsgpack.packb(answer)
        if len(data) > MAX_ANSWER_BYTES:
            self.stats["answers_too_large"] += 1
            log.error("answer of %d bytes to %s is over the cap; not sent", len(data), addr)
            if not ours:
                return
            data = RESPONSE + msg_id + umsgpack.packb({ERROR_KEY: "answer too large"})
        self.stats["bytes_out"] += len(data)
        self.transport.sendto(data, addr)

    # -- sending -------------------------------------------------------------

    def request(self, address: tuple[str, int], name: str, args: list[Any], timeout: float = DEFAULT_RPC_TIMEOUT
                ) -> asyncio.Future[Result]:
        """Send one RPC; the future resolves to (True, answer) or (False, None) after `timeout` s.

        Cancelling the future forgets the request, so a late answer is dropped.
        """
        if name not in self._rpcs:
            raise ValueError(f"'{name}' is not an RPC of this protocol")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        if self.transport is None or self.transport.is_closing():
            future.set_result((False, None))
            return future
        payload = umsgpack.packb([name, list(args)])
        if len(payload) > MAX_REQUEST_PAYLOAD:
            raise ValueError(f"rpc {name} arguments are {len(payload)} bytes; the cap is {MAX_REQUEST_PAYLOAD}")
        msg_id = os.urandom(MSG_ID_BYTES)
        timer = loop.call_later(timeout, self._expire, msg_id)
        self._pending[msg_id] = _Pending(future, timer, (address[0], address[1]), name, time.monotonic())
        future.add_done_callback(lambda f: self._forget(msg_id) if f.cancelled() else None)
        data = REQUEST + msg_id + payload
        self.stats["requests_out"] += 1
        self.stats["bytes_out"] += len(data)
        self.transport.sendto(data, address)
        return future

    def _expire(self, msg_id: bytes) -> None:
        pending = self._pending.pop(msg_id, None)
        if pending is None:
            return
        self.stats["timeouts"] += 1
        if not pending.future.done():
            pending.future.set_result((False, None))

    def _forget(self, msg_id: bytes) -> None:
        pending = self._pending.pop(msg_id, None)
        if pending is not None:
            pending.timer.cancel()

    def __getattr__(self, name: str) -> Any:
        """rpcudp turns unknown attributes into remote calls; here a typo is an AttributeError."""
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def connection_lost(self, exc: Exception | None) -> None:
        for msg_id in list(self._pending):
            pending = self._pending.pop(msg_id)
            pending.timer.cancel()
            if not pending.future.done():
                pending.future.set_result((False, None))
        for task in list(self._handlers):
            task.cancel()

    def known_nodes(self) -> list[Node]:
        """Every contact in the routing table (kademlia keeps them per bucket and has no accessor)."""
        return [node for bucket in self.router.buckets for node in bucket.get_nodes()]

    def transport_stats(self) -> dict[str, int]:
        """Every counter (zeros included, so a panel can lay them out before traffic arrives)."""
        stats = {name: 0 for name in STAT_NAMES}
        stats.update(self.stats)
        stats["outstanding"] = len(self._pending)
        return stats

    def ping(self, address: tuple[str, int], nodeid: bytes) -> asyncio.Future[Result]:
        """The standard ping by address, as kademlia's Server calls it when joining."""
        return self.request(address, "ping", [nodeid])

    # -- calls with reputation and answer checks -----------------------------

    def timeout_for(self, node: Node) -> float:
        return self.reputation.timeout_for(node.id.hex(), DEFAULT_RPC_TIMEOUT)

    async def _call(self, node: Node, name: str, args: list[Any]) -> Result:
        started = time.monotonic()
        result = await self.request((node.ip, node.port), name, args, self.timeout_for(node))
        peer = node.id.hex()
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
            answer = [tuple(n) for n in parse_contacts(answer)]
        return self._responded(node_to_ask, ok, answer)

    async def call_ping(self, node_to_ask: Node) -> Result:
        ok, answer = await self._call(node_to_ask, "ping", [self.source_node.id])
        if ok and not is_node_id(answer):
            ok, answer = False, None
        return self._responded(node_to_ask, ok, answer)

    async def call_store(self, node_to_ask: Node, key: bytes, value: bytes) -> Result:
        ok, answer = await self._call(node_to_ask, "store", [self.source_node.id, key, value])
        return self._responded(node_to_ask, ok, answer is True if ok else None)

    def welcome_if_new(self, node: Node) -> None:
        """kademlia's version, with its double hashing fixed (our storage keys are digests already),
        the scan off the caller's path and the hand-over paced: per §2.5 of the paper a new node
        closer to a key than we are gets the values we hold for it, but scanning thousands of keys
        would stall the event loop and a burst of hundreds of stores would overflow its socket."""
        if node.id == self.source_node.id or not self.router.is_new_node(node):
            return
        if len(self._handovers) >= MAX_HANDOVERS:  # a join wave would otherwise send k × 512 stores at once
            self.stats["handovers_skipped"] += 1
            self.router.add_contact(node)
            return
        keys = list({key for key, _ in self.storage})
        if keys:
            # The contacts as they are now, before the newcomer joins them: whom it would displace.
            contacts = self.known_nodes()
            task = self._spawn(self._hand_over(node, keys, contacts))
            self._handovers.add(task)
            task.add_done_callback(self._handovers.discard)
        self.router.add_contact(node)

    def _owed(self, newcomer: Node, key: bytes, contacts: list[Node]) -> bool:
        """§2.5: the newcomer is among the k closest to `key` and we are the closest that holds it."""
        keynode = Node(key)
        neighbors = heapq.nsmallest(self.router.ksize, contacts, key=keynode.distance_to)
        if not neighbors:
            return True
        owed: bool = (newcomer.distance_to(keynode) < neighbors[-1].distance_to(keynode)
                      and self.source_node.distance_to(keynode) < neighbors[0].distance_to(keynode))
        return owed

    async def _hand_over(self, node: Node, keys: list[bytes], contacts: list[Node]) -> None:
        """Find what a new neighbour is owed a slice of keys at a time, then store it a few at a time."""
        items: list[tuple[bytes, bytes]] = []
        for start in range(0, len(keys), HANDOVER_SCAN_SLICE):
            for key in keys[start : start + HANDOVER_SCAN_SLICE]:
                if self._owed(node, key, contacts):
                    items.extend((key, record.encoded) for record in self.storage.records(key))
            if len(items) >= MAX_HANDOVER:
                break
            await asyncio.sleep(0)  # let answers and the GUI run between slices
        items = items[:MAX_HANDOVER]
        for start in range(0, len(items), HANDOVER_BATCH):
            batch = items[start : start + HANDOVER_BATCH]
            results = await asyncio.gather(*(self.request((node.ip, node.port), "store",
                                                          [self.source_node.id, key, value]) for key, value in batch))
            self.stats["handover_records"] += len(batch)
            if not any(ok for ok, _ in results):
                return  # it went away; the publishers' republish covers the rest

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:  # bursts of answers (a lookup, a hand-over) must not overflow the default buffer
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            except OSError:
                log.debug("could not enlarge the receive buffer")

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        return task

    # -- RPC handlers --------------------------------------------------------

    def rpc_store(self, sender: tuple[str, int], nodeid: bytes, key: bytes, value: Any) -> bool:
        """Store only a verified record that belongs under `key`; a bad one counts against the sender."""
        self.welcome_if_new(Node(nodeid, sender[0], sender[1]))
        try:
            self.storage.add(key, value, sender=nodeid.hex())
        except StorageRefused as exc:
            self.stats["records_refused"] += 1
            if exc.invalid:
                self.stats["records_invalid"] += 1
                self.reputation.record_invalid(nodeid.hex(), host=sender[0], port=sender[1])
            log.info("refused a store from %s: %s", sender, exc)
            return False
        return True

    def rpc_search(self, sender: tuple[str, int], nodeid: bytes, key: bytes, query: dict[str, Any], page: int
                   ) -> dict[str, Any]:
        """One step of a keyword lookup: matching records held under `key` (paged) and closer contacts; a first
        page names the matching set (digest, count) and sends no records when the searcher "have"s it."""
        source = Node(nodeid, sender[0], sender[1])
        self.welcome_if_new(source)
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
