"""What a search means, defined once: used for local results, by answering peers and by the front ends.

A query's text is split into words; a package matches when every word occurs,
in any order and case, somewhere in its id, title, description, tags or
categories, and when it carries every tag and every category asked for.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ggen_desktop.core.package import MAX_LIST_ITEMS, MAX_TAG, Category, Package, PackageError

MAX_QUERY_TEXT = 200
MAX_PAGE_SIZE = 1000  # Query.limit: one page of results
MAX_RESULTS = 500  # QueryConfig.max_results: how many results one network search collects
DEFAULT_PAGE_SIZE = 20
# A word starts with a letter or digit and goes on with letters, digits, '+' and '#' ("c++", "c#"),
# so punctuation and '_' separate words as they do in package keywords ("node.js", "rust_cli").
_WORD = re.compile(r"[^\W_](?:[^\W_]|[+#])*")
T = TypeVar("T")


class QueryError(ValueError):
    """A query broke a rule (too long, bad limit, malformed from a peer); the message says which."""


def fold(text: str) -> str:
    """Text in the one form every comparison uses: compatibility-normalised and case-folded.

    Upper-casing before case-folding also equates letters whose cases differ in
    length or shape ("ß"/"SS", "ı"/"I"), so any re-casing of a word still matches.
    """
    if text.isascii():
        return text.lower()  # the same result, without the cost, for the common case
    return unicodedata.normalize("NFKC", text).upper().casefold()


def query_words(text: str) -> tuple[str, ...]:
    """The words of a search text, folded, in the order typed, without repeats."""
    return tuple(dict.fromkeys(_WORD.findall(fold(text))))


@dataclass(frozen=True)
class Query:
    """Words matched anywhere in a package (all of them); all of the tags; all of the categories.

    `limit` and `offset` are the page size and offset of a paged search (see
    `page`). Peers do not need them: the wire form (`to_dict`) carries only
    what a peer filters by.
    """

    text: str = ""
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0
    words: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.text, str) or len(self.text) > MAX_QUERY_TEXT:
            raise QueryError(f"query text must be text of at most {MAX_QUERY_TEXT} characters")
        set_(self, "text", self.text.strip())
        set_(self, "words", query_words(self.text))
        set_(self, "categories", _categories(self.categories))
        set_(self, "tags", _tags(self.tags))
        if not _whole_number(self.limit) or not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise QueryError(f"limit (page size) must be a whole number from 1 to {MAX_PAGE_SIZE}")
        if not _whole_number(self.offset) or self.offset < 0:
            raise QueryError("offset must be a whole number of at least 0")

    @property
    def is_empty(self) -> bool:
        """True when nothing would narrow the results: no words (punctuation alone is none), tags or categories."""
        return not (self.words or self.categories or self.tags)

    @property
    def needed(self) -> int:
        """How many matches a search must collect to fill this page."""
        return self.offset + self.limit

    def page(self, items: Sequence[T]) -> list[T]:
        """This query's page of `items`, which the caller gives in a stable order."""
        return list(items[self.offset:self.offset + self.limit])

    def next_page(self) -> Query:
        return replace(self, offset=self.offset + self.limit)

    def to_dict(self) -> dict[str, Any]:
        """The wire form: what an answering peer filters by, and nothing else.

        The keys are those peers already send. "text" is the text as typed
        (trimmed): every peer splits it into the same words, and folding could
        lengthen it ("ß" is "ss") past what a peer accepts.
        """
        return {"text": self.text, "categories": list(self.categories), "tags": list(self.tags)}

    @classmethod
    def from_dict(cls, data: Any) -> Query:
        """Build from an untrusted mapping (a peer's request), raising QueryError on any bad field.

        Older peers also send "limit" and "offset": they are checked like any
        query's, though no peer's answer depends on them. Unknown keys are
        ignored, so a newer peer's additions do not make a query unreadable.
        """
        if not isinstance(data, dict):
            raise QueryError("malformed query: must be a mapping")
        for name in ("categories", "tags"):
            value = data.get(name, [])
            if not isinstance(value, list):
                raise QueryError(f"malformed query: {name} must be a list of text, got {type(value).__name__}")
        try:
            return cls(text=data.get("text", ""), categories=tuple(data.get("categories", [])),
                       tags=tuple(data.get("tags", [])), limit=data.get("limit", DEFAULT_PAGE_SIZE),
                       offset=data.get("offset", 0))
        except QueryError as exc:
            raise QueryError(f"malformed query: {exc}") from None


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_items(name: str, values: Any) -> list[str]:
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise QueryError(f"{name} must be a list of text")
    if len(values) > MAX_LIST_ITEMS:
        raise QueryError(f"at most {MAX_LIST_ITEMS} {name} can be asked for; a package has no more")
    items = []
    for value in values:
        if not isinstance(value, str):
            raise QueryError(f"{name} must be text, got {type(value).__name__}")
        if value.strip():
            items.append(value.strip())
    return items


def _categories(values: Any) -> tuple[str, ...]:
    out = []
    for name in _text_items("categories", values):
        try:
            out.append(Category.normalise(name))
        except PackageError as exc:
            raise QueryError(exc.rule) from None
    return tuple(dict.fromkeys(out))


def _tags(values: Any) -> tuple[str, ...]:
    out = []
    for tag in _text_items("tags", values):
        if any(ch.isspace() for ch in tag):
            raise QueryError(f"tag '{tag[:40]}' contains a space: give each tag on its own")
        if len(tag) > MAX_TAG:
            raise QueryError(f"tag '{tag[:40]}…' is over {MAX_TAG} characters; no package has such a tag")
        out.append(fold(tag))
    return tuple(dict.fromkeys(out))


def _haystack(package: Package) -> str:
    """Every searchable field of a package, folded; fields are joined by a newline, which no word contains."""
    meta = package.metadata
    return fold("\n".join((str(package.id), meta.title, meta.description, *meta.tags, *meta.categories)))


def matches_query(package: Package, query: Query) -> bool:
    """True when the package holds every word of the query, every tag and every category asked for."""
    meta = package.metadata
    if query.tags and not set(query.tags).issubset(fold(t) for t in meta.tags):
        return False
    if query.categories and not {fold(c) for c in query.categories}.issubset(fold(c) for c in meta.categories):
        return False
    if query.words:
        haystack = _haystack(package)
        return all(word in haystack for word in query.words)
    return True


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
        if not isinstance(self.max_results, int) or not 1 <= self.max_results <= MAX_RESULTS:
            raise QueryError(f"max_results must be a whole number from 1 to {MAX_RESULTS}")
        if not isinstance(self.adaptive_timeout, bool):
            raise QueryError("adaptive_timeout must be true or false")
        if not isinstance(self.fan_out, int) or not 1 <= self.fan_out <= 16:
            raise QueryError("fan_out must be a whole number from 1 to 16")
        if not isinstance(self.grace_period, (int, float)) or not 0 <= self.grace_period <= 60:
            raise QueryError("grace_period must be between 0 and 60 seconds")
