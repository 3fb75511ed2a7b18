"""“Did you mean …?” offers close keywords this node knows, and nothing for nonsense."""

from __future__ import annotations

from ggen_desktop.core.keywords import keyword_counts
from ggen_desktop.core.query import Query
from ggen_desktop.core.suggest import corrected, suggest
from tests.helpers.packages import make_package

KNOWN = ["rust", "cli", "kubernetes", "kubectl", "postgresql", "mysql", "helm", "template", "docker"]


def test_a_misspelt_word_suggests_the_keyword_meant() -> None:
    assert suggest(["kubernets"], KNOWN) == ["kubernetes"]
    assert suggest(["postgress"], KNOWN) == ["postgresql"]
    assert suggest(Query(text="Kubernets").words, KNOWN) == ["kubernetes"]


def test_nonsense_and_unrelated_words_suggest_nothing() -> None:
    assert suggest(["xqzvwk"], KNOWN) == []
    assert suggest(["blorptang", "frobnicate"], KNOWN) == []
    assert suggest(["rush"], KNOWN) == []  # one letter off in four is too far
    assert suggest([], KNOWN) == [] and suggest(["kubernets"], []) == []


def test_a_known_word_needs_no_suggestion() -> None:
    assert suggest(["kubernetes"], KNOWN) == []
    assert suggest(["kubernetes", "templat"], KNOWN) == ["template"]


def test_best_first_across_words_and_capped() -> None:
    known = ["postgres", "postgresql", "postgis", "kubernetes"]
    assert suggest(["postgress"], known) == ["postgres", "postgresql"]  # 94 before 84
    assert suggest(["postgress", "kubernets"], known, limit=2) == ["kubernetes", "postgres"]
    assert suggest(["postgress", "kubernets"], known, limit=1) == ["kubernetes"]


def test_known_keywords_can_be_the_counts_a_node_keeps() -> None:
    counts = keyword_counts([make_package(title="Kubernetes operator template", tags=[])])
    assert suggest(["kubernets", "operater"], counts) == ["kubernetes", "operator"]


def test_a_suggestion_replaces_the_word_it_is_closest_to() -> None:
    assert corrected(("kubernets", "helm"), "kubernetes") == "kubernetes helm"
    assert corrected(("rust", "postgress"), "postgresql") == "rust postgresql"
    assert corrected((), "rust") == "rust"
