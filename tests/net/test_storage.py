"""Validated storage: verified records only, under the keys they belong to, bounded and expiring."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ggen_desktop.core.query import Query
from ggen_desktop.core.record import sign
from ggen_desktop.net.storage import (
    PAGE_RECORDS,
    RecordStorage,
    StorageRefused,
    keyword_key,
    package_dht_key,
)
from tests.helpers.packages import make_package, make_record


def test_many_versions_and_publishers_share_a_key(publisher) -> None:
    storage = RecordStorage()
    key = package_dht_key("acme/cli")
    v1 = make_record("acme/cli", "CLI", publisher, version="1.0.0")
    v2 = make_record("acme/cli", "CLI", publisher, version="2.0.0")
    other = make_record("acme/cli", "CLI", version="9.0.0")  # same name, another key: another package
    for record in (v1, v2, other, v2):
        storage.add(key, record.encoded, sender="peer")
    assert {r.identity for r in storage.records(key)} == {v1.identity, v2.identity, other.identity}
    assert len(storage) == 3
    assert storage.get(key) == other.encoded  # plain find_value gets the newest


@pytest.mark.parametrize("value", [[1, 2], "text", 42, b"not json", b"{}"])
def test_junk_values_are_refused_as_invalid(value: object) -> None:
    with pytest.raises(StorageRefused) as refused:
        RecordStorage().add(package_dht_key("acme/cli"), value, sender="peer")
    assert refused.value.invalid


def test_tampered_and_misfiled_records_are_refused(publisher) -> None:
    record = make_record("acme/cli", "CLI tool", publisher)
    storage = RecordStorage()
    with pytest.raises(StorageRefused, match="signature"):
        storage.add(package_dht_key("acme/cli"), record.encoded.replace(b"CLI tool", b"CLI fool"))
    with pytest.raises(StorageRefused, match="does not belong"):
        storage.add(keyword_key("database"), record.encoded)
    storage[keyword_key("database")] = record.encoded  # kademlia's path: logged, not raised
    assert len(storage) == 0


def test_caps_per_key_per_peer_and_total(publisher) -> None:
    records = [make_record(f"acme/tool{i}", f"Widget {i}", publisher, tags=("widget",)) for i in range(5)]
    key = keyword_key("widget")
    per_key = RecordStorage(max_per_key=2)
    per_key.add(key, records[0].encoded)
    per_key.add(key, records[1].encoded)
    with pytest.raises(StorageRefused, match="already holds 2") as refused:
        per_key.add(key, records[2].encoded)
    assert not refused.value.invalid
    per_peer = RecordStorage(max_per_peer=1)
    per_peer.add(key, records[0].encoded, sender="greedy")
    with pytest.raises(StorageRefused, match="peer greedy"):
        per_peer.add(key, records[1].encoded, sender="greedy")
    per_peer.add(key, records[1].encoded, sender="other")
    total = RecordStorage(max_total=1)
    total.add(key, records[0].encoded)
    with pytest.raises(StorageRefused, match="full"):
        total.add(key, records[1].encoded)


def test_records_expire(publisher) -> None:
    now = [1000.0]
    storage = RecordStorage(ttl=60, clock=lambda: now[0])
    record = make_record("acme/cli", "CLI", publisher)
    storage.add(package_dht_key("acme/cli"), record.encoded, sender="peer")
    now[0] += 61
    assert storage.records(package_dht_key("acme/cli")) == []
    assert len(storage) == 0  # swept
    storage.add(package_dht_key("acme/cli"), record.encoded, sender="peer")  # the peer's quota was given back


def test_search_applies_the_query_and_pages(publisher) -> None:
    storage = RecordStorage()
    key = keyword_key("widget")
    for i in range(30):
        storage.add(key, make_record(f"acme/tool{i}", f"Widget {i}", publisher, tags=("widget",),
                                     description="x" * 400).encoded)
    storage.add(key, make_record("acme/zzz", "Widget odd", publisher, tags=("widget", "odd")).encoded)
    pages, page = [], 0
    while page is not None:
        found, page = storage.search(key, Query(tags=("widget",)), page, page_bytes=8000)
        assert sum(len(r) for r in found) <= 8000
        pages.append(found)
    assert len(pages) > 1 and sum(len(p) for p in pages) == 31
    assert len(storage.search(key, Query(tags=("odd",)))[0]) == 1


def test_an_older_signed_copy_cannot_roll_back_a_newer_one(publisher) -> None:
    """A replayed old copy is genuine (same key), so not invalid, but it neither replaces nor refreshes."""
    now = [1000.0]
    storage = RecordStorage(ttl=60, clock=lambda: now[0])
    key = package_dht_key("acme/cli")
    old = sign(replace(make_package("acme/cli", "CLI"), updated_at=1_700_000_000), publisher)
    new = sign(replace(make_package("acme/cli", "CLI, better described"), updated_at=1_700_000_500), publisher)
    storage.add(key, new.encoded, sender="peer")
    now[0] += 50
    assert storage.add(key, old.encoded, sender="replayer") == new
    assert storage.records(key) == [new]
    now[0] += 20  # the replay did not extend the entry's life
    assert storage.records(key) == []


def test_a_page_holds_at_most_page_records_however_small_they_are(publisher) -> None:
    storage = RecordStorage()
    key = keyword_key("widget")
    for i in range(PAGE_RECORDS + 10):
        storage.add(key, make_record(f"acme/t{i}", "Widget", publisher, tags=("widget",)).encoded)
    first, after = storage.search(key, Query(tags=("widget",)))
    assert len(first) == PAGE_RECORDS and after == PAGE_RECORDS
    rest, end = storage.search(key, Query(tags=("widget",)), after)
    assert len(rest) == 10 and end is None
