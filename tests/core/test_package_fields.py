"""Package fields checked one at a time: every broken rule at once, and empty ones say what to type."""

from __future__ import annotations

from ggen_desktop.core.package_fields import FIELDS, REQUIRED, WHEN_EMPTY, check_field, is_standard_category


def test_every_broken_field_is_named_and_empty_required_ones_say_what_to_type() -> None:
    values = {"id": "", "version": "one", "title": "  ", "tags": ("Has Space",), "homepage": "ftp://x",
              "content_hash": "md5:1", "license": "MIT"}
    problems = {name: rule for name in FIELDS if name in values and (rule := check_field(name, values[name]))}
    assert list(problems) == ["id", "version", "title", "tags", "homepage", "content_hash"]
    assert problems["id"] == WHEN_EMPTY["id"] and "for example acme/rust-cli" in problems["id"]
    assert "''" not in " ".join(problems.values())  # an empty value is never quoted back
    assert "semantic version" in problems["version"] and "lowercase" in problems["tags"]


def test_absent_required_fields_count_as_empty_and_good_values_pass() -> None:
    assert {name: check_field(name, None) for name in REQUIRED} == WHEN_EMPTY
    assert check_field("categories", ("Utility", "Robots")) is None  # the model allows custom categories
    assert check_field("content_hash", "sha256:" + "ab" * 32) is None
    assert check_field("nonsense", "x") == "unknown field"


def test_standard_categories_are_recognised_in_any_case() -> None:
    assert is_standard_category("database") and is_standard_category(" WebService ")
    assert not is_standard_category("Robots")
