"""Can others find it? Lookups seeded only with peers far from a package's keys, on a real loopback network."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kademlia.node import Node

from ggen_desktop.net.storage import package_dht_key
from ggen_desktop.net.visibility import far_peers
from tests.helpers.packages import make_record
from tests.net.conftest import Network


@pytest.mark.asyncio
async def test_far_peers_find_a_published_package_and_find_nothing_once_its_holders_are_gone(
        network: Network, publisher: Ed25519PrivateKey) -> None:
    nodes = await network(16, ksize=4)
    me = nodes[-1]
    record = make_record("acme/visible", "Visible", publisher, tags=("visible",))
    await me.publish(record)
    key = package_dht_key("acme/visible")
    holders = [n for n in nodes[:-1] if any(r.identity == record.identity for r in n.storage.records(key))]
    assert holders, "the publish stored the record on peers"
    far = {n.id.hex() for n in far_peers(me.protocol.known_nodes(), record, me.ksize)}
    assert len(far) == 5
    closest = sorted(nodes[:-1], key=lambda n: Node(key).distance_to(Node(n.node_id)))[:me.ksize]
    assert not far & {n.node_id_hex for n in closest}, "the far peers are not the k closest to the package key"
    # A hand-over (§2.5) may have given a copy to a node outside the k closest: its own lookup proves less.
    seeds_without_copy = far - {h.node_id_hex for h in holders}
    assert seeds_without_copy

    report = await me.check_visibility(record)
    assert {c.peer_id for c in report.checks} == far
    assert report.found == 5, report.summary()
    assert report.summary().startswith("found by 5 of 5 peers in ")
    assert all(c.asked >= 2 for c in report.checks if c.peer_id in seeds_without_copy), \
        "each lookup went beyond its far peer to reach a holder"

    count = await me.count_replicas(record)
    assert count.asked == me.ksize
    assert count.replicas >= 1
    assert set(count.holders) <= {h.node_id_hex for h in holders}, "only nodes that really hold it are counted"
    assert me.replica_counts[record.identity] == count
    plural = "s" if count.replicas != 1 else ""
    assert count.describe(now=count.checked_at + 130) == f"{count.replicas} replica{plural}, checked 2 min ago"

    for holder in holders:
        await holder.stop()
    report = await me.check_visibility(record)
    assert report.found == 0, report.summary()
    assert report.summary().startswith("found by 0 of 5 peers in ")
    assert "5 did not find it (the peers it was led to did not answer)" in report.summary()
    assert (await me.count_replicas(record)).replicas == 0


@pytest.mark.asyncio
async def test_in_a_network_smaller_than_k_no_lookup_runs_and_the_report_says_why(
        network: Network, publisher: Ed25519PrivateKey) -> None:
    nodes = await network(4)
    record = make_record("acme/tiny", "Tiny", publisher)
    await nodes[-1].publish(record)
    report = await nodes[-1].check_visibility(record)
    assert report.checks == ()
    assert report.summary().startswith("not checked: every peer this node knows is among the closest")
