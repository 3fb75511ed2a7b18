"""Dependency resolution on real loopback nodes: each reason a dependency cannot be fetched, and the choice
of version and publisher when it can."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.record import SignedRecord
from ggen_desktop.net.dependencies import DependencyResolver
from ggen_desktop.net.node import MarketplaceNode
from tests.helpers.packages import make_record
from tests.net.conftest import joined_pair

SHARED = {"size": 1000, "info_hash": "ab" * 32}  # names a shared archive (no one need seed it for the record)


@pytest_asyncio.fixture
async def pair() -> AsyncIterator[tuple[MarketplaceNode, MarketplaceNode]]:
    async with joined_pair("127.0.17.1", "127.0.17.2") as (publisher, asker):
        yield publisher, asker


def resolver(node: MarketplaceNode) -> DependencyResolver:
    return DependencyResolver(node.list_versions, node.providers.find)


async def publish(node: MarketplaceNode, *records: SignedRecord) -> None:
    for record in records:
        await node.publish(record)


@pytest.mark.asyncio
async def test_each_reason_a_dependency_is_missing_is_said(pair: tuple[MarketplaceNode, MarketplaceNode]) -> None:
    publisher, asker = pair
    key, other, third = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    await publish(publisher,
                  make_record("acme/old", "Old", key, version="1.0.0", **SHARED),
                  make_record("acme/old", "Old", key, version="1.1.0", **SHARED),
                  make_record("acme/bare", "No archive", key, version="1.0.0"),
                  make_record("acme/unseeded", "Nobody seeds it", key, version="1.0.0", **SHARED),
                  make_record("acme/twice", "Two keys", other, version="1.0.0", **SHARED),
                  make_record("acme/twice", "Two keys", third, version="1.0.0", **SHARED))
    app = make_record("acme/app", "App", key, dependencies=[
        {"id": "acme/old", "requirement": ">=2.0.0"}, {"id": "acme/bare", "requirement": "*"},
        {"id": "acme/unseeded", "requirement": ">=1.0.0"}, {"id": "acme/twice", "requirement": "*"},
        {"id": "acme/nowhere", "requirement": "*"}])

    statuses = await resolver(asker).resolve(app)

    assert [s.describe() for s in statuses] == [
        "acme/old >=2.0.0: missing: no version matches >=2.0.0 (found 1.1.0, 1.0.0)",
        "acme/bare *: missing: 1.0.0 was published without a shared archive",
        "acme/unseeded >=1.0.0: missing: no node seeds the archive of 1.0.0",
        "acme/twice *: missing: it is published by 2 different keys, none of them this package's publisher; "
        "choose one by searching for it",
        "acme/nowhere *: missing: no version of it was found on the network",
    ]
    assert not any(s.available for s in statuses)


@pytest.mark.asyncio
async def test_the_newest_seeded_version_from_the_packages_own_publisher_is_chosen(
        pair: tuple[MarketplaceNode, MarketplaceNode]) -> None:
    """Among matching versions the newest that a node seeds; the depending package's publisher before any other."""
    publisher, asker = pair
    key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    seeded = make_record("acme/lib", "Lib", key, version="1.2.0", **SHARED)
    unseeded_newer = make_record("acme/lib", "Lib", key, version="1.3.0", **{**SHARED, "info_hash": "cd" * 32})
    strangers = make_record("acme/lib", "Lib", stranger, version="1.9.0", **SHARED)
    await publish(publisher, make_record("acme/lib", "Lib", key, version="1.0.0", **SHARED), seeded, unseeded_newer,
                  strangers, make_record("acme/lib", "Lib", key, version="2.0.0", **SHARED))
    for port in (6881, 6882):
        await publisher.providers.provide(seeded.package.content_hash, port)
    app = make_record("acme/app", "App", key, dependencies=[{"id": "acme/lib", "requirement": ">=1.0.0,<2.0.0"}])

    (status,) = await resolver(asker).resolve(app)

    assert status.available and status.record == seeded and status.providers == 2
    assert status.describe() == "acme/lib >=1.0.0,<2.0.0: 1.2.0, 2 providers"
