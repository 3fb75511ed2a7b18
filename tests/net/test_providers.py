"""Provider records on real loopback nodes: stored under the sender's own address, found by others, bounded."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from ggen_desktop.net.node import MarketplaceNode, NodeError
from ggen_desktop.net.protocol import ERROR_KEY
from ggen_desktop.net.providers import SELF, ProviderStore, _parse_providers, provider_key
from tests.net.conftest import FAST

SHA = hashlib.sha256(b"an archive").hexdigest()
Hosts = Callable[..., Awaitable[list[MarketplaceNode]]]


@pytest_asyncio.fixture
async def hosts() -> AsyncIterator[Hosts]:
    """`await hosts("127.0.5.1", ...)`: one node per loopback address, each joining through the first."""
    started: list[MarketplaceNode] = []

    async def build(*addresses: str) -> list[MarketplaceNode]:
        for address in addresses:
            node = MarketplaceNode(query_config=FAST)
            await node.start(0, [started[0].address] if started else [], address)
            started.append(node)
        return started

    yield build
    for node in started:
        await node.stop()


def test_provider_key_is_sha1_of_prov_and_the_hex_digest() -> None:
    assert provider_key(SHA) == provider_key("sha256:" + SHA) == hashlib.sha1(f"prov:{SHA}".encode()).digest()


@pytest.mark.asyncio
async def test_provider_is_found_under_its_own_source_address(hosts: Hosts) -> None:
    seeder, holder, asker = await hosts("127.0.5.1", "127.0.5.2", "127.0.5.3")
    assert await seeder.providers.provide(SHA, 6881) >= 2  # holder and asker both keep it
    assert holder.providers.store.get(provider_key(SHA)) == [("127.0.5.1", 6881)]
    assert ("127.0.5.1", 6881) in await asker.providers.find(SHA)
    assert await asker.providers.find(hashlib.sha256(b"other").hexdigest()) == []


@pytest.mark.asyncio
async def test_a_seeder_answers_for_itself_when_nobody_holds_its_record(hosts: Hosts) -> None:
    """A seeder whose provide reached nobody (it was alone then) is still found: it answers with SELF,
    which the asker replaces with the address the answer came from."""
    (seeder,) = await hosts("127.0.6.1")
    assert await seeder.providers.provide(SHA, 7000) == 0
    (_, asker) = await hosts("127.0.6.2")
    assert await asker.providers.find(SHA) == [("127.0.6.1", 7000)]


@pytest.mark.asyncio
async def test_a_provider_record_naming_another_address_is_refused(hosts: Hosts) -> None:
    """The request carries only a port; one that also names a host is malformed and stores nothing."""
    liar, holder = await hosts("127.0.7.1", "127.0.7.2")
    proto = liar.protocol
    key = provider_key(SHA)
    ok, answer = await proto.request(holder.address, "provide", [proto.source_node.id, key, "10.1.2.3", 6881])
    assert ok and answer == {ERROR_KEY: "malformed arguments"}
    ok, answer = await proto.request(holder.address, "provide", [proto.source_node.id, key, ["10.1.2.3", 6881]])
    assert ok and answer == {ERROR_KEY: "malformed arguments"}
    assert holder.providers.store.get(key) == []
    ok, answer = await proto.request(holder.address, "provide", [proto.source_node.id, key, 6881])
    assert ok and answer is True
    assert holder.providers.store.get(key) == [("127.0.7.1", 6881)]


def test_records_expire_unless_refreshed() -> None:
    now = [1000.0]
    store = ProviderStore(ttl=3600, clock=lambda: now[0])
    key = os.urandom(20)
    store.add(key, ("127.0.0.2", 1))
    store.add(key, ("127.0.0.3", 2))
    now[0] += 3000
    store.add(key, ("127.0.0.2", 1))  # refreshed
    now[0] += 1000
    assert store.get(key) == [("127.0.0.2", 1)]
    now[0] += 3600
    assert store.get(key) == [] and len(store) == 0


def test_records_are_bounded_per_address_and_in_total() -> None:
    store = ProviderStore(per_ip=3, total=5)
    keys = [os.urandom(20) for _ in range(8)]
    assert [store.add(k, ("127.0.0.2", 1)) for k in keys[:4]] == [True, True, True, False]
    assert store.add(keys[0], ("127.0.0.2", 1))  # a refresh is not a new record
    for index, key in enumerate(keys[4:7]):
        assert store.add(key, (f"127.0.1.{index}", 1))
    assert len(store) == 5  # the least recently refreshed made room
    assert store.get(keys[1]) == [] and store.get(keys[0]) == [("127.0.0.2", 1)]


def test_hostile_answers_are_filtered() -> None:
    answer = [[SELF, 5], ["127.0.0.9", 6], ["evil.example", 7], ["127.0.0.9", 0], ["127.0.0.9", True], "x", [1, 2]]
    assert _parse_providers(answer, "127.0.0.4") == [("127.0.0.4", 5), ("127.0.0.9", 6)]
    assert _parse_providers({"error": "x"}, "127.0.0.4") == []


@pytest.mark.asyncio
async def test_find_gives_up_on_silent_nodes_in_bounded_time(hosts: Hosts) -> None:
    seeder, asker = await hosts("127.0.8.1", "127.0.8.2")
    await seeder.providers.provide(SHA, 6000)
    await seeder.stop()
    found = await asyncio.wait_for(asker.providers.find(SHA), 15)
    assert found == [("127.0.8.1", 6000)]  # the record the asker holds outlives the seeder's answers


def test_a_node_not_started_has_no_provider_directory() -> None:
    with pytest.raises(NodeError, match="not running"):
        _ = MarketplaceNode().providers
