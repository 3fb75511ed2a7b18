"""The key index walks keys nearest-first exactly as a full sort would, and the hand-over range
never leaves out a key that §2.5's test (the protocol's `_owed`) says a newcomer is owed."""

from __future__ import annotations

import os
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ggen_desktop.core.key_space import KeyIndex, KeyRange, handover_range, shared_prefix_bits

ids = st.binary(min_size=20, max_size=20)


def as_int(key: bytes) -> int:
    return int.from_bytes(key, "big")


def near_id(base: bytes, shared: int, rng: random.Random) -> bytes:
    """An id sharing exactly `shared` leading bits with `base` (random below that)."""
    if shared >= 160:
        return base
    flip = 1 << (159 - shared)
    low = rng.getrandbits(159 - shared)
    return ((as_int(base) ^ flip) >> (159 - shared) << (159 - shared) | low).to_bytes(20, "big")


def owed(newcomer: bytes, key: bytes, contacts: list[bytes], own: bytes, k: int) -> bool:
    """The protocol's `_owed`, on plain ints: the newcomer is nearer than the k-th nearest contact,
    and we are nearer than the nearest one."""
    if not contacts:
        return True
    target = as_int(key)
    nearest = sorted(contacts, key=lambda c: as_int(c) ^ target)[:k]
    return (as_int(newcomer) ^ target < as_int(nearest[-1]) ^ target
            and as_int(own) ^ target < as_int(nearest[0]) ^ target)


def test_shared_prefix_bits() -> None:
    a = bytes(20)
    assert shared_prefix_bits(a, a) == 160
    assert shared_prefix_bits(a, b"\x80" + bytes(19)) == 0
    assert shared_prefix_bits(a, bytes(2) + b"\x10" + bytes(17)) == 19
    assert (bytes(2) + b"\x10" + bytes(17)) in KeyRange(a, 19) and (b"\x01" + bytes(19)) not in KeyRange(a, 8)


@settings(max_examples=200)
@given(st.lists(ids, max_size=60), ids, st.integers(0, 70), st.none() | st.tuples(ids, st.integers(0, 12)))
def test_near_is_the_xor_sort_of_the_keys(keys: list[bytes], target: bytes, limit: int,
                                         within: tuple[bytes, int] | None) -> None:
    index = KeyIndex()
    for key in keys:
        index.add(key)
    span = None if within is None else KeyRange(*within)
    expected = sorted({k for k in keys if span is None or k in span}, key=lambda k: as_int(k) ^ as_int(target))
    assert index.near(target, limit, span) == expected[:limit]


def test_keys_are_added_once_and_dropped() -> None:
    index = KeyIndex()
    key = os.urandom(20)
    index.add(key)
    index.add(key)
    assert len(index) == 1 and key in index
    index.discard(key)
    index.discard(key)
    assert len(index) == 0 and key not in index and index.near(key, 5) == []


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 5), st.integers(0, 10), st.integers(0, 12))
def test_every_owed_key_is_in_the_handover_range(rng: random.Random, k: int, depth: int, newcomer_shared: int) -> None:
    """A routing table of up to k contacts per shared-prefix length (as kademlia's buckets hold), a
    newcomer at some distance, keys both spread out and near us: the brute-force test never finds an
    owed key outside the range."""
    own = rng.randbytes(20)
    contacts = [near_id(own, p, rng) for p in range(depth) for _ in range(rng.randint(0, k + 1))]
    newcomer = near_id(own, newcomer_shared, rng)
    keys = [rng.randbytes(20) for _ in range(40)] + [near_id(own, rng.randint(0, 16), rng) for _ in range(40)]
    span = handover_range(newcomer, own, contacts, k)
    for key in keys:
        if owed(newcomer, key, contacts, own, k):
            assert span is not None and key in span


def test_in_a_full_table_only_our_neighbourhood_can_be_owed() -> None:
    """Why the index pays: with 12 full buckets a newcomer farther from us than our nearest contacts is
    owed nothing, and a nearer one only keys sharing 12 bits with us (1/4096 of the space)."""
    rng = random.Random(7)
    own, k = rng.randbytes(20), 20
    contacts = [near_id(own, p, rng) for p in range(12) for _ in range(k)]
    keys = [near_id(own, rng.randint(0, 24), rng) for _ in range(3000)]
    for shared in (0, 3, 9):
        far = near_id(own, shared, rng)
        assert handover_range(far, own, contacts, k) is None
        assert not any(owed(far, key, contacts, own, k) for key in keys)
    close = near_id(own, 14, rng)
    span = handover_range(close, own, contacts, k)
    assert span == KeyRange(own, 12)
    owed_keys = [key for key in keys if owed(close, key, contacts, own, k)]
    assert owed_keys and all(key in span for key in owed_keys)


def test_with_no_contacts_every_key_is_owed() -> None:
    span = handover_range(os.urandom(20), os.urandom(20), [], 20)
    assert span is not None and span.bits == 0
