"""Search queries and the seed's `matches_query` semantics, used locally and by answering peers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ggen_desktop.core.package import Category, Package

MAX_QUERY_TEXT = 200
MAX_QUERY_LIMIT = 500


class QueryError(ValueError):
    """A query broke a rule (too long, bad limit); the message says which."""


@dataclass(frozen=True)
class Query:
    """Text matched case-insensitively in title/description; any-of categories; any-of tags."""

    text: str = ""
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    limit: int = 20
    offset: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or len(self.text) > MAX_QUERY_TEXT:
            raise QueryError(f"query text must be text of at most {MAX_QUERY_TEXT} characters")
        object.__setattr__(self, "text", self.text.strip())
        object.__setattr__(self, "categories", tuple(Category.normalise(c) for c in self.categories))
        object.__setattr__(self, "tags", tuple(t.strip().lower() for t in self.tags if t.strip()))
        if not isinstance(self.limit, int) or not 1 <= self.limit <= MAX_QUERY_LIMIT:
            raise QueryError(f"limit must be a whole number from 1 to {MAX_QUERY_LIMIT}")
        if not isinstance(self.offset, int) or self.offset < 0:
            raise QueryError("offset must be a whole number of at least 0")

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.categories or self.tags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "categories": list(self.categories),
            "tags": list(self.tags),
            "limit": self.limit,
            "offset": self.offset,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Query:
        """Build from an untrusted mapping (a peer's request), raising QueryError on any bad field."""
        if not isinstance(data, dict):
            raise QueryError("query must be a mapping")
        try:
            return cls(
                text=data.get("text", ""),
                categories=tuple(data.get("categories", ())),
                tags=tuple(data.get("tags", ())),
                limit=data.get("limit", 20),
                offset=data.get("offset", 0),
            )
        except (TypeError, AttributeError, ValueError) as exc:
            raise QueryError(f"malformed query: {exc}") from None


def matches_query(package: Package, query: Query) -> bool:
    """The seed's semantics: every given criterion must hold; within a list, any one entry suffices."""
    meta = package.metadata
    if query.text:
        needle = query.text.lower()
        haystacks = (meta.title.lower(), meta.description.lower(), str(package.id))
        if not any(needle in hay for hay in haystacks):
            return False
    if query.categories:
        wanted = {c.lower() for c in query.categories}
        if not wanted.intersection(c.lower() for c in meta.categories):
            return False
    return not (query.tags and not set(query.tags).intersection(meta.tags))


@dataclass(frozen=True)
class QueryConfig:
    """The seed's query settings with its defaults, validated (seconds, counts)."""

    default_timeout: float = 10.0
    max_results: int = 20
    adaptive_timeout: bool = True
    fan_out: int = 3
    grace_period: float = field(default=5.0)

    def __post_init__(self) -> None:
        if not isinstance(self.default_timeout, (int, float)) or not 0.1 <= self.default_timeout <= 300:
            raise QueryError("default_timeout must be between 0.1 and 300 seconds")
        if not isinstance(self.max_results, int) or not 1 <= self.max_results <= MAX_QUERY_LIMIT:
            raise QueryError(f"max_results must be a whole number from 1 to {MAX_QUERY_LIMIT}")
        if not isinstance(self.adaptive_timeout, bool):
            raise QueryError("adaptive_timeout must be true or false")
        if not isinstance(self.fan_out, int) or not 1 <= self.fan_out <= 16:
            raise QueryError("fan_out must be a whole number from 1 to 16")
        if not isinstance(self.grace_period, (int, float)) or not 0 <= self.grace_period <= 60:
            raise QueryError("grace_period must be between 0 and 60 seconds")
