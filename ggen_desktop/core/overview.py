"""What the start view offers before any search: categories with counts, recent packages, searches to try.

Built from what this node already knows (its own packages and the records it
has discovered), so it costs no network traffic and shows nothing a peer merely
pushed as a result. A package counts once per (name, publisher key), however
many of its versions are known.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ggen_desktop.core.package import Category
from ggen_desktop.core.query import Query
from ggen_desktop.core.record import SignedRecord

RECENT_PACKAGES = 8
# Searches a new user can click; each finds something in the demo network's sample catalogue.
EXAMPLE_SEARCHES: tuple[Query, ...] = (
    Query(text="rust cli"),
    Query(text="postgres"),
    Query(categories=(Category.AUTHENTICATION.value,)),
    Query(tags=("kubernetes",)),
)


@dataclass(frozen=True)
class KnownPackage:
    """The newest known version of one (name, key), and when this node first saw that version."""

    record: SignedRecord
    seen_at: float | None
    mine: bool


@dataclass(frozen=True)
class Overview:
    categories: tuple[tuple[str, int], ...]  # every standard category (count 0 when none known), then custom ones
    recent: tuple[KnownPackage, ...]  # newest first
    recent_searches: tuple[Query, ...]
    examples: tuple[Query, ...]
    known: int  # distinct (name, key) pairs known

    @property
    def is_empty(self) -> bool:
        return self.known == 0


def build_overview(records: Iterable[SignedRecord], *, mine: set[tuple[str, str, str]],
                   seen_at: Callable[[SignedRecord], float | None], recent_searches: Iterable[Query] = (),
                   limit: int = RECENT_PACKAGES) -> Overview:
    newest: dict[tuple[str, str], SignedRecord] = {}
    for record in records:
        name, _, fingerprint = record.identity
        known = newest.get((name, fingerprint))
        if known is None or known.package.version < record.package.version:
            newest[(name, fingerprint)] = record
    counts: Counter[str] = Counter(c for r in newest.values() for c in r.package.metadata.categories)
    standard = tuple((c.value, counts.pop(c.value, 0)) for c in Category)
    custom = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0].lower())))
    packages = [KnownPackage(r, seen_at(r), r.identity in mine) for r in newest.values()]
    packages.sort(key=lambda p: (p.seen_at or 0.0, str(p.record.package.id)), reverse=True)
    return Overview(standard + custom, tuple(packages[:limit]), tuple(recent_searches), EXAMPLE_SEARCHES, len(newest))


def describe(query: Query) -> str:
    """A query as the start view and the empty state name it: “words”, category X, tags x, y."""
    parts = [f"“{query.text}”"] if query.text else []
    parts += [f"category {c}" for c in query.categories]
    if query.tags:
        parts.append(f"tag{'s' if len(query.tags) > 1 else ''} " + ", ".join(query.tags))
    return ", ".join(parts) or "everything"
