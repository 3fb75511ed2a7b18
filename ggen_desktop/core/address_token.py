"""Proof that a peer receives datagrams at the address it sends from (BEP 5 tokens, QUIC's 3× rule).

A UDP source address is a claim: anyone can forge it and aim our answers at a
victim. So an unverified address gets answers no larger than
`amplification_budget` of what it sent (QUIC, RFC 9000 §8), and the costly
things (a store, a large answer page, a hand-over) need a token we gave that
address earlier: only a host that receives there could have read it. A token is
HMAC-SHA256 over the packed IP under a secret replaced every 5 minutes;
the current and the previous secret are accepted, so a token lives 5 to 10
minutes (BEP 5: "tokens up to ten minutes old are accepted"). It is bound to the
IP alone, not the port, as in BEP 5, since a NAT may change the port between
two requests.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable

from ggen_desktop.core.address import IPAddress, parse_ip

SECRET_ROTATION_S = 300.0
SECRET_BYTES = 32
TOKEN_BYTES = 16  # HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows truncating to half)
AMPLIFICATION_FACTOR = 3  # QUIC (RFC 9000 §8.1): at most 3× the bytes received from an unverified address


def amplification_budget(received_bytes: int) -> int:
    """The most we may send to an address not yet proven to receive: three times what it sent us."""
    return AMPLIFICATION_FACTOR * max(0, received_bytes)


class AddressTokens:
    """Issues and checks tokens bound to an IP; secrets rotate lazily on use, by the injected clock."""

    def __init__(self, rotation_s: float = SECRET_ROTATION_S, clock: Callable[[], float] = time.monotonic) -> None:
        if rotation_s <= 0:
            raise ValueError("rotation_s must be positive")
        self.rotation_s = rotation_s
        self._clock = clock
        self._current = os.urandom(SECRET_BYTES)
        self._previous = os.urandom(SECRET_BYTES)  # random, so nothing from before we started is accepted
        self._rotated_at = clock()

    def issue(self, ip: str | IPAddress) -> bytes:
        """A token for `ip` to send back with its next costly request. Raises ValueError if `ip` is not an IP."""
        self._rotate()
        return self._mac(self._current, ip)

    def check(self, token: object, ip: str | IPAddress) -> bool:
        """Whether `token` (anything a datagram carried) was issued to `ip` under the current or previous
        secret; compared in constant time."""
        address = parse_ip(ip)
        if not isinstance(token, bytes) or len(token) != TOKEN_BYTES:
            return False
        self._rotate()
        # Both comparisons always run, so timing does not tell which secret matched.
        current = hmac.compare_digest(token, self._mac(self._current, address))
        previous = hmac.compare_digest(token, self._mac(self._previous, address))
        return current | previous

    def _rotate(self) -> None:
        periods = int((self._clock() - self._rotated_at) // self.rotation_s)
        if periods <= 0:
            return  # also when the clock stepped back: keep the secrets until it catches up
        self._previous = self._current if periods == 1 else os.urandom(SECRET_BYTES)
        self._current = os.urandom(SECRET_BYTES)
        self._rotated_at += periods * self.rotation_s

    @staticmethod
    def _mac(secret: bytes, ip: str | IPAddress) -> bytes:
        return hmac.new(secret, parse_ip(ip).packed, hashlib.sha256).digest()[:TOKEN_BYTES]
