"""The package manifest `ggen-package.toml`: how a publisher describes a package in a file.

Loading is strict: an unknown key is an error (a typo would otherwise silently
drop a field from a signed, unchangeable record), and every error names the
field and the rule, plus the line for TOML syntax errors. Every problem is
reported at once (`ManifestError.problems`), so one round of fixes is enough.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ggen_desktop.core.package import Dependency, Package, PackageError, PackageId, PackageMetadata, Version
from ggen_desktop.core.package_fields import FIELDS, check_field

MANIFEST_FILENAME = "ggen-package.toml"
_REQUIRED = ("id", "version", "title")
_TEXT_FIELDS = ("description", "long_description", "license", "homepage", "repository", "documentation")
_LIST_FIELDS = ("categories", "tags", "authors")
_KNOWN = frozenset(_REQUIRED + _TEXT_FIELDS + _LIST_FIELDS + ("content_hash", "archive", "dependencies"))
_TOML_LINE = re.compile(r"at line (\d+)")
_HASH_CHUNK = 1 << 20


class ManifestError(ValueError):
    """A manifest broke a rule. `.field` is the key (`None` for the file as a whole), `.line` if known;
    `.problems` holds every problem found (this one first), and the message lists them all."""

    field: str | None
    rule: str
    line: int | None

    def __init__(self, source: str, field: str | None, rule: str, line: int | None = None,
                 problems: Sequence[ManifestError] = ()) -> None:
        where = source + (f", line {line}" if line is not None else "")
        message = f"{where}: {field}: {rule}" if field else f"{where}: {rule}"
        if len(problems) > 1:
            message = f"{source}: {len(problems)} problems: " + "; ".join(
                f"{p.field}: {p.rule}" if p.field else p.rule for p in problems)
        super().__init__(message)
        self.source = source
        self.field = field
        self.rule = rule
        self.line = line
        self.problems: tuple[ManifestError, ...] = tuple(problems) or (self,)


Problem = Callable[[str, str], None]


def _all_of(source: str, problems: list[ManifestError]) -> ManifestError:
    first = problems[0]
    return ManifestError(source, first.field, first.rule, first.line, problems)


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
    problems: list[ManifestError] = []

    def problem(field: str, rule: str) -> None:
        problems.append(ManifestError(source, field, rule))

    for key in sorted(set(document) - {"package"}):
        problem(key, "unknown key; only a [package] table is allowed")
    table = document.get("package")
    if not isinstance(table, dict):
        problem("package", "a [package] table is required")
        raise _all_of(source, problems)
    for key in sorted(set(table) - _KNOWN):
        problem(f"package.{key}", f"unknown key; known keys are {', '.join(sorted(_KNOWN))}")
    for name in _REQUIRED:
        if name not in table:
            problem(f"package.{name}", "is missing (required)")
    for name in FIELDS:  # in the order a form shows them
        rule = check_field(name, table[name]) if name in table else None
        if rule is not None:
            problem(f"package.{name}", rule)
    content_hash, archive = _content_hash(table, base_dir, problem)
    dependencies = _dependencies(table.get("dependencies", {}), problem)
    if problems:
        raise _all_of(source, problems)
    try:
        package = Package(
            id=PackageId.parse(table["id"]),
            version=Version.parse(table["version"]),
            metadata=PackageMetadata(
                title=table["title"],
                **{name: table[name] for name in _TEXT_FIELDS if name in table},
                **{name: table[name] for name in _LIST_FIELDS if name in table},
            ),
            content_hash=content_hash or "",
            dependencies=dependencies,
        )
    except PackageError as exc:
        raise ManifestError(source, f"package.{exc.field}", exc.rule) from None
    return Manifest(package, archive)


def _content_hash(table: dict[str, Any], base_dir: str | os.PathLike[str] | None,
                  problem: Problem) -> tuple[str | None, Path | None]:
    """`content_hash` as given, or the sha256 of the `archive` file (and its path); exactly one of them
    (None: a problem)."""
    has_hash, has_archive = "content_hash" in table, "archive" in table
    if has_hash == has_archive:
        problem("package.content_hash", "give exactly one of content_hash or archive (the file to hash)")
        return None, None
    if has_hash:
        return table["content_hash"], None  # checked with the other fields
    archive = table["archive"]
    if not isinstance(archive, str) or not archive:
        problem("package.archive", "must be the path of a file, relative to the manifest")
        return None, None
    if base_dir is None and not Path(archive).is_absolute():
        problem("package.archive", "a relative path needs the manifest's folder; load the file")
        return None, None
    path = Path(base_dir or ".") / archive
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        problem("package.archive", f"{path} does not exist")
        return None, None
    except OSError as exc:
        problem("package.archive", f"{path} cannot be read: {exc.strerror or exc}")
        return None, None
    return f"sha256:{digest.hexdigest()}", path


def _dependencies(table: Any, problem: Problem) -> tuple[Dependency, ...]:
    if not isinstance(table, dict):
        problem("package.dependencies", 'must be a table like "acme/base" = ">=1.0.0"')
        return ()
    out = []
    for name, requirement in table.items():
        field = f"package.dependencies.{name}"
        if not isinstance(requirement, str):
            problem(field, "the requirement must be text like '>=1.0.0' or '*'")
            continue
        try:
            out.append(Dependency(PackageId.parse(name), requirement))
        except PackageError as exc:
            problem(field, exc.rule)
    return tuple(out)
