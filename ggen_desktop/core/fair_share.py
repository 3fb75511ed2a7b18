"""Who holds how much of a bounded resource, and who holds the most: the party to evict from.

"No single party may fill a key, the storage, the discovered list or the
routing table": when a resource is full, a newcomer takes room from the largest
holder, and is refused only when that would not make the shares more even.
Counts change one at a time, so the largest holder is kept up to date in O(1)
(parties bucketed by count, as an LFU cache keeps its frequency lists).
"""

from __future__ import annotations


class Holders:
    """Parties (addresses, /24s, publishers) with a positive count each."""

    def __init__(self) -> None:
        self._count: dict[str, int] = {}
        self._with: dict[int, dict[str, None]] = {}  # count -> parties holding exactly that many
        self._top = 0

    def count(self, party: str) -> int:
        return self._count.get(party, 0)

    def add(self, party: str) -> None:
        held = self._count.get(party, 0)
        self._move(party, held, held + 1)
        self._top = max(self._top, held + 1)

    def remove(self, party: str) -> None:
        """One fewer for `party`; raises KeyError if it holds nothing."""
        held = self._count[party]
        self._move(party, held, held - 1)
        if held == self._top and held not in self._with:
            self._top -= 1  # the party itself now sits at held - 1

    def largest(self) -> tuple[str, int] | None:
        """A party holding the most, and how many; None when nobody holds anything."""
        if not self._top:
            return None
        return next(iter(self._with[self._top])), self._top

    def should_yield(self, newcomer: str) -> str | None:
        """The party to take one unit from so `newcomer` can have it, or None to refuse the newcomer.

        Taking is fair when the largest holds more than one beyond the newcomer:
        afterwards the largest still holds at least as many as the newcomer.
        """
        largest = self.largest()
        if largest is None or largest[1] <= self.count(newcomer) + 1:
            return None
        return largest[0]

    def __len__(self) -> int:
        return len(self._count)

    def _move(self, party: str, old: int, new: int) -> None:
        if old:
            peers = self._with[old]
            del peers[party]
            if not peers:
                del self._with[old]
        if new:
            self._with.setdefault(new, {})[party] = None
            self._count[party] = new
        else:
            del self._count[party]
