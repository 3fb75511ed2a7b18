"""Token buckets per address: the rate holds over any sequence of requests, memory stays bounded,
and a flooder cannot shed its debt or spend another network's budget."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ggen_desktop.core.rate_limit import AddressLimiter, TokenBucketLimiter
from tests.helpers.clock import ManualClock


def test_a_burst_then_the_refill_rate() -> None:
    clock = ManualClock(1000.0)
    limiter = TokenBucketLimiter(rate=2.0, burst=5.0, clock=clock)
    assert [limiter.allow("1.2.3.4") for _ in range(6)] == [True] * 5 + [False]
    clock.now += 1.0  # two tokens back
    assert [limiter.allow("1.2.3.4") for _ in range(3)] == [True, True, False]
    assert limiter.allow("5.6.7.8")  # another key has its own bucket
    clock.now += 100.0
    assert limiter.available("1.2.3.4") == 5.0  # refills up to the burst, no further
    assert not limiter.allow("1.2.3.4", cost=5.5)
    assert limiter.allow("1.2.3.4", cost=5.0)


def test_a_refused_request_spends_nothing() -> None:
    clock = ManualClock(1000.0)
    limiter = TokenBucketLimiter(rate=1.0, burst=3.0, clock=clock)
    assert limiter.allow("k", cost=2.0)
    assert not limiter.allow("k", cost=2.0)
    assert limiter.allow("k", cost=1.0)


def test_a_clock_that_steps_back_grants_nothing() -> None:
    clock = ManualClock(1000.0)
    limiter = TokenBucketLimiter(rate=1.0, burst=2.0, clock=clock)
    assert limiter.allow("k", cost=2.0)
    clock.now -= 3600.0
    assert not limiter.allow("k")
    clock.now += 1.0
    assert limiter.allow("k")


@given(st.lists(st.tuples(st.floats(0.0, 5.0), st.floats(0.0, 4.0)), max_size=60),
       st.floats(0.1, 10.0), st.floats(1.0, 20.0))
def test_allowed_cost_never_exceeds_burst_plus_rate_times_time(steps: list[tuple[float, float]], rate: float,
                                                                burst: float) -> None:
    clock = ManualClock(1000.0)
    limiter = TokenBucketLimiter(rate=rate, burst=burst, clock=clock)
    start, spent = clock.now, 0.0
    for wait, cost in steps:
        clock.now += wait
        before = limiter.available("k")
        allowed = limiter.allow("k", cost)
        assert allowed == (before >= cost)
        spent += cost if allowed else 0.0
        assert spent <= burst + rate * (clock.now - start) + 1e-9


def test_memory_is_bounded_by_max_keys() -> None:
    limiter = TokenBucketLimiter(rate=1.0, burst=1.0, max_keys=100, clock=ManualClock(1000.0))
    for i in range(20_000):
        assert limiter.allow(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    assert len(limiter) == 100 and limiter.evicted == 19_900


def test_a_flooder_that_keeps_asking_is_not_the_bucket_evicted() -> None:
    """Eviction takes the least recently used bucket; a refused request counts as use, so the
    flooder's empty bucket stays and other addresses passing through cannot reset it."""
    limiter = TokenBucketLimiter(rate=0.001, burst=2.0, max_keys=3, clock=ManualClock(1000.0))
    assert limiter.allow("flooder", cost=2.0)
    for i in range(50):
        assert limiter.allow(f"passer-{i}")
        assert not limiter.allow("flooder")
    assert len(limiter) == 3


def test_one_network_shares_one_budget_and_leaves_others_alone() -> None:
    clock = ManualClock(1000.0)
    limiter = AddressLimiter(TokenBucketLimiter(rate=1.0, burst=4.0, clock=clock),
                             TokenBucketLimiter(rate=1.0, burst=10.0, clock=clock))
    allowed = [ip for ip in (f"127.5.5.{i}" for i in range(256)) if limiter.allow(ip)]
    assert len(allowed) == 10  # 256 addresses of one /24 got the group's 10, not 256 × 4
    assert limiter.allow("127.5.6.1")  # the next /24 has its own budget
    assert [limiter.allow("127.7.7.7") for _ in range(5)] == [True] * 4 + [False]  # and each IP its own
    assert not limiter.allow("::ffff:127.7.7.7")  # the mapped spelling is the same host


def test_a_group_refusal_spends_none_of_the_ips_tokens() -> None:
    clock = ManualClock(1000.0)
    limiter = AddressLimiter(TokenBucketLimiter(rate=1.0, burst=3.0, clock=clock),
                             TokenBucketLimiter(rate=1.0, burst=3.0, clock=clock))
    for i in range(3):
        assert limiter.allow(f"203.0.113.{i}")
    assert not limiter.allow("203.0.113.200")
    assert limiter.per_ip.available("203.0.113.200") == 3.0


def test_ipv6_groups_are_48_bit_networks() -> None:
    clock = ManualClock(1000.0)
    limiter = AddressLimiter(TokenBucketLimiter(rate=1.0, burst=1.0, clock=clock),
                             TokenBucketLimiter(rate=1.0, burst=2.0, clock=clock))
    assert limiter.allow("2001:db8:1:1::1") and limiter.allow("2001:db8:1:ffff::1")
    assert not limiter.allow("2001:db8:1:abcd::9")  # the same /48, however many /64s it has
    assert limiter.allow("2001:db8:2::1")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate=0.0, burst=1.0)
    with pytest.raises(ValueError, match="negative"):
        TokenBucketLimiter(rate=1.0, burst=1.0).allow("k", -1.0)
    with pytest.raises(ValueError, match="not an IP address"):
        AddressLimiter(TokenBucketLimiter(1.0, 1.0), TokenBucketLimiter(1.0, 1.0)).allow("node-id-hex")
