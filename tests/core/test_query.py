"""What a query means: every word anywhere in the package, every tag, every category; paging; the wire form."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ggen_desktop.core.package import Package
from ggen_desktop.core.query import (
    MAX_PAGE_SIZE,
    MAX_RESULTS,
    Query,
    QueryConfig,
    QueryError,
    fold,
    matches_query,
    query_words,
)
from tests.helpers.packages import make_package

PACKAGE: Package = make_package(
    "acme/rust-cli",
    "Rust CLI subcommand template",
    description="Scaffolds a clap subcommand with tests",
    categories=["Utility", "Testing"],
    tags=["rust", "cli", "cargo"],
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
        (Query(text="acme/rust-cli"), True),
        (Query(text="cargo"), True),  # a tag alone
        (Query(text="testing"), True),  # a category alone
        (Query(text="tests scaffolds"), True),  # any order
        (Query(text="template python"), False),  # every word must match
        (Query(text="templ subcomm"), True),  # a word may be part of a longer one
        (Query(categories=("utility",)), True),
        (Query(categories=("TESTING",)), True),
        (Query(categories=("Utility", "Testing")), True),  # all of
        (Query(categories=("Database", "Testing")), False),
        (Query(categories=("Database",)), False),
        (Query(tags=("RUST",)), True),
        (Query(tags=("rust", "cli")), True),  # all of
        (Query(tags=("go", "cli")), False),
        (Query(tags=("go",)), False),
        (Query(tags=("rus",)), False),  # a tag is matched whole
        (Query(text="rust", categories=("Database",)), False),  # every criterion must hold
        (Query(text="rust", tags=("go",)), False),
        (Query(text="rust", categories=("Utility",), tags=("cli",)), True),
    ],
)
def test_matches_query(query: Query, matches: bool) -> None:
    assert matches_query(PACKAGE, query) is matches


def test_a_tag_found_by_text_regression() -> None:
    """Was: the text was searched in title and description only, so tags and categories were invisible to it."""
    package = make_package(title="Template", description="", tags=["latejoin"], categories=[])
    assert matches_query(package, Query(text="latejoin"))
    assert matches_query(package, Query(text="LateJoin template"))
    assert matches_query(package, Query(tags=("latejoin",)))


def test_words_in_any_order_regression() -> None:
    """Was: the text was one phrase, so "postgresql rust" missed "Rust PostgreSQL …"."""
    package = make_package(title="Rust PostgreSQL connection pool", description="", tags=[])
    assert matches_query(package, Query(text="rust postgresql"))
    assert matches_query(package, Query(text="postgresql rust"))
    assert matches_query(package, Query(text="pool, RUST; postgresql!"))  # punctuation separates words
    assert not matches_query(package, Query(text="postgresql rust mysql"))


def test_tags_mean_all_of_them_regression() -> None:
    """Was: any one tag sufficed, so adding a tag widened the results."""
    rust_only = make_package(tags=["rust"])
    both = make_package(tags=["rust", "cli"])
    query = Query(tags=("rust", "cli"))
    assert [matches_query(p, query) for p in (rust_only, both)] == [False, True]


def test_category_is_case_insensitive_and_custom_categories_work() -> None:
    package = make_package(categories=["Game dev", "Database"])
    assert matches_query(package, Query(categories=("game DEV",)))
    assert matches_query(package, Query(categories=("database",)))
    assert not matches_query(package, Query(categories=("game",)))  # a category is matched whole


def test_words_split_on_punctuation_and_keep_plus_and_hash() -> None:
    assert query_words("C++ and C#: node.js, rust_cli  #rust rust") == ("c++", "and", "c#", "node", "js", "rust", "cli")
    assert query_words("Größe 日本語") == ("grösse", "日本語")
    assert query_words(" -- ") == ()


def test_case_insensitive_beyond_ascii() -> None:
    package = make_package(title="Straße und Ölkännchen", description="ıstanbul")
    for text in ("STRASSE", "straße", "ölkännchen ÖLKÄNNCHEN", "ISTANBUL"):
        assert matches_query(package, Query(text=text)), text
    assert fold("ＲＵＳＴ") == "rust"  # full-width letters are compatibility-normalised


def test_query_normalises_and_reports_emptiness() -> None:
    query = Query(text="  hi ", categories=("webservice",), tags=(" Rust ", " "))
    assert (query.text, query.words, query.categories, query.tags) == ("hi", ("hi",), ("WebService",), ("rust",))
    assert Query(text="   ").is_empty and not query.is_empty
    assert Query(text=" ?! ").is_empty  # punctuation alone narrows nothing


def test_limit_and_offset_page_a_search() -> None:
    items = list(range(45))
    first = Query(text="x", limit=20)
    assert first.page(items) == items[:20] and first.needed == 20
    second = first.next_page()
    assert (second.offset, second.limit, second.text) == (20, 20, "x")
    assert second.page(items) == items[20:40] and second.needed == 40
    assert second.next_page().page(items) == items[40:45]
    assert Query(offset=100).page(items) == []
    assert Query(limit=MAX_PAGE_SIZE).limit == MAX_PAGE_SIZE


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": MAX_PAGE_SIZE + 1}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": 2.0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "3"}, "offset"),
        ({"tags": ("rust cli",)}, "contains a space"),
        ({"tags": ("x" * 33,)}, "over 32 characters"),
        ({"tags": tuple(f"t{i}" for i in range(17))}, "at most 16 tags"),
        ({"categories": ("x" * 33,)}, "over 32 characters"),
    ],
)
def test_query_rules(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        Query(**kwargs)  # type: ignore[arg-type]


def test_wire_form_carries_only_what_a_peer_filters_by() -> None:
    query = Query(text="  Rust, PostgreSQL  ", categories=("database",), tags=("sql",), limit=5, offset=10)
    wire = query.to_dict()
    assert wire == {"text": "Rust, PostgreSQL", "categories": ["Database"], "tags": ["sql"]}
    parsed = Query.from_dict(wire)
    assert (parsed.words, parsed.categories, parsed.tags) == (query.words, query.categories, query.tags)
    other = make_package(title="Rust PostgreSQL pool", categories=["Database"], tags=["sql"])
    assert all(matches_query(p, parsed) == matches_query(p, query) for p in (PACKAGE, other))


def test_a_query_that_folding_lengthens_still_reaches_peers_regression() -> None:
    """Was: the wire text was the folded words, and 200 "ß" became 400 "s", which every peer refused."""
    query = Query(text="ß" * 200)
    assert Query.from_dict(query.to_dict()).words == query.words == ("s" * 400,)


def test_wire_form_from_an_older_peer_is_read() -> None:
    """Older peers send limit and offset too (checked, then unused); keys a newer peer may add are ignored."""
    parsed = Query.from_dict({"text": "rust", "categories": [], "tags": ["cli"], "limit": 50, "offset": 0, "future": 1})
    assert (parsed.words, parsed.tags, parsed.limit, parsed.offset) == (("rust",), ("cli",), 50, 0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("text", "must be a mapping"),
        ({"text": "x" * 201}, "at most 200"),
        ({"text": 5}, "query text must be text"),
        ({"tags": "rust"}, "tags must be a list of text, got str"),  # was: silently the tags r, u, s, t
        ({"tags": [5]}, "tags must be text, got int"),
        ({"tags": ["a b"]}, "contains a space"),
        ({"categories": [""] * 17}, "at most 16 categories"),
        ({"categories": [None]}, "categories must be text"),
        ({"categories": 5}, "categories must be a list of text"),
        ({"limit": "lots"}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_untrusted_query_is_refused_with_query_error(data: object, message: str) -> None:
    with pytest.raises(QueryError, match=f"malformed query: .*{message}"):
        Query.from_dict(data)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"default_timeout": 0},
        {"default_timeout": 301},
        {"max_results": 0},
        {"max_results": MAX_RESULTS + 1},
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


# -- property: a query made of a package's own words finds it; a word it lacks does not ---------------------------

# Package text never contains q, w, x, z or j in any case (nor anything folding to them), so a word
# built from those letters is certainly not in the package, without computing the package's text here.
_LOWER = "abcdefghiklmnoprstuvyéßüçöωı0123456789"
_TEXT = _LOWER + "ABCDEFGHIKLMNOPRSTUVYÉÜÇÖΩİ" + " -.,_+#/:"
_ABSENT = "qwxzjQWXZJ"
_ID_PART = st.from_regex(r"[a-ik-p0-9]{1,12}", fullmatch=True)
_RECASE = (str.upper, str.lower, str.swapcase, str.title, str.capitalize)


def _field(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=_TEXT, min_size=1, max_size=max_size).filter(str.strip)


@st.composite
def _packages(draw: st.DrawFn) -> Package:
    return make_package(
        f"{draw(_ID_PART)}/{draw(_ID_PART)}",
        draw(_field(60)),
        description=draw(st.text(alphabet=_TEXT, max_size=120)),
        tags=draw(st.lists(st.text(alphabet=_LOWER + "-+#.", min_size=1, max_size=12), max_size=4)),
        categories=draw(st.lists(_field(20), max_size=3)),
    )


@st.composite
def _own_query(draw: st.DrawFn) -> tuple[Package, str, tuple[str, ...], tuple[str, ...]]:
    """A package and a query from its own words, tags and categories: a subset, shuffled and re-cased."""
    package = draw(_packages())
    meta = package.metadata
    words = sorted({w for text in (str(package.id), meta.title, meta.description, *meta.tags, *meta.categories)
                    for w in query_words(text)})
    chosen = draw(st.lists(st.sampled_from(words), max_size=6, unique=True)) if words else []
    recased = [draw(st.sampled_from(_RECASE))(w) for w in draw(st.permutations(chosen))]
    text = draw(st.sampled_from((" ", ", ", "  ", " / "))).join(recased)
    tags = tuple(draw(st.sampled_from(_RECASE))(t) for t in draw(st.lists(st.sampled_from(meta.tags), unique=True))) \
        if meta.tags else ()
    categories = tuple(draw(st.sampled_from(_RECASE))(c) for c in
                       draw(st.lists(st.sampled_from(meta.categories), unique=True))) if meta.categories else ()
    return package, text, tags, categories


@settings(max_examples=300, deadline=None)
@given(_own_query(), st.text(alphabet=_ABSENT, min_size=1, max_size=8), st.integers(min_value=0, max_value=6))
def test_property_own_words_match_and_a_foreign_word_does_not(
    case: tuple[Package, str, tuple[str, ...], tuple[str, ...]], foreign: str, at: int
) -> None:
    package, text, tags, categories = case
    assume(len(text) + len(foreign) + 1 <= 200)
    assert matches_query(package, Query(text=text, tags=tags, categories=categories))
    words = text.split(" ")
    words.insert(min(at, len(words)), foreign)
    assert not matches_query(package, Query(text=" ".join(words), tags=tags, categories=categories))
