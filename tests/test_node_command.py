"""`ggen-desktop node` as a long-running process: it outlives a bootstrap peer that is down, and what it
chose and learnt (its id, its contacts) outlives a SIGKILL. Separate processes, real UDP on loopback."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from ggen_desktop.store.database import Database
from tests.test_cli import ROOT, _env

READY = re.compile(r"listening on (\S+):(\d+) node ([0-9a-f]{40})")


class NodeProcess:
    """One `ggen-desktop node` with its own data and log folders under `home`."""

    def __init__(self, home: Path, *extra: str) -> None:
        self.home = home
        self.log = home / "logs" / "node.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ggen_desktop", "node", "--port", "0", "--interface", "127.0.0.1",
             "--data-dir", str(home / "data"), *extra],
            env=_env(home), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = READY.match(line)
        assert match, f"no ready line: {line!r}"
        self.address = f"127.0.0.1:{match.group(2)}"
        self.node_id = match.group(3)

    def wait_for_log(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not (self.log.exists() and text in self.log.read_text()):
            assert self.process.poll() is None, f"the node exited ({self.process.returncode}) before logging {text!r}"
            assert time.monotonic() < deadline, f"{text!r} not logged within {timeout:.0f} s"
            time.sleep(0.05)

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def nodes() -> Iterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    yield started
    for node in started:
        node.end()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_node_whose_bootstrap_peer_is_down_keeps_running_and_joins_when_it_comes_up(
        tmp_path: Path, nodes: list[NodeProcess]) -> None:
    port = free_udp_port()
    waiting = NodeProcess(tmp_path / "waiting", "--bootstrap", f"127.0.0.1:{port}")
    nodes.append(waiting)
    waiting.wait_for_log(f"no peer answered (try 1, asked 127.0.0.1:{port}); next try in 1 s")
    assert waiting.process.poll() is None  # still running: the peer being down is no reason to exit
    nodes.append(NodeProcess(tmp_path / "peer", "--port", str(port)))  # the peer comes up late
    waiting.wait_for_log("joined the network on try")
    waiting.process.send_signal(signal.SIGTERM)
    assert waiting.process.wait(timeout=10) == 0
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
