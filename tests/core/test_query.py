"""The seed's query semantics: case-insensitive text in title/description; any-of categories and tags."""

from __future__ import annotations

import pytest

from ggen_desktop.core.package import Package
from ggen_desktop.core.query import MAX_QUERY_LIMIT, Query, QueryConfig, QueryError, matches_query
from tests.helpers.packages import make_package

PACKAGE: Package = make_package(
    "acme/rust-cli",
    "Rust CLI subcommand template",
    description="Scaffolds a clap subcommand with tests",
    categories=["Utility", "Testing"],
    tags=["rust", "cli"],
)


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        (Query(), True),
        (Query(text="rust"), True),
        (Query(text="RUST cli"), True),
        (Query(text="  clap  "), True),  # description, trimmed
        (Query(text="SCAFFOLDS A CLAP"), True),
        (Query(text="python"), False),
        (Query(text="rust-cli"), True),  # the package id is searched too
        (Query(categories=("utility",)), True),
        (Query(categories=("Database", "Testing")), True),  # any of
        (Query(categories=("Database",)), False),
        (Query(tags=("RUST",)), True),
        (Query(tags=("go", "cli")), True),  # any of
        (Query(tags=("go",)), False),
        (Query(text="rust", categories=("Database",)), False),  # every criterion must hold
        (Query(text="rust", tags=("go",)), False),
        (Query(text="rust", categories=("Utility",), tags=("cli",)), True),
    ],
)
def test_matches_query(query: Query, matches: bool) -> None:
    assert matches_query(PACKAGE, query) is matches


def test_text_is_not_matched_against_tags_alone() -> None:
    package = make_package(title="Template", tags=["zig"])
    assert not matches_query(package, Query(text="zig"))
    assert matches_query(package, Query(tags=("zig",)))


def test_query_normalises_and_reports_emptiness() -> None:
    query = Query(text="  hi ", categories=("webservice",), tags=(" Rust ", " "))
    assert (query.text, query.categories, query.tags) == ("hi", ("WebService",), ("rust",))
    assert Query(text="   ").is_empty and not query.is_empty


def test_query_dict_round_trip() -> None:
    query = Query(text="cli", categories=("Utility",), tags=("rust",), limit=5, offset=10)
    assert Query.from_dict(query.to_dict()) == query


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("text", "must be a mapping"),
        ({"text": "x" * 201}, "at most 200"),
        ({"text": 5}, "query text must be text"),
        ({"limit": 0}, "limit must be"),
        ({"limit": MAX_QUERY_LIMIT + 1}, "limit must be"),
        ({"limit": "10"}, "limit must be"),
        ({"offset": -1}, "offset must be"),
        ({"tags": [5]}, "malformed query"),
        ({"categories": [""]}, "malformed query"),
        ({"categories": 5}, "malformed query"),
    ],
)
def test_untrusted_query_is_refused_with_query_error(data: object, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        Query.from_dict(data)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"default_timeout": 0},
        {"default_timeout": 301},
        {"max_results": 0},
        {"adaptive_timeout": 1},
        {"fan_out": 17},
        {"grace_period": -1},
    ],
)
def test_query_config_rules(kwargs: dict[str, object]) -> None:
    with pytest.raises(QueryError):
        QueryConfig(**kwargs)  # type: ignore[arg-type]


def test_query_config_defaults_are_the_seeds() -> None:
    config = QueryConfig()
    assert (config.default_timeout, config.max_results, config.fan_out, config.grace_period) == (10.0, 20, 3, 5.0)
