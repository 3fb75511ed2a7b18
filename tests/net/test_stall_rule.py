"""The stall rule the search and node lookups share: when a request stops holding a lookup up."""

from __future__ import annotations

import os

import pytest
from kademlia.node import Node

from ggen_desktop.core.reputation import ReputationBook
from ggen_desktop.net.stall_rule import (
    KNOWN_STALL_FACTOR,
    MIN_STALL_S,
    REORDER_SHARE,
    UNKNOWN_PEER_STALL_S,
    UNKNOWN_STALL_FACTOR,
    StallRule,
    reputation_key,
)


def peer(port: int) -> Node:
    return Node(os.urandom(20), "127.0.0.1", port)


def test_a_measured_peer_is_judged_by_its_own_round_trips_with_a_floor() -> None:
    book = ReputationBook()
    slow, fast = peer(1), peer(2)
    book.record_success(reputation_key(slow), 400.0)
    book.record_success(reputation_key(fast), 1.0)
    rule = StallRule(book, [])
    assert rule.measured(slow) and rule.stall_after(slow) == pytest.approx(KNOWN_STALL_FACTOR * 0.4)
    assert rule.stall_after(fast) == MIN_STALL_S


def test_a_peer_never_measured_is_judged_by_the_lookups_round_trips_then_its_candidates_then_the_nodes() -> None:
    book = ReputationBook()
    stranger, known = peer(1), peer(2)
    book.record_success(reputation_key(known), 100.0)
    assert StallRule(book, []).stall_after(stranger) == UNKNOWN_PEER_STALL_S  # nothing known at all
    assert StallRule(book, [], recent=[0.2] * 10).stall_after(stranger) == pytest.approx(UNKNOWN_STALL_FACTOR * 0.2)
    from_candidates = StallRule(book, [known], recent=[0.2] * 10)  # the candidates' own measures come first
    assert from_candidates.stall_after(stranger) == pytest.approx(UNKNOWN_STALL_FACTOR * 0.1)
    for rtt in [0.03] * 9 + [0.3]:  # the lookup's own round trips replace both: their p90
        from_candidates.observe(rtt)
    assert from_candidates.stall_after(stranger) == pytest.approx(UNKNOWN_STALL_FACTOR * 0.03)
    from_candidates.observe(0.3)
    assert from_candidates.stall_after(stranger) == pytest.approx(UNKNOWN_STALL_FACTOR * 0.3)


def test_a_request_stalls_once_one_sent_with_it_or_after_it_has_been_answered_and_it_is_late_by_that_round_trip() -> None:
    # RACK (RFC 8985): evidence from a later request, not the clock's floor, on a path of 1 ms round trips
    book = ReputationBook()
    silent, quick = peer(1), peer(2)
    book.record_success(reputation_key(silent), 1.0)
    rule = StallRule(book, [])
    assert rule.stalls_at(silent, 10.0) == 10.0 + MIN_STALL_S  # nothing answered yet: the clock decides
    rule.observe(0.002, sent_at=9.0)  # an answer to a request sent before it says nothing about it
    assert rule.stalls_at(silent, 10.0) == 10.0 + MIN_STALL_S
    rule.observe(0.001, sent_at=10.0)  # sent in the same turn, answered after 1 ms
    assert rule.stalls_at(silent, 10.0) == pytest.approx(10.0 + 0.001 + REORDER_SHARE * 0.001)
    assert rule.stalls_at(quick, 10.5) == 10.5 + MIN_STALL_S  # sent after the latest answered request: the clock
