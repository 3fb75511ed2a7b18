"""Runs inside one of the lab's namespaces: a real MarketplaceNode, driven by JSON commands on stdin.

One command per line, one JSON answer per line:
  {"cmd": "start", "port": 7000, "interface": "0.0.0.0", "bootstrap": [[ip, port]], "check": true,
   "port_mapping": true, "client_mode": false}          -> {"ok": true, "address": [...], "node_id": hex}
  {"cmd": "status"}   -> {"ok": true, "reachability": {...}, "contacts": [[id, host, port]], "client_mode": bool}
  {"cmd": "publish", "id": "acme/x", "title": "...", "tags": ["t"]} -> {"ok": true, "replicas": n}
  {"cmd": "search", "text": "x"}                        -> {"ok": true, "ids": [package ids found]}
  {"cmd": "holds", "id": "acme/x"}                      -> {"ok": true, "holds": bool} (a replica in its storage)
End of stdin stops the node (its port mapping is removed) and exits 0.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for tests.helpers

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import package_dht_key
from tests.helpers.packages import make_record

CONFIG = QueryConfig(default_timeout=4.0, grace_period=0.5)


class Agent:
    def __init__(self) -> None:
        self.node: MarketplaceNode | None = None
        self.key = Ed25519PrivateKey.generate()

    def _node(self) -> MarketplaceNode:
        if self.node is None:
            raise RuntimeError("start the node first")
        return self.node

    async def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        name = command["cmd"]
        if name == "start":
            self.node = MarketplaceNode(query_config=CONFIG, remember_contacts=False,
                                        check_reachability=bool(command.get("check")),
                                        port_mapping=bool(command.get("port_mapping")),
                                        client_mode=bool(command.get("client_mode")))
            await self.node.start(int(command["port"]), [tuple(p) for p in command.get("bootstrap", [])],
                                  command.get("interface", "0.0.0.0"))
            return {"address": list(self.node.address), "node_id": self.node.node_id_hex}
        node = self._node()
        if name == "status":
            reach = node.reachability
            return {"reachability": {"state": reach.state.value, "external": reach.external, "how": reach.how.value,
                                     "detail": reach.detail, "text": reach.describe()},
                    "contacts": node.contacts(), "client_mode": node.protocol.client_mode, "node_id": node.node_id_hex,
                    "mapping": node.reach.mapping.external_address if node.reach.mapping else None}
        if name == "publish":
            record = make_record(command["id"], command["title"], self.key, tags=tuple(command.get("tags", ())))
            report = await node.publish(record)
            return {"replicas": report.replicas}
        if name == "search":
            handle = node.search(Query(text=command["text"]))
            ids = sorted({str(event.hit.record.package.id) async for event in handle})
            return {"ids": ids}
        if name == "holds":
            return {"holds": bool(node.storage.records(package_dht_key(command["id"])))}
        raise ValueError(f"unknown command {name!r}")


async def main() -> int:
    agent = Agent()
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            command = json.loads(line)
            try:
                answer = {"ok": True, **await agent.handle(command)}
            except Exception as exc:  # reported to the test, which shows it
                answer = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
            print(json.dumps(answer), flush=True)
    finally:
        if agent.node is not None:
            await agent.node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
