"""A package's dependencies, resolved on the network before a download: which can be fetched, which cannot.

Each dependency is an id and a semver requirement (core/package.py's `Dependency`). Its
versions come from the node's registry (a lookup of the package's own DHT key), the
matching ones are kept, and the newest that names a shared archive with at least one
provider record is the one to fetch. A name can be signed by several keys: the
depending package's own publisher is preferred, a name with a single publisher is
taken, and anything else is left to the user (the registry's AmbiguousPublisher rule),
never "the newest from any key".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ggen_desktop.core.package import Dependency, Package
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.net.errors import NodeError

log = logging.getLogger(__name__)

ListVersions = Callable[[str], Awaitable[list[SignedRecord]]]
"""`node.list_versions`: every version of a package id known here or on the DHT, newest first."""
FindProviders = Callable[[str], Awaitable[list[tuple[str, int]]]]
"""`node.providers.find`: the seeders of an archive (by sha256) on the DHT."""

CANDIDATES = 3  # matching versions, newest first, whose providers are looked up before giving up


@dataclass(frozen=True)
class DependencyStatus:
    """One dependency as the network answered: the version to fetch and its seeders, or why there is none."""

    dependency: Dependency
    record: SignedRecord | None = None  # the newest matching version that can be fetched
    providers: int = 0  # seeders of its archive
    reason: str = ""  # why it cannot be fetched ("" when it can)

    @property
    def available(self) -> bool:
        return self.record is not None and self.providers > 0

    @property
    def package(self) -> Package | None:
        return self.record.package if self.record is not None else None

    def describe(self) -> str:
        """One line for a person: "acme/lib >=1.0: 1.4.2, 3 providers" or "… missing: why"."""
        wanted = f"{self.dependency.id} {self.dependency.requirement}"
        if self.record is not None and self.available:
            return (f"{wanted}: {self.record.package.version}, "
                    f"{self.providers} provider{'s' if self.providers != 1 else ''}")
        return f"{wanted}: missing: {self.reason}"


class DependencyResolver:
    """Resolves the dependencies of a package through the node's registry and provider records."""

    def __init__(self, list_versions: ListVersions, find_providers: FindProviders) -> None:
        self.list_versions, self.find_providers = list_versions, find_providers

    async def resolve(self, record: SignedRecord) -> list[DependencyStatus]:
        """Every dependency of a signed package, in the order the package lists them, looked up together."""
        return list(await asyncio.gather(*(self.resolve_one(dep, record.fingerprint)
                                           for dep in record.package.dependencies)))

    async def resolve_one(self, dependency: Dependency, preferred_publisher: str) -> DependencyStatus:
        """The newest version meeting the requirement that a node seeds; a reason when there is none."""
        name = str(dependency.id)
        try:
            versions = await self.list_versions(name)
        except NodeError as exc:
            return DependencyStatus(dependency, reason=str(exc))
        if not versions:
            return DependencyStatus(dependency, reason="no version of it was found on the network")
        matching = [r for r in versions if dependency.is_met_by(r.package.version)]
        if not matching:
            found = ", ".join(list(dict.fromkeys(str(r.package.version) for r in versions))[:5])  # newest first
            return DependencyStatus(dependency, reason=f"no version matches {dependency.requirement} (found {found})")
        keys = {r.fingerprint for r in matching}
        if preferred_publisher in keys:
            matching = [r for r in matching if r.fingerprint == preferred_publisher]
        elif len(keys) > 1:
            return DependencyStatus(dependency, reason=f"it is published by {len(keys)} different keys, none of them "
                                                       "this package's publisher; choose one by searching for it")
        shared = [r for r in matching if r.package.has_archive][:CANDIDATES]
        if not shared:
            return DependencyStatus(dependency, reason=f"{matching[0].package.version} was published without a "
                                                       "shared archive")
        counts = await asyncio.gather(*(self._providers(r) for r in shared))
        for candidate, count in zip(shared, counts, strict=True):
            if count > 0:
                return DependencyStatus(dependency, candidate, count)
        return DependencyStatus(dependency, reason=f"no node seeds the archive of {shared[0].package.version}")

    async def _providers(self, record: SignedRecord) -> int:
        try:
            return len(await self.find_providers(record.package.content_hash.removeprefix("sha256:")))
        except NodeError as exc:
            log.info("no provider lookup for %s: %s", record.package.id, exc)
            return 0
