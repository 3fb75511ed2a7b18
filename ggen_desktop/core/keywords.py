"""Keywords under which a package is indexed on the DHT, and those a query looks up."""

from __future__ import annotations

import re

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


def lookup_keyword(query: Query) -> str | None:
    """The one keyword a search looks up on the DHT.

    The most selective token of the text (the longest; ties keep the first),
    else a tag, else a category. Limitation: keywords are whole words of a
    package's title, tags, categories and name (`package_keywords`), so a text
    that is only part of a word ("kub" for "kubernetes") or a word found only
    in the description finds nothing on the DHT; local results still match
    by substring.
    """
    for source in ((query.text,), query.tags, query.categories):
        for value in source:
            tokens = tokenize(value)
            if tokens:
                return max(tokens, key=len)
    return None
