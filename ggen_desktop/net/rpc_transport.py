"""The checked UDP transport under our protocol: rpcudp's wire format, none of its trust.

rpcudp unpacks any datagram inside a task (a malformed one raises there),
decodes a response before it knows anyone asked for it, matches it by message
id alone (any host that guesses an id can answer for another), gives every
request one fixed 5 s timeout, sends no reply when a handler raises, answers
anyone with anything however large, and turns any misspelt attribute into a
remote call. `CheckedRpcProtocol` keeps the wire format (a type byte, a 20-byte
message id, then msgpack), so plain kademlia nodes still join and route, but:

- a request spends a token of its party's rate limit before its body is
  decoded; a response is decoded only once its message id and address match a
  request we sent; everything else is dropped and counted (`stats`);
- an address that has not shown it receives there (`AddressValidation`) gets
  an answer no larger than its datagram (a contact list is cut to fit);
- a costly RPC (`store`, `search`) takes a trailing token; when a peer
  answers with a challenge `{"token": ...}` instead, the request is sent once
  more with it, so callers see one answer;
- a `find_node` we send is padded with zero bytes after its msgpack body
  (which msgpack readers, rpcudp's included, ignore), as QUIC pads its first
  datagram: a peer that has not verified our address yet may then answer
  with a full contact list, not the one contact our bare request's size allows;
- `request()` gives each call its own timeout, and only known RPC names can be
  sent; handler errors are caught and counted, and our own RPCs then answer
  with an error marker so the caller does not wait for its timeout;
- other modules serve RPCs of their own through `register_rpc`;
- a node in client mode (BEP 43's read-only nodes) marks the message id of
  every request it sends (`CLIENT_MARK`, its first bytes; plain kademlia peers
  only echo the id, so they ignore it) and serves no request but `dial_probe`;
  while a marked request is served, `serving_client` is true, so the protocol
  never makes that sender a contact.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import msgpack
from kademlia.node import Node
from kademlia.protocol import KademliaProtocol

from ggen_desktop.core.address_token import TOKEN_BYTES
from ggen_desktop.net.address_policy import AddressPolicy
from ggen_desktop.net.address_validation import AddressValidation, answer_budget
from ggen_desktop.net.request_limits import RequestLimits
from ggen_desktop.net.storage import RecordStorage

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
TOKEN_KEY = "token"
RECEIVE_BUFFER = 1 << 20
MAX_PADDING = 64
CLIENT_MARK = b"ggen-ro\x00"  # the first bytes of a client-mode node's message ids; 12 random bytes follow
CLIENT_SERVES = frozenset({"dial_probe"})  # what a node in client mode still answers (its reachability check)
PADDED_REQUEST_BYTES = {"find_node": 1200}  # room for 20 IPv4 contacts (42 bytes each at most) in an answer
RECENT_ROUND_TRIPS = 64  # kept so a lookup knows what a round trip takes before its own first answer
STAT_NAMES = (
    "datagrams_in", "bytes_in", "requests", "responses", "requests_out", "bytes_out", "timeouts",
    "dropped_malformed", "dropped_oversized", "dropped_unknown_rpc", "dropped_spoofed", "dropped_unexpected",
    "dropped_rate_limited", "handler_errors", "answers_too_large", "answers_over_budget", "challenges_sent",
    "tokens_refused", "records_refused", "records_invalid", "probes", "probes_limited", "answers_wrong_id",
    "contacts_added", "stores_to_unverified_skipped", "announcements_received", "announcements_repeated",
    "announcements_refused", "announcements_limited", "handover_records", "handovers_skipped",
    "client_requests", "dropped_client_mode",
)

serving_client: contextvars.ContextVar[bool] = contextvars.ContextVar("serving_client", default=False)
"""True while a handler serves a request marked as a client-mode node's (set in that request's task only)."""

Result = tuple[bool, Any]
"""What a request resolves to, as in rpcudp: (answered, payload)."""

ArgCheck = Callable[[object], bool]
RpcHandler = Callable[..., Any]
"""Called as handler(sender, *args) with checked arguments; returns the answer, or an awaitable of it."""


def is_node_id(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == 20


def int_in(low: int, high: int) -> ArgCheck:
    """A check for a whole number from `low` to `high` (bools are not numbers here)."""
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def pack(value: Any) -> bytes:
    """MessagePack as rpcudp's umsgpack writes it (bytes as bin, text as str), in C."""
    return cast(bytes, msgpack.packb(value, use_bin_type=True))


def unpack(data: bytes) -> Any:
    """The first MessagePack value in `data` as umsgpack reads it (any map key, arrays as lists; bytes after it,
    such as a request's padding, ignored); raises on anything else."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except msgpack.ExtraData as extra:
        return extra.unpacked


def is_challenge(payload: object) -> bool:
    """An answer asking for the request again with this token (the address was not verified)."""
    return (isinstance(payload, dict) and len(payload) == 1 and isinstance(payload.get(TOKEN_KEY), bytes)
            and len(payload[TOKEN_KEY]) == TOKEN_BYTES)


def _fitting(items: list[Any], size: int) -> list[Any]:
    """The longest prefix of `items` whose msgpack array takes at most `size` bytes (may be empty).
    `size` is an unverified request's size, so only the first few items are ever packed."""
    used = 3  # an array16 header; a fixarray's is 1, so this errs on the short side
    for count, item in enumerate(items):
        used += len(pack(item))
        if used > size:
            return items[:count]
    return items


@dataclass(frozen=True)
class _Rpc:
    """How one RPC is served: its argument checks, whether it is one of ours (ours answer an error
    marker when they fail; the standard ones stay silent, as plain kademlia does), whether it takes a
    trailing address token, and its handler (None: the protocol's `rpc_<name>` method)."""

    checks: tuple[ArgCheck, ...]
    ours: bool
    handler: RpcHandler | None = None
    takes_token: bool = False
    answers_contacts: bool = False  # its answer may be a contact list, cut to fit an unverified budget
    padded: bool = False  # may carry one trailing bytes argument of padding (up to MAX_PADDING), dropped unread


# The standard four (plus stun) keep plain kademlia nodes working; search is ours.
_BUILT_IN_RPCS: dict[str, _Rpc] = {
    # stun answers [ip, port]: an unverified asker pads its request so that the answer fits its budget
    "stun": _Rpc((), ours=False, padded=True),
    "ping": _Rpc((is_node_id,), ours=False),
    "store": _Rpc((is_node_id, is_node_id, lambda v: True), ours=False, takes_token=True),
    "find_node": _Rpc((is_node_id, is_node_id), ours=False, answers_contacts=True),
    "find_value": _Rpc((is_node_id, is_node_id), ours=False, answers_contacts=True),
    "search": _Rpc((is_node_id, is_node_id, lambda v: isinstance(v, dict), int_in(0, 9_999)), ours=True,
                   takes_token=True),
}


@dataclass
class PendingRequest:
    """A request we sent and the answer we wait for: only from `address`, by `deadline`."""

    future: asyncio.Future[Result]
    address: tuple[str, int]
    name: str
    args: list[Any]
    deadline: float  # loop time
    timer: asyncio.TimerHandle | None = field(default=None)
    retried: bool = False
    sent_at: float = 0.0  # loop time


class CheckedRpcProtocol(KademliaProtocol):
    """kademlia's protocol on a checked, rate-limited, address-validating transport."""

    def __init__(self, source_node: Node, storage: RecordStorage, ksize: int, policy: AddressPolicy) -> None:
        super().__init__(source_node, storage, ksize)
        self.storage: RecordStorage = storage
        self.stats: Counter[str] = Counter()
        self._rpcs: dict[str, _Rpc] = dict(_BUILT_IN_RPCS)
        self._pending: dict[bytes, PendingRequest] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self.policy = policy
        self.validation = AddressValidation(policy)
        self.limits = RequestLimits(policy)
        self.client_mode = False  # mark our requests and serve none but CLIENT_SERVES
        self.round_trips: deque[float] = deque(maxlen=RECENT_ROUND_TRIPS)  # of answered requests, to anyone

    # -- receiving -----------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """Check synchronously and cheaply first, so nothing malformed or unasked-for is decoded in a task."""
        self.stats["datagrams_in"] += 1
        self.stats["bytes_in"] += len(data)
        kind = data[:1]
        if len(data) < HEADER_BYTES + 1 or kind not in (REQUEST, RESPONSE):
            self._drop("dropped_malformed", addr, "short or unknown datagram")
        elif (kind == REQUEST and len(data) > HEADER_BYTES + MAX_REQUEST_PAYLOAD) or len(data) > MAX_DATAGRAM:
            self._drop("dropped_oversized", addr, f"{len(data)}-byte datagram")
        elif kind == RESPONSE:
            self._accept_response(data, addr)
        elif not self.limits.allow_request(addr[0], addr[1]):
            self._drop("dropped_rate_limited", addr, "over its request rate")
        else:
            self._accept_request(data, addr)

    def register_rpc(self, name: str, arg_checks: Iterable[ArgCheck], handler: RpcHandler, *,
                     takes_token: bool = False) -> None:
        """Serve one more RPC of ours: a request whose arguments all pass `arg_checks` is answered by
        `handler(sender, *args)`; a malformed one or a failing handler gets an error marker. With
        `takes_token`, the handler may answer `challenge(sender)` and the caller's request is sent again."""
        if name in self._rpcs:
            raise ValueError(f"rpc '{name}' is already served")
        self._rpcs[name] = _Rpc(tuple(arg_checks), ours=True, handler=handler, takes_token=takes_token)

    def _drop(self, counter: str, addr: object, why: str) -> None:
        self.stats[counter] += 1
        log.debug("dropping datagram from %s: %s", addr, why)

    def _accept_response(self, data: bytes, addr: tuple[str, int]) -> None:
        msg_id = data[1:HEADER_BYTES]
        pending = self._pending.get(msg_id)
        if pending is None:
            self._drop("dropped_unexpected", addr, "response to no outstanding request")
            return
        if (addr[0], addr[1]) != pending.address:
            # Not popped: the real peer's answer may still arrive.
            self._drop("dropped_spoofed", addr, f"response for a request sent to {pending.address}")
            return
        try:
            payload = unpack(data[HEADER_BYTES:])
        except Exception:  # msgpack raises many types on hostile input
            self._drop("dropped_malformed", addr, "response is not msgpack")
            return
        del self._pending[msg_id]
        if pending.timer is not None:
            pending.timer.cancel()
        self.stats["responses"] += 1
        self.validation.mark_verified(addr[0], addr[1])  # it read our random message id there
        self.round_trips.append(asyncio.get_running_loop().time() - pending.sent_at)
        self._answered(pending, payload)

    def _answered(self, pending: PendingRequest, payload: Any) -> None:
        """A matched answer: a challenge is met by sending the request once more with its token."""
        if is_challenge(payload) and not pending.retried and self._rpcs[pending.name].takes_token:
            try:
                self._send(pending.address, pending.name, [*pending.args, payload[TOKEN_KEY]], pending.future,
                           pending.deadline, retried=True)
            except ValueError:  # the token made it one byte too many: as good as no answer
                if not pending.future.done():
                    pending.future.set_result((False, None))
        elif not pending.future.done():
            pending.future.set_result((True, payload))

    def _accept_request(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            payload = unpack(data[HEADER_BYTES:])
        except Exception:  # msgpack raises many types on hostile input
            self._drop("dropped_malformed", addr, "not msgpack")
            return
        msg_id = data[1:HEADER_BYTES]
        if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], str)
                and isinstance(payload[1], list)):
            self._drop("dropped_malformed", addr, "request is not [name, args]")
            return
        name, args = payload
        rpc = self._rpcs.get(name)
        if rpc is None:
            self._drop("dropped_unknown_rpc", addr, f"unknown rpc {name[:40]!r}")
            return
        if self.client_mode and name not in CLIENT_SERVES:
            self._drop("dropped_client_mode", addr, f"a client-mode node serves no {name!r}")
            return
        checks = rpc.checks
        if (rpc.takes_token and len(args) == len(checks) + 1
                and not self.validation.accept_token(args.pop(), addr[0], addr[1])):
            self.stats["tokens_refused"] += 1  # served as any unverified request: challenged again
        if rpc.padded and len(args) == len(checks) + 1 and isinstance(args[-1], bytes) and len(args[-1]) <= MAX_PADDING:
            args.pop()
        if len(args) != len(checks) or not all(check(arg) for check, arg in zip(checks, args, strict=True)):
            self.stats["dropped_malformed"] += 1
            if rpc.ours:
                self._reply(msg_id, {ERROR_KEY: "malformed arguments"}, addr, len(data))
            return
        self.stats["requests"] += 1
        self.stats["client_requests"] += msg_id.startswith(CLIENT_MARK)
        self._spawn(self._serve(msg_id, name, rpc, args, addr, len(data)))

    async def _serve(self, msg_id: bytes, name: str, rpc: _Rpc, args: list[Any], addr: tuple[str, int],
                     request_bytes: int) -> None:
        serving_client.set(msg_id.startswith(CLIENT_MARK))  # this task's context only
        handler = rpc.handler if rpc.handler is not None else getattr(self, f"rpc_{name}")
        try:
            answer = handler(addr, *args)
            if asyncio.iscoroutine(answer):
                answer = await answer
        except Exception:
            self.stats["handler_errors"] += 1
            log.exception("rpc_%s from %s failed", name, addr)
            if rpc.ours:
                self._reply(msg_id, {ERROR_KEY: "internal error"}, addr, request_bytes)
            return
        self._reply(msg_id, answer, addr, request_bytes, rpc.ours, rpc.answers_contacts)

    def challenge(self, sender: tuple[str, int]) -> dict[str, bytes]:
        """The small answer to a costly request from an unverified address: send it again with this."""
        self.stats["challenges_sent"] += 1
        return {TOKEN_KEY: self.validation.token_for(sender[0])}

    def _reply(self, msg_id: bytes, answer: Any, addr: tuple[str, int], request_bytes: int, ours: bool = True,
               contacts: bool = False) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        data = RESPONSE + msg_id + pack(answer)
        if len(data) > MAX_ANSWER_BYTES:
            self.stats["answers_too_large"] += 1
            log.error("answer of %d bytes to %s is over the cap; not sent", len(data), addr)
            if not ours:
                return
            data = RESPONSE + msg_id + pack({ERROR_KEY: "answer too large"})
        if not self.validation.is_verified(addr[0], addr[1]):
            budget = answer_budget(request_bytes)
            if len(data) > budget and contacts and isinstance(answer, list) and answer:
                answer = _fitting(answer, budget - HEADER_BYTES)  # contacts come nearest first: the farthest go
                data = RESPONSE + msg_id + pack(answer)
            if len(data) > budget:
                self.stats["answers_over_budget"] += 1
                log.debug("no %d-byte answer to unverified %s for a %d-byte request", len(data), addr, request_bytes)
                return
        self.stats["bytes_out"] += len(data)
        self.transport.sendto(data, addr)

    # -- sending -------------------------------------------------------------

    def request(self, address: tuple[str, int], name: str, args: list[Any], timeout: float = DEFAULT_RPC_TIMEOUT
                ) -> asyncio.Future[Result]:
        """Send one RPC now; the future resolves to (True, answer) or (False, None) after `timeout` s.

        Cancelling the future forgets the request, so a late answer is dropped.
        """
        if name not in self._rpcs:
            raise ValueError(f"'{name}' is not an RPC of this protocol")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        if self.transport is None or self.transport.is_closing():
            future.set_result((False, None))
            return future
        self._send((address[0], address[1]), name, list(args), future, loop.time() + timeout)
        return future

    def _send(self, address: tuple[str, int], name: str, args: list[Any], future: asyncio.Future[Result],
              deadline: float, retried: bool = False) -> None:
        payload = pack([name, args])
        if len(payload) > MAX_REQUEST_PAYLOAD:
            raise ValueError(f"rpc {name} arguments are {len(payload)} bytes; the cap is {MAX_REQUEST_PAYLOAD}")
        if self.transport is None or self.transport.is_closing():
            if not future.done():
                future.set_result((False, None))
            return
        msg_id = CLIENT_MARK + os.urandom(MSG_ID_BYTES - len(CLIENT_MARK)) if self.client_mode else os.urandom(MSG_ID_BYTES)
        loop = asyncio.get_running_loop()
        pending = self._pending[msg_id] = PendingRequest(future, address, name, args, deadline, retried=retried,
                                                         sent_at=loop.time())
        pending.timer = loop.call_at(deadline, self._expire, msg_id)
        future.add_done_callback(lambda f: self._forget(msg_id) if f.cancelled() else None)
        data = (REQUEST + msg_id + payload).ljust(PADDED_REQUEST_BYTES.get(name, 0), b"\0")
        self.stats["requests_out"] += 1
        self.stats["bytes_out"] += len(data)
        self.transport.sendto(data, address)

    def _expire(self, msg_id: bytes) -> None:
        pending = self._pending.pop(msg_id, None)
        if pending is None:
            return
        self.stats["timeouts"] += 1
        if not pending.future.done():
            pending.future.set_result((False, None))

    def _forget(self, msg_id: bytes) -> None:
        pending = self._pending.pop(msg_id, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    def __getattr__(self, name: str) -> Any:
        """rpcudp turns unknown attributes into remote calls; here a typo is an AttributeError."""
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:  # bursts of answers (a lookup, a hand-over) must not overflow the default buffer
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            except OSError:
                log.debug("could not enlarge the receive buffer")

    def connection_lost(self, exc: Exception | None) -> None:
        for msg_id in list(self._pending):
            pending = self._pending.pop(msg_id)
            if pending.timer is not None:
                pending.timer.cancel()
            if not pending.future.done():
                pending.future.set_result((False, None))
        for task in list(self._handlers):
            task.cancel()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        return task

    def transport_stats(self) -> dict[str, int]:
        """Every counter (zeros included, so a panel can lay them out before traffic arrives)."""
        stats = {name: 0 for name in STAT_NAMES}
        stats.update(self.stats)
        stats["outstanding"] = len(self._pending)
        return stats

    def ping(self, address: tuple[str, int], nodeid: bytes) -> asyncio.Future[Result]:
        """The standard ping by address, as kademlia's Server calls it when joining."""
        return self.request(address, "ping", [nodeid])
