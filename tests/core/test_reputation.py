"""The seed's reputation score moves the right way on every kind of answer."""

import pytest

from ggen_desktop.core.reputation import INVALID_PENALTY_S, PeerStats, ReputationBook
from tests.helpers.clock import ManualClock


def test_score_weights_match_the_seed() -> None:
    perfect = PeerStats("p", successes=10, avg_rtt_ms=5.0, packages_provided=100, last_seen=50.0)
    assert abs(perfect.score(now=50.0) - 1.0) < 1e-9
    unknown = PeerStats("q")
    # success prior 0.5, unknown speed 0.5, nothing provided, never seen
    assert abs(unknown.score(now=50.0) - (0.5 * 0.5 + 0.25 * 0.5)) < 1e-9


def test_timeouts_lower_the_score_and_successes_raise_it() -> None:
    book = ReputationBook(clock=ManualClock(1_000_000.0))
    book.record_success("good", rtt_ms=10.0, packages=3)
    book.record_timeout("slow")
    book.record_timeout("slow")
    assert book.score("good") > book.score("never-asked") > book.score("slow")
    assert book.peers["slow"].timeouts == 2


def test_rtt_is_an_exponential_moving_average_weighting_the_newest_sample_0_3() -> None:
    book = ReputationBook(clock=ManualClock(1_000_000.0))
    averages = []
    for rtt_ms in (100.0, 0.0, 50.0):
        book.record_success("p", rtt_ms=rtt_ms)
        averages.append(book.peers["p"].avg_rtt_ms)
    # the first sample is the average; then 0.3·new + 0.7·old: 0.7·100 = 70, then 0.3·50 + 0.7·70 = 64
    assert averages == [100.0, pytest.approx(70.0, rel=1e-12), pytest.approx(64.0, rel=1e-12)]


def test_liar_is_avoided_for_a_while_then_forgiven() -> None:
    clock = ManualClock(1_000_000.0)
    book = ReputationBook(clock=clock)
    book.record_success("liar", rtt_ms=5.0)
    before = book.score("liar")
    book.record_invalid("liar", count=2)
    assert book.score("liar") < before
    assert book.is_avoided("liar")
    assert book.rank(["liar", "other"]) == ["other"]
    clock.now += INVALID_PENALTY_S * 12 + 1
    assert not book.is_avoided("liar")


def test_block_and_unblock() -> None:
    book = ReputationBook(clock=ManualClock(1_000_000.0))
    book.set_blocked("p", True)
    assert book.rank(["p"]) == []
    book.set_blocked("p", False)
    assert book.rank(["p"]) == ["p"]


def test_adaptive_timeout_follows_rtt_within_bounds() -> None:
    book = ReputationBook(clock=ManualClock(1_000_000.0))
    assert book.timeout_for("new", 10.0) == 10.0
    book.record_success("fast", rtt_ms=1.0)
    assert book.timeout_for("fast", 10.0) == 0.25
    book.record_success("slow", rtt_ms=1000.0)
    assert book.timeout_for("slow", 10.0) == 4.0


def test_listeners_hear_every_update_and_stats_round_trip() -> None:
    book = ReputationBook(clock=ManualClock(1_000_000.0))
    heard: list[str] = []
    book.listeners.append(lambda s: heard.append(s.peer_id))
    book.record_success("a", 3.0)
    book.record_failure("b")
    book.record_invalid("c")
    assert heard == ["a", "b", "c"]
    stats = book.peers["a"]
    assert PeerStats.from_dict({**stats.to_dict(), "unknown_future_field": 1}) == stats


def test_the_book_stays_bounded_and_forgets_the_least_useful_first() -> None:
    """Peers are named by address and addresses are cheap: 30,000 one-off peers leave at most max_peers
    rows, and the ones that answered (or that the user blocked) are the ones kept."""
    clock = ManualClock(1_000_000.0)
    book = ReputationBook(clock=clock, max_peers=100)
    book.record_success("useful", rtt_ms=10.0, packages=5)
    book.set_blocked("blocked", True)
    for i in range(30_000):
        clock.now += 1.0
        book.record_invalid(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}:4000")
    assert len(book.peers) <= 100
    assert {"useful", "blocked"} <= set(book.peers)
    assert book.forgotten >= 30_000 - 100
    assert book.peers["blocked"].is_avoided(clock.now)
