"""Which network (/24) each lookup candidate belongs to, and which networks a lookup stops trusting.

Sybils cannot choose their ids (BEP 42) but a /24 can bring many of them, all
placed next to the key, and each can name invented contacts. So a lookup's
window takes the closest peer of each network only (libtorrent restricts its
searches the same way); a network with a peer that failed or stalled and none
that answered gets no second place; and the contacts named by a network whose
named contacts, as far as asked, never answer (DISTRUST_AFTER of them) leave the
window: invented ids cost one wave of stalls, not one each. An exempt address
(loopback, private, unless enforced) is a network of its own.

A contact is *corroborated* when it came from the routing table (it answered
us before) or two networks named it: neighbours of a key know each other, so
honest contacts near it are named by several peers, while a network can only
vouch for its own inventions. Contacts named by one network alone are still
asked, but a lookup that has found what it looks for does not wait for them.
"""

from __future__ import annotations

from kademlia.node import Node

from ggen_desktop.net.address_policy import AddressPolicy

DISTRUST_AFTER = 3  # contacts named by one network that failed or stalled, none answering, before the rest are dropped


class CandidateNetworks:
    """Each candidate's network and the network of the peer that named it, kept as candidates are added."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._network_of: dict[bytes, str] = {}
        self._introduced_by: dict[bytes, str] = {}
        self._named_by: dict[bytes, set[str]] = {}  # networks that named each candidate; absent: from the table

    def add(self, node: Node, via: Node | None) -> None:
        """A new candidate, named by `via` (None: from the routing table)."""
        self._network_of[node.id] = self.policy.group(node.ip, node.port)
        if via is not None:
            self._introduced_by[node.id] = self._network(via)
            self._named_by[node.id] = {self._introduced_by[node.id]}

    def named_again(self, node: Node, via: Node) -> None:
        """A known candidate named once more, by `via`."""
        named_by = self._named_by.get(node.id)
        if named_by is not None and len(named_by) < 2:
            named_by.add(self._network(via))

    def corroborated(self, node: Node) -> bool:
        """From the routing table, or named by two networks or more."""
        named_by = self._named_by.get(node.id)
        return named_by is None or len(named_by) >= 2

    def _network(self, node: Node) -> str:
        return self._network_of.get(node.id) or self.policy.group(node.ip, node.port)

    def clear(self) -> None:
        self._network_of.clear()
        self._introduced_by.clear()
        self._named_by.clear()

    def admissible(self, closest_first: list[Node], answered: set[bytes], unanswered: set[bytes]) -> list[Node]:
        """Of candidates sorted nearest first, those the window may hold: the closest of each network, leaving
        out networks that only fail or stall and the contacts named by networks whose contacts never answer."""
        distrusted = self._never_answering(self._introduced_by, DISTRUST_AFTER, answered, unanswered)
        silent = self._never_answering(self._network_of, 1, answered, unanswered)
        networks: set[str] = set()
        kept: list[Node] = []
        for node in closest_first:
            network = self._network_of[node.id]
            if network in networks or network in silent or self._introduced_by.get(node.id) in distrusted:
                continue
            networks.add(network)
            kept.append(node)
        return kept

    @staticmethod
    def _never_answering(network_of: dict[bytes, str], at_least: int, answered: set[bytes],
                         unanswered: set[bytes]) -> set[str]:
        """The networks (as `network_of` assigns candidates to them) with `at_least` candidates that failed or
        stalled and none that answered."""
        answering: set[str] = set()
        counts: dict[str, int] = {}
        for node_id, network in network_of.items():
            if node_id in answered:
                answering.add(network)
            elif node_id in unanswered:
                counts[network] = counts.get(network, 0) + 1
        return {network for network, count in counts.items() if count >= at_least} - answering

