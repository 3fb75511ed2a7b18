"""The package model of the marketplace: ids, versions, metadata and the package itself.

Every constructor validates its input and raises `PackageError` naming the rule
broken, because values arrive from peers, manifests and forms alike.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property, total_ordering
from typing import Any

import semver


class PackageError(ValueError):
    """A package field broke one of the model's rules; the message names field and rule."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.rule = message


_ID_PART = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
MAX_ID_LENGTH = 128
MAX_TITLE = 120
MAX_DESCRIPTION = 500
MAX_LONG_DESCRIPTION = 2000
MAX_LIST_ITEMS = 16
MAX_TAG = 32
MAX_TEXT_FIELD = 200
CONTENT_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
INFO_HASH = re.compile(r"^[0-9a-f]{64}$")
MAX_ARCHIVE_SIZE = 1 << 50  # a bound that keeps a hostile size from being a bignum in every client


@dataclass(frozen=True, order=True)
class PackageId:
    """`namespace/name`, lowercase: letters, digits and `.-_` inside each part."""

    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> PackageId:
        if not isinstance(text, str):
            raise PackageError("id", f"must be text like 'acme/rust-cli', got {type(text).__name__}")
        if len(text) > MAX_ID_LENGTH:
            raise PackageError("id", f"is {len(text)} characters; at most {MAX_ID_LENGTH} allowed")
        if text != text.lower():
            raise PackageError("id", f"'{text}' must be lowercase")
        parts = text.split("/")
        if len(parts) != 2:
            raise PackageError("id", f"'{text}' must be 'namespace/name' with exactly one '/'")
        for label, part in zip(("namespace", "name"), parts, strict=True):
            if not _ID_PART.fullmatch(part):  # match() would let a trailing newline through ($)
                raise PackageError(
                    "id",
                    f"{label} '{part}' must be 1-64 of a-z, 0-9, '.', '-', '_' "
                    "and start and end with a letter or digit",
                )
        return cls(parts[0], parts[1])

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@total_ordering
@dataclass(frozen=True)
class Version:
    """Semantic version `major.minor.patch[-pre][+build]`, ordered by semver rules (python-semver)."""

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise PackageError("version", f"must be text like '1.2.3', got {type(self.text).__name__}")
        try:
            semver.Version.parse(self.text)
        except ValueError:
            raise PackageError(
                "version", f"'{self.text}' is not a semantic version like '1.2.3' or '2.0.0-rc.1'"
            ) from None

    @classmethod
    def parse(cls, text: str) -> Version:
        return cls(text)

    @property
    def semver(self) -> semver.Version:
        return semver.Version.parse(self.text)

    @cached_property
    def precedence(self) -> tuple[Any, ...]:
        """Semver 2.0.0 §11 precedence as a plain tuple, so sorting thousands of rows stays cheap.

        A release follows its pre-releases; pre-release identifiers compare numerically when
        numeric, before alphanumeric ones, and a shorter list of equal identifiers comes first.
        Build metadata takes no part (§10). Only this tuple is cached: ints and strings, so the
        garbage collector need not walk it, where a kept semver object per row would lengthen pauses.
        """
        v = self.semver
        if v.prerelease is None:
            return (v.major, v.minor, v.patch, 1, ())
        parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in v.prerelease.split("."))
        return (v.major, v.minor, v.patch, 0, parts)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence < other.precedence

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence == other.precedence

    def __hash__(self) -> int:
        return hash(self.precedence)

    def __str__(self) -> str:
        return self.text


class Category(str, Enum):
    """The seed's standard categories; any other non-empty name is a custom category."""

    WEB_SERVICE = "WebService"
    DATABASE = "Database"
    AUTHENTICATION = "Authentication"
    MIDDLEWARE = "Middleware"
    TESTING = "Testing"
    DEPLOYMENT = "Deployment"
    MONITORING = "Monitoring"
    DOCUMENTATION = "Documentation"
    UTILITY = "Utility"

    @staticmethod
    def normalise(name: str) -> str:
        """A standard category's canonical spelling, or the custom name as given (validated)."""
        if not isinstance(name, str) or not name.strip():
            raise PackageError("categories", "a category must be non-empty text")
        name = name.strip()
        for standard in Category:
            if standard.value.lower() == name.lower():
                return standard.value
        if len(name) > MAX_TAG:
            raise PackageError("categories", f"custom category '{name[:40]}…' is over {MAX_TAG} characters")
        return name


def _text(field_name: str, value: Any, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PackageError(field_name, f"must be text, got {type(value).__name__}")
    if required and not value.strip():
        raise PackageError(field_name, "is required")
    if len(value) > limit:
        raise PackageError(field_name, f"is {len(value)} characters; at most {limit} allowed")
    _encodable(field_name, value)
    return value


def _encodable(field_name: str, value: str) -> None:
    """Refuse lone surrogates: they pass `str` checks but cannot be signed as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PackageError(field_name, "contains characters that are not valid Unicode text") from None


def _text_list(field_name: str, values: Any, item_limit: int) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise PackageError(field_name, "must be a list of text")
    if len(values) > MAX_LIST_ITEMS:
        raise PackageError(field_name, f"has {len(values)} entries; at most {MAX_LIST_ITEMS} allowed")
    out: list[str] = []
    for item in values:
        if not isinstance(item, str) or not item.strip():
            raise PackageError(field_name, "every entry must be non-empty text")
        if len(item) > item_limit:
            raise PackageError(field_name, f"entry '{item[:40]}' is over {item_limit} characters")
        _encodable(field_name, item)
        out.append(item.strip())
    return tuple(out)


def _tags(values: Any) -> tuple[str, ...]:
    tags = _text_list("tags", values, MAX_TAG)
    for tag in tags:
        if tag != tag.lower() or any(ch.isspace() for ch in tag):
            raise PackageError("tags", f"tag '{tag}' must be lowercase with no spaces")
    return tuple(dict.fromkeys(tags))


@dataclass(frozen=True)
class PackageMetadata:
    """What a person reads about a package; limits keep a signed record small enough for UDP."""

    title: str
    description: str = ""
    long_description: str = ""
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    license: str = ""
    authors: tuple[str, ...] = ()
    homepage: str = ""
    repository: str = ""
    documentation: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "title", _text("title", self.title, MAX_TITLE, required=True))
        set_(self, "description", _text("description", self.description, MAX_DESCRIPTION))
        set_(self, "long_description", _text("long_description", self.long_description, MAX_LONG_DESCRIPTION))
        cats = _text_list("categories", self.categories, 64)
        set_(self, "categories", tuple(dict.fromkeys(Category.normalise(c) for c in cats)))
        set_(self, "tags", _tags(self.tags))
        set_(self, "license", _text("license", self.license, 64))
        set_(self, "authors", _text_list("authors", self.authors, MAX_TEXT_FIELD))
        for name in ("homepage", "repository", "documentation"):
            value = _text(name, getattr(self, name), MAX_TEXT_FIELD)
            if value and not value.startswith(("https://", "http://")):
                raise PackageError(name, f"'{value[:60]}' must be an http(s) URL")
            set_(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "long_description": self.long_description,
            "categories": list(self.categories),
            "tags": list(self.tags),
            "license": self.license,
            "authors": list(self.authors),
            "homepage": self.homepage,
            "repository": self.repository,
            "documentation": self.documentation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackageMetadata:
        return cls(
            title=data.get("title"),  # type: ignore[arg-type]  # validated in __post_init__
            description=data.get("description", ""),
            long_description=data.get("long_description", ""),
            categories=data.get("categories", ()),
            tags=data.get("tags", ()),
            license=data.get("license", ""),
            authors=data.get("authors", ()),
            homepage=data.get("homepage", ""),
            repository=data.get("repository", ""),
            documentation=data.get("documentation", ""),
        )


@dataclass(frozen=True)
class Dependency:
    """Another package this one needs, with a semver requirement such as `>=1.2.0`."""

    id: PackageId
    requirement: str = "*"

    def __post_init__(self) -> None:
        req = self.requirement.strip() if isinstance(self.requirement, str) else None
        if not req:
            raise PackageError("dependencies", f"{self.id}: requirement must be text like '>=1.0.0' or '*'")
        if req != "*":
            for clause in req.split(","):
                try:
                    semver.Version.parse("0.0.0").match(clause.strip())
                except ValueError:
                    raise PackageError(
                        "dependencies", f"{self.id}: '{clause.strip()}' is not a requirement like '>=1.2.0'"
                    ) from None
        object.__setattr__(self, "requirement", req)

    def is_met_by(self, version: Version) -> bool:
        if self.requirement == "*":
            return True
        return all(version.semver.match(clause.strip()) for clause in self.requirement.split(","))


@dataclass(frozen=True)
class Package:
    """One version of a package. Its identity on the network also includes the publisher key.

    A package published with its archive also names the archive's `size` in bytes and the
    `info_hash` (v2, 64 hex digits) of its canonical torrent, so a downloader can fetch it over
    BitTorrent and check every piece; both are absent for a package whose archive is not shared.
    """

    id: PackageId
    version: Version
    metadata: PackageMetadata
    content_hash: str
    dependencies: tuple[Dependency, ...] = ()
    created_at: int = field(default_factory=lambda: int(time.time()))
    updated_at: int = 0
    size: int | None = None
    info_hash: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.content_hash, str) or not CONTENT_HASH.fullmatch(self.content_hash):
            raise PackageError("content_hash", "must be 'sha256:' followed by 64 lowercase hex digits")
        if self.size is not None and (not isinstance(self.size, int) or isinstance(self.size, bool)
                                      or not 0 < self.size <= MAX_ARCHIVE_SIZE):
            raise PackageError("size", f"must be the archive's size, a whole number of bytes from 1 to {MAX_ARCHIVE_SIZE}")
        if self.info_hash is not None and (not isinstance(self.info_hash, str) or not INFO_HASH.match(self.info_hash)):
            raise PackageError("info_hash", "must be the torrent's v2 info-hash: 64 lowercase hex digits")
        if (self.size is None) != (self.info_hash is None):
            raise PackageError("info_hash" if self.info_hash is None else "size",
                               "a shared archive needs both its size and its info-hash")
        if len(self.dependencies) > MAX_LIST_ITEMS:
            raise PackageError("dependencies", f"at most {MAX_LIST_ITEMS} allowed")
        for stamp in ("created_at", "updated_at"):
            value = getattr(self, stamp)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise PackageError(stamp, "must be a non-negative whole number of seconds since 1970")
        if not self.updated_at:
            object.__setattr__(self, "updated_at", self.created_at)

    @property
    def has_archive(self) -> bool:
        """True when the record names a shared archive (its size and torrent info-hash)."""
        return self.info_hash is not None

    def to_dict(self) -> dict[str, Any]:
        """The signed form; `size` and `info_hash` appear only when set, so older records keep their bytes."""
        out: dict[str, Any] = {
            "id": str(self.id),
            "version": str(self.version),
            "metadata": self.metadata.to_dict(),
            "content_hash": self.content_hash,
            "dependencies": [{"id": str(d.id), "requirement": d.requirement} for d in self.dependencies],
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.size is not None:
            out["size"] = self.size
        if self.info_hash is not None:
            out["info_hash"] = self.info_hash
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Package:
        if not isinstance(data, dict):
            raise PackageError("package", "must be a mapping of fields")
        for required in ("id", "version", "metadata", "content_hash"):
            if required not in data:
                raise PackageError(required, "is missing")
        metadata = data["metadata"]
        if not isinstance(metadata, dict):
            raise PackageError("metadata", "must be a mapping of fields")
        deps = data.get("dependencies", [])
        if not isinstance(deps, list) or not all(isinstance(d, dict) for d in deps):
            raise PackageError("dependencies", "must be a list of {id, requirement} entries")
        return cls(
            id=PackageId.parse(data["id"]),
            version=Version.parse(data["version"]),
            metadata=PackageMetadata.from_dict(metadata),
            content_hash=data["content_hash"],
            dependencies=tuple(
                Dependency(PackageId.parse(d.get("id")), d.get("requirement", "*")) for d in deps
            ),
            created_at=data.get("created_at", 0),
            updated_at=data.get("updated_at", 0),
            size=data.get("size"),
            info_hash=data.get("info_hash"),
        )
