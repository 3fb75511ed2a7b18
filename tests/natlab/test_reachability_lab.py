"""Reachability behind a real NAT, with real nodes: a UPnP mapping makes a home node a full peer; without
one it runs in client mode; its mapping goes when it exits.

Two public nodes (11.77.0.2 and .3, ids bound to those addresses by BEP 42)
run in the lab's public namespace; the node under test runs in the home
namespace behind the router's nftables masquerade, checking its reachability
with router discovery allowed (the only place tests allow it). Each runs in
tests/natlab/node_agent.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.natlab.conftest import NODE_AGENT, HomeAgent, MakeLab
from tests.natlab.lab import NatLab

pytestmark = pytest.mark.natlab

PORT = 7000
HOME_PORT = 7100
SECOND_PUBLIC = "11.77.0.3"


def poll(agent: HomeAgent, done: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
    """Ask the agent for its status until `done` holds; fails with the last status and the agent's log."""
    deadline = time.monotonic() + timeout
    while True:
        status = agent.ask(cmd="status")
        assert status["ok"], status
        if done(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last status {status}; log {agent.log()}")
        time.sleep(0.2)


def hosts(status: dict[str, Any]) -> set[tuple[str, int]]:
    return {(host, port) for _, host, port in status["contacts"]}


def public_nodes(lab: NatLab) -> tuple[HomeAgent, HomeAgent]:
    """Two public nodes on their own addresses, the second joined through the first."""
    lab.add_public_host_address(SECOND_PUBLIC)
    first = HomeAgent(lab, lab.public, NODE_AGENT, "node1")
    second = HomeAgent(lab, lab.public, NODE_AGENT, "node2")
    assert first.ask(cmd="start", port=PORT, interface=lab.public_host_ip)["ok"]
    assert second.ask(cmd="start", port=PORT, interface=SECOND_PUBLIC, bootstrap=[[lab.public_host_ip, PORT]])["ok"]
    poll(first, lambda s: (SECOND_PUBLIC, PORT) in hosts(s), 10, "the public nodes to know each other")
    return first, second


def start_home(lab: NatLab) -> HomeAgent:
    home = HomeAgent(lab, lab.home, NODE_AGENT, "node")
    started = home.ask(cmd="start", port=HOME_PORT, interface="0.0.0.0", bootstrap=[[lab.public_host_ip, PORT]],
                       check=True, port_mapping=True)
    assert started["ok"], started
    return home


def test_behind_nat_with_upnp_a_node_becomes_reachable_and_holds_replicas(lab: NatLab) -> None:
    first, second = public_nodes(lab)
    home = start_home(lab)
    status = poll(home, lambda s: s["reachability"]["state"] in ("reachable", "client"), 40, "the reachability check")
    reach = status["reachability"]
    assert reach["state"] == "reachable", (reach, home.log())
    assert reach["how"] == "UPnP" and reach["external"] == [lab.router_public_ip, HOME_PORT]
    assert reach["text"] == f"Reachable at {lab.router_public_ip}:{HOME_PORT} via UPnP"
    assert not status["client_mode"]
    assert f"dnat ip to {lab.home_ip}:{HOME_PORT}" in lab.router_rules()

    # it took an id bound to the router's address, so both public nodes take it as a contact
    outside = (lab.router_public_ip, HOME_PORT)
    for public in (first, second):
        poll(public, lambda s: outside in hosts(s), 10, "the public node to take the home node as a contact")

    published = second.ask(cmd="publish", id="acme/held-at-home", title="Held behind a NAT", tags=["held"])
    assert published["ok"] and published["replicas"] == 2, published  # the first public node and the home node
    assert home.ask(cmd="holds", id="acme/held-at-home")["holds"]

    assert home.close() == 0


def test_a_node_removes_its_router_mapping_when_it_exits(lab: NatLab) -> None:
    public_nodes(lab)
    home = start_home(lab)
    poll(home, lambda s: s["reachability"]["state"] == "reachable", 40, "the home node to be reachable")
    other = HomeAgent(lab, lab.home2)  # the other computer of the household lists the router's mappings
    assert other.ask(cmd="discover", timeout=3)["ok"]
    listed = other.ask(cmd="mappings")["mappings"]
    assert [(m["external_port"], m["protocol"], m["internal_ip"], m["internal_port"], m["description"]) for m in listed] \
        == [(HOME_PORT, "UDP", lab.home_ip, HOME_PORT, "ggen-desktop node")]
    assert 3500 <= listed[0]["lease_seconds"] <= 3600  # leased, so a node that crashes loses it within the hour

    assert home.close() == 0  # the node stops: its mapping is deleted on the router
    assert other.ask(cmd="mappings")["mappings"] == []
    assert f"dnat ip to {lab.home_ip}:{HOME_PORT}" not in lab.router_rules()


def test_behind_nat_without_upnp_a_node_runs_in_client_mode_and_is_no_public_nodes_contact(make_lab: MakeLab) -> None:
    lab = make_lab(igd=False)
    first, second = public_nodes(lab)
    home = start_home(lab)
    status = poll(home, lambda s: s["reachability"]["state"] in ("reachable", "client"), 40, "the reachability check")
    reach = status["reachability"]
    assert reach["state"] == "client" and status["client_mode"], (reach, home.log())
    assert reach["text"] == "Behind NAT: client mode"
    assert reach["external"] == [lab.router_public_ip, HOME_PORT]  # it knows where it is seen, but cannot be reached
    assert "no port mapping: no UPnP internet gateway answered" in reach["detail"]
    assert hosts(status) == {(lab.public_host_ip, PORT), (SECOND_PUBLIC, PORT)}  # it has contacts to ask

    assert home.ask(cmd="publish", id="acme/from-client", title="Published from a client", tags=["client"])["replicas"] == 2
    assert second.ask(cmd="search", text="client")["ids"] == ["acme/from-client"]
    assert first.ask(cmd="publish", id="acme/public-tool", title="A public tool", tags=["tool"])["ok"]
    assert home.ask(cmd="search", text="tool")["ids"] == ["acme/public-tool"]

    for public in (first, second):
        contacts = hosts(public.ask(cmd="status"))
        assert contacts and all(host != lab.router_public_ip for host, _ in contacts), contacts
    assert home.close() == 0
