"""AutoNAT-style dial-back: can a datagram from a socket we never talked to reach us at the address peers see?

A NAT lets in answers from the very address we sent to, so "a peer answered
me" proves nothing about being reachable. So we ask a peer to send, from a
fresh UDP socket of its own, one `dial_probe` request carrying our random
nonce to the address it observes us at; we are reachable there when that
nonce arrives (our evidence, not the peer's word).

Serving it must not make us a reflector: the target is always the requester's
own observed address (no other address can be named), the requester must have
shown it receives there (an unverified one gets only a token challenge, so a
forged source gets nothing bigger than it sent), each party gets at most
DIAL_BACKS_PER_WINDOW per DIAL_BACK_WINDOW_S, and at most MAX_CONCURRENT run at
once. One dial-back sends one ~50-byte datagram and a ~30-byte answer for a
~50-byte request: under QUIC's 3x.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from ggen_desktop.core.rate_limit import TokenBucketLimiter
from ggen_desktop.net.rpc_transport import HEADER_BYTES, MSG_ID_BYTES, REQUEST, RESPONSE, CheckedRpcProtocol, pack

log = logging.getLogger(__name__)

NONCE_BYTES = 16
DIAL_WAIT_S = 1.5  # how long the serving peer waits for the probe's answer
DIAL_BACK_WINDOW_S = 60.0
DIAL_BACKS_PER_WINDOW = 4  # a check, a re-check after a port mapping, and a spare or two
MAX_CONCURRENT = 8
MAX_EXPECTED = 16  # nonces a requester waits for at once


def _is_nonce(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == NONCE_BYTES


class DialBack:
    """Both sides of the dial-back on one protocol: serves `dial_back` and `dial_probe`, and asks for one."""

    def __init__(self, protocol: CheckedRpcProtocol) -> None:
        self.protocol = protocol
        self._limits = TokenBucketLimiter(DIAL_BACKS_PER_WINDOW / DIAL_BACK_WINDOW_S, DIAL_BACKS_PER_WINDOW)
        self._running = 0
        self._expected: dict[bytes, asyncio.Future[tuple[str, int]]] = {}
        self.served = 0
        self.refused = 0
        protocol.register_rpc("dial_back", (_is_nonce,), self._rpc_dial_back, takes_token=True)
        protocol.register_rpc("dial_probe", (_is_nonce,), self._rpc_dial_probe)

    # -- asking ---------------------------------------------------------------------------------------

    async def check(self, peer: tuple[str, int], timeout: float = DIAL_WAIT_S + 2.0) -> bool | None:
        """Ask `peer` to dial us back: True when its probe reached us from another socket than the one we
        asked, False when the peer answered but no probe arrived, None when the peer did not answer."""
        if len(self._expected) >= MAX_EXPECTED:
            return None
        nonce = os.urandom(NONCE_BYTES)
        arrived: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        self._expected[nonce] = arrived
        try:
            ok, answer = await self.protocol.request(peer, "dial_back", [nonce], timeout)
            if not ok or not isinstance(answer, dict) or "reached" not in answer:
                return None
            try:  # the probe was sent before the answer; allow it a moment on another path
                source = await asyncio.wait_for(asyncio.shield(arrived), timeout=0.5)
            except TimeoutError:
                return False
            return source != (peer[0], peer[1])
        finally:
            self._expected.pop(nonce, None)
            arrived.cancel()

    def _rpc_dial_probe(self, sender: tuple[str, int], nonce: bytes) -> bool:
        """A peer dials back as we asked: the nonce says which check it answers (unknown ones: False)."""
        arrived = self._expected.get(nonce)
        if arrived is None or arrived.done():
            return False
        arrived.set_result((sender[0], sender[1]))
        return True

    # -- serving ---------------------------------------------------------------------------------------

    async def _rpc_dial_back(self, sender: tuple[str, int], nonce: bytes) -> dict[str, Any]:
        protocol = self.protocol
        if not protocol.validation.is_verified(sender[0], sender[1]):
            return protocol.challenge(sender)
        if self._running >= MAX_CONCURRENT or not self._limits.allow(protocol.policy.party(sender[0], sender[1])):
            self.refused += 1
            return {"reached": False, "refused": True}
        self._running += 1
        try:
            reached = await self._dial(sender, nonce)
        finally:
            self._running -= 1
        self.served += 1
        return {"reached": reached}

    async def _dial(self, target: tuple[str, int], nonce: bytes) -> bool:
        """One `dial_probe` from a fresh socket on our listening address to `target`; True if it was answered."""
        transport = self.protocol.transport
        if transport is None or transport.is_closing():
            return False
        host = transport.get_extra_info("sockname")[0]
        loop = asyncio.get_running_loop()
        msg_id = os.urandom(MSG_ID_BYTES)
        answered: asyncio.Future[bool] = loop.create_future()
        try:
            probe, _ = await loop.create_datagram_endpoint(lambda: _OneProbe(target, msg_id, answered),
                                                           local_addr=(host, 0))
        except OSError as exc:
            log.warning("no socket for a dial-back: %s", exc)
            return False
        try:
            data = REQUEST + msg_id + pack(["dial_probe", [nonce]])
            probe.sendto(data, target)
            self.protocol.stats["bytes_out"] += len(data)
            try:
                return await asyncio.wait_for(answered, DIAL_WAIT_S)
            except TimeoutError:
                return False
        finally:
            probe.close()


class _OneProbe(asyncio.DatagramProtocol):
    """The fresh socket's only business: the answer to its one probe, from the target address."""

    def __init__(self, target: tuple[str, int], msg_id: bytes, answered: asyncio.Future[bool]) -> None:
        self.target = target
        self.msg_id = msg_id
        self.answered = answered

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if (addr[0], addr[1]) == self.target and data[:1] == RESPONSE and data[1:HEADER_BYTES] == self.msg_id \
                and not self.answered.done():
            self.answered.set_result(True)
