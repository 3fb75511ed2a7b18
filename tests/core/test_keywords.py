"""Keywords a package is indexed under, and the ones a search looks up."""

from __future__ import annotations

from ggen_desktop.core.keywords import MAX_KEYWORDS, lookup_keyword, package_keywords, tokenize
from ggen_desktop.core.query import Query
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
