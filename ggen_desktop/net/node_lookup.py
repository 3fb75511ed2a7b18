"""Streaming node lookup: the k closest live nodes to a target, with `fan_out` find_node requests always in flight.

kademlia's `NodeSpiderCrawl` (its join, refresh and store placement) asks in
lock-step rounds and waits for a round's slowest peer, so a round that meets a
dead contact lasts that contact's whole timeout; and its node heap puts a dead
node back among "the closest", so stores went to dead nodes. This lookup
(Kademlia §2.3, with α requests kept in flight) is the node-finding twin of
the search lookup (`lookup`):

- candidates are only candidates (from the routing table or named by a peer)
  until they answer this lookup; only nodes that answered are returned,
  closest first;
- the window is the k closest candidates that have neither failed nor
  stalled; the lookup asks the window's unasked ones, `fan_out` at a time
  (with the window all asked, the next candidates beyond it: they replace
  whoever in it stalls), and ends when every node in the window has answered
  (or nothing is left);
- a request stalls by the shared `stall_rule`: it stops counting against
  `fan_out` and leaves the window, and the peer is asked once more (a
  datagram may have been lost; that request does not count against `fan_out`
  either); a late answer is still used while the lookup runs; left out at the end, it finishes in the background (the
  protocol's own bookkeeping: reputation, routing table). A peer that has
  not verified our address answers with no more bytes than we sent, so
  find_node requests are padded (`rpc_transport`) to leave room for k contacts;
- a request holds its `fan_out` slot for twice the lookup's median round trip
  only (`_slot_time`), with at most 2× `fan_out` requests out and not stalled:
  a dead candidate no longer keeps the next ones waiting
  until it stalls (on a simulated internet with 20% dead and 10% NAT'd peers,
  joins spent most of their last second asking one dead candidate after another);
- a caller need not wait for the end: `on_settled(node)` hands over each answered
  node of the window that no unasked candidate comes before (a publish stores
  there at once), and `ready` is set once k nodes answered with every closer
  candidate asked (a join is usable then; the rest only refines).
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kademlia.node import Node

from ggen_desktop.net import stall_rule
from ggen_desktop.net.protocol import MarketProtocol, Result
from ggen_desktop.net.stall_rule import StallRule, reputation_key

log = logging.getLogger(__name__)

NODE_LOOKUP_ALPHA = 8  # requests kept in flight (IPFS's DHT keeps 10): a few dead peers cannot hold every slot
SLOT_RTT_FACTOR = 2.0  # × the lookup's median round trip: how long a request holds a fan-out slot
MAX_OUT_FACTOR = 2  # × fan_out: requests out and not stalled, slots held or not (on loopback, where the CPU is the
# bottleneck, slow answers freeing their slots without a bound made a publish's 7 lookups flood the process)
_LEFT_RUNNING: set[asyncio.Future[Result]] = set()  # requests no longer waited for, left to finish, kept referenced


def leave_running(request: asyncio.Future[Result]) -> None:
    """A request no one waits for any more finishes anyway, for the protocol's bookkeeping (reputation, routing
    table): kept referenced until it does."""
    _LEFT_RUNNING.add(request)
    request.add_done_callback(_LEFT_RUNNING.discard)


@dataclass
class _Request:
    node: Node
    sent_at: float


class NodeLookup:
    """One lookup of the k closest live nodes to `target`; `await run()` returns those that answered."""

    def __init__(self, protocol: MarketProtocol, target: Node, *, ksize: int, fan_out: int,
                 seeds: Iterable[Node] | None = None, on_settled: Callable[[Node], None] | None = None) -> None:
        """Starts from `seeds` when given, else from the routing table's k closest contacts to `target`.
        `on_settled(node)` is called once for each node as soon as it is settled (see `_settle`), and at
        the end for any of the k closest not called for yet, so a store need not wait for the whole lookup."""
        self.protocol = protocol
        self.target = target
        self.ksize = ksize
        self.fan_out = max(1, fan_out)
        self.me = protocol.source_node.id
        self.candidates: dict[bytes, Node] = {}
        self.asked: set[bytes] = set()
        self.answered: dict[bytes, Node] = {}
        self.failed: set[bytes] = set()
        self.resent: set[bytes] = set()  # asked a second time when the first request stalled
        self._pending: dict[asyncio.Future[Result], _Request] = {}
        self._stalled: set[bytes] = set()
        self.on_settled = on_settled
        self.settled: set[bytes] = set()
        self.ready = asyncio.Event()  # set once `_is_ready`, or at the end
        self.left_out: dict[asyncio.Future[Result], Node] = {}  # requests still out at the end, to nodes that never answered
        first = list(seeds) if seeds is not None else protocol.router.find_neighbors(target, k=ksize)
        self._add(first)
        self.stall = StallRule(protocol.reputation, self.candidates.values(), protocol.round_trips)

    def _add(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            if node.id != self.me and node.id not in self.candidates:
                self.candidates[node.id] = node

    def _usable(self) -> list[Node]:
        """Candidates that have not failed and whose request has not stalled, closest first."""
        usable = [n for n in self.candidates.values() if n.id not in self.failed and n.id not in self._stalled
                  and not self.protocol.reputation.is_avoided(reputation_key(n))]
        usable.sort(key=self.target.distance_to)
        return usable

    def _next(self, usable: list[Node]) -> Node | None:
        """The closest candidate not asked yet: in the window, or just beyond it once the window is all asked."""
        return next((n for n in usable if n.id not in self.asked), None)

    def _send(self, node: Node, now: float) -> None:
        self.asked.add(node.id)
        future = asyncio.ensure_future(self.protocol.call_find_node(node, self.target))
        self._pending[future] = _Request(node, now)

    def _ended(self, window: list[Node]) -> bool:
        """Every node of the window answered. Before any answer, stalled requests are waited for: they
        are all there is."""
        return bool(self.answered) and all(n.id in self.answered for n in window)

    async def run(self) -> list[Node]:
        """Ask until the window has answered; the nodes that answered, closest first (at most k)."""
        loop = asyncio.get_running_loop()
        pending = self._pending
        try:
            while True:
                now = loop.time()
                late = [r for r in pending.values() if now >= r.sent_at + self.stall.stall_after(r.node)]
                for request in late:  # a lost datagram is the likeliest cause: asked once more
                    if request.node.id not in self.resent:
                        self.resent.add(request.node.id)
                        self._send(request.node, now)
                self._stalled = {r.node.id for r in late}
                holds = self._slot_time()
                out = [r for r in pending.values() if r.node.id not in self._stalled]
                active = sum(1 for r in out if now < r.sent_at + holds)
                room = min(self.fan_out - active, MAX_OUT_FACTOR * self.fan_out - len(out))
                usable = self._usable()
                while room > 0 and (node := self._next(usable)) is not None:
                    self._send(node, now)
                    room -= 1
                self._settle(usable[: self.ksize])
                if self._is_ready(usable):
                    self.ready.set()
                if not pending or self._ended(usable[: self.ksize]):
                    break
                wakes = [at for r in pending.values() if r.node.id not in self._stalled
                         for at in (r.sent_at + self.stall.stall_after(r.node), r.sent_at + holds) if at > now]
                wait = min(wakes) - now if wakes else None  # wake when one stalls or frees its slot
                done, _ = await asyncio.wait(pending, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    self._handle(pending.pop(future), future.result(), loop.time())
        except BaseException:
            for future in pending:
                future.cancel()
            pending.clear()
            raise
        for future, request in pending.items():  # still out: they finish in the background, for the protocol's bookkeeping
            leave_running(future)
            if request.node.id not in self.answered:
                self.left_out[future] = request.node
        pending.clear()
        self.ready.set()
        closest = self.closest()
        self._settle(closest)
        return closest

    def _slot_time(self) -> float:
        """How long a request holds one of the `fan_out` slots: twice this lookup's median round trip (a
        peer that has not answered by then is more often dead than slow, and waiting for its stall with
        the slot held kept whole lookups asking one dead candidate after another). It stays in the
        window, and its answer counts, until it stalls."""
        rtts = self.stall.rtts or self.stall.prior
        if not rtts:
            return math.inf
        return max(stall_rule.MIN_STALL_S, SLOT_RTT_FACTOR * statistics.median(rtts))

    def _is_ready(self, usable: list[Node]) -> bool:
        """k nodes answered, and every candidate closer than the k-th of them has been asked: what is still
        out (a last wave, dead peers waiting to stall) may refine the k closest, but no longer decides
        whom to ask first. With fewer than k answers, only the end is ready."""
        count = 0
        for node in usable:
            if node.id not in self.asked:
                return False
            count += node.id in self.answered
            if count >= self.ksize:
                return True
        return False

    def _settle(self, window: list[Node]) -> None:
        """Hands `on_settled` the window's answered nodes that no candidate still to ask comes before: a
        request out to a closer one (perhaps dead, waiting to stall) holds nothing up. A late answer may
        still name closer nodes and push a settled one out of the k closest (one copy too many, never
        one too few)."""
        if self.on_settled is None:
            return
        for node in window:
            if node.id not in self.asked:
                return
            if node.id in self.answered and node.id not in self.settled:
                self.settled.add(node.id)
                self.on_settled(node)

    def _handle(self, request: _Request, result: Result, now: float) -> None:
        node = request.node
        ok, answer = result
        if not ok:
            if node.id not in self.answered and all(r.node.id != node.id for r in self._pending.values()):
                self.failed.add(node.id)
            return
        self.stall.observe(now - request.sent_at)
        self.answered[node.id] = node
        if isinstance(answer, list):  # contacts the protocol checked (well formed, ids their addresses may use)
            self._add(Node(*item) for item in answer)

    def late_closer(self) -> dict[asyncio.Future[Result], Node]:
        """The requests left out at the end to nodes closer than the k-th that answered (any, with fewer
        than k): a slow peer, or one whose datagram was lost, that would have been among the closest."""
        closest = self.closest()
        if len(closest) < self.ksize:
            return dict(self.left_out)
        bound = self.target.distance_to(closest[-1])
        return {f: n for f, n in self.left_out.items() if self.target.distance_to(n) < bound}

    def closest(self) -> list[Node]:
        """The nodes that answered, closest to the target first (at most k)."""
        return sorted(self.answered.values(), key=self.target.distance_to)[: self.ksize]


async def closest_live_nodes(protocol: MarketProtocol, key: bytes, *, ksize: int, fan_out: int,
                             seeds: Iterable[Node] | None = None) -> list[Node]:
    """The k closest nodes to `key` that answered a streaming node lookup, closest first."""
    return await NodeLookup(protocol, Node(key), ksize=ksize, fan_out=fan_out, seeds=seeds).run()
