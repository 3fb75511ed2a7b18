"""`publish` with an archive, `node` seeding it, `fetch` on another host: separate processes, real UDP and
real libtorrent sessions on distinct loopback addresses, the bytes compared at the end."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.node_process import NodeProcess, node_processes
from tests.helpers.node_process import run_cli as run

ARCHIVE_BYTES = 5 * 1024 * 1024
MANIFEST = """\
[package]
id = "acme/payload"
version = "2.1.0"
title = "Payload"
description = "Five megabytes of archive"
categories = ["Utility"]
archive = "dist/payload.tar.gz"
"""


@pytest.fixture
def nodes() -> Iterator[list[NodeProcess]]:
    with node_processes() as started:
        yield started


def test_publish_with_an_archive_then_fetch_it_from_the_node_that_seeds_it(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    dht = NodeProcess(tmp_path / "dht", host="127.0.9.2")
    nodes.append(dht)
    publisher = tmp_path / "publisher"
    (publisher / "pkg" / "dist").mkdir(parents=True)
    payload = os.urandom(ARCHIVE_BYTES)
    (publisher / "pkg" / "dist" / "payload.tar.gz").write_bytes(payload)
    (publisher / "pkg" / "ggen-package.toml").write_text(MANIFEST)

    published = run(publisher, "publish", str(publisher / "pkg"), "--bootstrap", dht.address, "--interface", "127.0.9.1",
                    "--data-dir", str(publisher / "data"), "--key-file", str(publisher / "key"))
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith("published acme/payload 2.1.0 by ")
    held = list((publisher / "data" / "content").iterdir())
    assert [p.read_bytes() == payload for p in held] == [True]  # kept in the data folder for the node to seed

    nodes.append(NodeProcess(publisher, "--bootstrap", dht.address, host="127.0.9.1"))  # seeds what its folder holds

    fetcher = tmp_path / "fetcher"
    fetched = run(fetcher, "fetch", "acme/payload", "--bootstrap", dht.address, "--interface", "127.0.9.3",
                  "--data-dir", str(fetcher / "data"), "--output", str(fetcher / "out"))
    assert fetched.returncode == 0, fetched.stderr
    path = Path(fetched.stdout.strip())
    assert path.parent == (fetcher / "out").resolve() and path.name == "acme-payload-2.1.0"
    assert path.read_bytes() == payload
    assert fetched.stderr == ""  # progress goes to a terminal only

    again = run(fetcher, "fetch", "acme/payload", "--version", "2.1.0", "--bootstrap", dht.address, "--interface",
                "127.0.9.3", "--data-dir", str(fetcher / "data"), "--output", str(fetcher / "second"))
    assert again.returncode == 0, again.stderr
    assert Path(again.stdout.strip()).read_bytes() == payload  # from its own content store now

    # the dht node's folder: the fetch runs in that node, which keeps the archive and seeds it from now on
    through = run(fetcher, "fetch", "acme/payload", "--bootstrap", dht.address, "--interface", "127.0.9.4",
                  "--data-dir", str(dht.home / "data"), "--output", str(fetcher / "third"))
    assert through.returncode == 0, through.stderr
    assert through.stderr == ""  # no "in use", no in-memory node
    assert Path(through.stdout.strip()).read_bytes() == payload
    assert [p.read_bytes() == payload for p in (dht.home / "data" / "content").iterdir()] == [True]


def test_fetch_of_an_unknown_package_says_so_in_one_sentence(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    dht = NodeProcess(tmp_path / "dht", host="127.0.10.2")
    nodes.append(dht)
    home = tmp_path / "fetcher"
    done = run(home, "fetch", "nobody/nothing", "--bootstrap", dht.address, "--interface", "127.0.10.3",
               "--data-dir", str(home / "data"), "--output", str(home / "out"))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "ggen-desktop: error: no package nobody/nothing was found on the network\n"
    assert not (home / "out").exists()


def test_fetch_when_no_node_seeds_the_archive_says_so_in_one_sentence(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    """Published (the archive stays in the publisher's folder) but no node seeds it: nothing to download from."""
    dht = NodeProcess(tmp_path / "dht", host="127.0.11.2")
    nodes.append(dht)
    publisher = tmp_path / "publisher"
    (publisher / "pkg" / "dist").mkdir(parents=True)
    (publisher / "pkg" / "dist" / "payload.tar.gz").write_bytes(b"x" * 1000)
    (publisher / "pkg" / "ggen-package.toml").write_text(MANIFEST)
    published = run(publisher, "publish", str(publisher / "pkg"), "--bootstrap", dht.address, "--interface",
                    "127.0.11.1", "--data-dir", str(publisher / "data"), "--key-file", str(publisher / "key"))
    assert published.returncode == 0, published.stderr
    home = tmp_path / "fetcher"
    done = run(home, "fetch", "acme/payload", "--bootstrap", dht.address, "--interface", "127.0.11.3",
               "--data-dir", str(home / "data"), "--output", str(home / "out"))
    assert done.returncode == 1 and done.stdout == ""
    assert re.fullmatch(r"ggen-desktop: error: no node on the network seeds acme/payload 2\.1\.0 "
                        r"\(archive [0-9a-f]{12}…\)\n", done.stderr), done.stderr
