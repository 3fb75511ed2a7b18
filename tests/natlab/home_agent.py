"""Runs inside the lab's home namespace: drives ggen_desktop.net.port_mapping on the test's behalf.

One JSON command per line on stdin, one JSON answer per line on stdout:
  {"cmd": "discover", "timeout": 2}                      -> {"ok": true, "location": ..., "local_ip": ...}
  {"cmd": "echo", "port": 4000}                          -> a UDP socket that answers b"echo:" + each datagram
  {"cmd": "map", "internal_port": 4000, "external_port": 40000, "lease": 60}
                                                         -> {"ok": true, "external": [ip, port]} (a UdpPortMapping)
  {"cmd": "add", "external_port": ..., "internal_port": ..., "lease": ...}  -> one AddPortMapping, never renewed
  {"cmd": "mappings"}                                    -> {"ok": true, "mappings": [MappingEntry fields, ...]}
  {"cmd": "status"}                                      -> {"ok": true, "changes": [each on_change address],
                                                             "mappings": {port: {"renewals", "external", "location"}}}
  {"cmd": "unmap", "external_port": 40000}               -> closes that UdpPortMapping
A PortMappingError answers {"ok": false, "error": class name, "message": ..., "code": ..., "elapsed": seconds}.
End of stdin closes every mapping and exits 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from typing import Any

from ggen_desktop.net.port_mapping import Gateway, MappingRefused, PortMappingError, UdpPortMapping


class EchoProtocol(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"echo:" + data, addr)


class Agent:
    def __init__(self) -> None:
        self.gateway: Gateway | None = None
        self.mappings: dict[int, UdpPortMapping] = {}
        self.echoes: list[asyncio.DatagramTransport] = []
        self.changes: list[tuple[str, int] | None] = []

    async def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        name = command["cmd"]
        if name == "discover":
            self.gateway = await Gateway.discover(float(command.get("timeout", 3.0)))
            return {"location": self.gateway.location, "local_ip": self.gateway.local_ip}
        if name == "echo":
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                EchoProtocol, local_addr=("0.0.0.0", int(command["port"])))
            self.echoes.append(transport)
            return {}
        gateway = self.gateway
        assert gateway is not None, "discover first"
        if name == "map":
            mapping = UdpPortMapping(gateway, int(command["internal_port"]), external_port=command.get("external_port"),
                                     lease_seconds=int(command.get("lease", 60)), on_change=self.changes.append)
            ip, port = await mapping.start()
            self.mappings[port] = mapping
            return {"external": [ip, port]}
        if name == "add":
            await gateway.add_udp_mapping(int(command["external_port"]), int(command["internal_port"]),
                                          int(command["lease"]))
            return {}
        if name == "mappings":
            return {"mappings": [dataclasses.asdict(entry) for entry in await gateway.mappings()]}
        if name == "status":
            return {"changes": self.changes, "mappings": {
                port: {"renewals": m.renewals, "external": m.external_address, "location": m.gateway.location}
                for port, m in self.mappings.items()}}
        if name == "unmap":
            await self.mappings.pop(int(command["external_port"])).close()
            return {}
        raise ValueError(f"unknown command {name!r}")

    async def close(self) -> None:
        for mapping in self.mappings.values():
            await mapping.close()
        for transport in self.echoes:
            transport.close()


async def main() -> int:
    agent = Agent()
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            command = json.loads(line)
            started = time.monotonic()
            try:
                answer = {"ok": True, **await agent.handle(command)}
            except PortMappingError as exc:
                answer = {"ok": False, "error": type(exc).__name__, "message": str(exc),
                          "code": exc.code if isinstance(exc, MappingRefused) else None}
            answer["elapsed"] = time.monotonic() - started
            print(json.dumps(answer), flush=True)
    finally:
        await agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
