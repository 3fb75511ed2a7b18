"""Gossip of new records to neighbours: the seed's Gossipsub announcements, but verified.

An announcement carries a random message id, a hop budget (at most
MAX_HOPS) and one signed record. It is heard only from a routing contact (a
peer that answered our ping with its id from its address: anyone else could
push records we never asked for), and only a few per second from each address.
A node that has not seen the id verifies the record (a bad one counts against
the sender's address and stops there), hands it to the node's discovered
records, and passes it on to a few neighbours with one hop less. The seen-id
set is bounded, so memory stays flat however much gossip arrives. The
announcer serves the `announce` RPC through the protocol's handler registry,
so the protocol knows nothing of announcements.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections import OrderedDict
from collections.abc import Callable

from kademlia.node import Node

from ggen_desktop.core.record import RecordError, SignedRecord, decode_and_verify
from ggen_desktop.net.address_policy import peer_key
from ggen_desktop.net.protocol import ArgCheck, MarketProtocol, int_in, is_node_id

log = logging.getLogger(__name__)

MAX_HOPS = 3
DEFAULT_HOPS = MAX_HOPS
FORWARD_TO = 4  # neighbours each hop passes an announcement to
SEEN_CAPACITY = 4096
ANNOUNCE_ARGS: tuple[ArgCheck, ...] = (
    is_node_id,  # the sender's node id
    lambda v: isinstance(v, bytes) and 8 <= len(v) <= 32,  # the message id
    int_in(0, MAX_HOPS),  # hops left
    lambda v: isinstance(v, bytes),  # the encoded record, verified on receipt
)


class Announcer:
    """Sends, receives and forwards announcements for one protocol, and serves its `announce` RPC."""

    def __init__(self, protocol: MarketProtocol, on_record: Callable[[SignedRecord, Node], None],
                 forward_to: int = FORWARD_TO) -> None:
        self.protocol = protocol
        self.on_record = on_record
        self.forward_to = forward_to
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        protocol.register_rpc("announce", ANNOUNCE_ARGS, self._rpc_announce)

    def _rpc_announce(self, sender: tuple[str, int], nodeid: bytes, msg_id: bytes, hops: int, record: bytes) -> bool:
        """A neighbour's gossip about a new record: heard only from a routing contact, at its rate."""
        proto = self.protocol
        node = Node(nodeid, sender[0], sender[1])
        proto.welcome_if_new(node)
        if not proto.router.holds(node):
            proto.stats["announcements_refused"] += 1
            return False
        if not proto.limits.allow_announce(sender[0], sender[1]):
            proto.stats["announcements_limited"] += 1
            return False
        return self.receive(node, msg_id, hops, record)

    def announce(self, record: SignedRecord, hops: int = DEFAULT_HOPS) -> bytes:
        """Start gossip for one of my records; returns the message id."""
        msg_id = os.urandom(16)
        self._mark_seen(msg_id)
        self._forward(msg_id, hops, record.encoded, exclude=None)
        return msg_id

    def receive(self, node: Node, msg_id: bytes, hops: int, data: bytes) -> bool:
        """Handle one announcement from a contact; False when it was a repeat or invalid."""
        if msg_id in self._seen:
            self.protocol.stats["announcements_repeated"] += 1
            return False
        self._mark_seen(msg_id)
        try:
            record = decode_and_verify(data)
        except RecordError as exc:
            self.protocol.stats["records_invalid"] += 1
            self.protocol.reputation.record_invalid(peer_key(node.ip, node.port), host=node.ip, port=node.port)
            log.info("invalid announcement from %s:%d: %r", node.ip, node.port, str(exc))
            return False
        self.protocol.stats["announcements_received"] += 1
        self.on_record(record, node)
        if hops > 0:
            self._forward(msg_id, hops - 1, data, exclude=node)
        return True

    def _mark_seen(self, msg_id: bytes) -> None:
        self._seen[msg_id] = None
        while len(self._seen) > SEEN_CAPACITY:
            self._seen.popitem(last=False)

    def _forward(self, msg_id: bytes, hops: int, data: bytes, exclude: Node | None) -> None:
        proto = self.protocol
        contacts = [n for n in proto.known_nodes()
                    if (exclude is None or n.id != exclude.id) and not proto.reputation.is_avoided(peer_key(n.ip, n.port))]
        for node in random.sample(contacts, min(self.forward_to, len(contacts))):
            task = asyncio.ensure_future(self._send(node, msg_id, hops, data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, node: Node, msg_id: bytes, hops: int, data: bytes) -> None:
        proto = self.protocol
        await proto.request((node.ip, node.port), "announce", [proto.source_node.id, msg_id, hops, data],
                            proto.timeout_for(node))

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
