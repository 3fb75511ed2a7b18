"""Keywords a package is indexed under, and the ones a search looks up."""

from __future__ import annotations

from ggen_desktop.core.keywords import MAX_KEYWORDS, package_keywords, query_keywords, tokenize
from tests.helpers.packages import make_package


def test_tokenize_lowercases_and_drops_stop_words_and_short_tokens() -> None:
    # "c#" and "go" are under MIN_KEYWORD characters; '+' and '#' count as word characters.
    assert tokenize("The Rust CLI for a C# and C++ app, in Go! f#x") == ["rust", "cli", "c++", "app", "f#x"]


def test_package_keywords_in_source_order_deduplicated() -> None:
    package = make_package(
        id="acme-corp/rust_cli.tool",
        metadata={"title": "Rust CLI template", "tags": ["rust", "clap"], "categories": ["Utility"]},
    )
    assert package_keywords(package) == ["rust", "cli", "template", "clap", "utility", "acme", "corp", "tool"]


def test_package_keywords_are_capped() -> None:
    title_words = [f"word{i:02d}" for i in range(16)]
    tags = [f"tag{i:02d}" for i in range(16)]
    package = make_package(metadata={"title": " ".join(title_words), "tags": tags})
    assert package_keywords(package) == (title_words + tags)[:MAX_KEYWORDS]


def test_query_keywords_text_then_tags_then_categories() -> None:
    assert query_keywords("Rust web", categories=("WebService",), tags=("rust", "axum")) == [
        "rust",
        "web",
        "axum",
        "webservice",
    ]
    assert query_keywords("a to of") == []


def test_a_package_is_found_under_each_of_its_query_keywords() -> None:
    package = make_package(metadata={"title": "Postgres migration runner", "tags": ["sql"]})
    indexed = set(package_keywords(package))
    for word in query_keywords("postgres migration", tags=("sql",)):
        assert word in indexed
