"""Cheap floods: work and state an attacker can make a node spend with requests that cost it nothing.

Before, a request with a never-seen id scanned every stored key (110 ms of CPU
at 5,000 entries: 10 such pings a second held the victim at 91-100% CPU), and
30,000 invalid stores with fresh ids left 30,000 reputation rows, +40 MB of
memory and 5.5 MB of unrotated log.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import umsgpack

from ggen_desktop.core.node_id import make_node_id
from ggen_desktop.core.query import Query
from ggen_desktop.logging_setup import configure_logging
from ggen_desktop.net.storage import keyword_key, package_dht_key
from ggen_desktop.store.database import Database
from tests.helpers.packages import make_record
from tests.net.attacks.conftest import Hosts, quiet, served, taken_in, until
from tests.net.raw_peer import RESP

pytestmark = pytest.mark.asyncio

RATE = 10  # requests per second
SECONDS = 3.0


async def test_ten_requests_a_second_with_fresh_ids_cost_the_victim_little_cpu(hosts: Hosts, publisher) -> None:
    victim = await hosts.node()
    for i in range(5000):
        record = make_record(f"acme/t{i}", "Tool", publisher, tags=("tool",))
        victim.storage.put(package_dht_key(f"acme/t{i}"), record)
    ip = "127.66.6.1"
    attacker = await hosts.hostile(ip)  # answers every probe with the id it claims at the time
    query = Query(tags=("tool",)).to_dict()
    kinds = [lambda i: ["ping", [attacker.id]], lambda i: ["find_node", [attacker.id, os.urandom(20)]],
             lambda i: ["find_value", [attacker.id, package_dht_key(f"acme/t{i}")]],
             lambda i: ["search", [attacker.id, keyword_key("tool"), query, 0]]]
    gc.collect()
    started_cpu, started = time.process_time(), time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - started) < SECONDS:
        attacker.id = make_node_id(ip, sent % 256)  # a fresh id, conforming to its address
        name, args = kinds[sent % len(kinds)](sent)
        attacker.send(victim.address, name, args)
        sent += 1
        await asyncio.sleep(max(0.0, sent / RATE - elapsed))
    await until(quiet(victim), what="the victim answering")
    cpu = (time.process_time() - started_cpu) / (time.monotonic() - started)
    print(f"{sent} requests with fresh ids at {RATE}/s, 5,000 records held: victim process at {cpu:.1%} CPU; "
          f"{victim.transport_stats()['contacts_added']} of them became contacts")
    assert cpu < 0.10


@pytest.fixture
def node_log(tmp_path: Path) -> Iterator[Path]:
    """The node's log file at INFO, as `ggen-desktop-cli node` writes it."""
    path = tmp_path / "node.log"
    configure_logging(level=logging.INFO, log_file=path, stream=open(os.devnull, "w"))  # noqa: SIM115
    yield path
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_ggen_desktop_handler", False)]:
        root.removeHandler(handler)
        handler.close()


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


async def test_thirty_thousand_invalid_stores_with_fresh_ids_leave_little_state(hosts: Hosts, tmp_path: Path,
                                                                                 node_log: Path) -> None:
    database = Database(tmp_path / "data")
    victim = await hosts.node(database=database)
    attacker = hosts.raw("127.66.7.1", node_id=make_node_id("127.66.7.1"))
    assert await attacker.call(victim.address, "ping", [attacker.id]) == victim.node_id  # verified, a contact
    await until(lambda: victim.protocol.router.contact_at(*attacker.address) is not None, what="the contact added")
    files_before = folder_bytes(tmp_path)
    gc.collect()
    tracemalloc.start()
    try:
        stats = victim.protocol.stats
        before = taken_in(victim)
        for start in range(0, 30_000, 1000):
            for rand in range(start, start + 1000):
                node_id = make_node_id("127.66.7.1", rand % 256)
                attacker.request(victim.address, "store", [node_id, os.urandom(20), b'{"not": "a record"}'])
            # The victim reads each burst before the next: a full receive buffer would hide the attack.
            await served(victim, before + start + 1000)
        gc.collect()
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await victim.stop()
    database.close()
    files = folder_bytes(tmp_path) - files_before
    print(f"30,000 invalid stores: {stats['records_invalid']} decoded and refused, {stats['dropped_rate_limited']} "
          f"dropped unread; memory +{grown / 1e6:.2f} MB, files +{files / 1e6:.2f} MB, "
          f"{len(victim.reputation.peers)} reputation rows, {len(victim.storage)} records")
    assert grown + files < 5_000_000
    assert len(victim.reputation.peers) <= 2 and len(victim.storage) == 0


async def test_unasked_for_responses_are_dropped_before_decoding(hosts: Hosts) -> None:
    """40 large nested-array responses a second, for two seconds, while an honest peer pings: none is
    decoded (no request of the victim's has their message id, or was sent to their address), and every
    ping is answered."""
    victim = await hosts.node()
    attacker = hosts.raw("127.66.9.1")
    honest = hosts.raw("127.10.250.1", node_id=make_node_id("127.10.250.1"))
    blob = umsgpack.packb([[[0, 0], [0, 0]]] * 7000)  # ~49 KB, ~20 ms of decoding each
    silent = hosts.raw("127.10.251.1", answer_pings=False)
    outstanding = victim.protocol.request(silent.address, "ping", [victim.node_id], timeout=5.0)
    (pending_id,) = list(victim.protocol._pending)
    gc.collect()
    started_cpu, started = time.process_time(), time.monotonic()
    answered = 0
    for second in range(2):
        for i in range(40):
            msg_id = pending_id if i == 0 else os.urandom(20)  # one even carries a real id: from the wrong address
            attacker.send(RESP + msg_id + blob, victim.address)
            if i % 5 == 0:
                answered += await honest.call(victim.address, "ping", [honest.id]) == victim.node_id
            await asyncio.sleep(max(0.0, second + (i + 1) / 40 - (time.monotonic() - started)))
    cpu = (time.process_time() - started_cpu) / (time.monotonic() - started)
    stats = victim.transport_stats()
    print(f"80 unasked-for {len(blob) + 21}-byte responses: {stats['dropped_unexpected']} unexpected, "
          f"{stats['dropped_spoofed']} from the wrong address; process at {cpu:.1%} CPU; "
          f"honest pings answered {answered} of 16")
    assert stats["dropped_unexpected"] == 78 and stats["dropped_spoofed"] == 2 and stats["dropped_malformed"] == 0
    assert answered == 16 and cpu < 0.10
    outstanding.cancel()
