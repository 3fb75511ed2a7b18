"""Keywords a package is indexed under, and the one a search looks up (and why not, when it cannot)."""

from __future__ import annotations

from ggen_desktop.core.keywords import (
    MAX_KEYWORDS,
    LookupPlan,
    keyword_counts,
    lookup_keyword,
    package_keywords,
    plan_lookup,
    tokenize,
)
from ggen_desktop.core.query import Query, matches_query
from tests.helpers.packages import make_package


def test_tokenize_lowercases_and_drops_stop_words_and_short_tokens() -> None:
    # "c#" and "go" are under MIN_KEYWORD characters; '+' and '#' count as word characters.
    assert tokenize("The Rust CLI for a C# and C++ app, in Go! f#x") == ["rust", "cli", "c++", "app", "f#x"]


def test_package_keywords_in_source_order_deduplicated() -> None:
    package = make_package("acme-corp/rust_cli.tool", "Rust CLI template", tags=["rust", "clap"], categories=["Utility"])
    assert package_keywords(package) == ["rust", "cli", "template", "clap", "utility", "acme", "corp", "tool"]


def test_package_keywords_are_capped() -> None:
    title_words = [f"word{i:02d}" for i in range(16)]
    tags = [f"tag{i:02d}" for i in range(16)]
    package = make_package(title=" ".join(title_words), tags=tags)
    assert package_keywords(package) == (title_words + tags)[:MAX_KEYWORDS]


def test_lookup_keyword_is_the_most_selective_text_token_then_a_tag_then_a_category() -> None:
    assert lookup_keyword(Query(text="a rust cli generator")) == "generator"
    assert lookup_keyword(Query(text="Rust web", categories=("WebService",), tags=("axum",))) == "rust"
    assert lookup_keyword(Query(text="a to of", tags=("kubernetes",), categories=("Database",))) == "kubernetes"
    assert lookup_keyword(Query(categories=("Database",))) == "database"
    assert lookup_keyword(Query(text="of")) is None


def test_a_package_is_indexed_under_the_keyword_its_queries_look_up() -> None:
    package = make_package(title="Postgres migration runner", tags=["sql"])
    indexed = set(package_keywords(package))
    for query in (Query(text="postgres migration"), Query(text="runner"), Query(tags=("sql",))):
        assert lookup_keyword(query) in indexed


KNOWN = {"rust": 40, "cli": 25, "postgresql": 3, "kubernetes": 7, "kubectl": 2, "database": 12, "helm": 7}


def test_plan_looks_up_the_word_with_fewest_known_packages() -> None:
    assert plan_lookup(Query(text="rust postgresql"), KNOWN) == LookupPlan("postgresql")
    assert plan_lookup(Query(text="postgresql rust"), KNOWN) == LookupPlan("postgresql")  # order does not matter
    assert plan_lookup(Query(text="rust cli"), KNOWN).keyword == "cli"  # 25 < 40, though shorter


def test_plan_prefers_an_unknown_word_as_most_selective() -> None:
    assert plan_lookup(Query(text="rust zeromq"), KNOWN).keyword == "zeromq"


def test_plan_breaks_ties_by_length_then_alphabetically() -> None:
    assert plan_lookup(Query(text="helm kubernetes"), KNOWN).keyword == "kubernetes"  # 7 each: the longer
    assert plan_lookup(Query(text="zulu yank"), {}).keyword == "yank"  # 0 each, same length: alphabetical
    assert plan_lookup(Query(text="yank zulu"), {}).keyword == "yank"


def test_plan_falls_back_to_tags_then_category_only_without_a_usable_word() -> None:
    assert plan_lookup(Query(text="rust", tags=("kubectl",)), KNOWN).keyword == "rust"
    assert plan_lookup(Query(tags=("rust", "kubectl")), KNOWN).keyword == "kubectl"
    assert plan_lookup(Query(text="the", tags=("rust-cli",)), KNOWN).keyword == "cli"  # a tag's keywords
    assert plan_lookup(Query(categories=("Database",)), KNOWN).keyword == "database"
    assert plan_lookup(Query(tags=("go",), categories=("Database",)), KNOWN).keyword == "database"


def test_plan_does_not_ask_the_network_for_part_of_a_known_word() -> None:
    plan = plan_lookup(Query(text="kube"), {"kubernetes": 7})
    assert plan == LookupPlan(None, "'kube' is part of a word; the network is searched by whole words: try 'kubernetes'")
    # The commonest whole words are named first, at most three.
    assert plan_lookup(Query(text="kube"), KNOWN).reason.endswith("try 'kubernetes' or 'kubectl'")
    # A known keyword is looked up even when it is also part of a longer one.
    assert plan_lookup(Query(text="rust"), {"rust": 1, "rustls": 4}).keyword == "rust"
    # Another word of the query still reaches the network; the peers filter by "kube" too.
    assert plan_lookup(Query(text="kube helm"), KNOWN).keyword == "helm"


def test_plan_says_why_short_common_or_foreign_words_are_not_looked_up() -> None:
    assert plan_lookup(Query(text="go"), KNOWN).reason == (
        "'go' is too short to search the network by (keywords have at least 3 characters)")
    assert plan_lookup(Query(text="the"), KNOWN).reason == "'the' is too common a word to search the network by"
    assert "only a-z, 0-9" in plan_lookup(Query(text="größe"), KNOWN).reason
    assert plan_lookup(Query(text="go the"), KNOWN).reason.count(";") == 1  # every word's reason
    assert plan_lookup(Query(tags=("go",)), KNOWN).reason == "'go' is too short or too common to search the network by"
    assert plan_lookup(Query(), KNOWN) == LookupPlan(None, "the query is empty")


def test_keyword_counts_count_packages_per_keyword() -> None:
    packages = [
        make_package("acme/one", "Rust pool", tags=["rust", "sql"], categories=[]),
        make_package("acme/two", "Rust web", tags=["rust"], categories=[]),
    ]
    counts = keyword_counts(packages)
    assert (counts["rust"], counts["sql"], counts["acme"], counts["web"], counts["absent"]) == (2, 1, 2, 1, 0)


def test_the_plans_keyword_finds_every_local_match_of_a_title_or_tag_word() -> None:
    """Any word the plan picks is a keyword of every package that holds it in its title, tags, category or id."""
    packages = [make_package(f"acme/p{i}", title, tags=tags, categories=["Database"])
                for i, (title, tags) in enumerate([("Rust PostgreSQL pool", ["sql"]), ("PostgreSQL for Rust", []),
                                                    ("Rust CLI", ["postgresql"])])]
    counts = keyword_counts(packages)
    for text in ("postgresql rust", "rust postgresql", "pool", "database rust"):
        query = Query(text=text)
        keyword = plan_lookup(query, counts).keyword
        assert keyword is not None
        assert all(keyword in package_keywords(p) for p in packages if matches_query(p, query)), text
