"""Validated multi-record storage for the DHT, shared fairly among the addresses that fill it.

kademlia's `ForgetfulStorage` keeps one unvalidated value per key, so any peer
could overwrite a package or fill a node with junk. Here a key holds one record
per (package, version, publisher); every record is verified before it is kept
and must belong under the key it is stored for. Entries expire (Kademlia paper
§2.5: values expire unless their publisher republishes them).

Shares are counted by the address a record came from, never by a claimed node
id (ids cost nothing; addresses do): at most MAX_PER_SOURCE records per IP and
MAX_PER_GROUP per network (/24, IPv6 /48), and at most MAX_VERSIONS_PER_PACKAGE
versions of one publisher's package under a key. When a key or the whole
storage is full, room is made by evicting from the largest holder: under a key,
the address group holding most there, then within a group the publisher holding
most; in total, the group holding most. So a newcomer is refused only when no
party holds more than one record beyond what the newcomer's own party holds.
Records this node stored itself (SELF_SENDER) are never evicted by others.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from kademlia.storage import IStorage

from ggen_desktop.core.address import address_group, canonical_ip
from ggen_desktop.core.fair_share import Holders
from ggen_desktop.core.key_space import KeyIndex, KeyRange
from ggen_desktop.core.keywords import package_keywords
from ggen_desktop.core.package import Version
from ggen_desktop.core.query import Query, matches_query
from ggen_desktop.core.record import RecordError, SignedRecord, decode_and_verify

log = logging.getLogger(__name__)

RECORD_TTL_S = 24 * 3600.0  # Kademlia §2.5: a value expires 24 h after it was published
MAX_PER_KEY = 1024  # a popular keyword (1,000 packages) fits whole, read page by page; beyond it, shards (README)
# Versions of one publisher's package under one key; a newer one replaces the oldest. Not a cap per
# publisher: one sample publisher has 51 packages under the keyword "gopher", all of them findable.
MAX_VERSIONS_PER_PACKAGE = 4
MAX_PER_SOURCE = 2048  # records from one IP
MAX_PER_GROUP = 4096  # records from one /24 (IPv6 /48): a few hosts of one network
MAX_TOTAL = 50_000
PAGE_BYTES = 40 * 1024  # one answer page; with the envelope it stays under the 48 KiB answer cap
PAGE_RECORDS = 64  # records in one answer page, whatever their size (a searcher reads no more)
RECORD_OVERHEAD = 8  # msgpack's bin header and list slot per record, generously
SELF_SENDER = "self"  # the sender of a record this node stored itself: exempt from caps, never evicted


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


Identity = tuple[str, str, str]
Slot = tuple[bytes, Identity]  # (key, record identity): one stored entry


def _source_of(sender: str) -> tuple[str, str]:
    """(IP, network group) of a sender: the IP its datagram came from, or SELF_SENDER.
    Raises ValueError for anything else (a claimed node id is no sender)."""
    if sender == SELF_SENDER:
        return SELF_SENDER, SELF_SENDER
    return canonical_ip(sender), address_group(sender)


def _newness(record: SignedRecord) -> tuple[Version, int]:
    return record.package.version, record.package.updated_at


T = TypeVar("T")


def _lanes(items: list[T], party: Callable[[T], str]) -> list[list[T]]:
    """Items split by party, parties in order of first appearance, each keeping its items' order."""
    lanes: dict[str, list[T]] = {}
    for item in items:
        lanes.setdefault(party(item), []).append(item)
    return list(lanes.values())


def _merge_turns(lanes: list[list[T]]) -> list[T]:
    """The first item of each lane, then the second of each, and so on."""
    return [lane[turn] for turn in range(max(map(len, lanes), default=0)) for lane in lanes if turn < len(lane)]


def _taking_turns(items: list[T], party: Callable[[T], str]) -> list[T]:
    return _merge_turns(_lanes(items, party))


@dataclass
class _Entry:
    record: SignedRecord
    source: str  # the IP it came from, or SELF_SENDER
    group: str  # that IP's /24 (IPv6 /48), or SELF_SENDER
    stored_at: float
    expires_at: float


class RecordStorage(IStorage):
    """Keys → {record identity → entry}; the `IStorage` methods keep plain kademlia code working."""

    def __init__(
        self,
        ttl: float = RECORD_TTL_S,
        max_per_key: int = MAX_PER_KEY,
        max_per_source: int = MAX_PER_SOURCE,
        max_per_group: int = MAX_PER_GROUP,
        max_total: int = MAX_TOTAL,
        max_versions: int = MAX_VERSIONS_PER_PACKAGE,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.ttl = ttl
        self.max_per_key = max_per_key
        self.max_per_source = max_per_source
        self.max_per_group = max_per_group
        self.max_total = max_total
        self.max_versions = max_versions
        self._clock = clock or time.time
        self._data: dict[bytes, dict[Identity, _Entry]] = {}
        self._index = KeyIndex()
        self._sources = Holders()  # per IP
        self._groups = Holders()  # per /24 (/48)
        self._queues: dict[str, dict[Slot, None]] = {}  # group -> its entries, least recently stored first
        self._total = 0
        self._swept_at = float("-inf")
        self.evicted = 0  # entries dropped to make room for another party's

    # -- our API -------------------------------------------------------------

    def add(self, key: bytes, value: object, sender: str = SELF_SENDER) -> SignedRecord:
        """Verify and keep one record under `key` from `sender` (the IP the datagram came from);
        raises StorageRefused saying why not. Nothing is kept or counted for a refused record."""
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
        source, group = _source_of(sender)
        self.expire()
        now = self._clock()
        old = self._data.get(key, {}).get(record.identity)
        if old is not None:
            return self._refresh(key, old, record, source, group, now)
        if source != SELF_SENDER:
            if self._sources.count(source) >= self.max_per_source:
                raise StorageRefused(f"{source} already stored {self.max_per_source} records here", invalid=False)
            if self._groups.count(group) >= self.max_per_group:
                raise StorageRefused(f"network {group} already stored {self.max_per_group} records here", invalid=False)
        victim = self._room_for(key, record, group)
        if victim is not None:
            self._remove(*victim)
            self.evicted += 1
        self._insert(key, _Entry(record, source, group, now, now + self.ttl))
        return record

    def _refresh(self, key: bytes, old: _Entry, record: SignedRecord, source: str, group: str, now: float
                 ) -> SignedRecord:
        """The same identity again (a republish, a hand-over, re-signed metadata): renew it. An older
        signed copy replayed by a peer is genuine, so not held against the sender, but it neither rolls
        metadata back nor refreshes the entry. The entry moves to the new sender only if that evens the
        shares (to us, or to a smaller network), so replaying others' records cannot make them an
        attacker's, to be evicted from its large share."""
        if record.is_older_than(old.record):
            return old.record
        moves = source == SELF_SENDER or (
            old.source != SELF_SENDER
            and self._groups.count(group) + 1 < self._groups.count(old.group)
            and self._sources.count(source) < self.max_per_source
            and self._groups.count(group) < self.max_per_group
        )
        self._disown(key, old)
        self._data[key][record.identity] = entry = _Entry(
            record, source if moves else old.source, group if moves else old.group, now, now + self.ttl)
        self._own(key, entry)
        return record

    def _room_for(self, key: bytes, record: SignedRecord, group: str) -> Slot | None:
        """The entry to drop so `record` fits, None if it fits as is; raises StorageRefused if it may not."""
        entries = self._data.get(key, {})
        name, _, fingerprint = record.identity
        versions = [e for i, e in entries.items() if i[0] == name and i[2] == fingerprint]
        if len(versions) >= self.max_versions:
            oldest = min(versions, key=lambda e: _newness(e.record))
            if _newness(record) <= _newness(oldest.record):
                raise StorageRefused(f"{len(versions)} newer versions of {name} by {fingerprint} are held "
                                     f"under key {key.hex()}", invalid=False)
            return key, oldest.record.identity
        if len(entries) >= self.max_per_key:
            return key, self._key_victim(key, entries, record, group)
        if self._total >= self.max_total:
            victim_group = self._groups.should_yield(group) if group != SELF_SENDER else self._first(self._groups)
            if victim_group is None:
                raise StorageRefused(f"storage is full ({self.max_total} records) and no network holds more "
                                     f"than its share", invalid=False)
            return next(iter(self._queues[victim_group]))
        return None

    def _key_victim(self, key: bytes, entries: dict[Identity, _Entry], record: SignedRecord, group: str) -> Identity:
        """A full key yields from the network holding most there, or else, within the newcomer's own
        network, from the publisher holding most: the least recently stored of its records."""
        groups = Holders()
        for entry in entries.values():
            if entry.source != SELF_SENDER:
                groups.add(entry.group)
        victim_group = groups.should_yield(group) if group != SELF_SENDER else self._first(groups)
        victim_publisher = None
        if victim_group is not None:
            victim_publisher = self._first(self._publishers(entries, victim_group))
        elif group != SELF_SENDER:
            victim_group = group
            victim_publisher = self._publishers(entries, group).should_yield(record.fingerprint)
        if victim_group is None or victim_publisher is None:
            raise StorageRefused(f"key {key.hex()} already holds {self.max_per_key} records and no network or "
                                 f"publisher there holds more than its share", invalid=False)
        return min((e for e in entries.values() if e.group == victim_group and e.record.fingerprint == victim_publisher),
                   key=lambda e: e.stored_at).record.identity

    @staticmethod
    def _publishers(entries: dict[Identity, _Entry], group: str) -> Holders:
        publishers = Holders()
        for entry in entries.values():
            if entry.group == group:
                publishers.add(entry.record.fingerprint)
        return publishers

    @staticmethod
    def _first(holders: Holders) -> str | None:
        """A party holding the most, or None."""
        largest = holders.largest()
        return None if largest is None else largest[0]

    def _insert(self, key: bytes, entry: _Entry) -> None:
        entries = self._data.get(key)
        if entries is None:
            entries = self._data[key] = {}
            self._index.add(key)
        entries[entry.record.identity] = entry
        self._total += 1
        self._own(key, entry)

    def _remove(self, key: bytes, identity: Identity) -> None:
        entries = self._data[key]
        entry = entries.pop(identity)
        if not entries:
            del self._data[key]
            self._index.discard(key)
        self._total -= 1
        self._disown(key, entry)

    def _own(self, key: bytes, entry: _Entry) -> None:
        if entry.source != SELF_SENDER:
            self._sources.add(entry.source)
            self._groups.add(entry.group)
            self._queues.setdefault(entry.group, {})[(key, entry.record.identity)] = None

    def _disown(self, key: bytes, entry: _Entry) -> None:
        if entry.source != SELF_SENDER:
            self._sources.remove(entry.source)
            self._groups.remove(entry.group)
            queue = self._queues[entry.group]
            del queue[(key, entry.record.identity)]
            if not queue:
                del self._queues[entry.group]

    def records(self, key: bytes) -> list[SignedRecord]:
        """Live records under a key, in the order they were first stored."""
        self.expire()
        now = self._clock()
        return [e.record for e in self._data.get(key, {}).values() if e.expires_at > now]

    def keys_near(self, node_id: bytes, limit: int, within: KeyRange | None = None) -> list[bytes]:
        """Up to `limit` stored keys, nearest to `node_id` (XOR) first, from `within` if given. With
        `within=handover_range(newcomer, own id, contact ids, k)` these are the only keys a new
        contact can be owed (§2.5): the hand-over tests those instead of every stored key."""
        self.expire()
        return self._index.near(node_id, limit, within)

    def search(self, key: bytes, query: Query, page: int = 0, page_bytes: int = PAGE_BYTES) -> tuple[list[bytes], int | None]:
        """Matching records under `key` as encoded bytes, one page at a time, and the next page's number.

        Records take turns by source network, and within one by publisher, so a party holding
        hundreds of records under a keyword cannot push another's off the first page. Pages are by
        count of matching records skipped, so a page boundary is stable while the key's contents
        do not change.
        """
        self.expire()
        now = self._clock()
        entries = [e for e in self._data.get(key, {}).values()
                   if e.expires_at > now and matches_query(e.record.package, query)]
        lanes = [_taking_turns(group, lambda e: e.record.fingerprint)
                 for group in _lanes(entries, lambda e: e.group)]
        matching = [entry.record for entry in _merge_turns(lanes)]
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
        expired = [(key, identity) for key, entries in self._data.items()
                   for identity, entry in entries.items() if entry.expires_at <= now]
        for slot in expired:
            self._remove(*slot)
        return len(expired)

    def clear(self) -> None:
        """Forget every record."""
        for slot in [(key, identity) for key, entries in self._data.items() for identity in entries]:
            self._remove(*slot)

    def footprint(self) -> dict[str, int]:
        """What the storage holds and tracks, every figure bounded: records, keys, sources, groups."""
        return {"records": self._total, "keys": len(self._data), "indexed_keys": len(self._index),
                "sources": len(self._sources), "groups": len(self._groups), "evicted": self.evicted}

    def __len__(self) -> int:
        return self._total

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
