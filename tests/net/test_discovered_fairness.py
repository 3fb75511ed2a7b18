"""Discovered records are bounded fairly: a flood pushes out the flooder's own records.

Issue 10 item 5: "discovered records capped with fair eviction". The parties are
the publisher key and the sender's network (/24), so neither many keys from one
network nor one key relayed by many peers can push out what others published.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.record import SignedRecord
from ggen_desktop.net.discovered import DiscoveredRecords
from tests.helpers.packages import make_record

LIMIT = 20


def _records(limit: int = LIMIT) -> DiscoveredRecords:
    return DiscoveredRecords(lambda record, peer: None, lambda identity: False, limit=limit)


def _honest() -> list[tuple[SignedRecord, str]]:
    """Five publishers, each seen from its own network."""
    return [(make_record(f"honest{i}/tool"), f"10.0.{i}.0/24") for i in range(5)]


def test_many_keys_from_one_network_evict_that_networks_records() -> None:
    discovered = _records()
    honest = _honest()
    for record, group in honest:
        discovered.add(record, "peer", group)
    flood = [make_record(f"squat{i}/rust", key=Ed25519PrivateKey.generate()) for i in range(60)]  # 60 keys
    for record in flood:
        discovered.add(record, "sybil", "203.0.113.0/24")
    kept = set(discovered.records())
    assert len(kept) == LIMIT
    assert {record for record, _ in honest} <= kept
    assert kept - {record for record, _ in honest} == set(flood[-(LIMIT - 5):])  # the flood's newest stay


def test_one_key_relayed_from_many_networks_evicts_that_keys_records() -> None:
    discovered = _records()
    honest = _honest()
    for record, group in honest:
        discovered.add(record, "peer", group)
    key = Ed25519PrivateKey.generate()
    for i in range(60):
        discovered.add(make_record(f"squat/rust{i}", key=key), "relay", f"198.51.{i}.0/24")
    kept = set(discovered.records())
    assert {record for record, _ in honest} <= kept
    assert len(kept) == LIMIT


def test_a_newcomer_is_kept_when_the_list_is_full_of_one_partys_records() -> None:
    discovered = _records()
    key = Ed25519PrivateKey.generate()
    for i in range(LIMIT):
        discovered.add(make_record(f"squat/rust{i}", key=key), "sybil", "203.0.113.0/24")
    newcomer = make_record("honest/late")
    discovered.add(newcomer, "peer", "10.9.9.0/24")
    assert newcomer in discovered.records() and len(discovered.records()) == LIMIT


def test_a_record_seen_again_from_another_network_moves_party_and_stays_bounded() -> None:
    discovered = _records(limit=3)
    records = [make_record(f"acme/tool{i}") for i in range(3)]
    for record in records:
        discovered.add(record, "a", "10.0.0.0/24")
    discovered.add(records[0], "b", "10.0.1.0/24")  # now from another network, most recently seen
    discovered.add(make_record("acme/new"), "c", "10.0.2.0/24")
    assert set(discovered.records()) == {records[0], records[2], *[r for r in discovered.records() if r.package.id.name == "new"]}
    assert discovered.sourced()[0][0] == records[2]
