"""What a publish achieved, key by key: the package key and each keyword key it is stored under.

A peer answers a store with True or False. False means it verified the record
and would not keep it: the key already holds as many records as it accepts
(popular keywords fill up), or this node already stored its share there. A
publish that reached the package key but whose keyword copies were refused is
findable by name and not by that keyword, and the user must be told so.
"""

from __future__ import annotations

from dataclasses import dataclass

from ggen_desktop.core.record import SignedRecord


@dataclass(frozen=True)
class KeyCopies:
    """One key of a publish: `asked` peers were sent a copy, `stored` kept it, `refused` answered no."""

    key: bytes
    keyword: str | None  # None for the package key
    asked: int
    stored: int
    refused: int

    @property
    def label(self) -> str:
        return "package key" if self.keyword is None else f"keyword '{self.keyword}'"

    def describe(self) -> str:
        """One line, e.g. "keyword 'cli': 0 of 20 copies stored, 20 refused (the key is full on those peers)"."""
        text = f"{self.label}: {self.stored} of {self.asked} copies stored"
        if self.refused:
            text += f", {self.refused} refused (the key is full on those peers, or they hold enough from this node)"
        return text


@dataclass(frozen=True)
class PublishReport:
    """`per_key[0]` is the package key, then one entry per keyword, in the record's keyword order."""

    record: SignedRecord
    per_key: tuple[KeyCopies, ...]

    @property
    def replicas(self) -> int:
        """Copies stored under the package key (what finding the package by name relies on)."""
        return self.per_key[0].stored if self.per_key else 0

    @property
    def keys(self) -> int:
        return len(self.per_key)

    @property
    def keyword_replicas(self) -> int:
        return sum(k.stored for k in self.per_key[1:])

    def refused_keywords(self) -> list[KeyCopies]:
        """Keyword keys where at least one peer refused its copy."""
        return [k for k in self.per_key[1:] if k.refused]

    def summary(self) -> str:
        """One line for a status label: copies on the package key, and any keyword refused, by name."""
        text = f"stored on {self.replicas} peer{'s' if self.replicas != 1 else ''}"
        refused = self.refused_keywords()
        if refused:
            words = ", ".join(f"'{k.keyword}' by {k.refused} of {k.asked} peers" for k in refused)
            return f"{text}; keyword copies refused (key full): {words}"
        return f"{text}; {self.keyword_replicas} keyword copies over {max(self.keys - 1, 0)} keywords"
