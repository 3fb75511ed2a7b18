"""Behind a real NAT: kernel namespaces, an nftables masquerading router and miniupnpd as the UPnP gateway.

Every test builds its own lab (about 0.2 s) and runs real processes inside it:
the port-mapping client in a home namespace, plain UDP ends and ggen-desktop
nodes on either side. Nothing here leaves the lab's namespaces.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from ggen_desktop.store.database import Database
from tests.natlab.conftest import UDP_PROBE, HomeAgent, MakeLab, probe
from tests.natlab.lab import NatLab, wait_for

pytestmark = pytest.mark.natlab

ECHO_PORT = 4000


def test_home_reaches_the_internet_only_through_the_routers_masquerade(lab: NatLab) -> None:
    server = lab.spawn(lab.public, [sys.executable, str(UDP_PROBE), "echo", "5000"])
    assert server.stdout is not None
    assert json.loads(server.stdout.readline()) == {"ready": True}

    sent = lab.run(lab.home, [sys.executable, str(UDP_PROBE), "send", lab.public_host_ip, "5000", "hello", "3"])
    assert json.loads(sent.stdout) == {"reply": "echo:hello", "from": [lab.public_host_ip, 5000], "error": None}
    seen = json.loads(server.stdout.readline())
    assert seen["from"][0] == lab.router_public_ip and seen["data"] == "hello"  # the public host saw the router

    # the public side has no way into the LAN but the router's NAT
    direct = probe(lab, ECHO_PORT, "in?", host=lab.home_ip)
    assert direct["reply"] is None and direct["error"] == "Network is unreachable"


def test_a_mapping_lets_a_public_datagram_in_until_the_client_closes_it(lab: NatLab, home_agent: HomeAgent) -> None:
    found = home_agent.ask(cmd="discover", timeout=3)
    assert found["ok"] and found["local_ip"] == lab.home_ip and lab.router_lan_ip in found["location"]
    assert home_agent.ask(cmd="echo", port=ECHO_PORT)["ok"]
    assert probe(lab, 40000, "before")["reply"] is None  # the router drops unsolicited datagrams

    mapped = home_agent.ask(cmd="map", internal_port=ECHO_PORT, external_port=40000, lease=600)
    assert mapped["ok"], mapped
    assert mapped["external"] == [lab.router_public_ip, 40000]
    answer = probe(lab, 40000, "through")
    assert answer["reply"] == "echo:through" and answer["from"] == [lab.router_public_ip, 40000]
    listed = home_agent.ask(cmd="mappings")["mappings"]
    assert [(m["external_port"], m["protocol"], m["internal_ip"], m["internal_port"]) for m in listed] == [
        (40000, "UDP", lab.home_ip, ECHO_PORT)]
    assert 590 <= listed[0]["lease_seconds"] <= 600
    assert f"dport 40000 dnat ip to {lab.home_ip}:{ECHO_PORT}" in lab.router_rules()

    assert home_agent.ask(cmd="unmap", external_port=40000)["ok"]
    assert home_agent.ask(cmd="mappings")["mappings"] == []
    assert "dnat" not in lab.router_rules()
    assert probe(lab, 40000, "after")["reply"] is None

    # a client that just ends (stdin closed) removes its mappings on the way out too
    assert home_agent.ask(cmd="map", internal_port=ECHO_PORT, external_port=40001, lease=600)["ok"]
    assert "dport 40001 dnat" in lab.router_rules()
    assert home_agent.close() == 0
    assert "dnat" not in lab.router_rules()


def test_the_lease_is_renewed_before_it_runs_out(lab: NatLab, home_agent: HomeAgent) -> None:
    home_agent.ask(cmd="discover", timeout=3)
    home_agent.ask(cmd="echo", port=ECHO_PORT)
    # one mapping added once and left alone, one held by UdpPortMapping; both with a 3 s lease
    assert home_agent.ask(cmd="add", external_port=40010, internal_port=ECHO_PORT, lease=3)["ok"]
    assert home_agent.ask(cmd="map", internal_port=ECHO_PORT, external_port=40011, lease=3)["ok"]
    started = time.monotonic()

    def ports() -> set[int]:
        return {m["external_port"] for m in home_agent.ask(cmd="mappings")["mappings"]}

    wait_for(lambda: ports() == {40011}, timeout=15, what="the unrenewed mapping to lapse", interval=0.5)
    wait_for(lambda: time.monotonic() - started > 4.5, timeout=10, what="more than a lease to pass")
    assert ports() == {40011}
    status = home_agent.ask(cmd="status")
    assert status["mappings"]["40011"]["renewals"] >= 2 and status["changes"] == []
    assert probe(lab, 40011, "renewed")["reply"] == "echo:renewed"
    assert probe(lab, 40010, "lapsed")["reply"] is None


def test_a_mapping_that_lapsed_while_the_router_was_down_comes_back_with_it(lab: NatLab, home_agent: HomeAgent) -> None:
    home_agent.ask(cmd="discover", timeout=3)
    home_agent.ask(cmd="echo", port=ECHO_PORT)
    assert home_agent.ask(cmd="map", internal_port=ECHO_PORT, external_port=40040, lease=3)["ok"]
    before = home_agent.ask(cmd="status")["mappings"]["40040"]["location"]

    lab.stop_igd()

    def changes() -> list[object]:
        return list(home_agent.ask(cmd="status")["changes"])

    wait_for(lambda: changes() == [None], timeout=10, what="the client to report the lapsed mapping", interval=0.25)
    lab.start_igd()  # miniupnpd comes back on another HTTP port: only a new search finds it
    wait_for(lambda: changes() == [None, [lab.router_public_ip, 40040]], timeout=15,
             what="the client to map the port again", interval=0.25)
    status = home_agent.ask(cmd="status")["mappings"]["40040"]
    assert status["external"] == [lab.router_public_ip, 40040] and status["location"] != before
    assert probe(lab, 40040, "back")["reply"] == "echo:back"


def test_without_a_gateway_discovery_fails_clearly_within_its_time_bound(make_lab: MakeLab) -> None:
    lab = make_lab(igd=False)
    agent = HomeAgent(lab)
    failed = agent.ask(cmd="discover", timeout=1.5)
    assert failed["ok"] is False and failed["error"] == "NoGatewayFound"
    assert "no UPnP internet gateway answered on the local network within 1.5 s" in failed["message"]
    assert 1.5 <= failed["elapsed"] < 2.5

    lab.start_igd()  # the same client finds it once the router offers UPnP
    assert agent.ask(cmd="discover", timeout=3)["ok"]


def test_a_refused_mapping_carries_the_routers_error_code(lab: NatLab, home_agent: HomeAgent) -> None:
    home_agent.ask(cmd="discover", timeout=3)
    refused = home_agent.ask(cmd="map", internal_port=ECHO_PORT, external_port=80, lease=60)  # the IGD allows 1024+
    assert refused["ok"] is False and refused["error"] == "MappingRefused" and refused["code"] == 606
    assert refused["message"] == "the router refused to map UDP port 80: UPnP error 606 (Action not authorized)"
    assert home_agent.ask(cmd="mappings")["mappings"] == []


def test_a_port_taken_by_another_home_host_falls_back_to_a_free_one(lab: NatLab, home_agent: HomeAgent) -> None:
    other = HomeAgent(lab, lab.home2)
    for agent in (home_agent, other):
        agent.ask(cmd="discover", timeout=3)
        agent.ask(cmd="echo", port=ECHO_PORT)
    assert other.ask(cmd="map", internal_port=ECHO_PORT, external_port=40020, lease=600)["external"][1] == 40020

    mapped = home_agent.ask(cmd="map", internal_port=ECHO_PORT, external_port=40020, lease=600)
    assert mapped["ok"], mapped
    port = mapped["external"][1]
    assert port != 40020
    rules = lab.router_rules()
    assert f"dport 40020 dnat ip to {lab.home2_ip}:{ECHO_PORT}" in rules
    assert f"dport {port} dnat ip to {lab.home_ip}:{ECHO_PORT}" in rules
    assert probe(lab, port, "one")["reply"] == "echo:one"
    assert probe(lab, 40020, "two")["reply"] == "echo:two"


def test_a_router_without_a_public_address_is_reported_as_double_nat(make_lab: MakeLab) -> None:
    lab = make_lab(public_prefix="10.77.0")  # the router's own uplink is a private network
    assert "Port forwarding is impossible" in lab.igd_log()
    agent = HomeAgent(lab)
    agent.ask(cmd="discover", timeout=3)
    failed = agent.ask(cmd="map", internal_port=ECHO_PORT, external_port=40030, lease=60)
    assert failed["ok"] is False and failed["error"] == "BehindAnotherNat"
    assert failed["message"].startswith("the router reports no external address: it is itself behind another NAT")
    assert "dnat" not in lab.router_rules()


MANIFEST = """\
[package]
id = "acme/behind-nat"
version = "0.3.0"
title = "Published from behind a NAT"
description = "Reached a public node through a masquerading router"
tags = ["natlab"]
categories = ["Utility"]
content_hash = "sha256:{}"
""".format("cd" * 32)


def test_nodes_behind_the_nat_publish_and_search_through_a_public_node(lab: NatLab, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    cli = [str(Path(sys.executable).with_name("ggen-desktop-cli"))]  # the installed console entry point
    node = lab.spawn(lab.public, [*cli, "node", "--port", "7000", "--data-dir", str(tmp_path / "public-node")], env=env,
                     log_name="public-node.log")
    assert node.stdout is not None
    ready = node.stdout.readline()
    assert re.match(r"listening on 0\.0\.0\.0:7000 node [0-9a-f]{40}", ready), (lab.workdir / "public-node.log").read_text()
    bootstrap = f"{lab.public_host_ip}:7000"

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "ggen-package.toml").write_text(MANIFEST)
    published = lab.run(lab.home, [*cli, "publish", str(tmp_path / "pkg"), "--bootstrap", bootstrap, "--key-file",
                                   str(tmp_path / "publisher.key"), "--data-dir", str(tmp_path / "publisher")],
                        env=env, check=False)
    assert published.returncode == 0, published.stderr
    assert re.search(r"published acme/behind-nat 0\.3\.0 by \S+: [1-9]\d* replicas acknowledged", published.stdout)

    found = lab.run(lab.home2, [*cli, "search", "behind", "--bootstrap", bootstrap, "--json", "--timeout", "3",
                                "--data-dir", str(tmp_path / "searcher")], env=env, check=False)
    assert found.returncode == 0, found.stderr
    results = [json.loads(line) for line in found.stdout.splitlines()]
    assert [(r["id"], r["version"], r["title"]) for r in results] == [
        ("acme/behind-nat", "0.3.0", "Published from behind a NAT")]

    node.terminate()
    assert node.wait(timeout=10) == 0
    # The public node sees the home nodes only as the router's address, and their ids (chosen for an
    # address they do not know) do not conform to it (BEP 42): they published and searched, but never
    # became its routing contacts.
    with closing(Database(tmp_path / "public-node")) as public_db:
        hosts = {contact.host for contact in public_db.load_contacts()}
    assert hosts == set()


def test_the_lab_leaves_nothing_behind(make_lab: MakeLab) -> None:
    lab = make_lab()
    names = (lab.public, lab.router, lab.home, lab.home2)
    igd_pid = int((lab.workdir / "miniupnpd.pid").read_text())
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert all(name in listed for name in names)

    lab.close()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name in listed for name in names)
    assert not Path(f"/proc/{igd_pid}").exists()
