"""Attacks on real nodes. Each node listens on its own 127.x.y.z, standing for its own host and /24,
with the public address rules enforced on loopback (BEP 42 ids, one party per IP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence

import pytest_asyncio

from ggen_desktop.net.node import MarketplaceNode
from tests.net.attacks.hostile import HostilePeer
from tests.net.conftest import FAST
from tests.net.raw_peer import RawPeer


class Hosts:
    """Starts enforcing nodes, hostile peers and raw sockets on distinct loopback addresses; closes them all."""

    def __init__(self) -> None:
        self.nodes: list[MarketplaceNode] = []
        self.peers: list[HostilePeer] = []
        self.raws: list[RawPeer] = []
        self._honest = 0

    def honest_ip(self) -> str:
        """The next honest host, each in a /24 of its own: 127.10.1.1, 127.10.2.1, ..."""
        self._honest += 1
        return f"127.10.{self._honest}.1"

    async def node(self, ip: str | None = None, bootstrap: Sequence[tuple[str, int]] = (),
                   **options: object) -> MarketplaceNode:
        node = MarketplaceNode(query_config=FAST, enforce_node_ids_on_private=True, remember_contacts=False,
                               **options)  # type: ignore[arg-type]
        self.nodes.append(node)
        await node.start(0, bootstrap, ip or self.honest_ip())
        return node

    async def network(self, count: int, **options: object) -> list[MarketplaceNode]:
        """`count` nodes, each joining through the first ones."""
        nodes: list[MarketplaceNode] = []
        for _ in range(count):
            nodes.append(await self.node(bootstrap=[n.address for n in nodes[:3]], **options))
        return nodes

    async def hostile(self, ip: str, node_id: bytes | None = None) -> HostilePeer:
        peer = await HostilePeer.open(ip, node_id)
        self.peers.append(peer)
        return peer

    def raw(self, ip: str, **options: object) -> RawPeer:
        peer = RawPeer(ip, **options)  # type: ignore[arg-type]
        self.raws.append(peer)
        return peer

    async def close(self) -> None:
        for node in self.nodes:
            await node.stop()
        for peer in self.peers:
            peer.close()
        for raw in self.raws:
            raw.close()


@pytest_asyncio.fixture
async def hosts() -> AsyncIterator[Hosts]:
    started = Hosts()
    yield started
    await started.close()


async def until(predicate: Callable[[], bool], seconds: float = 5.0, what: str = "the condition") -> None:
    """Wait for something the nodes do on their own, or fail saying what did not happen."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        await asyncio.sleep(0.01)


def quiet(node: MarketplaceNode) -> Callable[[], bool]:
    """True once a node has served every request it took in (its handler tasks have all answered)."""
    return lambda: not node.protocol._handlers


def taken_in(node: MarketplaceNode) -> int:
    """Requests a node has read: served, or dropped by its rate limit before decoding."""
    stats = node.protocol.stats
    return stats["requests"] + stats["dropped_rate_limited"]


async def served(node: MarketplaceNode, total: int) -> None:
    """Wait until a node has read `total` requests in all (see `taken_in`) and answered every one."""
    await until(lambda: taken_in(node) >= total and quiet(node)(), what=f"the node reading {total} requests")
