"""A small loopback network in its own process, for tests that drive the real CLI against it.

Run: python -m tests.helpers.loopback_network NODES PACKAGES TAG
Starts NODES marketplace nodes on 127.0.0.1, publishes PACKAGES packages tagged
TAG (named acme/TAG-NN, one publisher), prints "ready HOST:PORT" (a peer to
bootstrap from) and runs until its stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.query import QueryConfig
from ggen_desktop.net.node import MarketplaceNode
from tests.helpers.packages import make_record


async def main(count: int, packages: int, tag: str) -> None:
    nodes: list[MarketplaceNode] = []
    try:
        for _ in range(count):
            node = MarketplaceNode(query_config=QueryConfig(default_timeout=3.0))
            await node.start(0, [n.address for n in nodes[:3]])
            nodes.append(node)
        key = Ed25519PrivateKey.generate()
        for i in range(packages):
            await nodes[i % count].publish(make_record(f"acme/{tag}-{i:02}", f"The {tag} number {i}", key, tags=(tag,)))
        host, port = nodes[0].address
        print(f"ready {host}:{port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the test closes stdin
    finally:
        for node in nodes:
            await node.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
