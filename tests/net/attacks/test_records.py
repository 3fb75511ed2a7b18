"""Records that lie about time or smuggle text, and peers that speak only plain kademlia.

Before, a record dated `updated_at = 2^62` was accepted and its owner's corrected
re-signing ignored from then on, and a newline in a signed package id forged a
line in node.log.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kademlia.network import Server

from ggen_desktop.core.node_id import make_node_id
from ggen_desktop.core.record import RECORD_FORMAT, canonical_json, public_key_bytes
from ggen_desktop.logging_setup import configure_logging
from ggen_desktop.net.storage import package_dht_key
from tests.helpers.packages import make_record, package_dict
from tests.net.attacks.conftest import Hosts, until

pytestmark = pytest.mark.asyncio

LINE_START = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: |    )")


@pytest.fixture
def node_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "node.log"
    configure_logging(verbose=True, log_file=path, stream=open(os.devnull, "w"))  # noqa: SIM115
    yield path
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_ggen_desktop_handler", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.WARNING)


def signed_by_hand(package: dict[str, object], key: object) -> bytes:
    """A record signed over whatever package dict it is given: what an attacker's own tool would send."""
    unsigned = {"format": RECORD_FORMAT, "package": package,
                "publisher": base64.b64encode(public_key_bytes(key)).decode()}  # type: ignore[arg-type]
    signature = key.sign(canonical_json(unsigned))  # type: ignore[attr-defined]
    return canonical_json({**unsigned, "signature": base64.b64encode(signature).decode()})


async def test_a_far_future_record_is_refused_and_the_owner_keeps_control(hosts: Hosts, publisher) -> None:
    victim = await hosts.node()
    peer = hosts.raw("127.66.8.1", node_id=make_node_id("127.66.8.1"))
    key = package_dht_key("acme/cli")
    future = make_record("acme/cli", "CLI from 2^62", publisher, updated_at=2**62)
    assert await peer.call(victim.address, "store", [peer.id, key, future.encoded]) is False
    corrected = make_record("acme/cli", "CLI, corrected", publisher, updated_at=int(time.time()) - 60)
    assert await peer.call(victim.address, "store", [peer.id, key, corrected.encoded]) is True
    print(f"far-future record: refused ({victim.transport_stats()['records_invalid']} invalid); the owner's "
          f"re-signing held: {victim.storage.records(key) == [corrected]}")
    assert victim.storage.records(key) == [corrected]


async def test_a_newline_in_a_signed_package_id_cannot_forge_a_log_line(hosts: Hosts, publisher,
                                                                        node_log: Path) -> None:
    victim = await hosts.node()
    peer = hosts.raw("127.66.8.2", node_id=make_node_id("127.66.8.2"))
    assert await peer.call(victim.address, "ping", [peer.id]) == victim.node_id
    await until(lambda: victim.protocol.router.contact_at(*peer.address) is not None, what="the contact added")
    forged_line = "2030-01-01 00:00:00,000 WARNING ggen_desktop.net.node: all peers verified"
    for pid in ("acme/evil\n", f"acme/evil\n{forged_line}"):
        record = signed_by_hand(package_dict(pid), publisher)
        assert await peer.call(victim.address, "store", [peer.id, package_dht_key(pid), record]) is False
        assert await peer.call(victim.address, "announce", [peer.id, os.urandom(16), 0, record]) is False
    logging.getLogger("ggen_desktop.test").info("a record from a peer: %s", f"acme/evil\n{forged_line}")
    lines = node_log.read_text(encoding="utf-8").splitlines()
    strays = [line for line in lines if not LINE_START.match(line)]
    print(f"log injection: {victim.transport_stats()['records_invalid']} records refused; {len(lines)} log lines, "
          f"{len(strays)} not starting as a record of ours")
    assert victim.transport_stats()["records_invalid"] == 4
    assert not strays and not any(line.startswith(forged_line) for line in lines)
    assert any("acme/evil\\n2030-01-01" in line for line in lines)  # written, escaped


async def test_plain_kademlia_peers_bootstrap_ask_and_answer_but_carry_no_weight(hosts: Hosts, publisher) -> None:
    nodes = await hosts.network(3)
    record = make_record("acme/cli", "CLI tool", publisher)
    await nodes[0].publish(record)
    plain = Server()  # a random id: it conforms to no address
    await plain.listen(0, "127.30.0.1")
    try:
        plain_address = plain.transport.get_extra_info("sockname")
        assert await plain.bootstrap([nodes[0].address])
        assert await plain.get("pkg:acme/cli") == record.encoded  # it asks, and is answered
        ok, contacts = await nodes[1].protocol.request(plain_address, "find_node", [nodes[1].node_id, os.urandom(20)])
        assert ok and isinstance(contacts, list)  # it answers
        assert all(node.protocol.router.contact_at(*plain_address) is None for node in nodes)  # it is no contact
        assert all(plain_address[0] not in [c[1] for c in node.contacts()] for node in nodes)
    finally:
        plain.stop()
