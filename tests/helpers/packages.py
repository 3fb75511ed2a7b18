"""Small builders for valid packages and signed records, overridable field by field."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.package import Package
from ggen_desktop.core.record import SignedRecord, sign

HASH = "sha256:" + "ab" * 32


def package_dict(**overrides: Any) -> dict[str, Any]:
    """A valid `Package.to_dict()`-shaped mapping; `metadata` overrides merge into the default metadata."""
    metadata = {
        "title": "Rust CLI subcommand template",
        "description": "Scaffolds a clap subcommand with tests",
        "categories": ["Utility"],
        "tags": ["rust", "cli"],
        "license": "MIT",
    }
    metadata.update(overrides.pop("metadata", {}))
    data: dict[str, Any] = {
        "id": "acme/rust-cli",
        "version": "1.2.3",
        "metadata": metadata,
        "content_hash": HASH,
        "created_at": 1_700_000_000,
    }
    data.update(overrides)
    return data


def make_package(**overrides: Any) -> Package:
    return Package.from_dict(package_dict(**overrides))


def make_record(key: Ed25519PrivateKey | None = None, **overrides: Any) -> SignedRecord:
    return sign(make_package(**overrides), key or Ed25519PrivateKey.generate())
