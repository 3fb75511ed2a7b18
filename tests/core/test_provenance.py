"""Publisher continuity: which key published a name first, since which version, how many releases; bounded."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.provenance import TOUCH_INTERVAL_S, ProvenanceBook, Sighting
from tests.helpers.packages import make_record

OWNER = Ed25519PrivateKey.generate()
IMPOSTOR = Ed25519PrivateKey.generate()


def test_the_same_key_since_its_lowest_version_with_each_release_counted_once() -> None:
    book = ProvenanceBook()
    releases = [make_record(key=OWNER, version=v) for v in ("1.2.0", "1.0.0", "1.1.0", "2.0.0-rc.1")]
    changes = book.observe_records(releases, at=100.0)
    assert [s.version for s in changes.new] == ["1.2.0", "1.0.0", "1.1.0", "2.0.0-rc.1"]
    assert not book.observe_records(releases, at=101.0)  # seen again soon: nothing to write
    continuity = book.continuity("acme/rust-cli", releases[0].fingerprint)
    assert continuity.summary() == "signed by the same key since 1.0.0 (4 releases)"
    assert not continuity.flagged and continuity.earlier_keys == continuity.later_keys == ()


def test_a_name_seen_from_another_key_first_is_flagged_even_when_only_the_new_key_is_asked_about() -> None:
    book = ProvenanceBook()
    original = make_record(key=OWNER, version="1.0.0")
    book.observe_records([original], at=100.0)
    impostor = make_record(key=IMPOSTOR, version="9.0.0")
    book.observe_records([impostor], at=200.0)  # later, and alone
    flagged = book.continuity("acme/rust-cli", impostor.fingerprint)
    assert flagged.flagged
    assert [h.fingerprint for h in flagged.earlier_keys] == [original.fingerprint]
    assert flagged.earlier_keys[0].first_seen == 100.0 and flagged.earlier_keys[0].first_version == "1.0.0"
    owner = book.continuity("acme/rust-cli", original.fingerprint)
    assert not owner.flagged and [h.fingerprint for h in owner.later_keys] == [impostor.fingerprint]
    unknown = book.continuity("acme/rust-cli", "0" * 16)
    assert unknown.flagged and unknown.summary() == "not seen before"


def test_a_pair_seen_again_is_touched_at_most_once_per_interval() -> None:
    book = ProvenanceBook()
    record = make_record(key=OWNER)
    book.observe_records([record], at=0.0)
    assert book.observe_records([record], at=TOUCH_INTERVAL_S - 1).touched == []
    assert book.observe_records([record], at=TOUCH_INTERVAL_S).touched == [("acme/rust-cli", record.fingerprint,
                                                                             TOUCH_INTERVAL_S)]
    assert book.history("acme/rust-cli")[0].last_seen == TOUCH_INTERVAL_S


def test_versions_per_key_are_capped_and_the_count_says_at_least() -> None:
    book = ProvenanceBook(max_versions_per_key=3)
    book.observe_records([make_record(key=OWNER, version=f"1.0.{n}") for n in range(5)], at=1.0)
    [history] = book.history("acme/rust-cli")
    assert history.releases == 3 and history.capped and history.releases_text == "at least 3 releases"
    assert len(book) == 3


def test_the_least_recently_seen_names_are_forgotten_first_and_the_store_is_told() -> None:
    book = ProvenanceBook(max_sightings=4)
    for n in range(4):
        book.observe_records([make_record(f"acme/p{n}", key=OWNER)], at=float(n))
    book.observe_records([make_record("acme/p0", key=OWNER)], at=10.0)  # p0 seen again: p1 is now the oldest
    changes = book.observe_records([make_record("acme/p9", key=OWNER)], at=11.0)
    assert changes.forgotten == ["acme/p1"] and [s.name for s in changes.new] == ["acme/p9"]
    assert len(book) == 4 and book.history("acme/p1") == []
    assert {s.name for s in book.sightings()} == {"acme/p0", "acme/p2", "acme/p3", "acme/p9"}


def test_loading_keeps_first_and_last_seen_and_applies_the_bounds() -> None:
    book = ProvenanceBook(max_sightings=2)
    fp = make_record(key=OWNER).fingerprint
    kept = [Sighting("acme/a", fp, "1.0.0", 1.0, 50.0), Sighting("acme/b", fp, "1.0.0", 2.0, 5.0),
            Sighting("acme/c", fp, "1.0.0", 3.0, 60.0)]
    dropped = book.load(kept)
    assert dropped.forgotten == ["acme/b"] and not dropped.new
    assert sorted(book.sightings(), key=lambda s: s.name) == [kept[0], kept[2]]
    assert book.first_seen("acme/a", fp, "1.0.0") == 1.0 and book.first_seen("acme/a", fp, "2.0.0") is None
