"""One-shot commands run inside the `node` of their data folder, over its control socket, instead of joining
the network as nodes of their own. Real processes: a `node` subprocess (folder A) joined to a bootstrap node
in this process, whose routing table shows who joined; the commands run as the user would run them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.net.control_socket import MAX_REQUEST_BYTES, socket_path
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import package_dht_key
from ggen_desktop.store.database import Database
from tests.helpers.node_process import ROOT, NodeProcess, cli_env, command
from tests.helpers.packages import make_record
from tests.helpers.waiting import wait_until
from tests.net.conftest import FAST

MANIFEST = """\
[package]
id = "acme/payload"
version = "2.1.0"
title = "Payload"
description = "An archive published through the running node"
categories = ["Utility"]
archive = "dist/payload.tar.gz"
"""


async def run(home: Path, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    """A one-shot command in its own process; the loop (and the bootstrap node on it) runs meanwhile."""
    process = await asyncio.create_subprocess_exec(*command(*args), env=cli_env(home), cwd=ROOT,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def contact_ids(node: MarketplaceNode) -> set[str]:
    return {node_id for node_id, _, _ in node.contacts()}


class Network:
    """A bootstrap node in this process holding one "quantum" package, and the `node` processes joined to it."""

    def __init__(self, bootstrap: MarketplaceNode, home: Path) -> None:
        self.bootstrap, self.home = bootstrap, home
        self.processes: list[NodeProcess] = []

    @property
    def address(self) -> str:
        host, port = self.bootstrap.address
        return f"{host}:{port}"

    async def start_node(self, name: str) -> NodeProcess:
        """A `node` of folder `name`, started off the loop (the bootstrap node must answer its join), and known
        to the bootstrap node."""
        node = await asyncio.to_thread(NodeProcess, self.home / name, "--bootstrap", self.address)
        self.processes.append(node)
        await wait_until(lambda: node.node_id in contact_ids(self.bootstrap), f"{name} in the bootstrap's table")
        return node


@pytest_asyncio.fixture
async def network(tmp_path: Path) -> AsyncIterator[Network]:
    bootstrap = MarketplaceNode(query_config=FAST)
    await bootstrap.start(0, [], "127.0.0.1")
    built = Network(bootstrap, tmp_path)
    try:
        yield built
    finally:
        for node in built.processes:
            await asyncio.to_thread(node.end)
        await bootstrap.stop()


async def publish_quantum(network: Network) -> None:
    record = make_record("acme/quantum-widget", "Quantum widget", Ed25519PrivateKey.generate(), tags=("quantum",))
    report = await network.bootstrap.publish(record)
    assert report.replicas >= 1


@pytest.mark.asyncio
async def test_search_runs_in_the_running_node_and_no_node_joins(network: Network) -> None:
    a = await network.start_node("a")
    await publish_quantum(network)
    home = network.home / "user"

    # no --bootstrap: a node of its own could not even start, so only the running node can have answered
    code, out, err = await run(home, "search", "quantum", "--data-dir", str(a.data_dir), "--timeout", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("acme/quantum-widget 1.0.0  Quantum widget  [") and len(lines) == 2
    assert "1 result" in lines[-1] and "finished" in lines[-1]
    assert err == ""
    assert contact_ids(network.bootstrap) == {a.node_id}  # nobody new joined

    code, out, err = await run(home, "search", "quantum", "--data-dir", str(a.data_dir), "--timeout", "3", "--json")
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["acme/quantum-widget"]
    summary = json.loads(err.splitlines()[-1])
    assert summary["status"] == "finished" and summary["results"] == 1

    code, out, err = await run(home, "search", "quantum", "--data-dir", str(a.data_dir), "--timeout", "0")
    assert (code, out) == (1, "")  # refused by the node: its sentence, as if it were said here
    assert err == "ggen-desktop: error: timeout 0.0 is not over 0 and at most 3600 s\n"

    # a folder no node runs on starts a short-lived node of its own, in client mode: it asks and is answered,
    # and the bootstrap node still does not keep it (a full node would be kept: tests/net/test_reachability.py)
    code, out, err = await run(home, "search", "quantum", "--data-dir", str(home / "own"), "--timeout", "3",
                               "--bootstrap", network.address, "--interface", "127.0.0.1")
    assert code == 0 and out.startswith("acme/quantum-widget 1.0.0"), err
    assert contact_ids(network.bootstrap) == {a.node_id}

    assert a.stop() == 0
    with closing(Database(a.data_dir)) as database:
        assert [q.text for q in database.recent_queries()] == ["quantum"]  # remembered by the node that ran it


@pytest.mark.asyncio
async def test_publish_through_the_socket_is_kept_seeded_and_announced_by_the_running_node(network: Network) -> None:
    a = await network.start_node("a")
    home = network.home / "publisher"
    (home / "pkg" / "dist").mkdir(parents=True)
    payload = os.urandom(256 * 1024)
    (home / "pkg" / "dist" / "payload.tar.gz").write_bytes(payload)
    (home / "pkg" / "ggen-package.toml").write_text(MANIFEST)

    code, out, err = await run(home, "publish", str(home / "pkg"), "--data-dir", str(a.data_dir),
                               "--key-file", str(home / "key"))
    assert code == 0, err
    assert out.startswith("published acme/payload 2.1.0 by ")
    assert err.startswith("created a new publisher key")  # the key is made and used here, never sent
    assert contact_ids(network.bootstrap) == {a.node_id}

    held = list((a.data_dir / "content").iterdir())
    assert [p.read_bytes() == payload for p in held] == [True]  # in the running node's content store
    stored = network.bootstrap.storage.records(package_dht_key("acme/payload"))
    assert [(str(r.package.id), r.package.info_hash is not None) for r in stored] == [("acme/payload", True)]
    sha256 = hashlib.sha256(payload).hexdigest()
    providers = await network.bootstrap.providers.find(sha256)  # seeded and announced at once, by the node
    assert [host for host, _ in providers] == [a.host]

    assert a.stop() == 0
    with closing(Database(a.data_dir)) as database:  # kept among the folder's packages, to republish
        assert [p.record.identity for p in database.my_packages()] == [stored[0].identity]


@pytest.mark.asyncio
async def test_the_socket_is_owner_only_and_a_stale_one_is_replaced(network: Network) -> None:
    a = await network.start_node("a")
    await publish_quantum(network)
    path = socket_path(a.data_dir)
    info = os.lstat(path)
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()

    a.end()  # SIGKILL: the socket file stays behind, nobody listens on it
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    home = network.home / "user"
    code, out, err = await run(home, "search", "quantum", "--data-dir", str(a.data_dir), "--timeout", "3",
                               "--bootstrap", network.address, "--interface", "127.0.0.1")
    assert code == 0 and out.startswith("acme/quantum-widget"), err  # a node of its own, on the freed folder
    assert "in use" not in err

    again = await network.start_node("a")  # the same folder
    again.wait_for_log("replacing the stale control socket")
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    before = contact_ids(network.bootstrap)
    code, out, err = await run(home, "search", "quantum", "--data-dir", str(a.data_dir), "--timeout", "3")
    assert code == 0 and out.startswith("acme/quantum-widget"), err
    assert contact_ids(network.bootstrap) == before
    assert again.stop() == 0
    assert not path.exists()  # a clean stop removes it


async def ask(path: Path, raw: bytes) -> list[dict[str, object]]:
    """Send raw bytes as a request; every answer line until the node closes the connection."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(raw)
    await writer.drain()
    answers = [json.loads(line) for line in (await asyncio.wait_for(reader.read(), 10)).splitlines()]
    writer.close()
    await writer.wait_closed()
    return answers


@pytest.mark.asyncio
async def test_a_malformed_request_gets_one_clear_error_and_the_node_keeps_serving(network: Network) -> None:
    a = await network.start_node("a")
    await publish_quantum(network)
    path = socket_path(a.data_dir)
    cases = {
        b"garbage\n": "request is not UTF-8 JSON",
        b"\xff\xfe\n": "request is not UTF-8 JSON",
        b"[1, 2]\n": "request is JSON but not an object (list)",
        b'{"command": "search", "text": "quantum"}\n': "request protocol None is not 1",
        b'{"protocol": 1}\n': "request names no command",
        b'{"protocol": 1, "command": "reboot"}\n': "unknown command 'reboot'",
        b'{"protocol": 1, "command": "search", "text": "quantum", "limit": "all"}\n':
            "the search request's 'limit' is not int: 'all'",
        b'{"protocol": 1, "command": "search", "text": "quantum", "limit": 0}\n': "limit 0 is not from 1 to 1000",
        b'{"protocol": 1, "command": "fetch", "package": "acme/x", "output": "relative"}\n':
            "the fetch request's 'output' is not an absolute path",
        b"x" * (MAX_REQUEST_BYTES + 10): f"request over {MAX_REQUEST_BYTES} bytes",
    }
    for raw, expected in cases.items():
        answers = await ask(path, raw)
        assert len(answers) == 1 and set(answers[0]) == {"error"}, (raw[:40], answers)
        assert expected in str(answers[0]["error"]), (raw[:40], answers)

    assert a.process.poll() is None
    code, out, err = await run(network.home / "user", "search", "quantum", "--data-dir", str(a.data_dir),
                               "--timeout", "3")
    assert code == 0 and out.startswith("acme/quantum-widget"), err
    assert contact_ids(network.bootstrap) == {a.node_id}
