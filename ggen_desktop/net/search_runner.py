"""Runs the node's searches: local knowledge first, then a streaming lookup of the query's keyword.

Each search is a `SearchHandle` whose task runs here. Ended searches stay
tracked for the query's grace period, so a late answer is recognised as one
(and dropped) rather than mistaken for traffic of no query.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kademlia.node import Node

from ggen_desktop.core.keywords import lookup_keyword
from ggen_desktop.core.metrics import QueryMetrics
from ggen_desktop.core.query import Query, QueryConfig, matches_query
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import THIS_NODE_SOURCE, QueryStatus
from ggen_desktop.net.lookup import Lookup
from ggen_desktop.net.search_handle import SearchHandle
from ggen_desktop.net.storage import RecordStorage, keyword_key

log = logging.getLogger(__name__)


class SearchRunner:
    """Starts searches, runs each to its one end, and tracks them until their grace period is over."""

    def __init__(self, metrics: QueryMetrics, storage: RecordStorage, local_search: Callable[[Query], list[SignedRecord]],
                 on_record: Callable[[SignedRecord, str], None], lookup: Lookup,
                 running_as: Callable[[], str | None]) -> None:
        """`on_record(record, peer)` learns each record a peer answered with; `running_as()` is this
        node's id (hex) while it runs, else None (a stopped node searches its local knowledge only)."""
        self.metrics = metrics
        self.storage = storage
        self.local_search = local_search
        self.on_record = on_record
        self.lookup = lookup
        self.running_as = running_as
        self._queries: dict[str, SearchHandle] = {}

    def start(self, query: Query, config: QueryConfig) -> SearchHandle:
        """Start a search on the running loop and return its handle at once."""
        handle = SearchHandle(query, config, self.metrics, self._run, self._ended)
        self._queries[handle.query_id] = handle
        return handle

    def _ended(self, handle: SearchHandle) -> None:
        """Keep the entry for timeout + grace so late answers are recognised, then drop it."""
        asyncio.get_running_loop().call_later(handle.config.grace_period, self._queries.pop, handle.query_id, None)

    def tracked(self) -> list[str]:
        """Ids of running queries and of ended ones kept for their grace period."""
        return list(self._queries)

    def in_flight(self) -> int:
        return sum(1 for h in self._queries.values() if not h.done)

    def cancel_all(self) -> None:
        for handle in list(self._queries.values()):
            handle.cancel()

    async def _run(self, handle: SearchHandle) -> None:
        trace, config = handle.trace, handle.config

        def offer(record: SignedRecord, source: str) -> bool:
            """Merge one record from one source; True once the query has all the results it wants."""
            handle.emit(trace.add(record, source))
            return trace.result_count >= config.max_results

        try:
            word = lookup_keyword(trace.query)
            me = self.running_as()
            key = keyword_key(word) if word is not None and me is not None else None
            held = [(record, THIS_NODE_SOURCE) for record in self.local_search(trace.query)]
            if key is not None and me is not None:
                # This node may be one of the k closest to the key (§2.3): its replicas are its answer.
                held += [(record, me) for record in self.storage.records(key) if matches_query(record.package, trace.query)]
            if any(offer(record, source) for record, source in held):
                handle.finish(QueryStatus.FINISHED)
                return
            if key is not None:
                def merge(node: Node, records: list[SignedRecord]) -> bool:
                    if handle.done:
                        return True
                    peer = node.id.hex()
                    for record in records:
                        self.on_record(record, peer)
                        if offer(record, peer):
                            return True
                    return False

                await self.lookup(key, trace, merge, config)
                if trace.peers and not trace.answering_peers:
                    handle.finish(QueryStatus.TIMED_OUT)  # everyone asked timed out: what we have is partial
                    return
            handle.finish(QueryStatus.FINISHED)
        except TimeoutError:
            handle.finish(QueryStatus.TIMED_OUT)
        except asyncio.CancelledError:
            handle.finish(QueryStatus.CANCELLED)
            raise
        except Exception as exc:
            log.exception("search %s failed", handle.query_id)
            handle.finish(QueryStatus.FAILED, str(exc))
