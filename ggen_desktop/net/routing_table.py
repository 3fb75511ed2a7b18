"""kademlia's routing table, kept diverse: no party fills a bucket, no id is chosen freely.

kademlia's `RoutingTable` takes any contact it is offered, so twenty ids from
one host can fill the bucket around a key and answer every lookup there (an
eclipse). Ours takes a contact only if its id conforms to its address (BEP 42)
and its bucket, replacement list included, holds no other contact of its party
(libtorrent keeps one routing entry per IP) and fewer than MAX_PER_GROUP_IN_BUCKET
of its network (/24). An id already held at another address keeps its place
while it answers.

A bootstrap peer the user configured is trusted with any id: it may listen on
0.0.0.0 and not know the external address its id should conform to (a node
learning its address from what peers observe is the reachability work's).

`add_contact` also says what kademlia does not: whether the contact was newly
placed among the bucket's contacts. kademlia's `is_new_node` stays true for a
contact that only reached the replacement list, and §2.5's hand-over is owed
only to a real new neighbour. The protocol offers only contacts that answered
a ping of ours with the id they claimed.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from itertools import chain
from typing import Any

from kademlia.node import Node
from kademlia.routing import KBucket, RoutingTable

from ggen_desktop.net.address_policy import AddressPolicy

MAX_PER_GROUP_IN_BUCKET = 2


class DiverseRoutingTable(RoutingTable):
    """A RoutingTable that refuses non-conforming ids and a second contact of one party per bucket."""

    def __init__(self, protocol: Any, ksize: int, node: Node, policy: AddressPolicy) -> None:
        self.policy = policy
        super().__init__(protocol, ksize, node)
        self.refused = 0  # contacts turned away by the id or diversity rules
        self.trusted_addresses: set[tuple[str, int]] = set()  # configured bootstrap peers: any id

    def find_neighbors(self, node: Node, k: int | None = None, exclude: Node | None = None) -> list[Node]:
        """The k known contacts closest to `node`, over every bucket. kademlia's TableTraverser stops once the
        buckets on one side run out, so for a key in the last bucket it gave that bucket and one more
        (bmuller/kademlia#28): lookups and stores then started from a handful of contacts, some dead."""
        self.buckets[self.get_bucket_for(node)].touch_last_updated()
        contacts = [n for bucket in self.buckets for n in bucket.get_nodes()
                    if n.id != node.id and (exclude is None or not n.same_home_as(exclude))]
        return heapq.nsmallest(k or self.ksize, contacts, key=node.distance_to)

    def bucket_of(self, node: Node) -> KBucket:
        bucket: KBucket = self.buckets[self.get_bucket_for(node)]
        return bucket

    def holds(self, node: Node) -> bool:
        """Whether `node` is a contact (not only a replacement) at this very address."""
        held = self.bucket_of(node).nodes.get(node.id)
        return held is not None and bool(held.same_home_as(node))

    def touch(self, node: Node) -> None:
        """A contact held at this address was heard from: most recently seen last (§2.2)."""
        self.bucket_of(node).add_node(node)

    def contact_at(self, ip: str, port: int) -> Node | None:
        """The contact at an address, if any (replacements left out)."""
        for bucket in self.buckets:
            for node in bucket.nodes.values():
                if node.ip == ip and node.port == port:
                    return node
        return None

    def _entries(self, bucket: KBucket) -> Iterator[Node]:
        return chain(bucket.nodes.values(), bucket.replacement_nodes.values())

    def admits(self, node: Node) -> bool:
        """The id and diversity rules, for a contact not yet in its bucket at this address."""
        if node.id == self.node.id:
            return False
        if not self.policy.conforms(node.id, node.ip) and (node.ip, node.port) not in self.trusted_addresses:
            return False
        party, group = self.policy.party(node.ip, node.port), self.policy.group(node.ip, node.port)
        same_group = 0
        for other in self._entries(self.bucket_of(node)):
            if other.same_home_as(node):
                continue  # this address's old entry: replaced below
            if other.id == node.id or self.policy.party(other.ip, other.port) == party:
                return False
            same_group += self.policy.group(other.ip, other.port) == group
        return same_group < MAX_PER_GROUP_IN_BUCKET

    def add_contact(self, node: Node) -> bool:
        """Add or refresh a contact that answered us with this id; True if it is newly placed among its
        bucket's contacts. An entry for the same address under another id is dropped: that address
        now answers as `node`."""
        if not self.admits(node):
            self.refused += 1
            return False
        for bucket in self.buckets:
            for old in [n for n in self._entries(bucket) if n.same_home_as(node) and n.id != node.id]:
                bucket.remove_node(old)
        was_contact = node.id in self.bucket_of(node).nodes
        super().add_contact(node)
        return not was_contact and node.id in self.bucket_of(node).nodes
