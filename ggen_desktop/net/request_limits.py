"""How much work one party may cost us: token buckets per address for requests, probes and gossip.

libtorrent limits DHT requests per IP; here each request spends a token from
its party's bucket and from its network's (/24), before its body is even
decoded, so a flood costs a dictionary look-up per datagram. The ping that
verifies an address (a probe) is limited per party too: a forged source cannot
make us ping its victim more than once a minute. Parties are named by
`AddressPolicy` (an IP; for an exempt loopback or private address, each port).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ggen_desktop.core.rate_limit import AddressLimiter, TokenBucketLimiter
from ggen_desktop.net.address_policy import AddressPolicy

# An honest peer's busiest moment is a hand-over (up to 512 stores, MAX_HANDOVER) or a publish
# (~10 keys, each a crawl and a store): a burst of 600 covers either; 50/s is far above its average.
# A store costs a signature check (~0.1 ms), so one party's flood costs under 1% of a core.
REQUESTS_PER_S = 50.0
REQUEST_BURST = 600.0
GROUP_REQUESTS_PER_S = 100.0  # a /24: a few hosts of one network
GROUP_REQUEST_BURST = 1200.0
PROBE_INTERVAL_S = 60.0  # one verifying ping per party per minute
PROBES_PER_S = 20.0  # all parties together: what we send unasked stays bounded
PROBE_BURST = 100.0
ANNOUNCES_PER_S = 1.0  # gossip is a hint; a publisher announces each new record once
ANNOUNCE_BURST = 10.0
_ALL = "all"


class RequestLimits:
    """`allow_request`, `allow_probe`, `allow_announce`: each spends from the party's buckets or says no."""

    def __init__(self, policy: AddressPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._requests = AddressLimiter(TokenBucketLimiter(REQUESTS_PER_S, REQUEST_BURST, clock=clock),
                                        TokenBucketLimiter(GROUP_REQUESTS_PER_S, GROUP_REQUEST_BURST, clock=clock))
        self._probes = TokenBucketLimiter(1.0 / PROBE_INTERVAL_S, 1.0, clock=clock)
        self._all_probes = TokenBucketLimiter(PROBES_PER_S, PROBE_BURST, max_keys=1, clock=clock)
        self._announces = TokenBucketLimiter(ANNOUNCES_PER_S, ANNOUNCE_BURST, clock=clock)

    def allow_request(self, ip: str, port: int) -> bool:
        return self._requests.allow_keys(self.policy.party(ip, port), self.policy.group(ip, port))

    def allow_probe(self, ip: str, port: int) -> bool:
        if self._all_probes.available(_ALL) < 1.0:
            return False
        return self._probes.allow(self.policy.party(ip, port)) and self._all_probes.allow(_ALL)

    def allow_announce(self, ip: str, port: int) -> bool:
        return self._announces.allow(self.policy.party(ip, port))

    def tracked(self) -> int:
        """Buckets held (each kind is bounded by its limiter's max_keys)."""
        return (len(self._requests.per_ip) + len(self._requests.per_group) + len(self._probes)
                + len(self._announces))
