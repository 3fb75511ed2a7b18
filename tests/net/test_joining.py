"""Never a dead end at start: a node whose bootstrap peer is down keeps running and joins once it answers."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path

import pytest

from ggen_desktop.core.connection import ConnectionState
from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.search import QueryStatus
from ggen_desktop.net.joining import Attempt, Joiner
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import record_keys
from ggen_desktop.store.database import Database
from tests.helpers.packages import make_record
from tests.helpers.waiting import wait_until
from tests.net.conftest import FAST, Network


def free_udp_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port



@pytest.mark.asyncio
async def test_a_node_started_before_its_bootstrap_peer_joins_once_the_peer_is_up(
        publisher, caplog: pytest.LogCaptureFixture) -> None:
    port = free_udp_port()
    record = make_record("acme/late", "Late", publisher, tags=("latejoin",))
    peer = MarketplaceNode(query_config=FAST)
    for key in record_keys(record):
        peer.storage.put(key, record)
    node = MarketplaceNode(query_config=FAST)  # the real backoff: 1 s, doubling to 60 s
    try:
        with caplog.at_level(logging.INFO, logger="ggen_desktop"):
            await node.start(0, [("127.0.0.1", port)])  # the first try fails: no exception, the node runs
            assert node.is_running and not node.joined
            status = node.connection_status()
            assert status.state is ConnectionState.WAITING and status.attempts == 1
            assert status.asked == (f"127.0.0.1:{port}",) and status.seconds_to_next_try() == 1
            # a search typed now waits for the join instead of failing
            handle = node.search(Query(text="latejoin"), QueryConfig(default_timeout=20.0))
            await peer.start(port)  # the peer comes up a few seconds after the node
            assert await node.wait_joined(15)
            trace = await handle.wait()
        assert trace.status is QueryStatus.FINISHED and list(trace.hits) == [record.identity]
        assert peer.node_id_hex in {c[0] for c in node.contacts()}
        assert node.connection_status().state is ConnectionState.JOINED
        tries = [r for r in caplog.records if r.getMessage().startswith("no peer answered")]
        assert tries and tries[0].getMessage() == f"no peer answered (try 1, asked 127.0.0.1:{port}); next try in 1 s"
        assert all(r.exc_info is None for r in caplog.records)  # an expected condition: no traceback
        assert any("joined the network on try" in r.getMessage() for r in caplog.records)
    finally:
        await node.stop()
        await peer.stop()


@pytest.mark.asyncio
async def test_waits_double_from_the_first_delay_up_to_the_maximum_and_retry_now_cuts_one_short() -> None:
    waits: list[float] = []
    outcomes = iter([False] * 6 + [True])
    joiner: Joiner

    async def attempt() -> Attempt:
        status = joiner.status
        if status.attempts > 1:  # how long the wait before this try was
            waits.append(time.monotonic() - previous[0])
        previous[0] = time.monotonic()
        return Attempt(next(outcomes), ("127.0.0.1:9",))

    previous = [0.0]
    joiner = Joiner(attempt, lambda: None, first_delay=0.02, max_delay=0.08)
    assert not await joiner.try_once()
    await asyncio.wait_for(joiner.keep_trying(), 10)
    assert joiner.joined and joiner.status.attempts == 7
    for measured, nominal in zip(waits, [0.02, 0.04, 0.08, 0.08, 0.08, 0.08], strict=True):
        assert nominal <= measured < nominal + 0.5, waits

    joined: list[int] = []
    outcomes = iter([False, True])
    slow = Joiner(attempt, lambda: joined.append(1), first_delay=60.0)
    assert not await slow.try_once()
    task = asyncio.ensure_future(slow.keep_trying())
    await wait_until(lambda: slow.status.state is ConnectionState.WAITING)
    assert slow.status.seconds_to_next_try() == 60
    started = time.monotonic()
    slow.retry_now()
    await asyncio.wait_for(task, 5)
    assert slow.joined and joined == [1] and time.monotonic() - started < 5


@pytest.mark.asyncio
async def test_the_retries_ask_saved_contacts_as_well_as_the_configured_peers(network: Network,
                                                                               tmp_path: Path) -> None:
    peers = await network(2)
    database = Database(tmp_path)
    first = MarketplaceNode(database, FAST)
    await first.start(0, [peers[0].address])
    await first.stop()
    dead = free_udp_port()
    again = MarketplaceNode(database, FAST)
    try:
        await again.start(0, [("127.0.0.1", dead)])  # the configured peer is gone; the saved ones answer
        assert again.joined
        asked = set(again.connection_status().asked)
        assert {f"127.0.0.1:{dead}", *(f"{host}:{port}" for host, port in (p.address for p in peers))} <= asked
    finally:
        await again.stop()
        database.close()


@pytest.mark.asyncio
async def test_contacts_are_saved_every_few_minutes_not_only_at_exit(network: Network, tmp_path: Path) -> None:
    (peer,) = await network(1)
    database = Database(tmp_path)
    node = MarketplaceNode(database, FAST, contacts_save_interval=0.2)
    await node.start(0, [peer.address])
    newcomer = MarketplaceNode(query_config=FAST)
    try:
        await newcomer.start(0, [node.address])  # the node learns of it after its own join
        newcomer_id = bytes.fromhex(newcomer.node_id_hex)
        await wait_until(lambda: newcomer_id in {c.node_id for c in database.load_contacts()}, "the contact to be saved")
    finally:
        await newcomer.stop()
        await node.stop()
        database.close()


@pytest.mark.asyncio
async def test_a_bootstrap_name_that_does_not_resolve_yet_is_resolved_again_at_each_try(
        network: Network, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline, a peer's name does not resolve; that is no reason to stop. The loop's resolver stands in
    for DNS here (a real lookup would leave loopback): it fails until the "network" is back."""
    (peer,) = await network(1)
    online = {"now": False}
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def resolver(host: object, port: object, **kwargs: object) -> object:
        if host != "seed.example":
            return await real(host, port, **kwargs)  # type: ignore[arg-type]
        if not online["now"]:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_DGRAM, 0, "", peer.address)]

    monkeypatch.setattr(loop, "getaddrinfo", resolver)
    node = MarketplaceNode(query_config=FAST, join_backoff=(0.05, 0.2))
    try:
        await node.start(0, [("seed.example", peer.address[1])])  # no exception
        assert not node.joined
        assert node.connection_status().asked == (f"seed.example:{peer.address[1]} (unresolved)",)
        await wait_until(lambda: node.connection_status().attempts >= 3)  # still trying, still unresolved
        online["now"] = True
        assert await node.wait_joined(10)
        assert peer.node_id_hex in {c[0] for c in node.contacts()}
        assert node.bootstrap_peers == [("seed.example", peer.address[1])]  # shown as configured
    finally:
        await node.stop()
