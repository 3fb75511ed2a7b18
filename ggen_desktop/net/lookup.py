"""Streaming iterative lookup: answers reach the caller the moment each peer replies.

kademlia's `Server.get` walks in lock-step rounds of α requests and waits for
the whole round, so one dead peer stalls every lookup for 5 s. This lookup
(Kademlia paper §2.3, with the "α in flight" refinement of §2.3's last
paragraph) keeps `fan_out` requests outstanding at all times: as soon as one
finishes, the next candidate is asked. A request that has taken much longer
than its peer usually needs stops counting against `fan_out` (it may still
answer), so a dead peer never holds the lookup while others can be asked.

Each request is `rpc_search(key, query, page)`: the peer answers with the
records it holds under the key that match the whole query (so answers are
small, and paged when not) plus its closest contacts to the key. The lookup
ends when the k closest live nodes known have answered (the records live on
them, §2.3), when nothing is left to ask, or when the caller stops it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryConfig, matches_query
from ggen_desktop.core.record import (
    MAX_RECORD_BYTES,
    RecordError,
    SignedRecord,
    decode_and_verify,
)
from ggen_desktop.core.search import PeerTrace, QueryTrace
from ggen_desktop.net.protocol import DEFAULT_RPC_TIMEOUT, ERROR_KEY, MarketProtocol, Result, parse_contacts
from ggen_desktop.net.storage import (
    MAX_PER_KEY,
    PAGE_BYTES,
    PAGE_RECORDS,
    RECORD_OVERHEAD,
)

log = logging.getLogger(__name__)

# Enough pages to read a full key (MAX_PER_KEY records of up to MAX_RECORD_BYTES each) from one peer.
MAX_PAGES_PER_PEER = math.ceil(MAX_PER_KEY * (MAX_RECORD_BYTES + RECORD_OVERHEAD) / PAGE_BYTES) + 1
UNKNOWN_PEER_STALL_S = 0.5  # a peer never measured counts as stalled after this long
MIN_STALL_S = 0.05

OnRecords = Callable[[Node, list[SignedRecord]], bool]
"""Receives each peer's verified, matching records; returns True to end the lookup early."""
Lookup = Callable[[bytes, QueryTrace, OnRecords, QueryConfig], Awaitable[None]]
"""A streaming lookup toward a key within the config's overall timeout, as the node runs it."""


@dataclass
class _Request:
    node: Node
    page: int  # the index of the first matching record asked for (storage pages by record index)
    sent_at: float
    stall_at: float
    pages_read: int = 0  # pages of this peer already read before this one


class StreamingLookup:
    """One lookup toward `key`; `on_records(node, records)` returns True to stop early."""

    def __init__(
        self,
        protocol: MarketProtocol,
        key: bytes,
        query: Query,
        trace: QueryTrace,
        on_records: OnRecords,
        *,
        fan_out: int,
        request_timeout: float,
        adaptive_timeout: bool,
        ksize: int,
    ) -> None:
        self.protocol = protocol
        self.key = key
        self.target = Node(key)
        self.query = query
        self.query_dict = query.to_dict()
        self.trace = trace
        self.on_records = on_records
        self.fan_out = fan_out
        self.request_timeout = request_timeout
        self.adaptive_timeout = adaptive_timeout
        self.ksize = ksize
        self.reputation = protocol.reputation
        self.me = protocol.source_node.id
        self.candidates: dict[bytes, Node] = {}
        self.asked: set[bytes] = set()
        self.answered: set[bytes] = set()
        self.failed: set[bytes] = set()
        self.stalled: set[bytes] = set()
        self._pages: deque[tuple[Node, int, int]] = deque()
        self._stopped = False
        self._add_candidates(protocol.router.find_neighbors(self.target, k=ksize))

    def _add_candidates(self, nodes: list[Node]) -> None:
        for node in nodes:
            if node.id != self.me and node.id not in self.candidates:
                self.candidates[node.id] = node

    def _window(self) -> list[Node]:
        """The k closest known nodes that have neither failed nor stalled: where the records should be.

        A stalled peer (far slower than it usually is) counts as gone for termination, like a
        failed one; if it answers while the lookup still runs, its answer is used all the same.
        """
        live = [n for n in self.candidates.values() if n.id not in self.failed and n.id not in self.stalled]
        live.sort(key=self.target.distance_to)
        return live[: self.ksize]

    def _converged(self, in_flight_pages: int) -> bool:
        if self._pages or in_flight_pages:
            return False
        window = self._window()
        return bool(window) and all(n.id in self.answered for n in window)

    def _next(self) -> tuple[Node, int, int] | None:
        if self._pages:
            return self._pages.popleft()
        unasked = [n for n in self._window() if n.id not in self.asked]
        # Prefer better-scored peers among the nearest few (the seed's reputation, used);
        # avoided and blocked peers are left out by rank().
        nearest = unasked[: max(2 * self.fan_out, 1)]
        ranked = self.reputation.rank(n.id.hex() for n in nearest)
        if not ranked:
            for node in unasked:
                if self.reputation.is_avoided(node.id.hex()):
                    self.asked.add(node.id)
                    self.failed.add(node.id)
            return None
        best = ranked[0]
        node = next(n for n in nearest if n.id.hex() == best)
        return node, 0, 0

    def _timeouts(self, node: Node) -> tuple[float, float]:
        """(timeout, stall-after) for one request to `node`."""
        peer = node.id.hex()
        if self.adaptive_timeout:
            timeout = self.reputation.timeout_for(peer, self.request_timeout)
        else:
            timeout = self.request_timeout
        stats = self.reputation.peers.get(peer)
        if stats is not None and stats.avg_rtt_ms is not None:
            stall = max(MIN_STALL_S, 2 * stats.avg_rtt_ms / 1000.0)
        else:
            stall = UNKNOWN_PEER_STALL_S
        return timeout, min(stall, timeout)

    def _send(self, node: Node, page: int, pages_read: int) -> tuple[asyncio.Future[Result], _Request]:
        timeout, stall = self._timeouts(node)
        self.asked.add(node.id)
        peer = node.id.hex()
        if peer not in self.trace.peers:
            self.trace.peers[peer] = PeerTrace(peer, f"{node.ip}:{node.port}", self.trace.elapsed_ms())
        future = self.protocol.request(
            (node.ip, node.port), "search", [self.me, self.key, self.query_dict, page], timeout
        )
        now = time.monotonic()
        return future, _Request(node, page, now, now + stall, pages_read)

    @property
    def stopped(self) -> bool:
        """Set by `stop()`, also from inside an answer's handler."""
        return self._stopped

    async def run(self) -> None:
        """Ask until converged, exhausted or stopped; cancelling drops every request in flight."""
        pending: dict[asyncio.Future[Result], _Request] = {}
        try:
            while not self._stopped:
                now = time.monotonic()
                self.stalled = {r.node.id for r in pending.values() if r.stall_at <= now}
                active = len(pending) - len(self.stalled)
                while active < self.fan_out:
                    nxt = self._next()
                    if nxt is None:
                        break
                    future, request = self._send(*nxt)
                    pending[future] = request
                    active += 1
                if not pending or self._converged(sum(1 for r in pending.values() if r.pages_read)):
                    self._give_up_on_stalled(pending.values())
                    return
                stalls = [r.stall_at for r in pending.values() if r.stall_at > now]
                wait = max(0.0, min(stalls) - now) if stalls else None  # wake when one stalls
                done, _ = await asyncio.wait(pending, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    self._handle(pending.pop(future), future.result())
                    if self.stopped:
                        return
        finally:
            for future in pending:
                future.cancel()

    def _give_up_on_stalled(self, requests: Iterable[_Request]) -> None:
        """The lookup is done without these peers: each one counts as a timeout."""
        now = time.monotonic()
        for request in requests:
            if request.stall_at <= now:
                self._handle(request, (False, None))

    def _handle(self, request: _Request, result: Result) -> None:
        node, peer = request.node, request.node.id.hex()
        trace = self.trace.peers[peer]
        ok, answer = result
        if not ok:
            trace.timed_out = True
            self.failed.add(node.id)
            self.reputation.record_timeout(peer, host=node.ip, port=node.port)
            self.protocol.router.remove_contact(node)
            return
        rtt_ms = (time.monotonic() - request.sent_at) * 1000.0
        if not isinstance(answer, dict) or ERROR_KEY in answer or not isinstance(answer.get("records"), list):
            trace.error = str(answer.get(ERROR_KEY))[:200] if isinstance(answer, dict) else "malformed answer"
            self.failed.add(node.id)
            self.reputation.record_failure(peer, host=node.ip, port=node.port)
            return
        valid: list[SignedRecord] = []
        invalid = 0
        for data in answer["records"][:PAGE_RECORDS]:
            try:
                record = decode_and_verify(data)
            except RecordError:
                invalid += 1
                continue
            if matches_query(record.package, self.query):
                valid.append(record)
            else:
                invalid += 1  # a peer answering with what was not asked for is lying
        self.answered.add(node.id)
        trace.answered_at_ms = self.trace.elapsed_ms()
        trace.results += len(valid)
        if invalid:
            trace.error = f"{invalid} invalid record{'s' if invalid != 1 else ''}"
            self.reputation.record_invalid(peer, invalid, host=node.ip, port=node.port)
        else:
            self.reputation.record_success(peer, rtt_ms, packages=len(valid), host=node.ip, port=node.port)
        self.protocol.welcome_if_new(node)
        self._add_candidates(parse_contacts(answer.get("nodes")))
        next_page = answer.get("next")
        pages_read = request.pages_read + 1
        if isinstance(next_page, int) and next_page > request.page and pages_read < MAX_PAGES_PER_PEER:
            self._pages.append((node, min(next_page, request.page + PAGE_RECORDS), pages_read))
        if valid and self.on_records(node, valid):
            self._stopped = True


async def lookup_within_timeout(protocol: MarketProtocol, key: bytes, trace: QueryTrace, on_records: OnRecords,
                                config: QueryConfig, ksize: int) -> None:
    """A streaming lookup toward `key` for `trace.query`, ended by the query's overall timeout
    (TimeoutError); each request's own timeout is bounded well below it."""
    lookup = StreamingLookup(
        protocol, key, trace.query, trace, on_records, fan_out=config.fan_out,
        request_timeout=min(config.default_timeout, DEFAULT_RPC_TIMEOUT * 2),
        adaptive_timeout=config.adaptive_timeout, ksize=ksize,
    )
    remaining = config.default_timeout - trace.elapsed_ms() / 1000.0
    await asyncio.wait_for(lookup.run(), max(remaining, 0.0))
