"""The one builder of valid packages and signed records for every test folder.

A package is named by its id and title (positional, as most tests need only
those); any other field is a keyword: metadata fields (`tags`, `description`,
`long_description`, ...) and package fields (`version`, `dependencies`,
`updated_at`, ...) alike. The content hash follows from id and version, so two
different packages never share one.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.package import Package, PackageMetadata
from ggen_desktop.core.record import SignedRecord, sign

PACKAGE_ID = "acme/rust-cli"
TITLE = "Rust CLI subcommand template"
VERSION = "1.0.0"
CREATED_AT = 1_700_000_000
_METADATA_FIELDS = frozenset(f.name for f in fields(PackageMetadata))
_PACKAGE_FIELDS = frozenset(f.name for f in fields(Package)) - {"id", "metadata"}


def content_hash(pid: str, version: str) -> str:
    """A well-formed hash that differs between packages and versions."""
    return "sha256:" + hashlib.sha256(f"{pid}@{version}".encode()).hexdigest()


def package_dict(pid: str = PACKAGE_ID, title: str = TITLE, **overrides: Any) -> dict[str, Any]:
    """A valid `Package.to_dict()`-shaped mapping; each keyword replaces one metadata or package field."""
    unknown = set(overrides) - _METADATA_FIELDS - _PACKAGE_FIELDS
    if unknown:
        raise TypeError(f"not a package or metadata field: {sorted(unknown)}")
    metadata: dict[str, Any] = {"title": title, "categories": ["Utility"]}
    metadata.update({k: v for k, v in overrides.items() if k in _METADATA_FIELDS})
    version = overrides.get("version", VERSION)
    data: dict[str, Any] = {
        "id": pid,
        "version": version,
        "metadata": metadata,
        "content_hash": content_hash(pid, str(version)),
        "created_at": CREATED_AT,
    }
    data.update({k: v for k, v in overrides.items() if k in _PACKAGE_FIELDS})
    return data


def make_package(pid: str = PACKAGE_ID, title: str = TITLE, **overrides: Any) -> Package:
    return Package.from_dict(package_dict(pid, title, **overrides))


def make_record(pid: str = PACKAGE_ID, title: str = TITLE, key: Ed25519PrivateKey | None = None,
                **overrides: Any) -> SignedRecord:
    """`make_package(pid, title, **overrides)` signed by `key` (a new key when none is given)."""
    return sign(make_package(pid, title, **overrides), key or Ed25519PrivateKey.generate())


def big_record(pid: str, key: Ed25519PrivateKey) -> SignedRecord:
    """A record of about 3.7 KiB (near the 4 KiB cap), tagged "widget"."""
    url = "https://example.com/" + "h" * 175
    return make_record(pid, "Widget " + "w" * 100, key, tags=("widget",), description="d" * 500,
                       long_description="x" * 2000, homepage=url, repository=url, documentation=url)
