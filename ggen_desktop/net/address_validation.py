"""Which peer addresses have shown that they receive what we send (BEP 5 tokens, QUIC's address validation).

A UDP source address is a claim: anyone can forge it and aim our answers at a
victim. An address is verified when it answered a request of ours (only a host
receiving there could read our random message id) or sent back a token we gave
its IP. Until then it gets small answers only: no more bytes than its datagram
had (`answer_budget`), and no stores, search pages or values. With the one ping
that verifies it, our reaction to any datagram stays within QUIC's 3×
(`amplification_budget`), and a forged source, which never answers, receives
less than the forger sent.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from ggen_desktop.core.address_token import AddressTokens, amplification_budget
from ggen_desktop.net.address_policy import AddressPolicy

VERIFIED_TTL_S = 600.0  # as long as a token can live: after that an address proves itself again
MAX_VERIFIED = 10_000


def answer_budget(request_bytes: int) -> int:
    """The largest answer for an unverified address: what it sent us, a third of QUIC's budget."""
    return amplification_budget(request_bytes) // 3


class AddressValidation:
    """Verified parties (bounded, least recently verified forgotten first) and the tokens that verify them."""

    def __init__(self, policy: AddressPolicy, ttl: float = VERIFIED_TTL_S, capacity: int = MAX_VERIFIED,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.ttl = ttl
        self.capacity = capacity
        self._clock = clock
        self.tokens = AddressTokens(clock=clock)
        self._verified: OrderedDict[str, float] = OrderedDict()  # party -> when it last proved itself

    def is_verified(self, ip: str, port: int) -> bool:
        at = self._verified.get(self.policy.party(ip, port))
        return at is not None and self._clock() - at < self.ttl

    def mark_verified(self, ip: str, port: int) -> None:
        """The address answered a request of ours, or sent back its token."""
        party = self.policy.party(ip, port)
        self._verified[party] = self._clock()
        self._verified.move_to_end(party)
        while len(self._verified) > self.capacity:
            self._verified.popitem(last=False)

    def token_for(self, ip: str) -> bytes:
        """A token for `ip` to send back with a costly request (a store, a search page)."""
        return self.tokens.issue(ip)

    def accept_token(self, token: object, ip: str, port: int) -> bool:
        """Whether `token` was issued to `ip`; a valid one verifies the address."""
        if not self.tokens.check(token, ip):
            return False
        self.mark_verified(ip, port)
        return True

    def __len__(self) -> int:
        return len(self._verified)
