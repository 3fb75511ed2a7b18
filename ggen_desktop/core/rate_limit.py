"""Token buckets per source address, in bounded memory: how much work one IP (or one /24) may cost us.

Each key has a bucket of `burst` tokens refilled at `rate` per second; a request
costing `cost` is allowed when that many tokens are there. Buckets are kept in
least-recently-used order and at most `max_keys` of them: a flood from many
addresses evicts the idlest bucket, which has had the longest to refill and so
loses the least (a bucket idle for burst/rate seconds is full, the same as a new
one). Keys are addresses, never claimed node ids (libtorrent limits per IP too).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from ggen_desktop.core.address import address_group, canonical_ip

DEFAULT_MAX_KEYS = 10_000


class TokenBucketLimiter:
    """`allow(key, cost)` spends tokens from `key`'s bucket, or says no and spends nothing."""

    def __init__(self, rate: float, burst: float, max_keys: int = DEFAULT_MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst <= 0 or max_keys < 1:
            raise ValueError("rate and burst must be positive and max_keys at least 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self.evicted = 0  # buckets dropped to stay within max_keys

    def available(self, key: str) -> float:
        """Tokens `key` could spend now (a key not tracked has a full bucket); changes nothing."""
        entry = self._buckets.get(key)
        if entry is None:
            return self.burst
        tokens, at = entry
        return min(self.burst, tokens + max(0.0, self._clock() - at) * self.rate)

    def allow(self, key: str, cost: float = 1.0) -> bool:
        """Spend `cost` tokens of `key`'s bucket if it has them; a cost above `burst` is never allowed.

        A refused key still counts as just used, so a flooder's empty bucket is not the one evicted.
        """
        if cost < 0:
            raise ValueError(f"cost must not be negative, got {cost}")
        tokens = self.available(key)
        if tokens < cost:
            if key in self._buckets:  # refilled up to now (also re-anchors it if the clock stepped back)
                self._store(key, tokens)
            return False
        self._store(key, tokens - cost)
        return True

    def _store(self, key: str, tokens: float) -> None:
        if key not in self._buckets and len(self._buckets) >= self.max_keys:
            self._buckets.popitem(last=False)
            self.evicted += 1
        self._buckets[key] = (tokens, self._clock())
        self._buckets.move_to_end(key)

    def __len__(self) -> int:
        return len(self._buckets)


class AddressLimiter:
    """Two buckets per request, its IP's and its network group's (/24, IPv6 /48); both must allow it.

    A host with a whole /24 gets the group's rate, not 256 times the per-IP rate.
    """

    def __init__(self, per_ip: TokenBucketLimiter, per_group: TokenBucketLimiter) -> None:
        self.per_ip = per_ip
        self.per_group = per_group

    def allow(self, ip: str, cost: float = 1.0) -> bool:
        """Spend `cost` from both buckets of `ip`, or from neither. Raises ValueError if `ip` is not an IP."""
        return self.allow_keys(canonical_ip(ip), address_group(ip), cost)

    def allow_keys(self, host: str, group: str, cost: float = 1.0) -> bool:
        """As `allow`, for a host and its group named by the caller (a loopback peer counted per port)."""
        if self.per_group.available(group) < cost:
            return self.per_group.allow(group, cost)  # refused, and the throttled bucket stays recent
        # The group's tokens only grow until the second call, so it cannot refuse what it just had.
        return self.per_ip.allow(host, cost) and self.per_group.allow(group, cost)
