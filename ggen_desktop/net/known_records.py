"""What this node knows before asking anyone: its own packages and the records peers told it of.

A search shows these first, marked as known (never as an answer: a record a
peer pushed is that peer's claim, tagged with it). The keywords they are
indexed under steer the lookup (`plan_lookup` picks the most selective one)
and the "Did you mean …?" suggestions. Counting keywords afresh for thousands
of records on every search would be slow, so counts are kept per record and
brought up to date only for what changed since the last search.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

from ggen_desktop.core.keywords import LookupPlan, package_keywords, plan_lookup
from ggen_desktop.core.query import Query, matches_query
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import THIS_NODE_SOURCE, known_via
from ggen_desktop.core.suggest import suggest

Identity = tuple[str, str, str]


class KnownRecords:
    """My packages and discovered records, with the keyword counts a lookup plan needs."""

    def __init__(self, mine: Callable[[], list[SignedRecord]],
                 discovered: Callable[[], list[tuple[SignedRecord, str]]]) -> None:
        """`mine()` lists my packages' records; `discovered()` the others' with the peer that told us of each."""
        self.mine = mine
        self.discovered = discovered
        self._counts: Counter[str] = Counter()
        self._counted: dict[Identity, tuple[SignedRecord, list[str]]] = {}
        self._stale = True

    def changed(self) -> None:
        """Something was published, deleted or learnt: recount before the next plan."""
        self._stale = True

    def sourced(self) -> list[tuple[SignedRecord, str]]:
        """Every known record once, mine first, each with its source: this node, or the peer it came from."""
        seen: dict[Identity, tuple[SignedRecord, str]] = {}
        for record in self.mine():
            seen.setdefault(record.identity, (record, THIS_NODE_SOURCE))
        for record, peer in self.discovered():
            seen.setdefault(record.identity, (record, known_via(peer)))
        return list(seen.values())

    def records(self) -> list[SignedRecord]:
        return [record for record, _ in self.sourced()]

    def matches(self, query: Query) -> list[tuple[SignedRecord, str]]:
        """Known records matching the query, with their sources: what a search shows first."""
        return [(r, source) for r, source in self.sourced() if matches_query(r.package, query)]

    def keyword_counts(self) -> Mapping[str, int]:
        """How many known packages are indexed under each keyword."""
        if self._stale:
            self._recount()
        return self._counts

    def _recount(self) -> None:
        current = {r.identity: r for r in self.records()}
        for identity in [i for i in self._counted if i not in current]:
            self._counts.subtract(self._counted.pop(identity)[1])
        for identity, record in current.items():
            counted = self._counted.get(identity)
            if counted is not None and counted[0].encoded == record.encoded:
                continue
            if counted is not None:  # re-signed with other metadata
                self._counts.subtract(counted[1])
            words = package_keywords(record.package)
            self._counts.update(words)
            self._counted[identity] = (record, words)
        self._counts = +self._counts  # drop the words no known package has any more
        self._stale = False

    def plan(self, query: Query) -> LookupPlan:
        """The keyword to look up for `query`: the most selective of its words this node knows of."""
        return plan_lookup(query, self.keyword_counts())

    def suggestions(self, query: Query) -> list[str]:
        """Known keywords close to the query's words ("Did you mean kubernetes?"), best first."""
        return suggest(query.words, self.keyword_counts())
