"""Fixtures for the NAT lab: the tools (installed on first use), labs that are always torn down, and drivers
for the processes the tests run inside the lab's namespaces."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.natlab.lab import LabError, NatLab, ensure_tools

HERE = Path(__file__).resolve().parent
HOME_AGENT = HERE / "home_agent.py"
NODE_AGENT = HERE / "node_agent.py"
UDP_PROBE = HERE / "udp_probe.py"


@pytest.fixture(scope="session")
def natlab_tools() -> None:
    """The lab's Debian packages, installed by install.sh if missing. Missing tools fail the tests: they are not optional."""
    problem = None
    try:
        ensure_tools()
    except (LabError, OSError, subprocess.TimeoutExpired) as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(f"the NAT lab cannot run: {problem}", pytrace=False)


MakeLab = Callable[..., NatLab]


@pytest.fixture
def make_lab(natlab_tools: None, tmp_path: Path) -> Iterator[MakeLab]:
    """`make_lab(igd=..., public_prefix=...)` builds a started NatLab; every lab is torn down after the test."""
    labs: list[NatLab] = []

    def build(**options: Any) -> NatLab:
        lab = NatLab(tmp_path / f"lab{len(labs)}", **options)
        problem = None
        try:
            lab.__enter__()
        except LabError as exc:
            problem = str(exc)
        if problem is not None:
            pytest.fail(f"the NAT lab could not be built: {problem}", pytrace=False)
        labs.append(lab)
        return lab

    yield build
    for lab in labs:
        lab.close()


@pytest.fixture
def lab(make_lab: MakeLab) -> NatLab:
    """A lab with the router's UPnP gateway running."""
    return make_lab()


class HomeAgent:
    """Drives tests/natlab/home_agent.py (or another agent `script`, such as node_agent.py) inside a namespace
    of the lab (a home one by default), one JSON command at a time."""

    def __init__(self, lab: NatLab, ns: str | None = None, script: Path = HOME_AGENT, name: str = "agent") -> None:
        self.lab = lab
        self.log_name = f"{ns or lab.home}-{name}.log"
        self.process = lab.spawn(ns or lab.home, [sys.executable, str(script)], log_name=self.log_name)
        self._lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")

    def ask(self, wait: float = 15.0, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        try:
            line = self._lines.get(timeout=wait)
        except queue.Empty:
            raise AssertionError(f"the home agent did not answer {command} within {wait} s; log: {self.log()}") from None
        assert line, f"the home agent exited on {command}; log: {self.log()}"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self, timeout: float = 10.0) -> int:
        """End of stdin: the agent closes its mappings and exits."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        return (self.lab.workdir / self.log_name).read_text(errors="replace")[-3000:]


@pytest.fixture
def home_agent(lab: NatLab) -> HomeAgent:
    return HomeAgent(lab)


def probe(lab: NatLab, port: int, payload: str, timeout: float = 1.0, host: str | None = None) -> dict[str, Any]:
    """From the public host, send one datagram to the router's public address (or `host`) and wait for an answer."""
    done = lab.run(lab.public, [sys.executable, str(UDP_PROBE), "send", host or lab.router_public_ip, str(port),
                                payload, str(timeout)], timeout=timeout + 10)
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer
