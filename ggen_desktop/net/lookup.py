"""Streaming iterative lookup: answers reach the caller the moment each peer replies.

kademlia's `Server.get` walks in lock-step rounds of α requests and waits for
the whole round, so one dead peer stalls every lookup for 5 s. This lookup
(Kademlia paper §2.3, with the "α in flight" refinement of §2.3's last
paragraph) keeps `fan_out` requests outstanding at all times: as soon as one
finishes, the next candidate is asked.

Each request is `rpc_search(key, query, page)`: the peer answers with the
records it holds under the key that match the whole query (paged) plus its
closest contacts to the key (once records have come, with twice the fan-out:
the rest only completes them). The rules that keep it going:

- The window is the k closest candidates still usable: blocked, avoided and
  failed peers leave it, so the next ones take their place (never "nothing
  left to ask" while others are known).
- A request that stalls (`stall_rule`: much slower than its peer, or than this
  lookup's round trips) stops counting against `fan_out` and leaves the
  window, but it is not a timeout. Only its own timeout is one, and only that
  lowers the peer's reputation; no timeout here removes a contact (kademlia's
  pings do that).
- The lookup ends when the window has answered (the records live there), or
  nothing is left to ask. While nothing has been found it waits for measured
  peers still out until their own timeouts: they may be the only holders.
  Requests still out when it ends finish in the background, for their peers'
  reputation only.
- A replica names the set of records it holds (a digest); a set is read page by
  page from one holder, and later peers are told which sets are had so they
  answer without records. Record bytes are verified once (`VerifiedRecords`).
- `on_records` returning True pauses the lookup (a page of results is full);
  `run()` again continues it with its candidates, answers and page cursors.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from kademlia.node import Node

from ggen_desktop.core.query import Query, QueryConfig, matches_query
from ggen_desktop.core.record import MAX_RECORD_BYTES, RecordError, SignedRecord
from ggen_desktop.core.search import PeerTrace, QueryTrace
from ggen_desktop.net.candidate_networks import CandidateNetworks
from ggen_desktop.net.protocol import DEFAULT_RPC_TIMEOUT, ERROR_KEY, MAX_HAVE, MarketProtocol, Result
from ggen_desktop.net.record_digests import VerifiedRecords, is_digest
from ggen_desktop.net.stall_rule import StallRule, reputation_key
from ggen_desktop.net.storage import MAX_PER_KEY, PAGE_BYTES, PAGE_RECORDS, RECORD_OVERHEAD

log = logging.getLogger(__name__)

# Enough pages to read a full key (MAX_PER_KEY records of up to MAX_RECORD_BYTES each) from one peer.
MAX_PAGES_PER_PEER = math.ceil(MAX_PER_KEY * (MAX_RECORD_BYTES + RECORD_OVERHEAD) / PAGE_BYTES) + 1
VERIFY_SLICE_S = 0.001  # signature checks per event-loop turn, at most
COMPLETING_FAN_OUT = 2  # × fan_out once records were found
DISJOINT_PATHS = 2  # S/Kademlia: a node belongs to one path; the lookup ends when every path has converged
POLL_RESOLUTION_S = 0.001  # asyncio's epoll waits whole milliseconds: a stall due sooner than that is due now

OnRecords = Callable[[Node, list[SignedRecord]], bool]
WaitJoined = Callable[[float], Awaitable[bool]]  # the node's join: True once joined, False after the timeout
JOIN_WAIT_CAP_S = 3600.0  # finite (Qt timers take milliseconds as an int); the caller's own timeout ends it far sooner
"""Receives each peer's verified, matching records; returns True to pause the lookup (a page is full)."""
Lookup = Callable[[bytes, QueryTrace, OnRecords, QueryConfig], "StreamingLookup"]
"""Makes a streaming lookup toward a key for a trace's query, as the node runs it."""


@dataclass
class _Read:
    """One request to make: a peer, and the index of the first matching record to ask it for."""

    node: Node
    page: int = 0
    pages_read: int = 0  # pages of this peer already read before this one
    set: bytes | None = None  # the record set this read is part of (named by a first page's answer)


@dataclass
class _Request:
    read: _Read
    sent_at: float


@dataclass
class _RecordSet:
    """A set of matching records that one or more peers hold: read from one of them, page by page."""

    reader: bytes | None = None
    complete: bool = False
    holders: list[Node] = field(default_factory=list)  # others that hold it, to read from if the reader fails


class StreamingLookup:
    """One lookup toward `key`; `await run()` until it ends or `on_records` pauses it, then `run()` again for more."""

    def __init__(self, protocol: MarketProtocol, key: bytes, query: Query, trace: QueryTrace, on_records: OnRecords,
                 *, fan_out: int, request_timeout: float, adaptive_timeout: bool, ksize: int,
                 verifier: VerifiedRecords, joined: WaitJoined | None = None) -> None:
        self.protocol = protocol
        self.joined = joined
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
        self.verifier = verifier
        self.reputation = protocol.reputation
        self.me = protocol.source_node.id
        self.candidates: dict[bytes, Node] = {}
        self.path_of: dict[bytes, int] = {}  # which disjoint path each candidate belongs to
        self.networks = CandidateNetworks(protocol.policy)  # which /24 each candidate is in, and who named it
        self.asked: set[bytes] = set()
        self.answered: set[bytes] = set()
        self.failed: set[bytes] = set()
        self.abandoned: set[bytes] = set()  # still out when the lookup ended: left to finish in the background
        self.found = 0  # matching records received
        self.advertised = 0  # the most matching records one peer said it holds
        self.exhausted = False  # ended by itself: everything worth asking was asked
        self._stalled: set[bytes] = set()
        self._reads: deque[_Read] = deque()
        self._pending: dict[asyncio.Future[Result], _Request] = {}
        self._sets: dict[bytes, _RecordSet] = {}
        self._stopped = False
        self._add_candidates(protocol.router.find_neighbors(self.target, k=ksize))
        self.stall = StallRule(self.reputation, self.candidates.values(), protocol.round_trips)

    # -- choosing whom to ask ---------------------------------------------------

    def _add_candidates(self, nodes: list[Node], via: Node | None = None) -> None:
        """New candidates join the path of the peer that named them (`via`); the first ones (from the routing
        table) are dealt to the paths in turn, nearest first. A node already on one path stays there, so
        the paths stay disjoint and sybils that capture one cannot steer the other (S/Kademlia)."""
        named = [n for n in nodes if n.id != self.me]
        if via is not None:
            for node in named:
                if node.id in self.candidates:
                    self.networks.named_again(node, via)
        fresh = sorted((n for n in named if n.id not in self.candidates), key=self.target.distance_to)
        for index, node in enumerate(fresh):
            self.candidates[node.id] = node
            self.networks.add(node, via)
            self.path_of[node.id] = self.path_of[via.id] if via is not None else index % DISJOINT_PATHS

    def start_from(self, nodes: list[Node]) -> None:
        """Before the first run: ask only these (and whom they name), not the routing table's closest."""
        self.candidates.clear()
        self.path_of.clear()
        self.networks.clear()
        self._add_candidates(nodes)

    def _usable(self, node: Node) -> bool:
        return node.id not in self.failed and not self.reputation.is_avoided(reputation_key(node))

    def _window(self, corroborated: bool = False) -> list[Node]:
        """Each path's closest usable candidates that have not stalled (k in all; the closest of each network,
        `CandidateNetworks`): where the records should be. The lookup has converged when every one of them has
        answered, on every path; once records were found, of the `corroborated` ones and those that answered."""
        live = [n for n in self.candidates.values()
                if n.id not in self._stalled and n.id not in self.abandoned and self._usable(n)
                and (not corroborated or n.id in self.answered or self.networks.corroborated(n))]
        live.sort(key=self.target.distance_to)
        live = self.networks.admissible(live, self.answered, self.failed | self._stalled | self.abandoned)
        share = -(-self.ksize // DISJOINT_PATHS)
        window: list[Node] = []
        for path in range(DISJOINT_PATHS):
            window += [n for n in live if self.path_of[n.id] == path][:share]
        window.sort(key=self.target.distance_to)
        return window

    def _next(self, window: list[Node]) -> _Read | None:
        """The next page to read, or the best-scored unasked peer among the nearest few of `window`."""
        while self._reads:
            read = self._reads.popleft()
            if self._usable(read.node) and not (read.set is not None and self._sets[read.set].complete):
                return read
        unasked = [n for n in window if n.id not in self.asked]
        # Prefer better-scored peers among the nearest few (the seed's reputation, used).
        nearest = unasked[: max(2 * self.fan_out, 1)]
        ranked = self.reputation.rank(reputation_key(n) for n in nearest)
        if not ranked:
            return None
        return _Read(next(n for n in nearest if reputation_key(n) == ranked[0]))

    def _fan_out(self) -> int:
        """Requests kept in flight: once records have come, the rest of the window only completes them,
        and asking it wider halves how long its dead peers (each held until it stalls) delay the end."""
        return self.fan_out * (COMPLETING_FAN_OUT if self.found else 1)

    def _timeout(self, node: Node) -> float:
        if self.adaptive_timeout:
            return self.reputation.timeout_for(reputation_key(node), self.request_timeout)
        return self.request_timeout

    def _have(self, node: Node) -> list[bytes]:
        """Sets this lookup has, or is reading from another peer: `node` need not send them."""
        return [d for d, s in self._sets.items() if s.complete or s.reader not in (None, node.id)][:MAX_HAVE]

    def _send(self, read: _Read, now: float) -> None:
        """Ask; `now` is the loop turn's time: the requests of one turn count as sent together."""
        node = read.node
        self.asked.add(node.id)
        peer = node.id.hex()
        if peer not in self.trace.peers:
            self.trace.peers[peer] = PeerTrace(peer, f"{node.ip}:{node.port}", self.trace.elapsed_ms())
        query = self.query_dict
        have = self._have(node) if read.page == 0 else []
        if have:
            query = {**query, "have": have}
        future = self.protocol.request((node.ip, node.port), "search", [self.me, self.key, query, read.page],
                                       self._timeout(node))
        self._pending[future] = _Request(read, now)

    # -- running ----------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        """Set when `on_records` paused the lookup."""
        return self._stopped

    async def run(self) -> None:
        """Ask until the lookup ends or `on_records` pauses it; cancelling drops every request in flight."""
        if not self.candidates and self.joined is not None:
            # Started before the node joined: wait for the join (the caller bounds the wait), then take the
            # neighbours it brought.
            await self.joined(JOIN_WAIT_CAP_S)
            self._add_candidates(self.protocol.router.find_neighbors(self.target, k=self.ksize))
        self._stopped = False
        pending = self._pending
        try:
            while not self._stopped:
                now = time.monotonic()
                self._stalled = {r.read.node.id for r in pending.values()
                                 if now + POLL_RESOLUTION_S >= self._stalls_at(r)}
                self._hand_over_stalled_reads()
                active = sum(1 for r in pending.values() if r.read.node.id not in self._stalled)
                ended = self._converged()  # before asking more: the window may have answered
                window = [] if ended else self._window()  # asking changes who is asked, not who is in it
                while not ended and active < self._fan_out() and (read := self._next(window)) is not None:
                    self._send(read, now)
                    active += 1
                if ended or self._ended():
                    self.exhausted = True
                    self._leave_pending(requeue=False)
                    return
                stalls = [self._stalls_at(r) for r in pending.values()
                          if r.read.node.id not in self._stalled]
                wait = max(0.0, min(stalls) - now) if stalls else None  # wake when one stalls
                done, _ = await asyncio.wait(pending, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    ok, answer = future.result()
                    if ok and isinstance(answer, dict) and isinstance(answer.get("records"), list):  # checked a slice
                        # per loop turn (a page takes ~15 ms); `_handle` then reads the verifier's memory
                        self.trace.verified += await self.verifier.verify_in_slices(answer["records"][:PAGE_RECORDS],
                                                                                    VERIFY_SLICE_S)
                    self._handle(pending.pop(future), future.result())
        except BaseException:  # cancelled: the search was, or its time ran out
            for future, request in pending.items():
                future.cancel()
                self._reads.appendleft(request.read)  # asked again if the search goes on to another page
            pending.clear()
            raise
        self._leave_pending(requeue=True)

    def _stalls_at(self, request: _Request) -> float:
        """When a request stalls. A page of a set being read is a full answer, slower than the small ones sent
        after it: only the clock judges it (taken as stalled, its set would be read again from another holder)."""
        read = request.read
        if read.pages_read or read.set is not None:
            return request.sent_at + self.stall.stall_after(read.node)
        return self.stall.stalls_at(read.node, request.sent_at)

    def _ended(self) -> bool:
        """Nothing in flight, or converged."""
        return not self._pending or self._converged()

    def _converged(self) -> bool:
        """The window has answered and something was found. While nothing was found, a measured peer still
        out may be the only holder: it is waited for until its own timeout (a never-measured one was judged
        by this lookup's round trips when it stalled)."""
        if self._reads or any(r.read.set is not None or r.read.pages_read for r in self._pending.values()
                              if r.read.node.id not in self._stalled):
            return False  # a set is being read
        window = self._window(corroborated=self.found > 0)
        if not window or not all(n.id in self.answered for n in window):
            return False
        return self.found > 0 or not any(self.stall.measured(r.read.node) for r in self._pending.values())

    def _leave_pending(self, requeue: bool) -> None:
        """At a pause, requests still out are asked again on the next run (stalled ones are left to finish);
        at the end, all of them are left to finish in the background."""
        for future, request in list(self._pending.items()):
            if requeue and request.read.node.id not in self._stalled:
                future.cancel()
                self._reads.appendleft(request.read)
            else:
                self._abandon(future, request)
        self._pending.clear()

    def _abandon(self, future: asyncio.Future[Result], request: _Request) -> None:
        """The lookup goes on without this answer; when it comes (or its own timeout passes) the peer's
        reputation learns of it: a slow answer is a success, only a real timeout is a timeout."""
        node = request.read.node
        peer = node.id.hex()
        self.abandoned.add(node.id)
        self.trace.peers[peer].stalled = True
        reputation, address = self.reputation, reputation_key(node)

        def settle(done: asyncio.Future[Result]) -> None:
            if done.cancelled():
                return
            if done.result()[0]:
                rtt_ms = (time.monotonic() - request.sent_at) * 1000.0
                reputation.record_success(address, rtt_ms, host=node.ip, port=node.port)
            else:
                reputation.record_timeout(address, host=node.ip, port=node.port)

        future.add_done_callback(settle)

    def _hand_over_stalled_reads(self) -> None:
        """A set's reader that stalls mid-way hands the set to another holder, read from its first page."""
        for request in self._pending.values():
            read = request.read
            if read.pages_read and read.set is not None and read.node.id in self._stalled:
                self._reader_gone(read.node)

    def _reader_gone(self, node: Node) -> None:
        for digest, record_set in self._sets.items():
            if record_set.reader == node.id and not record_set.complete:
                holders = [h for h in record_set.holders if self._usable(h) and h.id not in self._stalled]
                record_set.reader = holders[0].id if holders else None
                record_set.holders = holders[1:]
                if holders:
                    self._reads.append(_Read(holders[0], set=digest))
                    log.debug("reading set %s from %s instead", digest.hex()[:8], holders[0].id.hex()[:8])

    # -- answers ----------------------------------------------------------------

    def _handle(self, request: _Request, result: Result) -> None:
        node, peer = request.read.node, request.read.node.id.hex()
        trace, address = self.trace.peers[peer], reputation_key(node)
        ok, answer = result
        if not ok:  # its own timeout passed
            trace.timed_out = True
            self.failed.add(node.id)
            self.reputation.record_timeout(address, host=node.ip, port=node.port)
            self._reader_gone(node)
            return
        rtt = time.monotonic() - request.sent_at
        self.stall.observe(rtt, request.sent_at)
        if not isinstance(answer, dict) or ERROR_KEY in answer or not isinstance(answer.get("records"), list):
            trace.error = str(answer.get(ERROR_KEY))[:200] if isinstance(answer, dict) else "malformed answer"
            self.failed.add(node.id)
            self.reputation.record_failure(address, host=node.ip, port=node.port)
            self._reader_gone(node)
            return
        valid, invalid = self._verify(answer["records"][:PAGE_RECORDS])
        self.answered.add(node.id)
        trace.answered_at_ms = self.trace.elapsed_ms()
        trace.results += len(valid)
        self.found += len(valid)
        if invalid:
            trace.error = f"{invalid} invalid record{'s' if invalid != 1 else ''}"
            self.reputation.record_invalid(address, invalid, host=node.ip, port=node.port)
        else:
            self.reputation.record_success(address, rtt * 1000.0, packages=len(valid), host=node.ip, port=node.port)
        self.protocol.welcome_if_new(node)
        self._add_candidates(self.protocol.candidates(answer.get("nodes")), via=node)
        count = answer.get("count")
        if isinstance(count, int) and not isinstance(count, bool):
            self.advertised = max(self.advertised, min(count, MAX_PER_KEY))
        self._follow_pages(request.read, answer)
        if valid and self.on_records(node, valid):
            self._stopped = True

    def _verify(self, items: list[object]) -> tuple[list[SignedRecord], int]:
        """The verified records that match the query, and how many were not (forged, or not asked for)."""
        valid: list[SignedRecord] = []
        invalid = 0
        checked = self.verifier.checked
        for data in items:
            if not isinstance(data, bytes):
                invalid += 1
                continue
            try:
                record = self.verifier.verify(data)
            except RecordError:
                invalid += 1
                continue
            if matches_query(record.package, self.query):
                valid.append(record)
            else:
                invalid += 1  # a peer answering with what was not asked for is lying
        self.trace.received += len(items)
        self.trace.verified += self.verifier.checked - checked
        return valid, invalid

    def _follow_pages(self, read: _Read, answer: dict[str, object]) -> None:
        """Queue the peer's next page, unless another peer is already reading the same set."""
        node = read.node
        next_page = answer.get("next")
        pages_read = read.pages_read + 1
        following = None
        if (isinstance(next_page, int) and not isinstance(next_page, bool) and next_page > read.page
                and pages_read < MAX_PAGES_PER_PEER):
            following = _Read(node, min(next_page, read.page + PAGE_RECORDS), pages_read)
        named = answer.get("set")
        digest = named if isinstance(named, bytes) and is_digest(named) else read.set
        if digest is None:  # a peer that does not name its set: read all of its pages
            if following is not None:
                self._reads.append(following)
            return
        record_set = self._sets.setdefault(digest, _RecordSet())
        if record_set.complete:
            return
        if record_set.reader not in (None, node.id):
            record_set.holders.append(node)  # someone else reads it; this one can take over
            return
        record_set.reader = node.id
        if answer.get("same") is True:  # told we had it, but its reader has gone since: read it from this one
            self._reads.append(_Read(node, set=digest))
            return
        if following is None:
            record_set.complete = True
        else:
            following.set = digest
            self._reads.append(following)

    def may_have_more(self, answered: int) -> bool:
        """After a pause: whether going on could find more than the `answered` results merged so far."""
        if self.exhausted:
            return False
        if any(r.set is not None or r.pages_read for r in self._reads):
            return True  # a set is being read page by page
        if self.advertised:
            return self.advertised > answered
        return bool(self._reads) or any(n.id not in self.asked for n in self._window())


def start_lookup(protocol: MarketProtocol, key: bytes, trace: QueryTrace, on_records: OnRecords,
                 config: QueryConfig, ksize: int, verifier: VerifiedRecords,
                 joined: WaitJoined | None = None) -> StreamingLookup:
    """A lookup toward `key` for `trace.query`; each request's own timeout is bounded well below the query's."""
    return StreamingLookup(
        protocol, key, trace.query, trace, on_records, fan_out=config.fan_out,
        request_timeout=min(config.default_timeout, DEFAULT_RPC_TIMEOUT * 2),
        adaptive_timeout=config.adaptive_timeout, ksize=ksize, verifier=verifier, joined=joined,
    )


async def run_for(lookup: StreamingLookup, seconds: float) -> None:
    """Run (or continue) a lookup for at most `seconds`; TimeoutError when they pass first."""
    await asyncio.wait_for(lookup.run(), max(seconds, 0.0))
