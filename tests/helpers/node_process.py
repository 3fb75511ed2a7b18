"""`ggen-desktop node` and one-shot commands as real processes, for the tests that drive the CLI end to end.

Each process gets its own log and config folders under a `home` (and the keyring that always fails, so
none touches the user's), real UDP on a loopback address of its own when the test gives one.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.waiting import wait_until_blocking

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"listening on (\S+):(\d+) node ([0-9a-f]{40})")
# A package manifest the CLI tests and bench_cli publish and then search for (as "quantum").
MANIFEST = """\
[package]
id = "acme/quantum-widget"
version = "1.2.0"
title = "Quantum widget generator"
description = "Generates quantum widgets"
tags = ["quantum", "widget"]
categories = ["Utility"]
content_hash = "sha256:{}"
""".format("ab" * 32)


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a ggen-desktop process whose logs and settings live under `home`."""
    env = dict(os.environ)
    env.update({
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "GGEN_DESKTOP_LOG_DIR": str(home / "logs"),
        "GGEN_DESKTOP_CONFIG_DIR": str(home / "config"),
        "PYTHONPATH": str(ROOT),
    })
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ggen_desktop", *args]


def run_cli(home: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run one ggen-desktop command to its end."""
    return subprocess.run(command(*args), env=cli_env(home), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


class NodeProcess:
    """One `ggen-desktop node` on `host`, its data in `data_dir` (default `home`/data), started and ready."""

    def __init__(self, home: Path, *extra: str, host: str = "127.0.0.1", data_dir: Path | None = None) -> None:
        self.home, self.host = home, host
        self.data_dir = data_dir or home / "data"
        self.log = home / "logs" / "node.log"
        self.process = subprocess.Popen(
            command("node", "--port", "0", "--interface", host, "--data-dir", str(self.data_dir), *extra),
            env=cli_env(home), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stderr is not None
        line = self.process.stdout.readline()
        match = READY.match(line)
        assert match, f"no ready line: {line!r}; stderr: {self.process.stderr.read() if self.process.poll() else ''}"
        self.port = int(match.group(2))
        self.address = f"{host}:{self.port}"
        self.node_id = match.group(3)

    def wait_for_log(self, text: str, timeout: float = 20.0) -> None:
        def logged() -> bool:
            assert self.process.poll() is None, f"the node exited ({self.process.returncode}) before logging {text!r}"
            return self.log.exists() and text in self.log.read_text()

        wait_until_blocking(logged, f"{text!r} in the node's log", timeout)

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, as a user would; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def end(self) -> None:
        """SIGKILL if still running (a test's clean-up, or a crash)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def node_processes() -> Iterator[list[NodeProcess]]:
    """Append the NodeProcesses a test starts; each is killed at the end if it still runs (a module's `nodes`
    fixture is `with node_processes() as started: yield started`)."""
    started: list[NodeProcess] = []
    try:
        yield started
    finally:
        for node in started:
            node.end()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
