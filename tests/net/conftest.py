"""Fixtures for the network tests: real nodes on loopback UDP, signed sample packages."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kademlia.node import Node

from ggen_desktop.core.package import Package, PackageId, PackageMetadata, Version
from ggen_desktop.core.query import QueryConfig
from ggen_desktop.core.record import SignedRecord, sign
from ggen_desktop.logging_setup import quiet_library_loggers
from ggen_desktop.net.node import MarketplaceNode

FAST = QueryConfig(default_timeout=3.0, grace_period=0.5)


@pytest.fixture(autouse=True, scope="session")
def _quiet_dht_libraries() -> None:
    """As the app does: peers leaving is normal, so kademlia's per-peer warnings do not fill reports."""
    quiet_library_loggers()


def make_package(pid: str, title: str, version: str = "1.0.0", tags: tuple[str, ...] = (),
                 categories: tuple[str, ...] = ("Utility",), description: str = "") -> Package:
    return Package(
        id=PackageId.parse(pid),
        version=Version(version),
        metadata=PackageMetadata(title=title, description=description, tags=tags, categories=categories),
        content_hash="sha256:" + hashlib.sha256(f"{pid}@{version}".encode()).hexdigest(),
        created_at=1_700_000_000,
    )


def make_record(pid: str, title: str, key: Ed25519PrivateKey | None = None, **kwargs: object) -> SignedRecord:
    return sign(make_package(pid, title, **kwargs), key or Ed25519PrivateKey.generate())  # type: ignore[arg-type]


def big_record(pid: str, key: Ed25519PrivateKey) -> SignedRecord:
    """A record of about 3.7 KiB (near the 4 KiB cap), tagged "widget"."""
    url = "https://example.com/" + "h" * 175
    package = make_package(pid, "Widget " + "w" * 100, tags=("widget",), description="d" * 500)
    metadata = replace(package.metadata, long_description="x" * 2000, homepage=url, repository=url, documentation=url)
    return sign(replace(package, metadata=metadata), key)


def slow_search(node: MarketplaceNode, delay: float) -> None:
    """Make a node answer searches only after `delay` seconds (a slow, distant peer)."""
    original = node.protocol.rpc_search

    async def delayed(*args: object) -> object:
        await asyncio.sleep(delay)
        return original(*args)  # type: ignore[arg-type]

    node.protocol.rpc_search = delayed  # type: ignore[method-assign]


def forget_locally(node: MarketplaceNode) -> None:
    """Drop the records a node holds and has discovered, so a search must ask the network."""
    node.storage._data.clear()
    node.discovered.clear()


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
