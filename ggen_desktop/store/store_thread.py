"""The store's second connection, on a thread of its own: batched writes and slow reads off the event loop.

A search merges hundreds of results a second, and each one used to be a
SQLite transaction on the event loop (about four per distinct result, single
writes up to 17 ms). Here the loop only queues what is to be kept: records
seen (coalesced by identity), peer stats and routing contacts (last one wins).
The thread writes all of it in one transaction per interval, or at once when
asked (`flush`, and at `close`). Slow reads (start-up loading, which verifies
thousands of signatures) run here too, in order with the writes (`submit`).

SQLite connections are bound to the thread that opened them, so this thread
opens its own and is the only one to use it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ggen_desktop.core.record import SignedRecord
from ggen_desktop.store.connection import Sighting, StoreConnection
from ggen_desktop.store.errors import StoreError
from ggen_desktop.store.rows import Contact
from ggen_desktop.store.sql import Identity

log = logging.getLogger(__name__)

WRITE_INTERVAL_S = 1.0  # at most one write transaction per interval while results stream in
RETRY_AFTER_FAILURE_S = 30.0  # a full disk: keep what is queued and try again this much later
CLOSE_TIMEOUT_S = 30.0

T = TypeVar("T")
Job = Callable[[StoreConnection], Any]


@dataclass
class _Queued:
    """What waits for the next write; each kind coalesced so a burst costs one row per thing."""

    sightings: dict[Identity, tuple[SignedRecord, dict[str, float]]] = field(default_factory=dict)
    peers: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: list[Contact] | None = None

    def __bool__(self) -> bool:
        return bool(self.sightings or self.peers or self.contacts is not None)

    def add_sighting(self, record: SignedRecord, peer_id: str, at: float) -> None:
        known = self.sightings.get(record.identity)
        if known is None:
            self.sightings[record.identity] = (record, {peer_id: at})
            return
        kept, peers = known
        if kept.is_older_than(record):
            self.sightings[record.identity] = (record, peers)
        peers[peer_id] = max(at, peers.get(peer_id, at))

    def merge_under(self, newer: _Queued) -> _Queued:
        """This (older, unwritten) batch with `newer` applied on top of it."""
        for record, peers in newer.sightings.values():
            for peer_id, at in peers.items():
                self.add_sighting(record, peer_id, at)
        self.peers.update(newer.peers)
        if newer.contacts is not None:
            self.contacts = newer.contacts
        return self

    def describe(self) -> str:
        return (f"save {len(self.sightings)} discovered record(s), {len(self.peers)} peer(s)"
                f"{' and the routing contacts' if self.contacts is not None else ''}")


class StoreThread:
    """Queue writes from any thread; one thread writes them in batches. `close()` writes what is left."""

    def __init__(self, open_connection: Callable[[], StoreConnection], interval: float = WRITE_INTERVAL_S) -> None:
        self.interval = interval
        self._open = open_connection
        self._cond = threading.Condition()
        self._queued = _Queued()
        self._due: float | None = None  # when the queued writes go out (monotonic)
        self._jobs: list[tuple[Job, Future[Any]]] = []
        self._closing = False
        self._failure: StoreError | None = None  # the thread could not open the database
        self._connection: StoreConnection | None = None
        self._thread = threading.Thread(target=self._run, name="ggen-store", daemon=True)
        self._thread.start()

    @property
    def committed(self) -> int:
        """Write transactions this thread committed."""
        connection = self._connection
        return connection.committed if connection is not None else 0

    # -- from the event loop (or any thread) ---------------------------------------

    def queue_sighting(self, record: SignedRecord, peer_id: str, at: float | None = None) -> None:
        """A verified record `peer_id` sent: kept with the next batch."""
        self._queue(lambda q: q.add_sighting(record, peer_id, time.time() if at is None else at))

    def queue_peers(self, peers: Mapping[str, Mapping[str, Any]]) -> None:
        """Peers' reputation stats (JSON-able); a later queue of the same peer replaces it."""
        snapshot = {peer: dict(stats) for peer, stats in peers.items()}
        self._queue(lambda q: q.peers.update(snapshot))

    def queue_contacts(self, contacts: Sequence[Contact]) -> None:
        """The routing contacts to keep (they replace the saved ones)."""
        rows = list(contacts)
        self._queue(lambda q: setattr(q, "contacts", rows))

    def submit(self, job: Callable[[StoreConnection], T]) -> Future[T]:
        """Run `job(connection)` on the thread, after what was submitted before; its result or error."""
        future: Future[T] = Future()
        with self._cond:
            if self._closing:
                future.set_exception(self._failure or StoreError("the store is closed"))
                return future
            self._jobs.append((job, future))
            self._cond.notify()
        return future

    def flush(self) -> Future[None]:
        """Write everything queued so far now; the future fails with StoreError if it could not be."""
        return self.submit(self._write_queued)

    def close(self) -> None:
        """Write what is queued, finish the submitted jobs, close the connection. Safe to call twice."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(CLOSE_TIMEOUT_S)
            if self._thread.is_alive():
                log.error("the store thread did not finish within %.0f s; queued writes may be lost",
                          CLOSE_TIMEOUT_S)

    def _queue(self, change: Callable[[_Queued], None]) -> None:
        with self._cond:
            if self._closing:
                log.debug("store closed: a queued write is dropped")
                return
            change(self._queued)
            if self._due is None:
                self._due = time.monotonic() + self.interval
                self._cond.notify()

    # -- on the thread -------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._connection = self._open()
        except StoreError as exc:
            log.error("the store thread cannot open the database: %s", exc)
            self._fail_everything(exc)
            return
        try:
            self._serve(self._connection)
        finally:
            self._connection.close_connection()

    def _serve(self, connection: StoreConnection) -> None:
        while True:
            with self._cond:
                while not (self._jobs or self._closing or self._is_due()):
                    self._cond.wait(None if self._due is None else max(0.0, self._due - time.monotonic()))
                jobs, self._jobs = self._jobs, []
                write_now, closing = self._is_due() or self._closing, self._closing
            if write_now:
                try:
                    self._write_queued(connection)
                except StoreError as exc:
                    log.warning("%s; kept in memory and tried again in %.0f s", exc, RETRY_AFTER_FAILURE_S)
            for job, future in jobs:
                self._run_job(connection, job, future)
            if closing:
                with self._cond:
                    if not self._jobs:
                        return

    def _is_due(self) -> bool:
        return self._due is not None and time.monotonic() >= self._due

    @staticmethod
    def _run_job(connection: StoreConnection, job: Job, future: Future[Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(job(connection))
        except BaseException as exc:  # handed to whoever waits on the future
            future.set_exception(exc)

    def _write_queued(self, connection: StoreConnection) -> None:
        """One transaction for everything queued; on failure it stays queued (under anything newer)."""
        with self._cond:
            batch, self._queued, self._due = self._queued, _Queued(), None
        if not batch:
            return
        try:
            with connection.batch(batch.describe()):
                connection.save_discovered(Sighting(record, peers) for record, peers in batch.sightings.values())
                if batch.peers:
                    connection.save_peers(batch.peers)
                if batch.contacts is not None:
                    connection.save_contacts(batch.contacts)
        except StoreError:
            with self._cond:
                self._queued = batch.merge_under(self._queued)
                self._due = time.monotonic() + RETRY_AFTER_FAILURE_S
            raise

    def _fail_everything(self, exc: StoreError) -> None:
        with self._cond:
            self._closing, self._failure = True, exc
            jobs, self._jobs = self._jobs, []
        for _, future in jobs:
            if future.set_running_or_notify_cancel():
                future.set_exception(exc)
