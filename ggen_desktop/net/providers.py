"""Provider records: which nodes seed an archive, kept on our DHT the way BEP 5 keeps peers.

A provider record says "the node at this address seeds the archive with this sha256 on
this BitTorrent port". It lives under `provider_key(sha256)` = sha1("prov:" + sha256) on
the k nodes closest to that key, each keeping it in its `ProviderStore` (not in the
record storage, which holds only signed package records). The only thing a provider
states is its BitTorrent port: the storing node takes the address from the datagram's
source, as BEP 5's `announce_peer` does, so nobody can name another host as a provider
(and make a swarm of downloaders connect to it). A record expires after an hour unless
its provider refreshes it; each address holds a bounded number of records and the store
as a whole is bounded too.

A node also answers for itself: archives it seeds are listed under an empty host, which
the asking node replaces with the address the answer came from.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from kademlia.node import Node

from ggen_desktop.net.address_policy import is_ip_literal
from ggen_desktop.net.node_lookup import closest_live_nodes
from ggen_desktop.net.protocol import ArgCheck, MarketProtocol, int_in, is_node_id

log = logging.getLogger(__name__)

Provider = tuple[str, int]
"""A seeder's (host, BitTorrent port)."""

PROVIDER_TTL_S = 3600.0
PROVIDER_REFRESH_S = 20 * 60.0
MAX_PER_IP = 256  # archives one address may be listed for on one node
MAX_RECORDS = 50_000  # provider records one node keeps in all
MAX_ANSWER = 64  # providers returned for one key
SELF = ""  # the host in an answer that means "the node answering"
_KEY = is_node_id  # a provider key is a 20-byte DHT key, like a node id
PROVIDE_ARGS: tuple[ArgCheck, ...] = (is_node_id, _KEY, int_in(1, 65_535))  # sender id, key, BitTorrent port
FIND_ARGS: tuple[ArgCheck, ...] = (is_node_id, _KEY)


def provider_key(sha256: str) -> bytes:
    """The DHT key of an archive's provider records: sha1 of "prov:" and its sha256 (hex)."""
    return hashlib.sha1(f"prov:{sha256.removeprefix('sha256:')}".encode("ascii")).digest()


class ProviderStore:
    """Provider records held for others, by key, each expiring `ttl` s after its last refresh."""

    def __init__(self, ttl: float = PROVIDER_TTL_S, per_ip: int = MAX_PER_IP, total: int = MAX_RECORDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.per_ip, self.total, self.clock = ttl, per_ip, total, clock
        self._records: OrderedDict[tuple[bytes, Provider], float] = OrderedDict()  # -> expiry, oldest first
        self._per_ip: dict[str, int] = {}

    def __len__(self) -> int:
        self._expire()
        return len(self._records)

    def add(self, key: bytes, provider: Provider) -> bool:
        """Keep or refresh one record; False when its address already holds `per_ip` others."""
        self._expire()
        entry = (key, provider)
        if entry in self._records:
            self._records.move_to_end(entry)
        else:
            if self._per_ip.get(provider[0], 0) >= self.per_ip:
                return False
            if len(self._records) >= self.total:
                self._drop(next(iter(self._records)))  # the least recently refreshed makes room
            self._per_ip[provider[0]] = self._per_ip.get(provider[0], 0) + 1
        self._records[entry] = self.clock() + self.ttl
        return True

    def get(self, key: bytes, limit: int = MAX_ANSWER) -> list[Provider]:
        """The live providers of a key, most recently refreshed first."""
        self._expire()
        found = [provider for (k, provider) in reversed(self._records) if k == key]
        return found[:limit]

    def _expire(self) -> None:
        now = self.clock()
        while self._records:
            entry, expiry = next(iter(self._records.items()))
            if expiry > now:
                return
            self._drop(entry)

    def _drop(self, entry: tuple[bytes, Provider]) -> None:
        del self._records[entry]
        host = entry[1][0]
        self._per_ip[host] -= 1
        if not self._per_ip[host]:
            del self._per_ip[host]


class ProviderDirectory:
    """Serves `provide` and `find_providers` for one protocol; announces and finds providers on the DHT."""

    def __init__(self, protocol: MarketProtocol, ksize: int, alpha: int, store: ProviderStore | None = None) -> None:
        self.protocol, self.ksize, self.alpha = protocol, ksize, alpha
        self.store = store or ProviderStore()
        self._seeding: dict[bytes, int] = {}  # keys of archives this node seeds -> BitTorrent port
        protocol.register_rpc("provide", PROVIDE_ARGS, self._rpc_provide)
        protocol.register_rpc("find_providers", FIND_ARGS, self._rpc_find)

    def _rpc_provide(self, sender: tuple[str, int], nodeid: bytes, key: bytes, port: int) -> bool:
        """A peer seeds the archive of `key` on `port`, at the address its datagram came from."""
        self.protocol.welcome_if_new(Node(nodeid, sender[0], sender[1]))
        return self.store.add(key, (sender[0], port))

    def _rpc_find(self, sender: tuple[str, int], nodeid: bytes, key: bytes) -> list[list[object]]:
        self.protocol.welcome_if_new(Node(nodeid, sender[0], sender[1]))
        mine = [[SELF, self._seeding[key]]] if key in self._seeding else []
        return mine + [[host, port] for host, port in self.store.get(key, MAX_ANSWER - len(mine))]

    async def provide(self, sha256: str, port: int) -> int:
        """Say that this node seeds `sha256` on BitTorrent `port`, to the k closest nodes of its provider
        key (and to anyone asking this node). Returns how many nodes kept the record."""
        key = provider_key(sha256)
        self._seeding[key] = port
        nodes = await self._closest(key)
        proto = self.protocol
        results = await asyncio.gather(*(proto.request((n.ip, n.port), "provide", [proto.source_node.id, key, port],
                                                       proto.timeout_for(n)) for n in nodes))
        return sum(1 for ok, answer in results if ok and answer is True)

    def withdraw(self, sha256: str) -> None:
        """This node no longer seeds `sha256`: it stops answering for it (records elsewhere expire unrefreshed)."""
        self._seeding.pop(provider_key(sha256), None)

    async def find(self, sha256: str) -> list[Provider]:
        """Providers of an archive known to the k closest nodes of its key (and this node), first seen first."""
        key = provider_key(sha256)
        found: dict[Provider, None] = dict.fromkeys(self.store.get(key))
        nodes = await self._closest(key)
        proto = self.protocol
        answers = await asyncio.gather(*(proto.request((n.ip, n.port), "find_providers", [proto.source_node.id, key],
                                                       proto.timeout_for(n)) for n in nodes))
        for node, (ok, answer) in zip(nodes, answers, strict=True):
            if ok:
                found.update(dict.fromkeys(_parse_providers(answer, node.ip)))
        return list(found)

    async def _closest(self, key: bytes) -> list[Node]:
        """The k live nodes closest to `key`, found as publishing finds them (§2.3)."""
        return await closest_live_nodes(self.protocol, key, ksize=self.ksize, fan_out=self.alpha)


def _parse_providers(answer: object, responder_ip: str) -> list[Provider]:
    """Providers from an untrusted answer; malformed entries are skipped, SELF becomes the responder."""
    if not isinstance(answer, list):
        return []
    out: list[Provider] = []
    for item in answer[:MAX_ANSWER]:
        if (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and len(item[0]) <= 64
                and isinstance(item[1], int) and not isinstance(item[1], bool) and 0 < item[1] < 65_536):
            host = item[0] or responder_ip
            if is_ip_literal(host):
                out.append((host, item[1]))
    return out
