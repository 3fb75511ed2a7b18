"""`ggen-package.toml`: the documented example loads; each mistake names the field and the rule."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from ggen_desktop.core.manifest import (
    MANIFEST_FILENAME,
    ManifestError,
    load_manifest,
    parse_manifest,
    read_manifest,
)

HASH = "sha256:" + "ab" * 32

EXAMPLE = f"""\
[package]
id = "acme/rust-cli"
version = "1.2.3"
title = "Rust CLI subcommand template"
description = "Scaffolds a clap subcommand with tests"
license = "MIT"
categories = ["Utility"]
tags = ["rust", "cli"]
content_hash = "{HASH}"
"""


def with_lines(*lines: str, drop: str | None = None) -> str:
    kept = [line for line in EXAMPLE.splitlines() if drop is None or not line.startswith(f"{drop} ")]
    return "\n".join([*kept, *lines]) + "\n"


def test_documented_example_loads() -> None:
    package = parse_manifest(EXAMPLE)
    assert str(package.id) == "acme/rust-cli"
    assert str(package.version) == "1.2.3"
    assert package.metadata.title == "Rust CLI subcommand template"
    assert package.metadata.description == "Scaffolds a clap subcommand with tests"
    assert package.metadata.license == "MIT"
    assert package.metadata.categories == ("Utility",)
    assert package.metadata.tags == ("rust", "cli")
    assert package.content_hash == HASH
    assert package.dependencies == ()


def test_optional_fields_and_dependencies() -> None:
    text = with_lines(
        'long_description = """',
        'Line one.',
        'Line two."""',
        'authors = ["Ada <ada@example.org>"]',
        'homepage = "https://example.org"',
        'repository = "https://github.com/acme/rust-cli"',
        'documentation = "https://docs.example.org"',
        "",
        "[package.dependencies]",
        '"acme/base" = ">=1.0.0"',
        '"acme/log" = ">=0.2.0,<0.3.0"',
    )
    package = parse_manifest(text)
    assert package.metadata.long_description == "Line one.\nLine two."
    assert package.metadata.authors == ("Ada <ada@example.org>",)
    assert package.metadata.homepage == "https://example.org"
    assert package.metadata.repository == "https://github.com/acme/rust-cli"
    assert package.metadata.documentation == "https://docs.example.org"
    assert [(str(d.id), d.requirement) for d in package.dependencies] == [
        ("acme/base", ">=1.0.0"),
        ("acme/log", ">=0.2.0,<0.3.0"),
    ]


def test_load_from_file_or_folder(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_FILENAME).write_text(EXAMPLE, encoding="utf-8")
    assert load_manifest(tmp_path).to_dict() | {"created_at": 0, "updated_at": 0} == load_manifest(
        tmp_path / MANIFEST_FILENAME
    ).to_dict() | {"created_at": 0, "updated_at": 0}


def test_archive_is_hashed_relative_to_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    payload = b"\x00archive bytes\xff" * 100_000  # spans several read chunks
    (tmp_path / "dist" / "pkg.tar.gz").write_bytes(payload)
    (tmp_path / MANIFEST_FILENAME).write_text(
        with_lines('archive = "dist/pkg.tar.gz"', drop="content_hash"), encoding="utf-8"
    )
    package = load_manifest(tmp_path / MANIFEST_FILENAME)
    assert package.content_hash == "sha256:" + hashlib.sha256(payload).hexdigest()
    manifest = read_manifest(tmp_path)
    assert manifest.package == package
    assert manifest.archive is not None and manifest.archive.read_bytes() == payload


def test_manifest_with_a_content_hash_names_no_archive(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_FILENAME).write_text(EXAMPLE, encoding="utf-8")
    assert read_manifest(tmp_path).archive is None


def test_missing_archive(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_FILENAME).write_text(with_lines('archive = "gone.tgz"', drop="content_hash"))
    with pytest.raises(ManifestError, match="gone.tgz does not exist") as info:
        load_manifest(tmp_path)
    assert info.value.field == "package.archive"


def test_relative_archive_needs_a_folder() -> None:
    with pytest.raises(ManifestError, match="needs the manifest's folder") as info:
        parse_manifest(with_lines('archive = "x.tgz"', drop="content_hash"))
    assert info.value.field == "package.archive"


@pytest.mark.parametrize(
    "text",
    [
        with_lines('archive = "pkg.tgz"'),  # both
        with_lines(drop="content_hash"),  # neither
    ],
)
def test_exactly_one_of_content_hash_or_archive(text: str) -> None:
    with pytest.raises(ManifestError, match="exactly one of content_hash or archive") as info:
        parse_manifest(text, base_dir=".")
    assert info.value.field == "package.content_hash"


@pytest.mark.parametrize("field", ["id", "version", "title"])
def test_required_field_missing(field: str) -> None:
    with pytest.raises(ManifestError, match="is missing") as info:
        parse_manifest(with_lines(drop=field))
    assert info.value.field == f"package.{field}"


def test_unknown_key_is_named() -> None:
    with pytest.raises(ManifestError, match="unknown key") as info:
        parse_manifest(with_lines('licence = "MIT"'))
    assert info.value.field == "package.licence"
    assert "package.licence" in str(info.value)


def test_unknown_top_level_table_is_named() -> None:
    with pytest.raises(ManifestError, match="only a \\[package\\] table") as info:
        parse_manifest(EXAMPLE + '\n[tool]\nx = 1\n')
    assert info.value.field == "tool"


@pytest.mark.parametrize("text", ["", 'package = "acme/cli"\n'])
def test_package_table_required(text: str) -> None:
    with pytest.raises(ManifestError, match="a \\[package\\] table is required") as info:
        parse_manifest(text)
    assert info.value.field == "package"


def test_invalid_toml_gives_the_line() -> None:
    text = '[package]\nid = "acme/cli"\nversion = 1.2.3\n'
    with pytest.raises(ManifestError, match="not valid TOML") as info:
        parse_manifest(text, source="ggen-package.toml")
    assert info.value.line == 3
    assert str(info.value).startswith("ggen-package.toml, line 3: ")
    assert info.value.field is None


@pytest.mark.parametrize(
    ("line", "drop", "field", "rule"),
    [
        ('id = "Acme/CLI"', "id", "package.id", "lowercase"),
        ('version = "1.2"', "version", "package.version", "not a semantic version"),
        ("version = 1.2", "version", "package.version", "must be text"),
        ('title = ""', "title", "package.title", "required: a short title"),
        ('tags = ["Rust"]', "tags", "package.tags", "lowercase"),
        ('categories = "Utility"', "categories", "package.categories", "list of text"),
        ('homepage = "example.org"', None, "package.homepage", "http(s) URL"),
        ('content_hash = "sha256:abc"', "content_hash", "package.content_hash", "64 lowercase hex"),
        ("authors = [1]", None, "package.authors", "non-empty text"),
    ],
)
def test_package_rules_are_reported_with_the_field(line: str, drop: str | None, field: str, rule: str) -> None:
    with pytest.raises(ManifestError, match=re.escape(rule)) as info:
        parse_manifest(with_lines(line, drop=drop))
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("table", "field", "rule"),
    [
        ('"Acme/base" = ">=1.0.0"', "package.dependencies.Acme/base", "lowercase"),
        ('"acme/base" = 1', "package.dependencies.acme/base", "must be text"),
        ('"acme/base" = "about one"', "package.dependencies.acme/base", "not a requirement"),
    ],
)
def test_dependency_errors_name_the_dependency(table: str, field: str, rule: str) -> None:
    with pytest.raises(ManifestError, match=rule) as info:
        parse_manifest(with_lines("", "[package.dependencies]", table))
    assert info.value.field == field


def test_dependencies_must_be_a_table() -> None:
    with pytest.raises(ManifestError, match="must be a table") as info:
        parse_manifest(with_lines('dependencies = ["acme/base"]'))
    assert info.value.field == "package.dependencies"


def test_unreadable_manifest_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such manifest file"):
        load_manifest(tmp_path / "missing.toml")
    (tmp_path / "latin1.toml").write_bytes(b'[package]\ntitle = "caf\xe9"\n')
    with pytest.raises(ManifestError, match="not UTF-8"):
        load_manifest(tmp_path / "latin1.toml")


def test_every_problem_is_reported_at_once() -> None:
    text = (
        '[package]\nid = "Acme/CLI"\nversion = "one"\ntags = ["Rust"]\nlicence = "MIT"\n'
        'homepage = "example.org"\n\n[package.dependencies]\n"acme/base" = 1\n'
    )
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, source="ggen-package.toml")
    found = [(p.field, p.rule) for p in info.value.problems]
    assert [field for field, _ in found] == [
        "package.licence", "package.title", "package.id", "package.version", "package.tags", "package.homepage",
        "package.content_hash", "package.dependencies.acme/base"]
    assert info.value.field == "package.licence"  # the first, as a single error would name it
    message = str(info.value)
    assert message.startswith("ggen-package.toml: 8 problems: package.licence: unknown key")
    assert all(f"{field}: {rule}" in message for field, rule in found)


def test_one_problem_reads_as_before() -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(with_lines('version = "1.2"', drop="version"), source="m.toml")
    assert len(info.value.problems) == 1 and info.value.problems[0].field == "package.version"
    assert str(info.value) == "m.toml: package.version: '1.2' is not a semantic version like '1.2.3' or '2.0.0-rc.1'"
