"""“Did you mean …?”: keywords this node knows that are close to what was typed.

Closeness is rapidfuzz's normalised Indel similarity (`fuzz.ratio`, 0-100), so a
dropped, doubled or swapped letter or two in a long word still scores high,
while unrelated words score low and are not offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process

SCORE_CUTOFF = 80.0  # "kubernets"/"kubernetes" scores 95, "postgress"/"postgresql" 84, "rust"/"rush" 75


def suggest(words: Iterable[str], known_keywords: Iterable[str], limit: int = 3) -> list[str]:
    """Up to `limit` known keywords close to the words, best first; none for a word already known."""
    choices = list(dict.fromkeys(known_keywords))
    known = set(choices)
    scored: dict[str, float] = {}
    for word in words:
        word = word.lower()
        if word in known:
            continue
        for choice, score, _ in process.extract(word, choices, scorer=fuzz.ratio, score_cutoff=SCORE_CUTOFF, limit=limit):
            scored[choice] = max(score, scored.get(choice, 0.0))
    return sorted(scored, key=lambda k: (-scored[k], k))[:limit]


def corrected(words: Sequence[str], keyword: str) -> str:
    """The query's words with the one closest to `keyword` replaced by it: "kubernets helm" → "kubernetes helm"."""
    if not words:
        return keyword
    closest = max(range(len(words)), key=lambda i: fuzz.ratio(words[i], keyword))
    return " ".join(keyword if i == closest else word for i, word in enumerate(words))
