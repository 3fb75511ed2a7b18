"""`ggen-desktop publish` says per key how many copies were stored, and warns plainly of a refused keyword.

Run in-process (the command's coroutine) so the peers can be real loopback nodes whose keyword key is
full, which a separate process cannot arrange.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ggen_desktop import cli
from tests.helpers.packages import make_record
from tests.net.conftest import Network

MANIFEST = """\
[package]
id = "acme/widget"
version = "1.0.0"
title = "Widget"
tags = ["crowded"]
categories = ["Utility"]
content_hash = "sha256:{}"
""".format("ab" * 32)


@pytest.mark.asyncio
async def test_publish_prints_each_key_and_warns_of_a_full_keyword(network: Network, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GGEN_DESKTOP_CONFIG_DIR", str(tmp_path / "config"))
    peers = await network(2)
    for peer in peers:
        peer.storage.max_per_key = 1
    await peers[0].publish(make_record("fill/one", "Filler", tags=("crowded",), categories=("Testing",)))
    (tmp_path / "ggen-package.toml").write_text(MANIFEST)
    host, port = peers[1].address
    args = cli.build_parser().parse_args([
        "publish", str(tmp_path), "--bootstrap", f"{host}:{port}", "--key-file", str(tmp_path / "key"),
        "--data-dir", str(tmp_path / "data"), "--interface", "127.0.0.1"])
    assert await cli.cmd_publish(args) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("published acme/widget 1.0.0 by ") and "2 replicas acknowledged, 5 keys" in lines[0]
    assert lines[1:] == [
        "  package key: 2 of 2 copies stored",
        "  keyword 'widget': 2 of 2 copies stored",
        "  keyword 'crowded': 0 of 2 copies stored, 2 refused (the key is full on those peers, "
        "or they hold enough from this node)",
        "  keyword 'utility': 2 of 2 copies stored",
        "  keyword 'acme': 2 of 2 copies stored",
    ]  # the package key, then the keywords in the record's order
    assert "warning: peers refused the keyword copies for 'crowded' because those keys are full" in err
