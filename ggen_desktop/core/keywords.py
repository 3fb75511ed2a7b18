"""Keywords under which a package is indexed on the DHT, and the one a query looks up.

The DHT is searched by whole keywords (`package_keywords`); the answering peers
then filter what they hold under that keyword by the whole query
(`matches_query`). So the lookup needs one keyword every match is indexed
under, and the rarest such keyword makes the fewest records travel.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ggen_desktop.core.package import Package
from ggen_desktop.core.query import Query

MIN_KEYWORD = 3
MAX_KEYWORDS = 24
STOP_WORDS = frozenset(
    [
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into",
        "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will", "with",
        "your", "you", "our", "not", "but", "can", "all", "any", "via", "using", "use",
    ]
)
MAX_HINTS = 3  # whole keywords named when a word is only part of one
_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#]*")


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens with stop words and tokens under MIN_KEYWORD characters dropped."""
    return [t for t in _TOKEN.findall(text.lower()) if len(t) >= MIN_KEYWORD and t not in STOP_WORDS]


def package_keywords(package: Package) -> list[str]:
    """Title words, tags, categories and name parts, de-duplicated in that order, capped."""
    meta = package.metadata
    sources = [
        meta.title,
        " ".join(meta.tags),
        " ".join(meta.categories),
        package.id.namespace.replace("-", " ").replace("_", " ").replace(".", " "),
        package.id.name.replace("-", " ").replace("_", " ").replace(".", " "),
    ]
    words: dict[str, None] = {}
    for source in sources:
        for token in tokenize(source):
            words.setdefault(token, None)
    return list(words)[:MAX_KEYWORDS]


def keyword_counts(packages: Iterable[Package]) -> Counter[str]:
    """How many of the given packages are indexed under each keyword: the `known_counts` of `plan_lookup`."""
    return Counter(word for package in packages for word in package_keywords(package))


@dataclass(frozen=True)
class LookupPlan:
    """The keyword a search looks up on the DHT, or None and the reason the network is not asked."""

    keyword: str | None
    reason: str = ""


def _unusable_reason(word: str) -> str | None:
    """Why `word` can never be a DHT keyword, or None when it has a keyword's form."""
    if len(word) < MIN_KEYWORD:
        return f"'{word}' is too short to search the network by (keywords have at least {MIN_KEYWORD} characters)"
    if word in STOP_WORDS:
        return f"'{word}' is too common a word to search the network by"
    if not _TOKEN.fullmatch(word):
        return f"'{word}' cannot be searched on the network: keywords use only a-z, 0-9, '+' and '#'"
    return None


def _part_of_reason(word: str, known_counts: Mapping[str, int]) -> str | None:
    """Why a word that is only part of keywords this node knows is not looked up, or None when it is not."""
    if known_counts.get(word, 0) > 0:
        return None
    wider = sorted((k for k, n in known_counts.items() if n > 0 and word in k), key=lambda k: (-known_counts[k], len(k), k))
    if not wider:
        return None
    hints = " or ".join(f"'{k}'" for k in wider[:MAX_HINTS])
    return f"'{word}' is part of a word; the network is searched by whole words: try {hints}"


def _most_selective(tokens: Iterable[str], known_counts: Mapping[str, int]) -> str | None:
    """Fewest known packages first (an unknown keyword counts 0), then the longest, then alphabetical."""
    return min(tokens, key=lambda t: (known_counts.get(t, 0), -len(t), t), default=None)


def plan_lookup(query: Query, known_counts: Mapping[str, int]) -> LookupPlan:
    """The keyword to look up for `query`, given how many known packages each keyword has.

    Candidates are the query's words that have a keyword's form and are not
    just part of a keyword this node knows ("kube" while only "kubernetes" is
    known: local matching finds those by substring, the network would not).
    Without such a word, a tag's keywords, then a category's, are used: every
    match carries them. A word found only in a package's description is not
    among its keywords: the network finds such a package through another word or a tag.
    """
    reasons: list[str] = []
    usable: list[str] = []
    for word in query.words:
        reason = _unusable_reason(word) or _part_of_reason(word, known_counts)
        if reason is None:
            usable.append(word)
        else:
            reasons.append(reason)
    for source in (query.tags, query.categories):
        if usable:
            break
        for value in source:
            tokens = tokenize(value)
            usable += tokens
            if not tokens:
                reasons.append(f"'{value}' is too short or too common to search the network by")
    keyword = _most_selective(usable, known_counts)
    if keyword is not None:
        return LookupPlan(keyword)
    if not reasons:
        reasons.append("the query is empty")
    return LookupPlan(None, "; ".join(reasons))


def lookup_keyword(query: Query) -> str | None:
    """The keyword `plan_lookup` picks when this node knows no packages (every keyword counts 0)."""
    return plan_lookup(query, {}).keyword
