"""Reachability on loopback: stun, dial-back, client mode, and plain kademlia peers still answering.

Router discovery never runs here (no node is given `port_mapping`); the NAT
cases run in tests/natlab on real namespaces.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
import umsgpack
from kademlia.network import Server

from ggen_desktop.core.query import Query
from ggen_desktop.core.reachability import ReachHow, ReachState
from ggen_desktop.net.dial_back import DIAL_BACKS_PER_WINDOW, NONCE_BYTES
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.reachability import agreed_address
from ggen_desktop.net.rpc_transport import CLIENT_MARK
from tests.helpers.packages import make_record
from tests.net.conftest import FAST, Network
from tests.net.raw_peer import REQ, RESP, RawPeer

pytestmark = pytest.mark.asyncio


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest_asyncio.fixture
async def extra() -> AsyncIterator[Callable[..., MarketplaceNode]]:
    """Nodes made with options (client mode, checks); all stopped after the test."""
    made: list[MarketplaceNode] = []

    def make(**options: object) -> MarketplaceNode:
        node = MarketplaceNode(query_config=FAST, **options)  # type: ignore[arg-type]
        made.append(node)
        return node

    yield make
    for node in made:
        await node.stop()


def holders(nodes: list[MarketplaceNode], address: tuple[str, int]) -> list[MarketplaceNode]:
    """The nodes with `address` among their routing contacts."""
    return [n for n in nodes if any((host, port) == address for _, host, port in n.contacts())]


async def test_stun_answers_the_address_the_request_came_from_within_three_times_its_size(network: Network) -> None:
    (node,) = await network(1)
    peer = RawPeer()
    try:
        answer = await peer.call(node.address, "stun", [bytes(40)])  # padded as our nodes do: the answer fits
        assert answer == list(peer.address)
        assert peer.last_answer_bytes <= 3 * peer.bytes_sent
    finally:
        peer.close()


async def test_the_external_address_is_the_one_observers_agree_on() -> None:
    a, b = ("203.0.113.5", 4433), ("203.0.113.5", 5000)
    assert agreed_address([a, a, b]) == a
    assert agreed_address([a]) == a  # a lone observer is believed
    assert agreed_address([a, b]) is None  # two that disagree: no address
    assert agreed_address([]) is None


async def test_a_node_on_loopback_observes_its_address_and_is_reached_by_dial_back(network: Network) -> None:
    nodes = await network(3)
    node = nodes[2]
    assert await node.reach.observe() == node.address
    assert await node.reach.dial_back() is True


async def test_a_checking_node_is_a_client_until_reachable_then_a_contact_of_the_others(network: Network, extra) -> None:
    nodes = await network(3)
    node = extra(check_reachability=True)
    await node.start(0, [n.address for n in nodes])
    assert await until(lambda: node.reachability.state is ReachState.REACHABLE)
    assert node.reachability.how is ReachHow.DIRECT and node.reachability.external == node.address
    assert node.reachability.describe() == f"Reachable at 127.0.0.1:{node.address[1]}"
    assert not node.protocol.client_mode
    assert await until(lambda: len(holders(nodes, node.address)) == 3)  # it announced itself once reachable


async def test_dial_back_goes_only_to_the_requester_after_it_proved_its_address_and_is_rate_limited(network: Network
                                                                                               ) -> None:
    (node,) = await network(1)
    peer = RawPeer()
    try:
        async def ask(token: bytes | None) -> tuple[object, list[tuple[str, int]]]:
            """One dial_back; its answer and the (sender of every) dial_probe that arrived meanwhile."""
            msg_id = os.urandom(20)
            nonce = os.urandom(NONCE_BYTES)
            args: list[object] = [nonce] if token is None else [nonce, token]
            peer.send(REQ + msg_id + umsgpack.packb(["dial_back", args]), node.address)
            probes = []
            while True:
                header, payload, sender = await peer._receive_from(3.0)
                if header[:1] == REQ and payload == ["dial_probe", [nonce]]:
                    probes.append(sender)
                    peer.send(RESP + header[1:] + umsgpack.packb(True), sender)
                elif header == RESP + msg_id:
                    return payload, probes

        challenge, probes = await ask(None)  # unverified: a token to send back, nothing dialled
        assert isinstance(challenge, dict) and set(challenge) == {"token"} and probes == []
        answers = [await ask(challenge["token"]) for _ in range(DIAL_BACKS_PER_WINDOW + 1)]
        for answer, probes in answers[:-1]:
            assert answer == {"reached": True}
            assert len(probes) == 1 and probes[0] != node.address  # from another socket than the node's
        assert answers[-1] == ({"reached": False, "refused": True}, [])  # over the per-party budget
    finally:
        peer.close()


async def test_a_client_mode_node_searches_and_publishes_but_is_in_no_routing_table(network: Network, extra,
                                                                                    publisher) -> None:
    nodes = await network(4)
    theirs = make_record("acme/rust-cli", "Rust CLI template", publisher, tags=("rust",))
    await nodes[0].publish(theirs)
    full, client = extra(), extra(client_mode=True)
    for node in (full, client):
        await node.start(0, [n.address for n in nodes[:3]])
    assert client.reachability.state is ReachState.CLIENT and client.reachability.describe() == "Client mode"

    mine = make_record("acme/ro-tool", "Published by a client", publisher, tags=("client",))
    report = await client.publish(mine)
    assert report.replicas >= 3
    handle = client.search(Query(text="rust"))
    assert theirs.identity in {e.hit.record.identity async for e in handle}
    found = nodes[3].search(Query(text="client"))
    assert mine.identity in {e.hit.record.identity async for e in found}

    # the full node, joined the same way at the same time, is everyone's contact by now; the client is no one's
    assert await until(lambda: len(holders(nodes, full.address)) == 4)
    assert holders([*nodes, full], client.address) == []
    assert sum(n.transport_stats()["client_requests"] for n in nodes) > 0
    assert len(client.contacts()) >= 4  # it keeps contacts of its own to ask
    assert client.transport_stats()["dropped_client_mode"] == 0  # nobody even probed it: it was no candidate
    # and it serves nothing: a peer's request goes unanswered
    ok, _ = await nodes[0].protocol.request(client.address, "ping", [nodes[0].node_id], 0.5)
    assert not ok and client.transport_stats()["dropped_client_mode"] >= 1


async def test_plain_kademlia_peers_answer_a_client_and_still_join_our_nodes(network: Network, extra) -> None:
    (node,) = await network(1)
    plain = Server()
    await plain.listen(0, "127.0.0.1")
    try:
        assert await plain.bootstrap([node.address])  # a plain peer joins as before
        plain_address = ("127.0.0.1", plain.protocol.transport.get_extra_info("sockname")[1])
        assert await until(lambda: bool(holders([node], plain_address)))
        client = extra(client_mode=True)
        await client.start(0, [plain_address])
        ok, answer = await client.protocol.request(plain_address, "find_node", [client.node_id, client.node_id])
        assert ok and isinstance(answer, list)  # the mark in the message id is ignored by rpcudp
        assert client.joined
    finally:
        plain.stop()


async def test_only_a_client_marks_its_message_ids(network: Network, extra) -> None:
    (node,) = await network(1)
    client = extra(client_mode=True)
    await client.start(0, [node.address])
    sent: list[bytes] = []
    for who in (node, client):
        transport = who.protocol.transport
        original = transport.sendto
        transport.sendto = lambda data, addr, original=original: (sent.append(data), original(data, addr))  # type: ignore
        await who.protocol.request(("127.0.0.1", 9), "ping", [who.node_id], 0.05)
        transport.sendto = original  # type: ignore[method-assign]
    assert [d[1:1 + len(CLIENT_MARK)] == CLIENT_MARK for d in sent] == [False, True]


async def test_a_forged_dial_back_reflects_less_than_the_forger_sent(network: Network) -> None:
    """Sent with a victim's address as source (here from the victim's own socket, which only counts):
    the victim receives token challenges, never a dial probe."""
    (node,) = await network(1)
    victim = RawPeer(answer_pings=False)
    try:
        for _ in range(40):
            victim.request(node.address, "dial_back", [os.urandom(NONCE_BYTES)])
        received: list[bytes] = []
        # a dial probe would be sent before its request's answer: once 40 answers are in, so would any probe be
        assert await until(lambda: received.extend(victim.drain()) or sum(d[:1] == RESP for d in received) >= 40)
        assert all(d[:1] == RESP for d in received)  # answers only (challenges), no dial_probe request
        assert victim.bytes_received <= victim.bytes_sent
        print(f"forged dial_back: {victim.bytes_sent} bytes forged, {victim.bytes_received} reflected")
    finally:
        victim.close()


async def test_a_lapsed_or_restored_router_mapping_makes_the_node_check_again_at_once(network: Network, extra) -> None:
    nodes = await network(2)
    node = extra(check_reachability=True)
    await node.start(0, [n.address for n in nodes])
    assert await until(lambda: node.reachability.state is ReachState.REACHABLE)
    checks: list[ReachState] = []
    original = node.reach.check

    async def counted() -> object:
        checks.append((await original()).state)
        return node.reachability

    node.reach.check = counted  # type: ignore[method-assign]
    node.reach._mapping_changed(None)  # what UdpPortMapping calls when its lease ran out unrenewed
    assert await until(lambda: checks == [ReachState.REACHABLE])  # not an hour later
