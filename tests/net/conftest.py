"""Fixtures for the network tests: real nodes on loopback UDP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kademlia.node import Node

from ggen_desktop.core.query import QueryConfig
from ggen_desktop.logging_setup import quiet_library_loggers
from ggen_desktop.net.node import MarketplaceNode

FAST = QueryConfig(default_timeout=3.0, grace_period=0.5)


@pytest.fixture(autouse=True, scope="session")
def _quiet_dht_libraries() -> None:
    """As the app does: peers leaving is normal, so kademlia's per-peer warnings do not fill reports."""
    quiet_library_loggers()


def slow_search(node: MarketplaceNode, delay: float) -> None:
    """Make a node answer searches only after `delay` seconds (a slow, distant peer)."""
    original = node.protocol.rpc_search

    async def delayed(*args: object) -> object:
        await asyncio.sleep(delay)
        return original(*args)  # type: ignore[arg-type]

    node.protocol.rpc_search = delayed  # type: ignore[method-assign]


def forget_locally(node: MarketplaceNode) -> None:
    """Drop the records a node holds and has discovered, so a search must ask the network."""
    node.storage.clear()
    node.discovered.clear()


@contextlib.asynccontextmanager
async def joined_pair(first_host: str, joiner_host: str) -> AsyncIterator[tuple[MarketplaceNode, MarketplaceNode]]:
    """Two nodes on two loopback hosts, the second joined through the first; both stopped after."""
    first, joiner = MarketplaceNode(query_config=FAST), MarketplaceNode(query_config=FAST)
    await first.start(0, [], first_host)
    try:
        await joiner.start(0, [first.address], joiner_host)
        try:
            yield first, joiner
        finally:
            await joiner.stop()
    finally:
        await first.stop()


Network = Callable[..., Awaitable[list[MarketplaceNode]]]


@pytest_asyncio.fixture
async def network() -> AsyncIterator[Network]:
    """`await network(n, ksize=…)` starts n nodes, each bootstrapping from the first ones; all stopped after."""
    started: list[MarketplaceNode] = []

    async def build(count: int, ksize: int = 20, config: QueryConfig = FAST) -> list[MarketplaceNode]:
        nodes: list[MarketplaceNode] = []
        for _ in range(count):
            node = MarketplaceNode(query_config=config, ksize=ksize)
            started.append(node)
            await node.start(0, [n.address for n in nodes[:3]])
            nodes.append(node)
        return nodes

    yield build
    for node in started:
        await node.stop()


@pytest.fixture
def publisher() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def silent_peer() -> Iterator[Node]:
    """A contact whose UDP socket is open but never answers (a crashed or firewalled peer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield Node(os.urandom(20), *sock.getsockname())
    sock.close()
