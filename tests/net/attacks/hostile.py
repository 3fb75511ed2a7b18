"""An attacker's node on the wire: it answers as its owner likes and counts what reaches it."""

from __future__ import annotations

import asyncio
import os
from typing import Any, cast

import umsgpack

from ggen_desktop.core.node_id import make_node_id

REQ, RESP = b"\x00", b"\x01"


def id_near(ip: str, target: bytes, rand: int) -> bytes:
    """The id nearest to `target` that BEP 42 lets a host at `ip` use with `rand` as its last byte: the top
    21 bits are fixed by the address, the rest can copy the target's."""
    prefix = make_node_id(ip, rand)
    return prefix[:2] + bytes([(prefix[2] & 0xF8) | (target[2] & 0x07)]) + target[3:19] + bytes([rand])


class HostilePeer(asyncio.DatagramProtocol):
    """Answers pings with the id it claims now, searches with no records, and contact requests with
    `contacts` (invented ones, if its owner wishes); stores are acknowledged and dropped."""

    def __init__(self, node_id: bytes) -> None:
        self.id = node_id
        self.contacts: list[list[Any]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.bytes_received = 0
        self.requests_received: list[str] = []
        self.unanswered: frozenset[str] = frozenset()  # requests it drops (it may answer pings to get known)
        # answers packed once per id and list of contacts: the attacker's own CPU shares the victim's loop in
        # these tests, where it would not on a network
        self._packed: tuple[bytes, object, dict[str, bytes]] = (b"", None, {})

    @classmethod
    async def open(cls, ip: str, node_id: bytes | None = None) -> HostilePeer:
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_datagram_endpoint(lambda: cls(node_id or make_node_id(ip)), local_addr=(ip, 0))
        return peer

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")
        return host, port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.bytes_received += len(data)
        if data[:1] != REQ:
            return
        name, _args = umsgpack.unpackb(data[21:])
        self.requests_received.append(name)
        answers = self._answers()
        if name in answers and name not in self.unanswered and self.transport is not None:
            self.transport.sendto(RESP + data[1:21] + answers[name], addr)

    def _answers(self) -> dict[str, bytes]:
        packed_id, packed_contacts, answers = self._packed
        if packed_id != self.id or packed_contacts is not self.contacts:
            answers = {name: umsgpack.packb(answer) for name, answer in {
                "ping": self.id, "store": True, "find_node": self.contacts, "find_value": self.contacts,
                "search": {"records": [], "next": None, "nodes": self.contacts}}.items()}
            self._packed = (self.id, self.contacts, answers)
        return answers

    def send(self, to: tuple[str, int], name: str, args: list[Any]) -> int:
        """Fire one request and forget it; returns its size in bytes."""
        assert self.transport is not None
        data = REQ + os.urandom(20) + umsgpack.packb([name, args])
        self.transport.sendto(data, to)
        return len(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
