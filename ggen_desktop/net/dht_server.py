"""The kademlia `Server` the node runs: our protocol, validated storage, and joins and refreshes that stream.

kademlia's Server builds its protocol from a class attribute, republishes
every value it holds on refresh, and joins and refreshes with its lock-step
crawl; we need our protocol with its reputation book, only the original
publisher republishes (§2.5), and a dead contact must cost a join or a
refresh nothing while live ones can be asked (`node_lookup`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kademlia.network import Server
from kademlia.node import Node

from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.net.node_lookup import NodeLookup
from ggen_desktop.net.protocol import MarketProtocol, Result
from ggen_desktop.net.stall_rule import StallRule
from ggen_desktop.net.storage import RecordStorage


class DhtServer(Server):
    """kademlia's Server with our protocol, validated storage, and streaming joins and refreshes."""

    protocol: MarketProtocol

    def __init__(self, ksize: int, alpha: int, node_id: bytes | None, storage: RecordStorage,
                 reputation: ReputationBook) -> None:
        super().__init__(ksize=ksize, alpha=alpha, node_id=node_id, storage=storage)
        self.storage = storage  # Server tests `storage or ForgetfulStorage()`; an empty one is falsy
        self.reputation = reputation
        self._pings: set[asyncio.Task[Node | None]] = set()  # pings a join went on without, left to finish
        self.refining: asyncio.Task[list[Node]] | None = None  # the join's lookup, once the join returned

    def _create_protocol(self) -> MarketProtocol:
        return MarketProtocol(self.node, self.storage, self.ksize, self.reputation)

    async def _refresh_table(self) -> None:
        """Refresh lonely buckets (§2.3) only: records are republished by their publishers, not by
        every holder through `Server.set`, which would also write unverified values."""
        await asyncio.gather(*(NodeLookup(self.protocol, Node(node_id), ksize=self.ksize, fan_out=self.alpha).run()
                               for node_id in self.protocol.get_refresh_ids()))

    async def bootstrap(self, addrs: Sequence[tuple[str, int]]) -> list[Node]:
        """Join (§2.3): ping every address, then look up our own id from the peers that answered.

        The lookup starts once the first answers are in and the rest have stalled by the lookup rule,
        not after the dead ones' timeouts; their pings finish in the background (a late answer still
        makes a contact). The join returns once the lookup is `ready` (k answered, nobody closer left
        unasked): the node can search and publish; the lookup's last answers, and its dead peers'
        stalls, go on refining the routing table in the background (`refining`). Returns the nodes the
        lookup found so far, or those that answered the ping."""
        answered, named = await self._first_answers(addrs)
        if not answered:
            return []
        lookup = NodeLookup(self.protocol, self.node, ksize=self.ksize, fan_out=self.alpha, seeds=answered + named)
        run = asyncio.ensure_future(lookup.run())
        ready = asyncio.ensure_future(lookup.ready.wait())
        try:
            await asyncio.wait({run, ready}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            run.cancel()
            raise
        finally:
            ready.cancel()
        if run.done():
            return run.result() or answered
        if self.refining is not None:  # an earlier join's: this one supersedes it
            self.refining.cancel()
        self.refining = run
        return lookup.closest() or answered

    async def _first_answers(self, addrs: Sequence[tuple[str, int]]) -> tuple[list[Node], list[Node]]:
        """The peers whose ping answered before the others stalled (none stall before a first answer), then
        the contacts they name closest to us: each is asked for them together with its ping, so the lookup
        starts a round trip sooner (and asks them again only as one more candidate among many)."""
        loop = asyncio.get_running_loop()
        sent = loop.time()
        pending = {asyncio.ensure_future(self.bootstrap_node(addr)) for addr in addrs}
        asks = {addr: self.protocol.request(addr, "find_node", [self.node.id, self.node.id]) for addr in addrs}
        stall = StallRule(self.reputation, [], self.protocol.round_trips)
        answered: list[Node] = []
        while pending:
            wait = max(0.0, sent + stall.unmeasured_stall_after() - loop.time()) if answered else None
            done, pending = await asyncio.wait(pending, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                break
            for task in done:
                node = task.result()
                if node is not None:
                    answered.append(node)
                    stall.observe(loop.time() - sent)
        for task in pending:
            self._pings.add(task)
            task.add_done_callback(self._pings.discard)
        coming = [asks[(n.ip, n.port)] for n in answered if not asks[(n.ip, n.port)].done()]
        if coming:  # sent with the ping, so due about when its answer came
            await asyncio.wait(coming, timeout=(loop.time() - sent) / 2)
        return answered, [c for n in answered for c in self._named(asks[(n.ip, n.port)])]

    def _named(self, ask: asyncio.Future[Result]) -> list[Node]:
        """The candidates in a find_node answer, if it came."""
        if not ask.done() or ask.cancelled() or not ask.result()[0]:
            return []
        return self.protocol.candidates(ask.result()[1])

    async def bootstrap_node(self, addr: tuple[str, int]) -> Node | None:
        """Ping one address; its peer becomes a contact if it answers with a well-formed id not ours."""
        ok, answer = await self.protocol.ping(addr, self.node.id)
        if ok and isinstance(answer, bytes) and len(answer) == 20 and answer != self.node.id:
            node = Node(answer, addr[0], addr[1])
            self.protocol.welcome_if_new(node)
            return node
        return None

    def stop(self) -> None:
        for task in self._pings:
            task.cancel()
        if self.refining is not None:
            self.refining.cancel()
        super().stop()
