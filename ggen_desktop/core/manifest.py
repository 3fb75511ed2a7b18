"""The package manifest `ggen-package.toml`: how a publisher describes a package in a file.

Loading is strict: an unknown key is an error (a typo would otherwise silently
drop a field from a signed, unchangeable record), and every error names the
field and the rule, plus the line for TOML syntax errors.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from ggen_desktop.core.package import Dependency, Package, PackageError, PackageId, PackageMetadata, Version

MANIFEST_FILENAME = "ggen-package.toml"
_REQUIRED = ("id", "version", "title")
_TEXT_FIELDS = ("description", "long_description", "license", "homepage", "repository", "documentation")
_LIST_FIELDS = ("categories", "tags", "authors")
_KNOWN = frozenset(_REQUIRED + _TEXT_FIELDS + _LIST_FIELDS + ("content_hash", "archive", "dependencies"))
_TOML_LINE = re.compile(r"at line (\d+)")
_HASH_CHUNK = 1 << 20


class ManifestError(ValueError):
    """A manifest broke a rule. `.field` is the key (`None` for the file as a whole), `.line` if known."""

    def __init__(self, source: str, field: str | None, rule: str, line: int | None = None) -> None:
        where = source + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {field}: {rule}" if field else f"{where}: {rule}")
        self.source = source
        self.field = field
        self.rule = rule
        self.line = line


class Manifest(NamedTuple):
    """A loaded manifest: the package, and the archive file when the manifest names one (`archive`)."""

    package: Package
    archive: Path | None


def load_manifest(path: str | os.PathLike[str]) -> Package:
    """Load a manifest file, or `ggen-package.toml` inside a folder; `archive` is relative to its folder."""
    return read_manifest(path).package


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """As `load_manifest`, keeping the archive's path: publishing shares that file."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(str(path), None, "no such manifest file") from None
    except UnicodeDecodeError:
        raise ManifestError(str(path), None, "is not UTF-8 text") from None
    except OSError as exc:
        raise ManifestError(str(path), None, f"cannot be read: {exc.strerror or exc}") from exc
    return _parse(text, path.parent, str(path))


def parse_manifest(text: str, *, base_dir: str | os.PathLike[str] | None = None, source: str = "manifest") -> Package:
    """Turn manifest text into a validated Package; `base_dir` resolves a relative `archive` path."""
    return _parse(text, base_dir, source).package


def _parse(text: str, base_dir: str | os.PathLike[str] | None, source: str) -> Manifest:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        raise ManifestError(
            source, None, f"is not valid TOML: {exc}", int(match.group(1)) if match else None
        ) from None
    unknown_top = sorted(set(document) - {"package"})
    if unknown_top:
        raise ManifestError(source, unknown_top[0], "unknown key; only a [package] table is allowed")
    table = document.get("package")
    if not isinstance(table, dict):
        raise ManifestError(source, "package", "a [package] table is required")
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise ManifestError(source, f"package.{unknown[0]}", f"unknown key; known keys are {', '.join(sorted(_KNOWN))}")
    for name in _REQUIRED:
        if name not in table:
            raise ManifestError(source, f"package.{name}", "is missing (required)")
    content_hash, archive = _content_hash(table, base_dir, source)
    dependencies = _dependencies(table.get("dependencies", {}), source)
    try:
        package = Package(
            id=PackageId.parse(table["id"]),
            version=Version.parse(table["version"]),
            metadata=PackageMetadata(
                title=table["title"],
                **{name: table[name] for name in _TEXT_FIELDS if name in table},
                **{name: table[name] for name in _LIST_FIELDS if name in table},
            ),
            content_hash=content_hash,
            dependencies=dependencies,
        )
    except PackageError as exc:
        raise ManifestError(source, f"package.{exc.field}", exc.rule) from None
    return Manifest(package, archive)


def _content_hash(table: dict[str, Any], base_dir: str | os.PathLike[str] | None, source: str) -> tuple[str, Path | None]:
    """`content_hash` as given, or the sha256 of the `archive` file (and its path); exactly one of them."""
    has_hash, has_archive = "content_hash" in table, "archive" in table
    if has_hash == has_archive:
        raise ManifestError(
            source, "package.content_hash", "give exactly one of content_hash or archive (the file to hash)"
        )
    if has_hash:
        return table["content_hash"], None  # validated by Package
    archive = table["archive"]
    if not isinstance(archive, str) or not archive:
        raise ManifestError(source, "package.archive", "must be the path of a file, relative to the manifest")
    if base_dir is None and not Path(archive).is_absolute():
        raise ManifestError(source, "package.archive", "a relative path needs the manifest's folder; load the file")
    path = Path(base_dir or ".") / archive
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise ManifestError(source, "package.archive", f"{path} does not exist") from None
    except OSError as exc:
        raise ManifestError(source, "package.archive", f"{path} cannot be read: {exc.strerror or exc}") from exc
    return f"sha256:{digest.hexdigest()}", path


def _dependencies(table: Any, source: str) -> tuple[Dependency, ...]:
    if not isinstance(table, dict):
        raise ManifestError(source, "package.dependencies", 'must be a table like "acme/base" = ">=1.0.0"')
    out = []
    for name, requirement in table.items():
        field = f"package.dependencies.{name}"
        if not isinstance(requirement, str):
            raise ManifestError(source, field, "the requirement must be text like '>=1.0.0' or '*'")
        try:
            out.append(Dependency(PackageId.parse(name), requirement))
        except PackageError as exc:
            raise ManifestError(source, field, exc.rule) from None
    return tuple(out)
