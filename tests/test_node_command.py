"""`ggen-desktop node` as a long-running process: it outlives a bootstrap peer that is down, and what it
chose and learnt (its id, its contacts) outlives a SIGKILL. Separate processes, real UDP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from ggen_desktop.store.database import Database
from tests.helpers.node_process import NodeProcess, free_udp_port, node_processes


@pytest.fixture
def nodes() -> Iterator[list[NodeProcess]]:
    with node_processes() as started:
        yield started


def test_a_node_whose_bootstrap_peer_is_down_keeps_running_and_joins_when_it_comes_up(
        tmp_path: Path, nodes: list[NodeProcess]) -> None:
    port = free_udp_port()
    waiting = NodeProcess(tmp_path / "waiting", "--bootstrap", f"127.0.0.1:{port}")
    nodes.append(waiting)
    waiting.wait_for_log(f"no peer answered (try 1, asked 127.0.0.1:{port}); next try in 1 s")
    assert waiting.process.poll() is None  # still running: the peer being down is no reason to exit
    nodes.append(NodeProcess(tmp_path / "peer", "--port", str(port)))  # the peer comes up late
    waiting.wait_for_log("joined the network on try")
    assert waiting.stop() == 0
    assert waiting.process.stderr is not None
    stderr = waiting.process.stderr.read()
    assert "Traceback" not in stderr and "Traceback" not in waiting.log.read_text()
    failed_tries = [line for line in stderr.splitlines() if "no peer answered" in line]
    assert 1 <= len(failed_tries) <= 3  # one line per failed try, nothing else about it


def test_the_node_id_and_its_contacts_survive_a_sigkill(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    first = NodeProcess(tmp_path / "first")
    nodes.append(first)
    second = NodeProcess(tmp_path / "second", "--bootstrap", first.address)
    nodes.append(second)
    second.process.kill()  # SIGKILL right after start: no shutdown, nothing saved at exit
    second.process.wait()
    with closing(Database(tmp_path / "second" / "data")) as database:
        saved_id = database.load_node_id()
        assert saved_id is not None and saved_id.hex() == second.node_id
        assert (first.node_id, first.address) in {(c.node_id.hex(), f"{c.host}:{c.port}")
                                                  for c in database.load_contacts()}
