"""State survives a restart through the store: node id, contacts, reputation, my packages."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ggen_desktop.core.query import Query
from ggen_desktop.net import node_state
from ggen_desktop.net.address_policy import peer_key
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import package_dht_key
from ggen_desktop.store.database import Database
from ggen_desktop.store.errors import StoreError
from tests.helpers.packages import big_record, make_record
from tests.net.conftest import FAST, Network

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.asyncio
async def test_restart_keeps_id_contacts_reputation_and_my_packages(network: Network, tmp_path: Path,
                                                                   publisher) -> None:
    peers = await network(3)
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    database = Database(tmp_path)
    node = MarketplaceNode(database, FAST)
    await node.start(0, [peers[0].address])
    await node.publish(record)
    node.set_peer_blocked(peer_key(*peers[2].address), True)
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
        assert again.reputation.is_avoided(peer_key(*peers[2].address))
        assert again.reputation.peers[peer_key(*peers[0].address)].successes > 0  # kept by address
        assert [m.record.identity for m in again.my_packages()] == [record.identity]
        assert again.my_packages()[0].replicas >= 2
        assert [r.identity for r in again.local_search(Query(text="widget"))] == [record.identity]
    finally:
        await again.stop()
        database.close()


# Starts a node on the data folder, joins the test's peer (which acknowledges no store for a long
# while, so the publish is still waiting for acks), starts publishing, says so, and waits to be killed.
PUBLISHER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from ggen_desktop.core.record import decode_and_verify
    from ggen_desktop.net.node import MarketplaceNode
    from ggen_desktop.store.database import Database

    async def main():
        node = MarketplaceNode(Database(sys.argv[1]))
        await node.start(0, [("127.0.0.1", int(sys.argv[2]))])
        task = asyncio.ensure_future(node.publish(decode_and_verify(Path(sys.argv[3]).read_bytes())))
        await asyncio.sleep(0.2)
        print("publishing", flush=True)
        await task

    asyncio.run(main())
    """
)


@pytest.mark.asyncio
async def test_a_publish_killed_before_its_acks_is_republished_on_the_next_start(network: Network, tmp_path: Path,
                                                                                publisher) -> None:
    (peer,) = await network(1)
    record = make_record("acme/widget", "Widget", publisher, tags=("widget",))
    (tmp_path / "record").write_bytes(record.encoded)
    store = peer.protocol.rpc_store

    async def slow_store(*args: object) -> object:
        await asyncio.sleep(30)
        return store(*args)  # type: ignore[arg-type]

    peer.protocol.rpc_store = slow_store  # type: ignore[method-assign]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PUBLISHER, str(tmp_path / "data"), str(peer.address[1]), str(tmp_path / "record"),
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 20) == b"publishing\n"
    process.kill()  # SIGKILL: no shutdown, no acks recorded
    await process.wait()
    forget(peer)  # whatever reached it before the kill is gone: only a republish brings it back
    peer.protocol.rpc_store = store  # type: ignore[method-assign]

    database = Database(tmp_path / "data")
    try:
        assert [(m.record, m.last_republished_at) for m in database.my_packages()] == [(record, None)]
        node = MarketplaceNode(database, FAST)
        await node.start(0, [peer.address])
        try:
            for _ in range(40):
                if record in peer.storage.records(package_dht_key("acme/widget")):
                    break
                await asyncio.sleep(0.05)
            assert record in peer.storage.records(package_dht_key("acme/widget"))
            assert node.my_packages()[0].replicas == 1
        finally:
            await node.stop()
    finally:
        database.close()


@pytest.mark.asyncio
async def test_a_full_disk_during_publish_is_a_store_error_and_changes_nothing(network: Network, tmp_path: Path,
                                                                              publisher) -> None:
    (peer,) = await network(1)
    database = Database(tmp_path)
    node = MarketplaceNode(database, FAST)
    await node.start(0, [peer.address])
    try:
        first = await node.publish(big_record("acme/gadget", publisher))
        assert database._conn is not None
        pages = database._conn.execute("PRAGMA page_count").fetchone()[0]
        database._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "disk full"
        with pytest.raises(StoreError, match="is full.*previous data is unchanged"):
            await node.publish(big_record("acme/widget", publisher))  # needs a new page: there is none
        assert [m.record for m in node.my_packages()] == [m.record for m in database.my_packages()] == [first.record]
        assert peer.storage.records(package_dht_key("acme/widget")) == []  # nothing went out unsaved
    finally:
        await node.stop()  # saving state may fail too: the socket is closed all the same
        database.close()


@pytest.mark.asyncio
async def test_reputation_writes_are_batched_off_the_loop_and_flushed_on_stop(network: Network, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_state, "REPUTATION_SAVE_DELAY_S", 0.2)
    peers = await network(2)
    database = Database(tmp_path)
    node = MarketplaceNode(database, FAST)
    await node.start(0, [peers[0].address])
    before = database.transactions
    peer = peers[1].node_id_hex
    for _ in range(20):
        node.reputation.record_success(peer, 1.0)
    assert database.transactions == before  # not one write per update, and none on the loop
    deadline = time.monotonic() + 10
    while database.load_peers().get(peer, {}).get("successes", 0) < 20:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert database.transactions - before == 1  # the join's contacts and all these changes: one batch
    node.reputation.record_timeout(peer)
    await node.stop()  # before the delay: stop writes it
    assert database.load_peers()[peer]["timeouts"] == 1
    database.close()


@pytest.mark.asyncio
async def test_recent_queries_have_one_home_on_the_node(tmp_path: Path) -> None:
    database = Database(tmp_path)
    node = MarketplaceNode(database, FAST)
    node.remember_query(Query(text="rust cli", tags=("cli",)))
    node.remember_query(Query(text="  "))  # nothing to remember
    node.remember_query(Query(text="widget"))
    assert [(q.text, q.filters) for q in node.recent_queries()] == [
        ("widget", {"categories": [], "tags": []}), ("rust cli", {"categories": [], "tags": ["cli"]})]
    assert MarketplaceNode().recent_queries() == []
    database.close()


def forget(node: MarketplaceNode) -> None:
    """Drop its records and contacts (the killed node among them, which would cost a 2 s timeout)."""
    node.storage.clear()
    for contact in node.protocol.known_nodes():
        node.protocol.router.remove_contact(contact)
