"""The holder tally agrees with a plain count after any sequence of changes, and yields only when
taking from the largest holder makes the shares more even."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ggen_desktop.core.fair_share import Holders

parties = st.sampled_from(["a", "b", "c", "d", "e"])


@given(st.lists(st.tuples(st.booleans(), parties), max_size=200), parties)
def test_the_tally_matches_a_plain_count(steps: list[tuple[bool, str]], newcomer: str) -> None:
    holders, model = Holders(), Counter[str]()
    for adding, party in steps:
        if adding:
            holders.add(party)
            model[party] += 1
        elif model[party]:
            holders.remove(party)
            model[party] -= 1
        model = +model  # drop zero counts
        assert len(holders) == len(model)
        assert all(holders.count(p) == model[p] for p in "abcdef")
        largest = holders.largest()
        if not model:
            assert largest is None
        else:
            assert largest is not None and largest[1] == max(model.values()) == model[largest[0]]
    victim = holders.should_yield(newcomer)
    if model and max(model.values()) > model[newcomer] + 1:
        assert victim is not None and model[victim] == max(model.values())
    else:
        assert victim is None


def test_equal_shares_refuse_and_a_larger_one_yields() -> None:
    holders = Holders()
    for party in ("a", "b", "c"):
        holders.add(party)
    assert holders.should_yield("new") is None  # everyone holds one: taking would only swap
    holders.add("a")
    assert holders.should_yield("new") == "a"
    assert holders.should_yield("a") is None  # the largest never yields to itself
    assert holders.should_yield("b") is None  # 2 is not more than one beyond b's 1


def test_removing_what_is_not_held_is_an_error() -> None:
    with pytest.raises(KeyError):
        Holders().remove("nobody")
