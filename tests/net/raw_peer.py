"""A bare UDP socket that speaks the wire format by hand: an honest peer, or an attacker's tool."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import umsgpack

REQ, RESP = b"\x00", b"\x01"
TOKEN_RPCS = ("store", "search")  # the RPCs that take a trailing address token


class RawPeer:
    """Sends requests and reads datagrams; `call` behaves as our protocol does (answers the node's probe
    pings with `id`, meets a token challenge by sending the request once more), unless told not to.

    Counts every byte it sends and receives, for amplification figures.
    """

    def __init__(self, host: str = "127.0.0.1", node_id: bytes | None = None, answer_pings: bool = True) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.id = node_id or os.urandom(20)
        self.answer_pings = answer_pings
        self.tokens: dict[tuple[str, int], bytes] = {}
        self.bytes_sent = 0
        self.bytes_received = 0
        self.last_answer_bytes = 0  # the size of the datagram `call` returned last

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()
        return host, port

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        self.bytes_sent += len(data)
        self.sock.sendto(data, to)

    def request(self, to: tuple[str, int], name: str, args: list[Any], token: bool = True) -> bytes:
        """Send one request (with the token `to` gave us, for a store or search); returns its message id."""
        msg_id = os.urandom(20)
        if token and name in TOKEN_RPCS and to in self.tokens:
            args = [*args, self.tokens[to]]
        self.send(REQ + msg_id + umsgpack.packb([name, args]), to)
        return msg_id

    async def receive(self, timeout: float = 1.0) -> tuple[bytes, Any]:
        """The next datagram, whatever it is: (type byte and message id, decoded body)."""
        data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.sock, 65535), timeout)
        self.bytes_received += len(data)
        return data[:21], umsgpack.unpackb(data[21:])

    def _serve(self, header: bytes, payload: Any, sender: tuple[str, int]) -> None:
        """Answer a ping with `id`, and a request for contacts with none (a peer that knows nobody)."""
        if not (self.answer_pings and header[:1] == REQ and isinstance(payload, list)):
            return
        answers = {"ping": self.id, "find_node": [], "find_value": []}
        if payload[:1] and payload[0] in answers:
            self.send(RESP + header[1:] + umsgpack.packb(answers[payload[0]]), sender)

    async def _receive_from(self, timeout: float) -> tuple[bytes, Any, tuple[str, int]]:
        loop = asyncio.get_running_loop()
        data, sender = await asyncio.wait_for(loop.sock_recvfrom(self.sock, 65535), timeout)
        self.bytes_received += len(data)
        self.last_answer_bytes = len(data)
        return data[:21], umsgpack.unpackb(data[21:]), sender

    async def call(self, to: tuple[str, int], name: str, args: list[Any], timeout: float = 1.0,
                   meet_challenge: bool = True) -> Any:
        """A request and its answer; pings from the node (probes) are answered meanwhile."""
        msg_id = self.request(to, name, args)
        while True:
            header, payload, sender = await self._receive_from(timeout)
            if header != RESP + msg_id:
                self._serve(header, payload, sender)
                continue
            if meet_challenge and isinstance(payload, dict) and set(payload) == {"token"} and name in TOKEN_RPCS:
                self.tokens[to] = payload["token"]
                msg_id = self.request(to, name, args)
                meet_challenge = False
                continue
            return payload

    async def serve_for(self, seconds: float) -> None:
        """Answer pings and contact requests for a while (a peer idling between requests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                header, payload, sender = await self._receive_from(left)
            except TimeoutError:
                return
            self._serve(header, payload, sender)

    def drain(self) -> list[bytes]:
        """Every datagram already waiting, read without blocking (loopback delivers at send time)."""
        datagrams = []
        while True:
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                return datagrams
            self.bytes_received += len(data)
            datagrams.append(data)

    def close(self) -> None:
        self.sock.close()
