"""Validated storage: verified records only, under the keys they belong to, bounded and expiring,
and shared fairly among source addresses: no network or publisher can push out the others."""

from __future__ import annotations

import random
import tracemalloc
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.key_space import handover_range
from ggen_desktop.core.query import Query
from ggen_desktop.core.record import SignedRecord, sign
from ggen_desktop.net.storage import (
    MAX_PER_KEY,
    PAGE_RECORDS,
    RecordStorage,
    StorageRefused,
    keyword_key,
    package_dht_key,
    record_keys,
)
from tests.core.test_key_space import near_id, owed
from tests.helpers.packages import make_package, make_record

WIDGET = keyword_key("widget")


def widgets(prefix: str, count: int, key: Ed25519PrivateKey | None = None) -> list[SignedRecord]:
    return [make_record(f"{prefix}/w{i}", "Widget", key, tags=("widget",)) for i in range(count)]


def test_many_versions_and_publishers_share_a_key(publisher) -> None:
    storage = RecordStorage()
    key = package_dht_key("acme/cli")
    v1 = make_record("acme/cli", "CLI", publisher, version="1.0.0")
    v2 = make_record("acme/cli", "CLI", publisher, version="2.0.0")
    other = make_record("acme/cli", "CLI", version="9.0.0")  # same name, another key: another package
    for record in (v1, v2, other, v2):
        storage.add(key, record.encoded, sender="203.0.113.1")
    assert {r.identity for r in storage.records(key)} == {v1.identity, v2.identity, other.identity}
    assert len(storage) == 3
    assert storage.get(key) == other.encoded  # plain find_value gets the newest


@pytest.mark.parametrize("value", [[1, 2], "text", 42, b"not json", b"{}"])
def test_junk_values_are_refused_as_invalid(value: object) -> None:
    with pytest.raises(StorageRefused) as refused:
        RecordStorage().add(package_dht_key("acme/cli"), value, sender="203.0.113.1")
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


def test_hard_caps_per_address_and_per_network(publisher) -> None:
    """Counted by the address a store came from: a claimed node id changes nothing, for there is none."""
    records = [make_record(f"acme/tool{i}", f"Widget {i}", publisher, tags=("widget",)) for i in range(8)]
    key = keyword_key("widget")
    per_ip = RecordStorage(max_per_source=2)
    per_ip.add(key, records[0].encoded, sender="127.5.5.9")
    per_ip.add(key, records[1].encoded, sender="127.5.5.9")
    for spelling in ("127.5.5.9", "::ffff:127.5.5.9"):
        with pytest.raises(StorageRefused, match="127.5.5.9 already stored 2 records") as refused:
            per_ip.add(key, records[2].encoded, sender=spelling)
        assert not refused.value.invalid
    per_ip.add(key, records[2].encoded, sender="127.5.5.10")  # another host of the same network
    per_net = RecordStorage(max_per_group=3)
    for i in range(3):
        per_net.add(key, records[i].encoded, sender=f"127.5.5.{i}")
    with pytest.raises(StorageRefused, match=r"network 127\.5\.5\.0/24 already stored 3"):
        per_net.add(key, records[3].encoded, sender="127.5.5.200")
    per_net.add(key, records[3].encoded, sender="127.5.6.1")
    v6 = RecordStorage(max_per_group=1)
    v6.add(key, records[4].encoded, sender="2001:db8:1:1::1")
    with pytest.raises(StorageRefused, match=r"network 2001:db8:1::/48"):
        v6.add(key, records[5].encoded, sender="2001:db8:1:ffff::1")  # another /64 of the same /48
    v6.add(key, records[5].encoded, sender="2001:db8:2::1")


def test_own_records_are_exempt_from_caps_and_a_full_key_of_them_refuses_with_reason(publisher) -> None:
    key = keyword_key("widget")
    records = [make_record(f"acme/tool{i}", f"Widget {i}", publisher, tags=("widget",)) for i in range(3)]
    storage = RecordStorage(max_per_key=2, max_per_source=1)
    storage.add(key, records[0].encoded)
    storage.add(key, records[1].encoded)
    with pytest.raises(StorageRefused, match="already holds 2 records and no network or publisher"):
        storage.add(key, records[2].encoded, sender="203.0.113.1")
    total = RecordStorage(max_total=1)
    total.add(key, records[0].encoded)
    with pytest.raises(StorageRefused, match="storage is full"):
        total.add(key, records[1].encoded, sender="203.0.113.1")


def test_records_expire(publisher) -> None:
    now = [1000.0]
    storage = RecordStorage(ttl=60, clock=lambda: now[0])
    record = make_record("acme/cli", "CLI", publisher)
    storage.add(package_dht_key("acme/cli"), record.encoded, sender="203.0.113.1")
    now[0] += 61
    assert storage.records(package_dht_key("acme/cli")) == []
    assert len(storage) == 0  # swept
    storage.add(package_dht_key("acme/cli"), record.encoded, sender="203.0.113.1")  # the peer's quota was given back


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
    storage.add(key, new.encoded, sender="203.0.113.1")
    now[0] += 50
    assert storage.add(key, old.encoded, sender="198.51.100.9") == new
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


def test_one_network_filling_the_storage_cannot_lock_out_another(publisher) -> None:
    """Every host of 127.5.5.0/24 fills the storage; each record from another network still gets in,
    taken from the full network's share; that network's next record is the one refused."""
    storage = RecordStorage(max_total=300)
    flood = [make_record(f"flood/p{i}", "Flood", publisher) for i in range(300)]
    for i, record in enumerate(flood):
        storage.add(package_dht_key(str(record.package.id)), record.encoded, sender=f"127.5.5.{i % 256}")
    assert len(storage) == 300
    newcomers = [make_record(f"honest/p{i}", "Honest", tags=("widget",)) for i in range(4)]
    for record, ip in zip(newcomers, ["127.6.6.1", "10.0.0.1", "2001:db8::1", "198.51.100.4"], strict=True):
        for key in record_keys(record):
            storage.add(key, record.encoded, sender=ip)
    assert len(storage) == 300 and storage.evicted == sum(len(record_keys(r)) for r in newcomers)
    assert all(storage.records(package_dht_key(str(r.package.id))) == [r] for r in newcomers)
    with pytest.raises(StorageRefused, match="no network holds more than its share"):
        extra = make_record("flood/extra", "Flood", publisher)
        storage.add(package_dht_key("flood/extra"), extra.encoded, sender="127.5.5.77")


@pytest.mark.parametrize(("publishers", "networks"), [(16, 1), (16, 16), (300, 1)],
                         ids=["16-publishers-one-network", "16-publishers-16-networks", "300-sybil-publishers"])
def test_a_flood_under_one_keyword_does_not_push_out_an_honest_publisher(publishers: int, networks: int) -> None:
    """Over MAX_PER_KEY valid records from many publisher keys (free to make) under one keyword,
    before and after two honest records; the flooders also replay the honest record as their own."""
    storage = RecordStorage()
    before = make_record("honest/before", "Widget", tags=("widget",))
    after = make_record("honest/after", "Widget", tags=("widget",))
    storage.add(WIDGET, before.encoded, sender="198.51.100.7")
    keys = [Ed25519PrivateKey.generate() for _ in range(publishers)]
    flood = [make_record(f"flood/w{i}", "Widget", keys[i % publishers], tags=("widget",))
             for i in range(max(MAX_PER_KEY + 64, publishers))]
    refused = 0
    for i, record in enumerate(flood):
        ip = f"127.5.{i % networks}.{i % 251}"
        try:
            storage.add(WIDGET, record.encoded, sender=ip)
        except StorageRefused as exc:
            assert not exc.invalid and "holds more than its share" in str(exc)
            refused += 1
        storage.add(WIDGET, before.encoded, sender=ip)  # a replay: still the honest network's entry
        if i == MAX_PER_KEY:
            storage.add(WIDGET, after.encoded, sender="192.0.2.9")
    held = storage.records(WIDGET)
    assert before in held and after in held
    assert len(held) == MAX_PER_KEY
    assert refused > 0 or storage.evicted > 0


def test_within_one_network_the_publisher_holding_most_yields(publisher) -> None:
    """A hand-over brings a whole key from one address; a newcomer publisher from that same network
    takes room from the publisher with most records there, not from the one with few."""
    storage = RecordStorage(max_per_key=10)
    few = make_record("few/w", "Widget", tags=("widget",))
    storage.add(WIDGET, few.encoded, sender="203.0.113.5")
    for record in widgets("many", 9, publisher):
        storage.add(WIDGET, record.encoded, sender="203.0.113.5")
    newcomer = make_record("new/w", "Widget", tags=("widget",))
    storage.add(WIDGET, newcomer.encoded, sender="203.0.113.5")
    held = storage.records(WIDGET)
    assert few in held and newcomer in held and len(held) == 10
    assert sum(r.fingerprint == few.fingerprint for r in held) == 1


def test_a_publisher_keeps_its_newest_versions_under_a_key(publisher) -> None:
    key = package_dht_key("acme/cli")
    versions = [make_record("acme/cli", "CLI", publisher, version=f"1.{i}.0") for i in range(6)]
    storage = RecordStorage()
    for record in versions:
        storage.add(key, record.encoded, sender="203.0.113.1")
    assert [str(r.package.version) for r in storage.records(key)] == ["1.2.0", "1.3.0", "1.4.0", "1.5.0"]
    with pytest.raises(StorageRefused, match="4 newer versions of acme/cli") as refused:
        storage.add(key, versions[0].encoded, sender="198.51.100.1")
    assert not refused.value.invalid
    other = make_record("acme/cli", "CLI", version="0.1.0")  # another publisher's package of that name
    storage.add(key, other.encoded, sender="198.51.100.1")
    assert other in storage.records(key)


def test_thirty_thousand_invalid_stores_grow_nothing(publisher) -> None:
    """Junk, forged, misfiled and malformed stores, each from a new address: nothing is kept or counted."""
    storage = RecordStorage()
    good = make_record("acme/cli", "CLI tool", publisher)
    storage.add(package_dht_key("acme/cli"), good.encoded, sender="203.0.113.1")
    key = package_dht_key("acme/cli")
    cheap = [(key, b"junk"), (key, b"{}"), (key, b'{"format":2}'), (b"short", good.encoded), (key, [1, 2]),
             (key, good.encoded[:-2]), (key, b"x" * 5000), (None, b"")]
    costly = [(key, good.encoded.replace(b"CLI tool", b"CLI fool")), (keyword_key("database"), good.encoded)]
    before = storage.footprint()
    tracemalloc.start()
    try:
        for i in range(30_000):
            if i == 1000:
                baseline = tracemalloc.get_traced_memory()[0]
            store_key, value = costly[i % 2] if i % 20 == 0 else cheap[i % len(cheap)]
            try:
                storage.add(store_key, value, sender=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")  # type: ignore[arg-type]
            except StorageRefused as refused:
                assert refused.invalid
            else:
                pytest.fail(f"stored {value!r}")
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert storage.footprint() == before and storage.records(key) == [good]
    assert grown < 64 * 1024  # 29,000 more refusals left no per-address or per-key state behind


def test_refused_valid_stores_leave_nothing_behind(publisher) -> None:
    """A full storage refusing records under new keys must not keep empty entries for those keys."""
    storage = RecordStorage(max_total=1)
    storage.add(WIDGET, make_record("a/w", "Widget", publisher, tags=("widget",)).encoded, sender="203.0.113.1")
    for i in range(50):
        record = make_record(f"b/w{i}", "Widget", publisher)
        with pytest.raises(StorageRefused, match="full"):
            storage.add(package_dht_key(f"b/w{i}"), record.encoded, sender="203.0.113.1")
    assert storage.footprint() == {"records": 1, "keys": 1, "indexed_keys": 1, "sources": 1, "groups": 1,
                                   "evicted": 0}


def test_own_records_are_never_evicted_for_a_peer(publisher) -> None:
    storage = RecordStorage(max_total=3)
    mine = widgets("mine", 2, publisher)
    for record in mine:
        storage.put(WIDGET, record)
    storage.add(WIDGET, make_record("peer/a", "Widget", tags=("widget",)).encoded, sender="203.0.113.1")
    with pytest.raises(StorageRefused, match="full"):
        storage.add(WIDGET, make_record("peer/b", "Widget", tags=("widget",)).encoded, sender="198.51.100.1")
    storage.put(WIDGET, widgets("mine-too", 1, publisher)[0])  # ours takes the peer's room
    assert {r.package.id.name for r in storage.records(WIDGET)} == {"w0", "w1"} and len(storage) == 3


def test_a_republish_from_a_smaller_network_takes_over_the_entry(publisher) -> None:
    """An entry belongs to the smaller of the networks that stored it, so a flooder that stored an honest
    record first cannot keep it in its own large share, to be evicted from there."""
    storage = RecordStorage(max_total=20)
    honest = make_record("honest/w", "Widget", tags=("widget",))
    storage.add(WIDGET, honest.encoded, sender="127.5.5.1")  # the flooder stores it first
    for record in widgets("flood", 19, publisher):
        storage.add(WIDGET, record.encoded, sender="127.5.5.2")
    storage.add(WIDGET, honest.encoded, sender="198.51.100.3")  # the publisher republishes
    for i in range(30):  # then stores from new networks, each taking room from the largest while it can
        try:
            storage.add(package_dht_key(f"more/p{i}"), make_record(f"more/p{i}", "More", publisher).encoded,
                        sender=f"127.{6 + i}.0.1")
        except StorageRefused as exc:
            assert "no network holds more than its share" in str(exc)
    assert storage.evicted == 18  # the flooding network is down to one record, like everyone else
    assert honest in storage.records(WIDGET)


def test_keys_near_walks_stored_keys_nearest_first_and_forgets_dropped_ones(publisher) -> None:
    now = [1000.0]
    storage = RecordStorage(ttl=60, clock=lambda: now[0])
    records = [make_record(f"acme/k{i}", "Thing", publisher) for i in range(30)]
    for record in records:
        storage.add(package_dht_key(str(record.package.id)), record.encoded, sender="203.0.113.1")
    target = package_dht_key("acme/k7")
    keys = [package_dht_key(str(r.package.id)) for r in records]
    nearest = sorted(keys, key=lambda k: int.from_bytes(k, "big") ^ int.from_bytes(target, "big"))
    assert storage.keys_near(target, 5) == nearest[:5] and storage.keys_near(target, 100) == nearest
    now[0] += 61
    assert storage.keys_near(target, 5) == []


def test_the_handover_index_finds_exactly_what_the_full_scan_finds(publisher) -> None:
    """Against the protocol's per-key test over every stored key, on a node with full buckets."""
    rng = random.Random(3)
    storage = RecordStorage()
    for i in range(400):
        record = make_record(f"acme/spread{i}", "Spread", publisher)
        storage.put(package_dht_key(str(record.package.id)), record)
    own, k = rng.randbytes(20), 4
    contacts = [near_id(own, p, rng) for p in range(5) for _ in range(k)]
    every_key = storage.keys_near(own, 10**6)
    assert len(every_key) == 400
    some_owed = 0
    for newcomer in [near_id(own, p, rng) for p in range(12) for _ in range(3)]:
        full_scan = {key for key in every_key if owed(newcomer, key, contacts, own, k)}
        span = handover_range(newcomer, own, contacts, k)
        candidates = [] if span is None else storage.keys_near(newcomer, 10**6, span)
        assert {key for key in candidates if owed(newcomer, key, contacts, own, k)} == full_scan
        assert len(candidates) <= 400 // 16  # keys sharing 5 bits with us: ~1/32 of them
        some_owed += len(full_scan)
    assert some_owed > 0


def test_a_page_lets_every_network_and_publisher_take_turns() -> None:
    """256 records under a keyword from one /24 and 16 publisher keys, stored first: the one record from
    another network is second on the first page, and within one network a small publisher is not
    buried under a large one."""
    storage = RecordStorage()
    key = keyword_key("rust")
    squatters = [Ed25519PrivateKey.generate() for _ in range(16)]
    for i in range(MAX_PER_KEY - 1):
        record = make_record(f"squat/rust-{i}", "Rust", squatters[i % 16], tags=("rust",))
        storage.add(key, record.encoded, sender=f"127.66.2.{i % 4 + 1}")
    honest = make_record("acme/rust-cli", "Rust CLI", Ed25519PrivateKey.generate(), tags=("rust",))
    storage.add(key, honest.encoded, sender="203.0.113.7")
    first, _ = storage.search(key, Query(text="rust"))
    assert first.index(honest.encoded) == 1

    lone = make_record("solo/rust-tool", "Rust tool", Ed25519PrivateKey.generate(), tags=("rust",))
    storage.add(key, lone.encoded, sender="127.66.2.9")  # the key is full: one squatter record yields
    first, _ = storage.search(key, Query(text="rust"))
    assert first.index(honest.encoded) == 1 and first.index(lone.encoded) < 2 * 17
