"""Address tokens: only the address a token was issued to can use it, for 5 to 10 minutes;
and an unverified address is owed at most three times what it sent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ggen_desktop.core.address_token import (
    AMPLIFICATION_FACTOR,
    SECRET_ROTATION_S,
    TOKEN_BYTES,
    AddressTokens,
    amplification_budget,
)
from tests.helpers.clock import ManualClock


def test_a_token_is_good_for_its_ip_only() -> None:
    tokens = AddressTokens(clock=ManualClock(50.0))
    token = tokens.issue("203.0.113.7")
    assert len(token) == TOKEN_BYTES
    assert tokens.check(token, "203.0.113.7")
    assert tokens.check(token, "::ffff:203.0.113.7")  # the same host, spelt as IPv6
    assert not tokens.check(token, "203.0.113.8")
    assert not tokens.check(token, "2001:db8::7")
    assert not AddressTokens(clock=ManualClock(50.0)).check(token, "203.0.113.7")  # another node's secret


def test_a_token_lives_through_one_rotation_and_not_two() -> None:
    clock = ManualClock(50.0)
    tokens = AddressTokens(clock=clock)
    token = tokens.issue("198.51.100.1")
    clock.now += SECRET_ROTATION_S - 1
    assert tokens.check(token, "198.51.100.1")
    clock.now += 2  # one rotation: the previous secret still answers
    assert tokens.check(token, "198.51.100.1")
    fresh = tokens.issue("198.51.100.1")
    assert fresh != token
    clock.now += SECRET_ROTATION_S  # a second rotation: gone
    assert not tokens.check(token, "198.51.100.1")
    assert tokens.check(fresh, "198.51.100.1")


def test_a_long_silence_forgets_every_old_token() -> None:
    clock = ManualClock(50.0)
    tokens = AddressTokens(clock=clock)
    token = tokens.issue("198.51.100.1")
    clock.now += 7 * SECRET_ROTATION_S
    assert not tokens.check(token, "198.51.100.1")


def test_a_clock_stepping_back_keeps_tokens_valid() -> None:
    clock = ManualClock(50.0)
    tokens = AddressTokens(clock=clock)
    token = tokens.issue("198.51.100.1")
    clock.now -= 10_000
    assert tokens.check(token, "198.51.100.1")


@pytest.mark.parametrize("claimed", [b"", b"\0" * TOKEN_BYTES, b"\0" * 32, "token", None, 7, [b"x"]])
def test_whatever_a_datagram_carries_as_a_token_is_checked_without_error(claimed: object) -> None:
    assert AddressTokens().check(claimed, "203.0.113.7") is False


@given(st.binary(min_size=TOKEN_BYTES, max_size=TOKEN_BYTES))
def test_a_guessed_token_fails(guess: bytes) -> None:
    tokens = AddressTokens()
    assert tokens.check(guess, "203.0.113.7") == (guess == tokens.issue("203.0.113.7"))


def test_the_ip_must_be_an_ip() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        AddressTokens().issue("peer.example")


@pytest.mark.parametrize(("received", "budget"), [(0, 0), (1, 3), (100, 300), (1200, 3600), (-5, 0)])
def test_the_amplification_budget_is_three_times_what_was_received(received: int, budget: int) -> None:
    assert AMPLIFICATION_FACTOR == 3
    assert amplification_budget(received) == budget
