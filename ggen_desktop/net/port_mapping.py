"""UDP port mapping on the home router through UPnP IGD, so peers on the internet can reach a node behind NAT.

`Gateway.discover` finds the router by SSDP on the LAN within a bounded time and
binds its WAN connection service (WANIPConnection v2/v1, else WANPPPConnection).
`UdpPortMapping` asks it to forward a public UDP port to this host's LAN address,
renews the lease at half its length, and deletes the mapping on close.

Every failure is a `PortMappingError` that says what happened: no gateway
answered (`NoGatewayFound`), the gateway misbehaved or went away (`GatewayFailed`),
the router has no public address itself (`BehindAnotherNat`), or it refused the
mapping with its UPnP error code (`MappingRefused`).

NAT-PMP and PCP are not spoken: the only Python client found (py-natpmp 0.2.5)
is synchronous and sparsely maintained, and there is no PCP client library.

This sends SSDP multicast and SOAP requests on the local network: only the
composition root decides to use it (never on the demo network); tests run it only
inside the namespaces of tests/natlab.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from async_upnp_client.aiohttp import AiohttpRequester
from async_upnp_client.client import UpnpService
from async_upnp_client.client_factory import UpnpFactory
from async_upnp_client.exceptions import UpnpActionError, UpnpError
from async_upnp_client.search import SsdpSearchListener
from async_upnp_client.utils import CaseInsensitiveDict

log = logging.getLogger(__name__)

IGD_DEVICE_TYPES = (
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
)
# Preferred first. A v2 service answers every v1 action used here.
WAN_SERVICE_TYPES = (
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
)
REQUIRED_ACTIONS = ("GetExternalIPAddress", "AddPortMapping", "DeletePortMapping", "GetGenericPortMappingEntry")

DISCOVERY_TIMEOUT = 3.0
SEARCHES = 3  # M-SEARCH is multicast UDP: sent this many times, evenly over the discovery time
SEARCH_MX = 1  # seconds a device may wait before it answers
ACTION_TIMEOUT = 5.0
DEFAULT_LEASE = 3600
MAX_LEASE = 604800  # IGD v2's upper bound (one week)
PORT_TRIES = 4  # the wanted external port, then random ones while the router says it is taken
MAX_LISTED = 256
DESCRIPTION = "ggen-desktop node"

# UPnP error codes (WANIPConnection:2 service description, section 2.4)
ARRAY_INDEX_INVALID = 713
CONFLICT_IN_MAPPING_ENTRY = 718


class PortMappingError(Exception):
    """Port mapping on the router did not work; the message says why in one sentence."""


class NoGatewayFound(PortMappingError):
    """No UPnP internet gateway answered the search on the local network."""


class GatewayFailed(PortMappingError):
    """The gateway did not answer a request, answered nonsense, or lacks the WAN connection service."""


class BehindAnotherNat(PortMappingError):
    """The router has no public address of its own, so a mapping on it would not make this host reachable."""

    def __init__(self, external_ip: str | None) -> None:
        self.external_ip = external_ip
        what = f"the router's external address is {external_ip}, not a public one" if external_ip else \
            "the router reports no external address"
        super().__init__(f"{what}: it is itself behind another NAT (or offline), so mapping a port on it "
                         "would not make this node reachable")


class MappingRefused(PortMappingError):
    """The router answered AddPortMapping with a UPnP error."""

    def __init__(self, external_port: int, code: int | None, reason: str | None) -> None:
        self.external_port = external_port
        self.code = code
        self.reason = reason
        super().__init__(f"the router refused to map UDP port {external_port}: UPnP error {code} ({reason})")


@dataclass(frozen=True)
class MappingEntry:
    """One mapping as the router lists it; `lease_seconds` is what remains (0: no expiry)."""

    external_port: int
    protocol: str
    internal_ip: str
    internal_port: int
    description: str
    lease_seconds: int


class Gateway:
    """One UPnP IGD's WAN connection service, and this host's address on the LAN that reaches it."""

    def __init__(self, location: str, service: UpnpService, local_ip: str, action_timeout: float = ACTION_TIMEOUT) -> None:
        self.location = location
        self.service = service
        self.local_ip = local_ip
        self.action_timeout = action_timeout

    @classmethod
    async def discover(cls, timeout: float = DISCOVERY_TIMEOUT, *, action_timeout: float = ACTION_TIMEOUT) -> Gateway:
        """Search the LAN for an IGD (NoGatewayFound after `timeout` s), then read its description."""
        location = await _search(timeout)
        requester = AiohttpRequester(timeout=math.ceil(action_timeout))
        try:
            async with asyncio.timeout(action_timeout):
                device = await UpnpFactory(requester, non_strict=True).async_create_device(location)
        except (UpnpError, OSError, TimeoutError) as exc:
            raise GatewayFailed(f"the gateway's description at {location} could not be read: {_why(exc)}") from exc
        for service_type in WAN_SERVICE_TYPES:
            for service in device.all_services:
                if service.service_type == service_type and all(service.has_action(a) for a in REQUIRED_ACTIONS):
                    return cls(location, service, _local_ip_towards(location), action_timeout)
        raise GatewayFailed(f"the gateway at {location} offers no WAN connection service with port mapping")

    async def external_ip(self) -> str | None:
        """The router's address on the internet side, as it reports it; None when it reports none (empty or 0.0.0.0)."""
        result = await self._call("GetExternalIPAddress")
        address = str(result.get("NewExternalIPAddress") or "")
        if address in ("", "0.0.0.0"):
            return None
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            raise GatewayFailed(f"the gateway at {self.location} reported an invalid external address {address!r}") from None
        return address

    async def add_udp_mapping(self, external_port: int, internal_port: int, lease_seconds: int,
                              description: str = DESCRIPTION, internal_ip: str | None = None) -> None:
        """Forward UDP `external_port` on the router to `internal_ip` (default: this host):`internal_port`.

        Adding the same mapping again renews its lease.
        """
        try:
            await self._call("AddPortMapping", NewRemoteHost="", NewExternalPort=external_port, NewProtocol="UDP",
                             NewInternalPort=internal_port, NewInternalClient=internal_ip or self.local_ip,
                             NewEnabled=True, NewPortMappingDescription=description, NewLeaseDuration=lease_seconds)
        except _ActionRefused as exc:
            raise MappingRefused(external_port, exc.code, exc.reason) from None

    async def delete_udp_mapping(self, external_port: int) -> None:
        try:
            await self._call("DeletePortMapping", NewRemoteHost="", NewExternalPort=external_port, NewProtocol="UDP")
        except _ActionRefused as exc:
            raise GatewayFailed(f"the gateway did not delete UDP port {external_port}: UPnP error {exc.code} "
                                f"({exc.reason})") from None

    async def mappings(self) -> list[MappingEntry]:
        """Every mapping the router holds (GetGenericPortMappingEntry until the index runs out), at most MAX_LISTED."""
        entries: list[MappingEntry] = []
        for index in range(MAX_LISTED):
            try:
                row = await self._call("GetGenericPortMappingEntry", NewPortMappingIndex=index)
            except _ActionRefused as exc:
                if exc.code == ARRAY_INDEX_INVALID:
                    break
                raise GatewayFailed(f"the gateway did not list its mappings: UPnP error {exc.code} ({exc.reason})") from None
            try:
                entries.append(MappingEntry(int(row["NewExternalPort"]), str(row["NewProtocol"]),
                                            str(row["NewInternalClient"]), int(row["NewInternalPort"]),
                                            str(row.get("NewPortMappingDescription") or ""),
                                            int(row.get("NewLeaseDuration") or 0)))
            except (KeyError, ValueError, TypeError) as exc:
                raise GatewayFailed(f"the gateway listed a malformed mapping entry {dict(row)!r}") from exc
        return entries

    async def _call(self, action: str, **arguments: Any) -> Mapping[str, Any]:
        try:
            return await self.service.action(action).async_call(request_timeout=self.action_timeout, **arguments)
        except UpnpActionError as exc:
            raise _ActionRefused(exc.error_code, exc.error_desc) from exc
        except (UpnpError, OSError, TimeoutError) as exc:
            raise GatewayFailed(f"the gateway at {self.location} did not answer {action}: {_why(exc)}") from exc


class UdpPortMapping:
    """A UDP mapping held open: added by `start`, renewed at half its lease, deleted by `close`.

    `external_address` is the (router ip, port) peers can send to, or None while
    no mapping is known to be in place. `on_change` is called with it whenever that
    changes after `start`: renewals failed until the lease ran out, or it was
    re-established. After a lapse the gateway is searched for again, since a
    restarted router may serve UPnP on a new port and have a new public address.
    """

    def __init__(self, gateway: Gateway, internal_port: int, *, external_port: int | None = None,
                 lease_seconds: int = DEFAULT_LEASE, description: str = DESCRIPTION,
                 on_change: Callable[[tuple[str, int] | None], None] | None = None,
                 discovery_timeout: float = DISCOVERY_TIMEOUT) -> None:
        if not 1 <= internal_port <= 65535 or not (external_port is None or 1 <= external_port <= 65535):
            raise ValueError(f"ports must be 1..65535, got internal {internal_port} and external {external_port}")
        if not 2 <= lease_seconds <= MAX_LEASE:
            raise ValueError(f"the lease must be 2..{MAX_LEASE} seconds, got {lease_seconds}")
        self.gateway = gateway
        self.internal_port = internal_port
        self.wanted_port = external_port or internal_port
        self.lease_seconds = lease_seconds
        self.description = description
        self.on_change = on_change
        self.discovery_timeout = discovery_timeout
        self.external_address: tuple[str, int] | None = None
        self.renewals = 0
        self._port = self.wanted_port
        self._external_ip = ""
        self._expires = 0.0
        self._renewer: asyncio.Task[None] | None = None

    async def start(self) -> tuple[str, int]:
        """Learn the router's public address and add the mapping; a PortMappingError says why not."""
        if self._renewer is not None:
            raise RuntimeError("this port mapping is already started")
        self.external_address = await self._establish(self.wanted_port)
        self._renewer = asyncio.get_running_loop().create_task(self._renew_forever(), name="port-mapping-renewal")
        return self.external_address

    async def _establish(self, wanted_port: int) -> tuple[str, int]:
        """The router's public address, then `wanted_port` mapped, or a random one while the router says it is taken."""
        external_ip = await self.gateway.external_ip()
        if external_ip is None or not ipaddress.IPv4Address(external_ip).is_global:
            raise BehindAnotherNat(external_ip)
        candidates = [wanted_port, *random.sample(range(1024, 65536), PORT_TRIES - 1)]
        for port in candidates:
            try:
                await self._add(port)
            except MappingRefused as exc:
                if exc.code != CONFLICT_IN_MAPPING_ENTRY or port == candidates[-1]:
                    raise
                log.info("UDP port %d is taken on the router; trying another", port)
                continue
            break
        self._external_ip = external_ip
        log.info("the router forwards %s:%d to %s:%d for %d s", external_ip, self._port, self.gateway.local_ip,
                 self.internal_port, self.lease_seconds)
        return (external_ip, self._port)

    async def close(self) -> None:
        """Stop renewing and delete the mapping; a gateway that is gone is logged, not raised."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        if self.external_address is None and self._expires == 0.0:
            return
        self.external_address = None
        self._expires = 0.0
        try:
            await self.gateway.delete_udp_mapping(self._port)
        except PortMappingError as exc:
            log.warning("could not remove the port mapping (it lapses by itself within %d s): %s", self.lease_seconds, exc)

    async def __aenter__(self) -> UdpPortMapping:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    async def _add(self, port: int) -> None:
        await self.gateway.add_udp_mapping(port, self.internal_port, self.lease_seconds, self.description)
        self._port = port
        self._expires = time.monotonic() + self.lease_seconds

    async def _renew_forever(self) -> None:
        """Renew at half the lease; after a failure retry every eighth of it (at least 1 s), report a lapse once
        the lease has run out, and from then on search for the gateway again on every try."""
        delay = self.lease_seconds / 2
        while True:
            await asyncio.sleep(delay)
            try:
                if self.external_address is not None:
                    await self._add(self._port)
                else:
                    self.gateway = await Gateway.discover(self.discovery_timeout, action_timeout=self.gateway.action_timeout)
                    self._changed(await self._establish(self._port))
            except PortMappingError as exc:
                delay = max(1.0, self.lease_seconds / 8)
                log.warning("renewing the port mapping failed: %s", exc)
                if time.monotonic() >= self._expires and self.external_address is not None:
                    self._changed(None)
                continue
            self.renewals += 1
            delay = self.lease_seconds / 2

    def _changed(self, address: tuple[str, int] | None) -> None:
        self.external_address = address
        if self.on_change is not None:
            self.on_change(address)


async def map_udp_port(internal_port: int, *, discovery_timeout: float = DISCOVERY_TIMEOUT, external_port: int | None = None,
                       lease_seconds: int = DEFAULT_LEASE,
                       on_change: Callable[[tuple[str, int] | None], None] | None = None) -> UdpPortMapping:
    """Discover the gateway and start a mapping of `internal_port`; the caller closes it."""
    gateway = await Gateway.discover(discovery_timeout)
    mapping = UdpPortMapping(gateway, internal_port, external_port=external_port, lease_seconds=lease_seconds,
                             on_change=on_change)
    await mapping.start()
    return mapping


class _ActionRefused(Exception):
    def __init__(self, code: int | None, reason: str | None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


async def _search(timeout: float) -> str:
    """The description URL of the first IGD that answers, sent from the same host it names."""
    loop = asyncio.get_running_loop()
    found: asyncio.Future[str] = loop.create_future()

    def on_response(headers: CaseInsensitiveDict) -> None:
        location = str(headers.get_lower("location") or "")
        remote = headers.get_lower("_remote_addr") or ("",)
        if found.done() or headers.get_lower("st") not in IGD_DEVICE_TYPES or not location:
            return
        if urlsplit(location).hostname != remote[0]:
            # The description must come from the host that answered: an answer is a claim, not a pointer to follow.
            log.info("ignoring an IGD answer from %s that points to %s", remote[0], location)
            return
        found.set_result(location)

    listeners = [SsdpSearchListener(callback=on_response, loop=loop, source=("0.0.0.0", 0), timeout=SEARCH_MX,
                                    search_target=target) for target in IGD_DEVICE_TYPES]
    started: list[SsdpSearchListener] = []
    try:
        async with asyncio.timeout(timeout):
            for listener in listeners:
                await listener.async_start()
                started.append(listener)
            for _ in range(SEARCHES):
                for listener in started:
                    listener.async_search()
                await asyncio.wait([found], timeout=timeout / SEARCHES)
                if found.done():
                    break
            return await found
    except TimeoutError:
        raise NoGatewayFound(f"no UPnP internet gateway answered on the local network within {timeout:g} s "
                             "(the router may not support UPnP, or has it switched off)") from None
    except OSError as exc:
        raise NoGatewayFound(f"could not search the local network for a UPnP gateway: {exc}") from exc
    finally:
        for listener in started:
            listener.async_stop()


def _local_ip_towards(location: str) -> str:
    """This host's address on the route to the gateway (a connected UDP socket; nothing is sent)."""
    parts = urlsplit(location)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((parts.hostname or "", parts.port or 80))
        return str(probe.getsockname()[0])


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
