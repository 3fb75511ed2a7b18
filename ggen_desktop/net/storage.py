"""Validated multi-record storage for the DHT: many signed records per key, each verified.

kademlia's `ForgetfulStorage` keeps one unvalidated value per key, so any peer
could overwrite a package or fill a node with junk. Here a key holds one record
per (package, version, publisher); every record is verified before it is kept,
must belong under the key it is stored for, and is bounded per key, per sending
peer and in total. Entries expire (Kademlia paper §2.5: values expire unless
their publisher republishes them).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kademlia.storage import IStorage

from ggen_desktop.core.keywords import package_keywords
from ggen_desktop.core.query import Query, matches_query
from ggen_desktop.core.record import RecordError, SignedRecord, decode_and_verify

log = logging.getLogger(__name__)

RECORD_TTL_S = 24 * 3600.0  # Kademlia §2.5: a value expires 24 h after it was published
MAX_PER_KEY = 256  # the busiest keyword of the sample catalogue (a category) holds ~70
MAX_PER_PEER = 2048
MAX_TOTAL = 50_000
PAGE_BYTES = 40 * 1024  # one answer page; with the envelope it stays under the 48 KiB answer cap
PAGE_RECORDS = 64  # records in one answer page, whatever their size (a searcher reads no more)
RECORD_OVERHEAD = 8  # msgpack's bin header and list slot per record, generously
SELF_SENDER = "self"  # the sender of a record this node stored itself: exempt from per-peer caps


def package_dht_key(package_id: str) -> bytes:
    """The DHT key of every version of a package from every publisher."""
    return hashlib.sha1(f"pkg:{package_id}".encode()).digest()


def keyword_key(word: str) -> bytes:
    """The DHT key under which records whose keywords include `word` are stored."""
    return hashlib.sha1(f"kw:{word}".encode()).digest()


def record_keys(record: SignedRecord) -> list[bytes]:
    """Every key a record is published under: its package key, then one per keyword."""
    return list(_keys_of(record))


_KEYS_CACHE: dict[bytes, tuple[bytes, ...]] = {}
_KEYS_CACHE_SIZE = 8192


def _keys_of(record: SignedRecord) -> tuple[bytes, ...]:
    """Cached: the demo seeds every record under ~10 keys on ~20 nodes each."""
    keys = _KEYS_CACHE.get(record.encoded)
    if keys is None:
        if len(_KEYS_CACHE) >= _KEYS_CACHE_SIZE:
            _KEYS_CACHE.clear()
        package = record.package
        keys = (package_dht_key(str(package.id)), *(keyword_key(w) for w in package_keywords(package)))
        _KEYS_CACHE[record.encoded] = keys
    return keys


class StorageRefused(ValueError):
    """A record was not stored; `invalid` says whether the sender is to blame (a bad record)."""

    def __init__(self, message: str, invalid: bool) -> None:
        super().__init__(message)
        self.invalid = invalid


@dataclass
class _Entry:
    record: SignedRecord
    sender: str
    stored_at: float
    expires_at: float


class RecordStorage(IStorage):
    """Keys → {record identity → entry}; the `IStorage` methods keep plain kademlia code working."""

    def __init__(
        self,
        ttl: float = RECORD_TTL_S,
        max_per_key: int = MAX_PER_KEY,
        max_per_peer: int = MAX_PER_PEER,
        max_total: int = MAX_TOTAL,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.ttl = ttl
        self.max_per_key = max_per_key
        self.max_per_peer = max_per_peer
        self.max_total = max_total
        self._clock = clock or time.time
        self._data: dict[bytes, dict[tuple[str, str, str], _Entry]] = {}
        self._per_peer: dict[str, int] = {}
        self._total = 0
        self._swept_at = float("-inf")

    # -- our API -------------------------------------------------------------

    def add(self, key: bytes, value: object, sender: str = SELF_SENDER) -> SignedRecord:
        """Verify and keep one record under `key`; raises StorageRefused saying why not."""
        if not isinstance(key, bytes) or len(key) != 20:
            raise StorageRefused("a key must be 20 bytes", invalid=True)
        if not isinstance(value, (bytes, bytearray)):
            raise StorageRefused(f"a value must be a signed record, got {type(value).__name__}", invalid=True)
        try:
            record = decode_and_verify(bytes(value))
        except RecordError as exc:
            raise StorageRefused(f"refused record: {exc}", invalid=True) from None
        return self.put(key, record, sender)

    def put(self, key: bytes, record: SignedRecord, sender: str = SELF_SENDER) -> SignedRecord:
        """Keep a record this process already verified (it came from `decode_and_verify` or `sign`)."""
        if key not in _keys_of(record):
            raise StorageRefused(f"record {record.identity} does not belong under key {key.hex()}", invalid=True)
        self.expire()
        entries = self._data.setdefault(key, {})
        now = self._clock()
        old = entries.get(record.identity)
        if old is not None:
            if record.is_older_than(old.record):
                # An older signed copy replayed by a peer must not roll metadata back; it is genuine,
                # so not held against the sender, but it does not refresh the entry either.
                return old.record
            # The same identity again (a republish, or re-signed metadata): refresh it; counts do not change.
            if old.sender != sender:
                self._count(old.sender, -1)
                self._count(sender, +1)
            entries[record.identity] = _Entry(record, sender, now, now + self.ttl)
            return record
        if len(entries) >= self.max_per_key:
            raise StorageRefused(f"key {key.hex()} already holds {self.max_per_key} records", invalid=False)
        if sender != SELF_SENDER and self._per_peer.get(sender, 0) >= self.max_per_peer:
            raise StorageRefused(f"peer {sender[:12]} already stored {self.max_per_peer} records here", invalid=False)
        if self._total >= self.max_total:
            raise StorageRefused(f"storage is full ({self.max_total} records)", invalid=False)
        entries[record.identity] = _Entry(record, sender, now, now + self.ttl)
        self._count(sender, +1)
        self._total += 1
        return record

    def records(self, key: bytes) -> list[SignedRecord]:
        """Live records under a key, in the order they were first stored."""
        self.expire()
        now = self._clock()
        return [e.record for e in self._data.get(key, {}).values() if e.expires_at > now]

    def search(self, key: bytes, query: Query, page: int = 0, page_bytes: int = PAGE_BYTES) -> tuple[list[bytes], int | None]:
        """Matching records under `key` as encoded bytes, one page at a time, and the next page's number.

        Pages are by count of matching records skipped, so a page boundary is
        stable while the key's contents do not change.
        """
        matching = [r for r in self.records(key) if matches_query(r.package, query)]
        out: list[bytes] = []
        size = 0
        index = max(page, 0)
        while index < len(matching):
            encoded = matching[index].encoded
            if out and (size + len(encoded) + RECORD_OVERHEAD > page_bytes or len(out) >= PAGE_RECORDS):
                return out, index
            out.append(encoded)
            size += len(encoded) + RECORD_OVERHEAD
            index += 1
        return out, None

    def expire(self) -> int:
        """Drop expired entries (a full sweep at most once a second); returns how many."""
        now = self._clock()
        if now - self._swept_at < 1.0:
            return 0
        self._swept_at = now
        dropped = 0
        for key in list(self._data):
            entries = self._data[key]
            for identity in [i for i, e in entries.items() if e.expires_at <= now]:
                self._count(entries.pop(identity).sender, -1)
                self._total -= 1
                dropped += 1
            if not entries:
                del self._data[key]
        return dropped

    def __len__(self) -> int:
        return self._total

    def _count(self, sender: str, delta: int) -> None:
        value = self._per_peer.get(sender, 0) + delta
        if value > 0:
            self._per_peer[sender] = value
        else:
            self._per_peer.pop(sender, None)

    # -- kademlia's IStorage -------------------------------------------------

    def __setitem__(self, key: bytes, value: object) -> None:
        """kademlia's entry point: verified like any other; a bad value is logged and dropped."""
        try:
            self.add(key, value)
        except StorageRefused as exc:
            log.info("not storing a value under %s: %s", key.hex() if isinstance(key, bytes) else key, exc)

    def __getitem__(self, key: bytes) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:
        """One value for plain kademlia's find_value: the newest version stored under the key."""
        records = self.records(key)
        if not records:
            return default
        return max(records, key=lambda r: (r.package.version, r.package.updated_at)).encoded

    def iter_older_than(self, seconds_old: float) -> Iterator[tuple[bytes, bytes]]:
        cutoff = self._clock() - seconds_old
        for key, entries in list(self._data.items()):
            for entry in list(entries.values()):
                if entry.stored_at <= cutoff:
                    yield key, entry.record.encoded

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, encoded record) pairs; kademlia's `welcome_if_new` hands these to new neighbours."""
        self.expire()
        for key, entries in list(self._data.items()):
            for entry in list(entries.values()):
                yield key, entry.record.encoded
