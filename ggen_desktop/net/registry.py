"""The seed's Registry operations on the node: a package's versions, its newest, exists, metadata.

They answer from what this node knows (my packages, discovered records) and,
while it runs, from a lookup of the package's own DHT key, which every
version of the package is stored under (this node's own replicas under that
key are its answer to that lookup, as for a search).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kademlia.node import Node

from ggen_desktop.core.package import PackageError, PackageId, PackageMetadata
from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import THIS_NODE_SOURCE, QueryTrace
from ggen_desktop.net.errors import AmbiguousPublisher, NodeError
from ggen_desktop.net.lookup import Lookup, run_for
from ggen_desktop.net.storage import package_dht_key

log = logging.getLogger(__name__)

REGISTRY_QUERY_LIMIT = 500


class PackageRegistry:
    """Looks packages up by id, locally and on the DHT."""

    def __init__(self, known_records: Callable[[], list[SignedRecord]], local_search: Callable[[Query], list[SignedRecord]],
                 lookup: Lookup, is_running: Callable[[], bool], query_config: Callable[[], QueryConfig],
                 own_replicas: Callable[[bytes], list[SignedRecord]] = lambda key: []) -> None:
        """`query_config()` is read at each call: the node's settings may change while it runs."""
        self.known_records = known_records
        self.local_search = local_search
        self.own_replicas = own_replicas
        self.lookup = lookup
        self.is_running = is_running
        self.query_config = query_config

    async def list_versions(self, package_id: str, publisher: str | None = None) -> list[SignedRecord]:
        """Every version of a package known locally or on the DHT, newest first."""
        try:
            PackageId.parse(package_id)
        except PackageError as exc:
            raise NodeError(f"'{package_id}' is not a package id: {exc.rule}") from None
        trace = QueryTrace(Query(text=package_id, limit=REGISTRY_QUERY_LIMIT))
        for record in self.local_search(trace.query):
            trace.add(record, THIS_NODE_SOURCE)
        if self.is_running():
            for record in self.own_replicas(package_dht_key(package_id)):  # the lookup never asks this node
                trace.add(record, THIS_NODE_SOURCE)

            def merge(node: Node, records: list[SignedRecord]) -> bool:
                for record in records:
                    trace.add(record, node.id.hex())
                return False

            config = self.query_config()
            try:
                await run_for(self.lookup(package_dht_key(package_id), trace, merge, config), config.default_timeout)
            except TimeoutError:
                log.info("list_versions(%s) timed out; returning what arrived", package_id)
        records = [
            h.record for h in trace.hits.values()
            if str(h.record.package.id) == package_id and (publisher is None or h.record.fingerprint == publisher)
        ]
        return sorted(records, key=lambda r: r.package.version, reverse=True)

    async def get_package(self, package_id: str, publisher: str | None = None,
                          version: str | None = None) -> SignedRecord | None:
        """The newest version (or the one asked for) from `publisher`. Without one, the name must have a
        single publisher: a name signed by two keys raises AmbiguousPublisher naming them, never "the
        newest from any key" (another key can sign any name, with any version number)."""
        records = [r for r in await self.list_versions(package_id, publisher)
                   if version is None or str(r.package.version) == version]
        if publisher is None:
            keys = sorted({r.fingerprint for r in records})
            if len(keys) > 1:
                raise AmbiguousPublisher(package_id, keys)
        return records[0] if records else None

    async def exists(self, package_id: str) -> bool:
        if any(str(r.package.id) == package_id for r in self.known_records()):
            return True
        return bool(await self.list_versions(package_id))

    async def metadata(self, package_id: str, publisher: str | None = None) -> PackageMetadata | None:
        """As `get_package`: from one publisher, or the name's only one."""
        record = await self.get_package(package_id, publisher)
        return record.package.metadata if record is not None else None
