"""A simulated internet for DHT nodes in one process: per-pair delays, loss, dead hosts and NAT.

The protocols under test are the real ones (ours and plain kademlia's): only the
datagram transport under them is replaced. `SimulatedInternetLoop` is a
`VirtualClockLoop` whose `create_datagram_endpoint` binds an in-memory
`SimTransport` keyed by (ip, port) instead of a socket, so 2,000 nodes need no
file descriptors, no kernel buffers and no ports, and no packet leaves the
process. A datagram handed to `sendto` is delivered to the destination
protocol's `datagram_received` after the pair's one-way delay, unless:

- it is lost: each datagram independently, with probability `loss`;
- the destination host is dead (`kill`): it never answers, nor receives anything;
- nothing is bound at the destination (a stopped node);
- the destination host is behind a NAT (`put_behind_nat`) and the destination
  has not itself sent to that exact (ip, port) within the last `nat_timeout`
  s: RFC 4787's "address and port-dependent filtering" (§5), with its minimum
  2-minute UDP mapping timer (REQ-5) refreshed by outbound traffic only (REQ-6).

Delays: the round-trip time of each pair of hosts is drawn once from a
log-normal distribution (`LogNormalRtt`) and each direction takes half of it,
with no jitter (datagrams between two hosts stay in order); there is no
bandwidth limit or queueing, and processing takes no time (the loop's clock is
simulated). Addresses are labels in 127.0.0.0/8, one /24 per host
(`host_address`), never sockets.

Sources for the delay model. Measured internet RTTs are unimodal with a long
right tail (Acharya & Saltz, "A Study of Internet Round-Trip Delay", UMIACS-TR-96-97),
and a log-normal usually characterises such network metrics as well as
heavier-tailed models do (Downey, "Lognormal and Pareto distributions in the
Internet", Computer Communications 28(7), 2005). The quantiles it is fitted to
(`INTERNET_RTT_QUANTILES_MS`: median 80 ms, p90 250 ms, p99 600 ms) are the
ggen-desktop issue's summary of all-pairs RTT measurements such as the King
data set (Gummadi, Saroiu & Gribble, "King: Estimating Latency between
Arbitrary Internet End Hosts", IMW 2002; the DNS-server matrix that p2psim and
the Vivaldi paper used) and WonderNetwork's global ping tables; no data set is
read here.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import ipaddress
import math
import random
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from tests.helpers.virtual_clock import VirtualClockLoop

Address = tuple[str, int]
MAX_DATAGRAM = 65_507  # what one IPv4 UDP datagram can carry
FIRST_PORT = 40_000
NAT_MAPPING_TIMEOUT_S = 120.0  # RFC 4787 REQ-5: a UDP mapping lives at least 2 minutes
# The internet round trips: median 80 ms, p90 250 ms, p99 600 ms.
INTERNET_RTT_QUANTILES_MS: Mapping[float, float] = {0.5: 80.0, 0.9: 250.0, 0.99: 600.0}


def host_address(index: int) -> str:
    """A distinct loopback address per simulated host, each in its own /24 (127.A.B.1)."""
    if not 0 <= index < 254 * 256:
        raise ValueError(f"host index {index} is out of range")
    return f"127.{1 + index // 256}.{index % 256}.1"


@dataclass(frozen=True)
class LogNormalRtt:
    """Round-trip times whose logarithm is normal: ln(rtt_ms) ~ N(mu, sigma²).

    Internet RTTs are right-skewed with a long tail (most pairs are on one
    continent, some cross oceans or sit behind slow access links), which a
    log-normal captures with two parameters; `fit` picks them by least squares
    on ln(quantile) = mu + sigma·z(p).
    """

    mu: float
    sigma: float

    @classmethod
    def fit(cls, quantiles_ms: Mapping[float, float]) -> LogNormalRtt:
        if len(quantiles_ms) < 2:
            raise ValueError("fitting two parameters needs at least two quantiles")
        zs = [NormalDist().inv_cdf(p) for p in quantiles_ms]
        ys = [math.log(ms) for ms in quantiles_ms.values()]
        z_mean, y_mean = sum(zs) / len(zs), sum(ys) / len(ys)
        sigma = (sum((z - z_mean) * (y - y_mean) for z, y in zip(zs, ys, strict=True))
                 / sum((z - z_mean) ** 2 for z in zs))
        return cls(mu=y_mean - sigma * z_mean, sigma=sigma)

    def quantile_ms(self, p: float) -> float:
        """The p-quantile; at a uniform variate p in (0, 1) it is a sample (inverse-CDF sampling)."""
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(p))


INTERNET_RTT = LogNormalRtt.fit(INTERNET_RTT_QUANTILES_MS)


class SimTransport(asyncio.DatagramTransport):
    """One bound (ip, port) on the simulated network: what a protocol's `connection_made` receives."""

    def __init__(self, network: SimNetwork, protocol: asyncio.DatagramProtocol, address: Address) -> None:
        super().__init__()
        self._network = network
        self._protocol = protocol
        self.address = address
        self._closing = False

    @property
    def protocol(self) -> asyncio.DatagramProtocol:
        return self._protocol

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        if self._closing:
            return  # as asyncio's own transports do once closed
        if addr is None:
            raise ValueError("the simulated network has no connected endpoints: give an address")
        payload = bytes(data)
        if len(payload) > MAX_DATAGRAM:
            self._protocol.error_received(OSError(errno.EMSGSIZE, "Message too long"))
            return
        self._network.send(self.address, (str(addr[0]), int(addr[1])), payload)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": self.address}.get(name, default)  # no "socket": there is none

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._network.unbind(self)
        self._network.loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_write_buffer_size(self) -> int:
        return 0


class SimNetwork:
    """The hosts, links and middleboxes of one simulated internet; `stats` counts every datagram's fate."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, seed: int = 0, rtt: LogNormalRtt = INTERNET_RTT,
                 loss: float = 0.01, nat_timeout: float = NAT_MAPPING_TIMEOUT_S) -> None:
        if not 0.0 <= loss < 1.0:
            raise ValueError("loss is a probability below 1")
        self.loop = loop
        self.seed = seed
        self.rtt = rtt
        self.loss = loss
        self.nat_timeout = nat_timeout
        self.stats: Counter[str] = Counter()
        self._rng = random.Random(f"loss:{seed}")
        self._bound: dict[Address, SimTransport] = {}
        self._next_port: dict[str, int] = {}
        self._dead: set[str] = set()
        self._natted: set[str] = set()
        self._pinholes: dict[Address, dict[Address, float]] = {}  # inside → outside peer → last sent at
        self._pair_delay: dict[tuple[str, str], float] = {}

    # -- topology ----------------------------------------------------------------

    def bind(self, protocol: asyncio.DatagramProtocol, address: Address) -> SimTransport:
        host, port = address
        ipaddress.IPv4Address(host)  # an address, not a name
        if port == 0:
            port = self._next_port.get(host, FIRST_PORT)
            while (host, port) in self._bound:
                port += 1
            self._next_port[host] = port + 1
        if (host, port) in self._bound:
            raise OSError(errno.EADDRINUSE, f"{host}:{port} is already bound on the simulated network")
        transport = SimTransport(self, protocol, (host, port))
        self._bound[(host, port)] = transport
        return transport

    def unbind(self, transport: SimTransport) -> None:
        if self._bound.get(transport.address) is transport:
            del self._bound[transport.address]

    def kill(self, host: str) -> None:
        """The host crashed: from now on nothing reaches it and nothing leaves it."""
        self._dead.add(host)

    def is_dead(self, host: str) -> bool:
        return host in self._dead

    def put_behind_nat(self, host: str) -> None:
        """Only peers an endpoint of this host has sent to (recently) can reach that endpoint."""
        self._natted.add(host)

    def is_behind_nat(self, host: str) -> bool:
        return host in self._natted

    # -- delivery ----------------------------------------------------------------

    def one_way_delay(self, a: str, b: str) -> float:
        """Seconds from host `a` to host `b`: half the pair's RTT, drawn once per pair from `rtt`."""
        pair = (a, b) if a <= b else (b, a)
        delay = self._pair_delay.get(pair)
        if delay is None:
            digest = hashlib.blake2b(f"{self.seed}|{pair[0]}|{pair[1]}".encode(), digest_size=8).digest()
            u = (int.from_bytes(digest, "big") + 0.5) / 2**64  # uniform in (0, 1), fixed per pair and seed
            delay = self._pair_delay[pair] = self.rtt.quantile_ms(u) / 2000.0
        return delay

    def send(self, source: Address, destination: Address, data: bytes) -> None:
        self.stats["sent"] += 1
        if source[0] in self._dead:
            self.stats["from_dead"] += 1
            return
        if source[0] in self._natted:
            self._pinholes.setdefault(source, {})[destination] = self.loop.time()
        if self._rng.random() < self.loss:
            self.stats["lost"] += 1
            return
        self.loop.call_later(self.one_way_delay(source[0], destination[0]), self._arrive, source, destination, data)

    def _arrive(self, source: Address, destination: Address, data: bytes) -> None:
        if destination[0] in self._dead:
            self.stats["to_dead"] += 1
            return
        transport = self._bound.get(destination)
        if transport is None:
            self.stats["to_unbound"] += 1
            return
        if destination[0] in self._natted:
            opened = self._pinholes.get(destination, {}).get(source)
            if opened is None or self.loop.time() - opened > self.nat_timeout:
                self.stats["nat_filtered"] += 1
                return
        self.stats["delivered"] += 1
        transport.protocol.datagram_received(data, source)


class SimulatedInternetLoop(VirtualClockLoop):
    """A virtual-clock loop whose UDP endpoints are bound on `self.network` instead of the OS."""

    def __init__(self, seed: int = 0, *, rtt: LogNormalRtt = INTERNET_RTT, loss: float = 0.01) -> None:
        super().__init__()
        self.network = SimNetwork(self, seed=seed, rtt=rtt, loss=loss)

    async def create_datagram_endpoint(  # type: ignore[override]
        self, protocol_factory: Callable[[], asyncio.DatagramProtocol], local_addr: Address | None = None,
        remote_addr: Address | None = None, **options: Any,
    ) -> tuple[SimTransport, asyncio.DatagramProtocol]:
        if local_addr is None or remote_addr is not None or options.get("sock") is not None:
            raise NotImplementedError("the simulated network binds unconnected endpoints by local address only")
        protocol = protocol_factory()
        transport = self.network.bind(protocol, (local_addr[0], local_addr[1]))
        protocol.connection_made(transport)
        return transport, protocol

    async def getaddrinfo(  # type: ignore[override]
        self, host: bytes | str | None, port: bytes | str | int | None, *, family: int = 0, type: int = 0,
        proto: int = 0, flags: int = 0,
    ) -> list[tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[str, int]]]:
        """Literal IPv4 addresses only: there is no DNS on the simulated internet."""
        text = host.decode() if isinstance(host, bytes) else str(host)
        try:
            address = str(ipaddress.IPv4Address(text))
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, f"{text}: names do not resolve on the simulated network") from None
        return [(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP, "", (address, int(port or 0)))]
