"""Publisher continuity: which key published which package name, since which version, how many releases.

Two keys can both publish `acme/cli` (a package is its name and its key together),
so an impostor needs no one's permission to use a name. What gives it away is
history: this node remembers every (name, key) pair it has seen, so a name that
arrives signed by a new key is flagged even when the original publisher's rows
are absent from the results. A fingerprint that merely looks alike does not help
the impostor here: keys are compared whole.

The book is plain data with bounds (a peer decides what we see): at most
`max_sightings` (name, key, version) sightings, the names seen least recently
forgotten first, and at most `max_versions_per_key` versions counted per key of a
name (beyond that the count says "at least"). Every change is returned as a
`ProvenanceChanges`, so a store can keep a copy without the book knowing of it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ggen_desktop.core.package import Version
from ggen_desktop.core.record import SignedRecord

MAX_SIGHTINGS = 20_000
MAX_VERSIONS_PER_KEY = 256
TOUCH_INTERVAL_S = 600.0  # a pair seen again is reported as touched at most this often (no write per result)


@dataclass(frozen=True)
class Sighting:
    """One version of a package name seen signed by one key, and when (first and most recently)."""

    name: str
    fingerprint: str
    version: str
    first_seen: float
    last_seen: float


@dataclass(frozen=True)
class KeyHistory:
    """One key's record for one name: first and last seen, its lowest version seen and how many versions."""

    name: str
    fingerprint: str
    first_seen: float
    last_seen: float
    first_version: str
    releases: int
    capped: bool  # more versions exist than were counted

    @property
    def releases_text(self) -> str:
        count = f"at least {self.releases}" if self.capped else str(self.releases)
        return f"{count} release{'' if self.releases == 1 and not self.capped else 's'}"


@dataclass(frozen=True)
class Continuity:
    """What the book says about one (name, key): its own history and the other keys seen for the name."""

    name: str
    fingerprint: str
    history: KeyHistory | None
    earlier_keys: tuple[KeyHistory, ...]  # other keys that published this name before this key was first seen
    later_keys: tuple[KeyHistory, ...]  # other keys first seen after this one

    @property
    def flagged(self) -> bool:
        """True when another key used this name first: this key may be an impostor."""
        return bool(self.earlier_keys)

    def summary(self) -> str:
        """"signed by the same key since 1.0.0 (14 releases)", or that nothing is known yet."""
        if self.history is None:
            return "not seen before"
        return f"signed by the same key since {self.history.first_version} ({self.history.releases_text})"


@dataclass
class ProvenanceChanges:
    """What one call changed, for a store to mirror: new sightings, pairs seen again, names forgotten."""

    new: list[Sighting] = field(default_factory=list)
    touched: list[tuple[str, str, float]] = field(default_factory=list)  # (name, fingerprint, last_seen)
    forgotten: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.new or self.touched or self.forgotten)


@dataclass
class _KeyVersions:
    versions: dict[str, float]  # version -> first seen
    last_seen: float
    lowest: Version
    capped: bool = False
    touched_at: float = 0.0


class ProvenanceBook:
    """Every (name, key) this node has seen, bounded; names in least-recently-seen order."""

    def __init__(self, max_sightings: int = MAX_SIGHTINGS, max_versions_per_key: int = MAX_VERSIONS_PER_KEY) -> None:
        if max_sightings < 1 or max_versions_per_key < 1:
            raise ValueError("the provenance bounds must be at least 1")
        self.max_sightings = max_sightings
        self.max_versions_per_key = max_versions_per_key
        self._names: OrderedDict[str, dict[str, _KeyVersions]] = OrderedDict()
        self._count = 0
        self.generation = 0  # bumped on every change, so views can cache what they show

    def __len__(self) -> int:
        """The number of sightings kept."""
        return self._count

    def observe_records(self, records: Iterable[SignedRecord], at: float) -> ProvenanceChanges:
        changes = ProvenanceChanges()
        for record in records:
            name, version, fingerprint = record.identity
            self._observe(name, fingerprint, version, at, at, changes)
        return changes

    def load(self, sightings: Iterable[Sighting]) -> ProvenanceChanges:
        """Take sightings kept from an earlier run (oldest first); returns what the bounds dropped."""
        changes = ProvenanceChanges()
        for s in sorted(sightings, key=lambda s: s.last_seen):
            self._observe(s.name, s.fingerprint, s.version, s.first_seen, s.last_seen, changes)
        changes.new.clear()
        changes.touched.clear()
        return changes

    def _observe(self, name: str, fingerprint: str, version: str, first_seen: float, at: float,
                 changes: ProvenanceChanges) -> None:
        keys = self._names.get(name)
        if keys is None:
            keys = self._names[name] = {}
        self._names.move_to_end(name)
        entry = keys.get(fingerprint)
        if entry is not None and version in entry.versions:
            if at - entry.touched_at >= TOUCH_INTERVAL_S:
                entry.touched_at = at
                changes.touched.append((name, fingerprint, at))
            entry.last_seen = max(entry.last_seen, at)
            return
        parsed = Version(version)
        if entry is None:
            entry = keys[fingerprint] = _KeyVersions({}, at, parsed, touched_at=at)
        elif len(entry.versions) >= self.max_versions_per_key:
            entry.capped = True
            return
        elif parsed < entry.lowest:
            entry.lowest = parsed
        entry.versions[version] = first_seen
        entry.last_seen = max(entry.last_seen, at)
        self._count += 1
        self.generation += 1
        changes.new.append(Sighting(name, fingerprint, version, first_seen, entry.last_seen))
        self._bound(name, changes)

    def _bound(self, keep: str, changes: ProvenanceChanges) -> None:
        """Forget whole names, least recently seen first, never the one just seen."""
        while self._count > self.max_sightings and len(self._names) > 1:
            name, keys = next(iter(self._names.items()))
            if name == keep:
                self._names.move_to_end(name)
                continue
            del self._names[name]
            self._count -= sum(len(k.versions) for k in keys.values())
            changes.forgotten.append(name)
            changes.new[:] = [s for s in changes.new if s.name != name]

    # -- reading -----------------------------------------------------------------
    def history(self, name: str) -> list[KeyHistory]:
        """Every key seen for a name, the earliest first."""
        keys = self._names.get(name, {})
        out = [KeyHistory(name, fp, min(k.versions.values()), k.last_seen, str(k.lowest), len(k.versions), k.capped)
               for fp, k in keys.items()]
        return sorted(out, key=lambda h: (h.first_seen, h.fingerprint))

    def continuity(self, name: str, fingerprint: str) -> Continuity:
        histories = self.history(name)
        own = next((h for h in histories if h.fingerprint == fingerprint), None)
        others = [h for h in histories if h.fingerprint != fingerprint]
        if own is None:
            return Continuity(name, fingerprint, None, tuple(others), ())
        return Continuity(name, fingerprint, own,
                          tuple(h for h in others if h.first_seen < own.first_seen),
                          tuple(h for h in others if h.first_seen >= own.first_seen))

    def first_seen(self, name: str, fingerprint: str, version: str) -> float | None:
        """When this node first saw that version signed by that key; None if it never did (or forgot)."""
        entry = self._names.get(name, {}).get(fingerprint)
        return entry.versions.get(version) if entry is not None else None

    def sightings(self) -> list[Sighting]:
        return [Sighting(name, fp, version, first, k.last_seen)
                for name, keys in self._names.items() for fp, k in keys.items() for version, first in k.versions.items()]
