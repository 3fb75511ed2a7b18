"""The headless CLI end to end: separate processes, real UDP on loopback, each with its own data folder."""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from ggen_desktop.logging_setup import configure_logging
from ggen_desktop.store.database import Database
from tests.helpers.node_process import MANIFEST, ROOT, NodeProcess, cli_env, node_processes, run_cli


def cli(tmp_path: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp_path, *args, timeout=timeout)


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[NodeProcess]]:
    with node_processes() as started:
        started.append(NodeProcess(tmp_path, data_dir=tmp_path / "node1"))
        started.append(NodeProcess(tmp_path, "--bootstrap", started[0].address, data_dir=tmp_path / "node2"))
        yield started


@pytest.mark.slow
def test_publish_through_one_node_search_through_another(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    first, second = nodes
    first_addr, second_addr = first.address, second.address
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "ggen-package.toml").write_text(MANIFEST)
    key_file = tmp_path / "publisher.key"

    published = cli(tmp_path, "publish", str(tmp_path / "pkg"), "--bootstrap", first_addr,
                    "--data-dir", str(tmp_path / "publisher"), "--key-file", str(key_file), "--interface", "127.0.0.1")
    assert published.returncode == 0, published.stderr
    assert "created a new publisher key" in published.stderr
    assert key_file.stat().st_mode & 0o077 == 0
    replicas = int(re.search(r"(\d+) replicas acknowledged", published.stdout).group(1))
    assert replicas >= 2

    found = cli(tmp_path, "search", "quantum", "--bootstrap", second_addr, "--data-dir", str(tmp_path / "searcher"),
                "--json", "--timeout", "3", "--interface", "127.0.0.1")
    assert found.returncode == 0, found.stderr
    results = [json.loads(line) for line in found.stdout.splitlines()]
    assert [(r["id"], r["version"]) for r in results] == [("acme/quantum-widget", "1.2.0")]
    summary = json.loads(found.stderr.splitlines()[-1])  # with --json the summary is JSON too
    assert summary["results"] == 1 and summary["status"] == "finished" and summary["peers_answered"] >= 1
    with closing(Database(tmp_path / "searcher")) as searcher_db:
        assert [q.text for q in searcher_db.recent_queries()] == ["quantum"]

    plain = cli(tmp_path, "search", "quantum", "--bootstrap", second_addr, "--data-dir", str(tmp_path / "searcher"),
                "--timeout", "3", "--interface", "127.0.0.1")
    assert "acme/quantum-widget 1.2.0" in plain.stdout and "finished" in plain.stdout.splitlines()[-1]

    # a data folder held by a running node: the search runs in that node (no in-memory node, nothing said)
    through = cli(tmp_path, "search", "quantum", "--bootstrap", first_addr, "--data-dir", str(tmp_path / "node2"),
                  "--timeout", "3", "--interface", "127.0.0.1")
    assert through.returncode == 0 and through.stderr == "" and "acme/quantum-widget" in through.stdout
    # held by a process that serves no commands: the search says so and still works in memory
    with closing(Database(tmp_path / "holder")):
        locked = cli(tmp_path, "search", "quantum", "--bootstrap", first_addr, "--data-dir", str(tmp_path / "holder"),
                     "--timeout", "3", "--interface", "127.0.0.1")
    assert locked.returncode == 0 and "in use" in locked.stderr and "acme/quantum-widget" in locked.stdout

    for node in (first, second):
        node.process.send_signal(signal.SIGTERM)
    for node in (first, second):
        assert node.process.wait(timeout=10) == 0
    assert (tmp_path / "logs" / "node.log").read_text()


def test_failures_are_one_clear_sentence(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "ggen-package.toml").write_text(MANIFEST)
    no_key = cli(tmp_path, "publish", str(tmp_path / "pkg"), "--bootstrap", "127.0.0.1:9",
                 "--data-dir", str(tmp_path / "d1"))
    assert no_key.returncode != 0
    assert "keyring" in no_key.stderr and "Traceback" not in no_key.stderr
    assert len(no_key.stderr.strip().splitlines()) == 1

    bad_manifest = tmp_path / "bad.toml"
    bad_manifest.write_text('id = "Not Valid"\n')
    bad = cli(tmp_path, "publish", str(bad_manifest), "--bootstrap", "127.0.0.1:9", "--key-file",
              str(tmp_path / "k"), "--data-dir", str(tmp_path / "d2"))
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "bad.toml" in bad.stderr

    started = time.monotonic()
    unreachable = cli(tmp_path, "search", "rust", "--bootstrap", "127.0.0.1:9", "--data-dir", str(tmp_path / "d3"),
                      "--interface", "127.0.0.1")
    assert unreachable.returncode != 0 and "no reachable bootstrap peer" in unreachable.stderr.lower()
    assert "Traceback" not in unreachable.stderr and time.monotonic() - started < 10

    no_bootstrap = cli(tmp_path, "search", "rust", "--data-dir", str(tmp_path / "d4"))
    assert no_bootstrap.returncode != 0 and "--bootstrap" in no_bootstrap.stderr


def test_library_chatter_is_hidden_unless_verbose() -> None:
    """A peer going away is normal: kademlia's per-peer warnings stay out of the user's terminal."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), logging.getLogger("kademlia").level)
    try:
        for verbose in (False, True):
            out = io.StringIO()
            configure_logging(verbose, stream=out)
            configure_logging(verbose, stream=out)  # a second call replaces its handler, never doubles it
            logging.getLogger("kademlia.protocol").warning("no response from peer, removing from router")
            logging.getLogger("rpcudp.protocol").warning("did not receive reply")
            logging.getLogger("ggen_desktop.net.node").warning("ours")
            logging.getLogger("kademlia.network").error("library error")
            lines = out.getvalue().splitlines()
            assert sum("ours" in line for line in lines) == 1 and any("library error" in line for line in lines)
            assert any("removing from router" in line for line in lines) is verbose
            assert any("did not receive reply" in line for line in lines) is verbose
    finally:
        for handler in list(root.handlers):
            if handler not in saved[1]:
                root.removeHandler(handler)
        root.setLevel(saved[0])
        logging.getLogger("kademlia").setLevel(saved[2])
        logging.getLogger("rpcudp").setLevel(logging.NOTSET)


@pytest.fixture
def widget_network(tmp_path: Path) -> Iterator[str]:
    """Three nodes in their own process holding 25 packages tagged "widget": a peer's address to join through."""
    process = subprocess.Popen([sys.executable, "-m", "tests.helpers.loopback_network", "3", "25", "widget"],
                               env=cli_env(tmp_path), cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdin is not None
    line = process.stdout.readline()
    match = re.fullmatch(r"ready (\S+:\d+)\n", line)
    assert match, f"no ready line: {line!r} {process.stderr.read() if process.poll() is not None else ''}"
    yield match.group(1)
    process.stdin.close()
    try:
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


SUMMARY_KEYS = {"status", "results", "peers_asked", "peers_answered", "more", "elapsed_ms", "ttfr_ms", "reason",
                "suggestions"}


def test_search_json_prints_results_on_stdout_and_a_summary_last_on_stderr(tmp_path: Path, widget_network: str) -> None:
    def search(*args: str) -> tuple[list[dict[str, object]], dict[str, object], list[str]]:
        done = cli(tmp_path, "search", *args, "--bootstrap", widget_network, "--data-dir", str(tmp_path / "searcher"),
                   "--json", "--timeout", "3", "--interface", "127.0.0.1")
        assert done.returncode == 0, done.stderr
        lines = done.stderr.splitlines()
        return [json.loads(line) for line in done.stdout.splitlines()], json.loads(lines[-1]), lines[:-1]

    # more than a page (the default page is 20): the same search goes on until every result is printed
    results, summary, _ = search("widget", "--limit", "1000")
    assert sorted(str(r["id"]) for r in results) == [f"acme/widget-{i:02}" for i in range(25)]
    assert set(summary) >= SUMMARY_KEYS
    assert summary["status"] == "finished" and summary["results"] == 25 and summary["more"] is False
    assert isinstance(summary["peers_asked"], int) and summary["peers_asked"] >= 1
    assert isinstance(summary["peers_answered"], int) and summary["peers_answered"] >= 1
    assert isinstance(summary["elapsed_ms"], float) and isinstance(summary["ttfr_ms"], float)
    assert summary["reason"] == "" and summary["suggestions"] == []

    # fewer than there are: says more exist; what the first search found is now known, and marked so
    results, summary, _ = search("widget", "--limit", "5")
    assert len(results) == 5 and summary["results"] == 5 and summary["more"] is True
    assert summary["peers_asked"] >= 1  # known results never end a search
    assert all(r["known"] is True for r in results)

    # a typo: nothing found, and a close keyword this node knows is offered before the summary
    results, summary, lines = search("widgte")
    assert results == [] and summary["results"] == 0 and summary["suggestions"] == ["widget"]
    assert "Did you mean widget?" in lines

    # a word that is only part of a keyword: the network is not asked, and the summary says why
    _, summary, _ = search("widg")
    assert summary["peers_asked"] == 0 and "whole words" in str(summary["reason"]) and "'widget'" in str(summary["reason"])


def test_search_limit_is_from_1_to_1000(tmp_path: Path) -> None:
    for limit in ("0", "1001", "many"):
        done = cli(tmp_path, "search", "widget", "--limit", limit, "--bootstrap", "127.0.0.1:9")
        assert done.returncode == 2 and "--limit" in done.stderr and "Traceback" not in done.stderr
