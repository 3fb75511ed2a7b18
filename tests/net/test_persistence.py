"""State survives a restart through the store: node id, contacts, reputation, my packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from ggen_desktop.core.query import Query
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.store.database import Database
from tests.net.conftest import FAST, Network, make_record


@pytest.mark.asyncio
async def test_restart_keeps_id_contacts_reputation_and_my_packages(network: Network, tmp_path: Path,
                                                                   publisher) -> None:
    peers = await network(3)
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    database = Database(tmp_path)
    node = MarketplaceNode(database, FAST)
    await node.start(0, [peers[0].address])
    await node.publish(record)
    node.set_peer_blocked(peers[2].node_id_hex, True)
    first_id, first_contacts = node.node_id_hex, {c[0] for c in node.contacts()}
    await node.stop()
    await node.stop()
    database.close()

    database = Database(tmp_path)
    again = MarketplaceNode(database, FAST)
    try:
        await again.start()  # no bootstrap: rejoins through the saved contacts
        assert again.node_id_hex == first_id
        assert {c[0] for c in again.contacts()} & first_contacts
        assert again.reputation.is_avoided(peers[2].node_id_hex)
        assert again.reputation.peers[peers[0].node_id_hex].successes > 0
        assert [m.record.identity for m in again.my_packages()] == [record.identity]
        assert again.my_packages()[0].replicas >= 2
        assert [r.identity for r in again.local_search(Query(text="widget"))] == [record.identity]
    finally:
        await again.stop()
        database.close()
