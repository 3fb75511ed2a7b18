"""Keyword squatting and storage flooding: one party's records cannot crowd out another's.

Before, 256 valid records from 16 keys under `rust` left an honest package
published afterwards found by 1 search in 10; and one socket with a new id per
request filled the whole storage, after which every honest record was refused.
Shares are now counted by source address and /24, a full key or storage yields
from its largest holder, and an answer page lets each network take its turn.
"""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.node_id import make_node_id
from ggen_desktop.core.query import Query
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import MAX_PER_KEY, keyword_key, package_dht_key
from tests.helpers.packages import make_record
from tests.net.attacks.conftest import Hosts
from tests.net.conftest import forget_locally
from tests.net.raw_peer import RawPeer

pytestmark = pytest.mark.asyncio

SQUAT_NETWORK = "127.66.4"


def squatters(hosts: Hosts, count: int = 4) -> list[RawPeer]:
    """Hosts of one /24 that answer probes and meet token challenges, as a careful attacker's would."""
    return [hosts.raw(f"{SQUAT_NETWORK}.{i}", node_id=make_node_id(f"{SQUAT_NETWORK}.{i}")) for i in range(1, count + 1)]


async def squat(nodes: list[MarketplaceNode], attackers: list[RawPeer], word: str, records: int = MAX_PER_KEY + 16) -> int:
    """Store `records` valid records from 16 publisher keys under the keyword on every node; returns acks."""
    keys = [Ed25519PrivateKey.generate() for _ in range(16)]
    signed = [make_record(f"squat/{word}-{i}", f"{word} tool {i}", keys[i % 16], tags=(word,)) for i in range(records)]

    async def store_share(n: int, attacker: RawPeer) -> int:
        acks = 0
        for record in signed[n :: len(attackers)]:
            for node in nodes:
                acks += await attacker.call(node.address, "store", [attacker.id, keyword_key(word), record.encoded]) is True
        return acks

    return sum(await asyncio.gather(*(store_share(n, attacker) for n, attacker in enumerate(attackers))))


async def test_an_honest_package_stays_on_the_first_page_of_a_squatted_keyword(hosts: Hosts, publisher) -> None:
    nodes = await hosts.network(4)
    before = make_record("honest/rust-before", "Rust before", publisher, tags=("rust",))
    await nodes[0].publish(before)
    attackers = squatters(hosts)
    acks = await squat(nodes, attackers, "rust")
    idling = [asyncio.ensure_future(attacker.serve_for(30)) for attacker in attackers]  # still contacts
    after = make_record("honest/rust-after", "Rust after", publisher, tags=("rust",))
    await nodes[0].publish(after)
    held = [sum(r.package.id.namespace == "squat" for r in n.storage.records(keyword_key("rust"))) for n in nodes]

    found = []
    for searcher in nodes[1:]:
        for _ in range(3):
            forget_locally(searcher)
            trace = await searcher.search(Query(text="rust")).wait()  # the first page: max_results (20) hits
            found += [before.identity in trace.hits, after.identity in trace.hits]
    recall = sum(found) / len(found)
    for task in idling:
        task.cancel()
    print(f"squatting: {acks} squatted records acknowledged, held per node {held}; honest first-page recall {recall:.2f}")
    assert recall >= 0.95


async def test_one_network_filling_the_storage_cannot_lock_out_another(hosts: Hosts, publisher) -> None:
    victim = await hosts.node()
    victim.storage.max_total = 120  # as full as 50,000 records would make it, sooner
    attackers = squatters(hosts, 2)
    flood_key = Ed25519PrivateKey.generate()
    accepted = 0
    for i in range(200):
        record = make_record(f"flood/p{i}", "Flood", flood_key)
        attacker = attackers[i % 2]
        accepted += await attacker.call(victim.address, "store", [attacker.id, package_dht_key(f"flood/p{i}"),
                                                                  record.encoded]) is True
    assert len(victim.storage) == victim.storage.max_total

    honest = [hosts.raw(f"127.10.{200 + i}.1", node_id=make_node_id(f"127.10.{200 + i}.1")) for i in range(3)]
    stored = []
    for i, peer in enumerate(honest):
        record = make_record(f"honest/p{i}", "Honest", publisher)
        ok = await peer.call(victim.address, "store", [peer.id, package_dht_key(f"honest/p{i}"), record.encoded])
        stored.append(ok is True and record in victim.storage.records(package_dht_key(f"honest/p{i}")))
    print(f"storage flood: {accepted} of 200 records from one /24 accepted into a {victim.storage.max_total}-record "
          f"storage; honest stores from other /24s afterwards: {stored}")
    assert all(stored)
