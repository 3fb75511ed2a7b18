"""The kademlia `Server` the node runs: our protocol, validated storage and a bounded refresh.

kademlia's Server builds its protocol from a class attribute and republishes
every value it holds on refresh; we need our protocol with its reputation book,
and only the original publisher republishes (§2.5), so both hooks are replaced.
"""

from __future__ import annotations

import asyncio

from kademlia.crawling import NodeSpiderCrawl
from kademlia.network import Server
from kademlia.node import Node

from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.net.protocol import MarketProtocol
from ggen_desktop.net.storage import RecordStorage


class DhtServer(Server):
    """kademlia's Server with our protocol, validated storage and bounded refresh."""

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
        """Ping one address; its peer becomes a contact if it answers with a well-formed id not ours."""
        ok, answer = await self.protocol.ping(addr, self.node.id)
        if ok and isinstance(answer, bytes) and len(answer) == 20 and answer != self.node.id:
            node = Node(answer, addr[0], addr[1])
            self.protocol.welcome_if_new(node)
            return node
        return None
