"""Package ids, versions and metadata: valid inputs load, invalid ones name the field and the rule."""

from __future__ import annotations

import random

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from ggen_desktop.core.package import (
    Category,
    Dependency,
    Package,
    PackageError,
    PackageId,
    PackageMetadata,
    Version,
)
from tests.helpers.packages import make_package, package_dict


@pytest.mark.parametrize(
    "text", ["acme/rust-cli", "a/b", "0/9", "acme.io/web_app-2", "x" * 64 + "/" + "y" * 63]
)
def test_valid_ids_parse_and_print_back(text: str) -> None:
    assert str(PackageId.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Acme/cli", "must be lowercase"),
        ("acme", "exactly one '/'"),
        ("acme/cli/extra", "exactly one '/'"),
        ("/cli", "namespace '' must be 1-64"),
        ("acme/", "name '' must be 1-64"),
        ("-acme/cli", "start and end with a letter or digit"),
        ("acme/cli-", "start and end with a letter or digit"),
        ("acme/c li", "name 'c li' must be 1-64"),
        ("acme/cl!", "must be 1-64"),
        ("acme/cli\n", "must be 1-64"),  # `$` alone would let a trailing newline into log lines
        ("acme\n/cli", "must be 1-64"),
        ("x" * 65 + "/cli", "must be 1-64"),
        ("a" * 64 + "/" + "b" * 64, "at most 128"),
        (42, "must be text"),
        (None, "must be text"),
    ],
)
def test_invalid_ids_name_the_rule(text: object, rule: str) -> None:
    with pytest.raises(PackageError, match=rule) as info:
        PackageId.parse(text)  # type: ignore[arg-type]
    assert info.value.field == "id"
    assert str(info.value).startswith("id: ")


@pytest.mark.parametrize("text", ["0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha.1", "2.0.0-rc.1+build.5", "1.0.0+meta"])
def test_valid_versions(text: str) -> None:
    assert str(Version.parse(text)) == text


@pytest.mark.parametrize("text", ["1", "1.2", "v1.2.3", "1.2.3.4", "01.2.3", "1.2.3-", "", " 1.2.3", "latest"])
def test_invalid_versions_name_the_rule(text: str) -> None:
    with pytest.raises(PackageError, match="is not a semantic version") as info:
        Version.parse(text)
    assert info.value.field == "version"


def test_version_that_is_not_text_is_refused() -> None:
    with pytest.raises(PackageError, match="must be text like '1.2.3', got int"):
        Version(123)  # type: ignore[arg-type]


def test_version_order_follows_semver_including_prereleases() -> None:
    ordered = [
        "0.9.9",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]
    shuffled = ordered[:]
    random.Random(4).shuffle(shuffled)
    assert [str(v) for v in sorted(Version(t) for t in shuffled)] == ordered
    assert Version("1.0.0-alpha") < Version("1.0.0-alpha.1") < Version("1.0.0-beta")
    assert Version("1.0.0-beta") < Version("1.0.0-rc.1") < Version("1.0.0")


def test_build_metadata_does_not_affect_equality_or_hash() -> None:
    assert Version("1.0.0+a") == Version("1.0.0+b")
    assert len({Version("1.0.0+a"), Version("1.0.0+b"), Version("1.0.0")}) == 1
    assert Version("1.0.0") != Version("1.0.1")


def test_standard_categories_are_normalised_and_custom_ones_kept() -> None:
    meta = PackageMetadata(title="t", categories=("utility", "WEBSERVICE", "Game dev", "Utility"))
    assert meta.categories == ("Utility", "WebService", "Game dev")
    assert Category.normalise(" database ") == "Database"


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"title": ""}, "title", "is required"),
        ({"title": "   "}, "title", "is required"),
        ({"title": "x" * 121}, "title", "at most 120"),
        ({"title": 5}, "title", "must be text"),
        ({"description": "x" * 501}, "description", "at most 500"),
        ({"long_description": "x" * 2001}, "long_description", "at most 2000"),
        ({"tags": ["Rust"]}, "tags", "lowercase with no spaces"),
        ({"tags": ["two words"]}, "tags", "lowercase with no spaces"),
        ({"tags": "rust"}, "tags", "must be a list of text"),
        ({"tags": [""]}, "tags", "non-empty text"),
        ({"tags": ["x" * 33]}, "tags", "over 32"),
        ({"tags": [f"t{i}" for i in range(17)]}, "tags", "at most 16"),
        ({"categories": [""]}, "categories", "non-empty text"),
        ({"categories": ["x" * 33]}, "categories", "over 32"),
        ({"authors": [3]}, "authors", "non-empty text"),
        ({"homepage": "ftp://example.org"}, "homepage", "http(s) URL"),
        ({"repository": "github.com/acme"}, "repository", "http(s) URL"),
        ({"documentation": "javascript:alert(1)"}, "documentation", "http(s) URL"),
        ({"license": "x" * 65}, "license", "at most 64"),
    ],
)
def test_metadata_rules(kwargs: dict[str, object], field: str, rule: str) -> None:
    args: dict[str, object] = {"title": "A title"}
    args.update(kwargs)
    with pytest.raises(PackageError) as info:
        PackageMetadata(**args)  # type: ignore[arg-type]
    assert info.value.field == field
    assert rule in info.value.rule


def test_duplicate_tags_collapse_keeping_order() -> None:
    assert PackageMetadata(title="t", tags=("b", "a", "b")).tags == ("b", "a")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"content_hash": "sha256:" + "AB" * 32}, "content_hash"),
        ({"content_hash": "md5:" + "ab" * 16}, "content_hash"),
        ({"content_hash": "sha256:" + "ab" * 33}, "content_hash"),  # 66 digits
        ({"content_hash": "sha256:" + "ab" * 32 + "\n"}, "content_hash"),
        ({"created_at": -1}, "created_at"),
        ({"created_at": True}, "created_at"),
        ({"created_at": 1.5}, "created_at"),
        ({"updated_at": "now"}, "updated_at"),
        ({"dependencies": [{"id": f"a/d{i}"} for i in range(17)]}, "dependencies"),
        ({"dependencies": "acme/base"}, "dependencies"),
        ({"dependencies": [{"id": "acme/base", "requirement": "about 1"}]}, "dependencies"),
        ({"metadata": "not a mapping"}, "metadata"),
    ],
)
def test_package_rules(overrides: dict[str, object], field: str) -> None:
    data = package_dict()
    data.update(overrides)
    with pytest.raises(PackageError) as info:
        Package.from_dict(data)
    assert info.value.field == field


@pytest.mark.parametrize("missing", ["id", "version", "metadata", "content_hash"])
def test_package_missing_field(missing: str) -> None:
    data = package_dict()
    del data[missing]
    with pytest.raises(PackageError, match="is missing") as info:
        Package.from_dict(data)
    assert info.value.field == missing


def test_package_dict_round_trip_and_updated_at_default() -> None:
    package = make_package(dependencies=[{"id": "acme/base", "requirement": ">=1.0.0,<2.0.0"}])
    assert package.updated_at == package.created_at == 1_700_000_000
    assert Package.from_dict(package.to_dict()) == package


@pytest.mark.parametrize(
    ("requirement", "version", "met"),
    [
        ("*", "0.0.1", True),
        (">=1.0.0", "1.0.0", True),
        (">=1.0.0", "0.9.0", False),
        (">=1.0.0,<2.0.0", "1.9.9", True),
        (">=1.0.0,<2.0.0", "2.0.0", False),
    ],
)
def test_dependency_requirements(requirement: str, version: str, met: bool) -> None:
    assert Dependency(PackageId.parse("acme/base"), requirement).is_met_by(Version(version)) is met


def test_lone_surrogates_are_refused_before_signing() -> None:
    with pytest.raises(PackageError, match="not valid Unicode"):
        PackageMetadata(title="a\ud800")
    with pytest.raises(PackageError, match="tags"):
        PackageMetadata(title="ok", tags=("x\udfff",))


_IDENTIFIER = st.one_of(st.integers(0, 30).map(str), st.sampled_from(["alpha", "beta", "rc", "a1", "x-y", "B"]))
_VERSION = st.builds(
    lambda major, minor, patch, pre, build: f"{major}.{minor}.{patch}"
    + (f"-{'.'.join(pre)}" if pre else "") + (f"+{build}" if build else ""),
    st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),
    st.lists(_IDENTIFIER, max_size=3), st.sampled_from(["", "build.7", "sha.5114f85"]),
)


@given(_VERSION, _VERSION)
def test_version_precedence_agrees_with_python_semver(a: str, b: str) -> None:
    expected = semver.Version.parse(a).compare(b)
    got = (Version(a) > Version(b)) - (Version(a) < Version(b))
    assert got == expected
    assert (Version(a) == Version(b)) == (expected == 0)
    assert (hash(Version(a)) == hash(Version(b))) or expected != 0
