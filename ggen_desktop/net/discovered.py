"""Records this node learned of from others: announcements and the answers to its searches.

They are what a search shows before the network answers, so they must survive
a restart and stay bounded. When full, room is made from the largest party,
by publisher key or by the sender's network (/24): one attacker's thousands of
records (many keys from one /24, or one key from many peers) push out its own
oldest, never an honest newcomer's. Within a party the least recently seen go
first. My own packages are never among them. Each one is handed to `persist`,
which queues it for the store thread (never a database write per result on the
event loop). Each is tagged with the peer that last sent it: what a peer pushed
is its claim.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from ggen_desktop.core.fair_share import Holders
from ggen_desktop.core.record import SignedRecord

if TYPE_CHECKING:
    from ggen_desktop.store.rows import DiscoveredRecord

MAX_DISCOVERED = 5000
EARLIER_RUN = "earlier run"  # the network of a record loaded from the store: its sender's address was not kept

Identity = tuple[str, str, str]


class _Parties:
    """Who holds which discovered records: each party's records in least-recently-seen order."""

    def __init__(self) -> None:
        self.holders = Holders()
        self._held: dict[str, OrderedDict[Identity, None]] = {}

    def add(self, party: str, identity: Identity) -> None:
        held = self._held.setdefault(party, OrderedDict())
        if identity in held:
            held.move_to_end(identity)
            return
        held[identity] = None
        self.holders.add(party)

    def remove(self, party: str, identity: Identity) -> None:
        held = self._held[party]
        del held[identity]
        self.holders.remove(party)
        if not held:
            del self._held[party]

    def oldest(self, party: str) -> Identity:
        return next(iter(self._held[party]))


class DiscoveredRecords:
    """The newest verified version of each discovered package identity, bounded fairly between parties."""

    def __init__(self, persist: Callable[[SignedRecord, str], None], is_mine: Callable[[Identity], bool],
                 limit: int = MAX_DISCOVERED) -> None:
        """`persist(record, peer_id)` keeps a record across restarts; it must not block."""
        self.persist = persist
        self.is_mine = is_mine
        self.limit = limit
        self._records: OrderedDict[Identity, SignedRecord] = OrderedDict()
        self._peers: dict[Identity, str] = {}  # the peer that last sent each record
        self._groups: dict[Identity, str] = {}  # the network it last came from
        self._by_publisher = _Parties()
        self._by_group = _Parties()

    def load(self, stored: list[DiscoveredRecord]) -> None:
        """Records read (and verified) from the store at start."""
        for found in stored:
            if not self.is_mine(found.record.identity):
                self._keep(found.record, found.peers[-1] if found.peers else "", EARLIER_RUN)

    def add(self, record: SignedRecord, peer_id: str, group: str = EARLIER_RUN) -> None:
        """A verified record from an announcement or a search answer, sent by `peer_id` from network `group`."""
        if self.is_mine(record.identity):
            return
        known = self._records.get(record.identity)
        self._keep(record if known is None or not record.is_older_than(known) else known, peer_id, group)
        self.persist(record, peer_id)

    def _keep(self, record: SignedRecord, peer_id: str, group: str) -> None:
        identity = record.identity
        old_group = self._groups.get(identity)
        if old_group is not None and old_group != group:
            self._by_group.remove(old_group, identity)
        self._records[identity] = record
        self._records.move_to_end(identity)
        self._peers[identity] = peer_id
        self._groups[identity] = group
        self._by_publisher.add(identity[2], identity)
        self._by_group.add(group, identity)
        while len(self._records) > self.limit:
            self._forget(self._victim())

    def _victim(self) -> Identity:
        """The least recently seen record of the party holding the most, by publisher or by network."""
        publisher = self._by_publisher.holders.largest()
        group = self._by_group.holders.largest()
        assert publisher is not None and group is not None  # over the limit, so both hold something
        if group[1] > publisher[1]:
            return self._by_group.oldest(group[0])
        return self._by_publisher.oldest(publisher[0])

    def _forget(self, identity: Identity) -> None:
        del self._records[identity]
        self._peers.pop(identity, None)
        self._by_publisher.remove(identity[2], identity)
        self._by_group.remove(self._groups.pop(identity), identity)

    def records(self) -> list[SignedRecord]:
        return list(self._records.values())

    def sourced(self) -> list[tuple[SignedRecord, str]]:
        """Each record with the peer that last sent it (its id, hex)."""
        return [(record, self._peers.get(identity, "")) for identity, record in self._records.items()]

    def __contains__(self, identity: object) -> bool:
        return identity in self._records

    def clear(self) -> None:
        """Forget them in memory (the store keeps its copy): a test or benchmark measuring the network."""
        self._records.clear()
        self._peers.clear()
        self._groups.clear()
        self._by_publisher = _Parties()
        self._by_group = _Parties()
