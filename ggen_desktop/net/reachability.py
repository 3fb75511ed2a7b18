"""Can peers reach this node? Learn the address they see, test it by dial-back, map a port, or be a client.

After its join (then every RECHECK_S, and whenever its router mapping lapses
or comes back) a node that checks:

1. asks up to MAX_STUN peers of distinct parties what address they observe
   it at (`stun`) and takes the address most of them agree on (two at least
   when two answered);
2. asks peers to dial that address back from a socket it never talked to
   (`dial_back`): reachable as soon as one probe arrives;
3. if none arrived and the composition root allows router discovery, maps its
   UDP port on the router over UPnP IGD (`port_mapping`; renewed, removed at
   close) and asks for a dial-back again;
4. if still none arrived, it stays in client mode and says so.

Until the check has found it reachable, the node runs in client mode (libp2p's
"auto" DHT mode does the same): it may talk to peers through a NAT that lets
their answers in, but no one should take it as a contact. Once reachable, it
takes a node id that conforms to its external address if it had none (BEP 42),
leaves client mode and pings its contacts, so they probe it and add it.

When no peer answers at all (the first node of a network), nothing can be
judged: the node serves, as before any check, and tries again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable

from kademlia.node import Node

from ggen_desktop.core.node_id import make_node_id
from ggen_desktop.core.reachability import ASKED_FOR_CLIENT_MODE, Reachability, ReachHow, ReachState
from ggen_desktop.net.address_policy import is_ip_literal
from ggen_desktop.net.dial_back import DialBack
from ggen_desktop.net.port_mapping import Gateway, PortMappingError, UdpPortMapping
from ggen_desktop.net.protocol import MarketProtocol
from ggen_desktop.net.routing_table import DiverseRoutingTable

log = logging.getLogger(__name__)

MAX_STUN = 4
STUN_TIMEOUT_S = 2.0
STUN_PADDING = bytes(40)  # an IPv6 answer fits in a request this padded (3x would allow less padding, not more)
MAX_DIAL_BACK_PEERS = 3
RECHECK_S = 3600.0
RECHECK_UNKNOWN_S = 300.0
MAX_ANNOUNCED = 32  # contacts pinged once reachable, so they probe and add us
MAPPING_DISCOVERY_S = 3.0


def _observed(answer: object) -> tuple[str, int] | None:
    """A `stun` answer: [ip, port] as the peer saw our datagram; anything else is None."""
    if isinstance(answer, (list, tuple)) and len(answer) == 2 and is_ip_literal(answer[0]) \
            and isinstance(answer[1], int) and not isinstance(answer[1], bool) and 0 < answer[1] < 65536:
        return str(answer[0]), answer[1]
    return None


def agreed_address(observed: list[tuple[str, int]]) -> tuple[str, int] | None:
    """The address most observers report: two must agree when two or more answered."""
    if not observed:
        return None
    address, votes = Counter(observed).most_common(1)[0]
    return address if votes >= min(2, len(observed)) else None


def rekey(protocol: MarketProtocol, node_id: bytes) -> None:
    """Take a new node id in place (server, protocol and table share one Node), keeping the contacts."""
    contacts = protocol.known_nodes()
    node = protocol.source_node
    node.id = node_id
    node.long_id = int(node_id.hex(), 16)
    old = protocol.router
    protocol.router = DiverseRoutingTable(protocol, old.ksize, node, protocol.policy)
    protocol.router.trusted_addresses |= old.trusted_addresses
    for contact in contacts:
        protocol.router.add_contact(contact)


class NodeReachability:
    """One node's reachability: client mode when asked, otherwise the check above after each join."""

    def __init__(self, *, client_mode: bool = False, check: bool = False, port_mapping: bool = False) -> None:
        self.asked_client_mode = client_mode
        self.checks = check and not client_mode
        self.port_mapping = port_mapping
        self.status = Reachability(ReachState.CLIENT, how=ReachHow.CLIENT_MODE, detail=ASKED_FOR_CLIENT_MODE) \
            if client_mode else Reachability()
        self.mapping: UdpPortMapping | None = None
        self._protocol: MarketProtocol | None = None
        self._dial: DialBack | None = None
        self._save_id: Callable[[bytes], Awaitable[None]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def attach(self, protocol: MarketProtocol, save_id: Callable[[bytes], Awaitable[None]]) -> None:
        """The node listens: serve dial-backs, and be a client until a check says otherwise."""
        self._protocol = protocol
        self._dial = DialBack(protocol)
        self._save_id = save_id
        protocol.client_mode = self.asked_client_mode or self.checks
        if self.checks:
            self.status = Reachability(ReachState.CHECKING)

    def joined(self) -> None:
        """Start checking (once; later checks follow every RECHECK_S)."""
        if self.checks and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._check_forever(), name="reachability")

    async def _check_forever(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("the reachability check failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(),
                                       RECHECK_UNKNOWN_S if self.status.state is ReachState.UNKNOWN else RECHECK_S)

    def _mapping_changed(self, address: tuple[str, int] | None) -> None:
        """The router's mapping lapsed (None) or is back: check again now."""
        log.info("the router's port mapping is %s; checking reachability again",
                 f"back at {address[0]}:{address[1]}" if address else "gone")
        self._wake.set()

    async def close(self) -> None:
        """Stop checking; remove the router's port mapping."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.mapping is not None:
            await self.mapping.close()
            self.mapping = None

    # -- the check -----------------------------------------------------------------------------------

    def _candidates(self) -> list[tuple[str, int]]:
        """Peers to ask (the routing contacts, the configured peers among them), one per party."""
        protocol = self._require()
        seen: set[str] = set()
        out = []
        for ip, port in [(n.ip, n.port) for n in protocol.known_nodes()]:
            party = protocol.policy.party(ip, port)
            if party not in seen:
                seen.add(party)
                out.append((ip, port))
        return out

    def _require(self) -> MarketProtocol:
        if self._protocol is None:
            raise RuntimeError("the node is not listening")
        return self._protocol

    async def observe(self) -> tuple[str, int] | None:
        """The address peers observe us at (see `agreed_address`); None when none answered or they disagree."""
        protocol = self._require()
        peers = self._candidates()[:MAX_STUN]
        answers = await asyncio.gather(*(protocol.request(p, "stun", [STUN_PADDING], STUN_TIMEOUT_S) for p in peers))
        observed = [a for a in (_observed(answer) for ok, answer in answers if ok) if a is not None]
        return agreed_address(observed)

    async def dial_back(self) -> bool | None:
        """True when one peer's dial-back reached us; False when peers answered but none did; None: nobody answered."""
        if self._dial is None:
            raise RuntimeError("the node is not listening")
        peers = self._candidates()
        random.shuffle(peers)
        outcome: bool | None = None
        for peer in peers[:MAX_DIAL_BACK_PEERS]:
            reached = await self._dial.check(peer)
            if reached:
                return True
            if reached is False:
                outcome = False
        return outcome

    async def check(self) -> Reachability:
        """One full check (the steps in the module docstring); its outcome is also `status`."""
        protocol = self._require()
        if self.status.state is not ReachState.REACHABLE:
            self.status = Reachability(ReachState.CHECKING, self.status.external)
        external = await self.observe()
        if external is None:
            return self._unknown("no peer told this node the address it sees it at")
        reached = await self.dial_back()
        if reached is None:
            return self._unknown("no peer answered a dial-back request")
        how = ReachHow.UPNP if self.mapping is not None else ReachHow.DIRECT
        why = f"no peer's dial-back reached {external[0]}:{external[1]}"
        if not reached and self.port_mapping and self.mapping is None:
            mapped = await self._map_port(protocol.transport.get_extra_info("sockname")[1])
            if isinstance(mapped, str):
                why += f"; no port mapping: {mapped}"
            else:
                reached, how = bool(await self.dial_back()), ReachHow.UPNP
                if not reached:
                    why += " (nor after the router mapped a port)"
                    await mapped.close()
                    self.mapping = None
        if reached:
            return await self._reachable(external, how)
        protocol.client_mode = True
        self.status = Reachability(ReachState.CLIENT, external, ReachHow.CLIENT_MODE, why)
        log.warning("peers cannot reach this node (%s): running in client mode, searching and publishing only", why)
        return self.status

    async def _map_port(self, port: int) -> UdpPortMapping | str:
        """Ask the router to forward `port`: the mapping, or why not. It is `mapping` from before it is added,
        so a stop in the middle still removes it."""
        try:
            gateway = await Gateway.discover(MAPPING_DISCOVERY_S)
            mapping = self.mapping = UdpPortMapping(gateway, port, on_change=self._mapping_changed)
            await mapping.start()
        except PortMappingError as exc:
            log.info("no port mapping on the router: %s", exc)
            self.mapping = None
            return str(exc)
        return mapping

    def _unknown(self, why: str) -> Reachability:
        """Nothing to judge by: serve as any node did before checks (a network's first node must)."""
        self._require().client_mode = False
        self.status = Reachability(ReachState.UNKNOWN, detail=why)
        log.info("reachability unknown: %s", why)
        return self.status

    async def _reachable(self, external: tuple[str, int], how: ReachHow) -> Reachability:
        protocol = self._require()
        if self.mapping is not None and self.mapping.external_address is not None:
            external = self.mapping.external_address
        own = protocol.source_node
        if protocol.policy.strict(external[0]) and not protocol.policy.conforms(own.id, external[0]):
            new_id = make_node_id(external[0])
            log.info("node id %s does not conform to %s (BEP 42); now %s", own.id.hex()[:12], external[0],
                     new_id.hex()[:12])
            rekey(protocol, new_id)
            if self._save_id is not None:
                await self._save_id(new_id)
        was_client = protocol.client_mode
        protocol.client_mode = False
        self.status = Reachability(ReachState.REACHABLE, external, how)
        log.info("reachable at %s:%d (%s)", external[0], external[1], how.value)
        if was_client:
            await self._announce()
        return self.status

    async def _announce(self) -> None:
        """Ping our contacts unmarked: each probes us back and takes us as a contact."""
        protocol = self._require()
        contacts: list[Node] = protocol.known_nodes()[:MAX_ANNOUNCED]
        await asyncio.gather(*(protocol.call_ping(n) for n in contacts))
