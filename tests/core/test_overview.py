"""The start view's content: categories with counts per (name, key), newest packages first, examples."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.overview import EXAMPLE_SEARCHES, build_overview, describe
from ggen_desktop.core.package import Category
from ggen_desktop.core.query import Query
from tests.helpers.packages import make_record

KEY = Ed25519PrivateKey.generate()


def test_counts_once_per_name_and_key_with_every_standard_category_listed() -> None:
    records = [make_record("acme/db", key=KEY, version=v, categories=("Database",)) for v in ("1.0.0", "1.1.0")]
    other_key = make_record("acme/db", key=Ed25519PrivateKey.generate(), categories=("Database", "Robots"))
    seen = {records[0].identity: 10.0, records[1].identity: 30.0, other_key.identity: 20.0}
    overview = build_overview([*records, other_key], mine={records[1].identity}, seen_at=lambda r: seen[r.identity])
    counts = dict(overview.categories)
    assert counts["Database"] == 2 and counts["Robots"] == 1 and counts["Testing"] == 0
    assert [c for c, _ in overview.categories][: len(Category)] == [c.value for c in Category]
    assert [(str(p.record.package.version), p.mine, p.seen_at) for p in overview.recent] == [
        ("1.1.0", True, 30.0), ("1.0.0", False, 20.0)]  # newest version of each (name, key), newest first
    assert overview.known == 2 and not overview.is_empty
    assert overview.examples == EXAMPLE_SEARCHES


def test_an_empty_node_has_categories_and_examples_but_no_packages() -> None:
    overview = build_overview([], mine=set(), seen_at=lambda r: None, recent_searches=[Query(text="rust")])
    assert overview.is_empty and overview.recent == () and overview.recent_searches == (Query(text="rust"),)
    assert all(count == 0 for _, count in overview.categories)


def test_queries_are_described_as_a_person_would_say_them() -> None:
    assert describe(Query(text="rust cli")) == "“rust cli”"
    assert describe(Query(text="db", categories=("database",), tags=("sql", "orm"))) == "“db”, category Database, tags sql, orm"
    assert describe(Query(tags=("kubernetes",))) == "tag kubernetes"
