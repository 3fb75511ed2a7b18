"""Each package field checked on its own, so a form or a manifest can report every problem at once.

The rules are the package model's (`core/package.py`); this module only applies
them one field at a time and words the empty case as what to type, instead of
quoting an empty value back at the user.
"""

from __future__ import annotations

from typing import Any

from ggen_desktop.core.package import CONTENT_HASH, Category, PackageError, PackageId, PackageMetadata, Version

REQUIRED = ("id", "version", "title", "content_hash")
METADATA_FIELDS = ("title", "description", "long_description", "categories", "tags", "license", "authors",
                   "homepage", "repository", "documentation")
FIELDS = ("id", "version", *METADATA_FIELDS, "content_hash")
WHEN_EMPTY = {
    "id": "required: namespace/name in lowercase, for example acme/rust-cli",
    "version": "required: a semantic version, for example 1.0.0",
    "title": "required: a short title, for example Rust CLI subcommand template",
    "content_hash": "required: choose the archive to compute it, or paste sha256: and 64 hex digits",
}


def is_standard_category(name: str) -> bool:
    """True for one of the standard categories (any case), which every search bar offers."""
    return any(name.strip().lower() == c.value.lower() for c in Category)


def check_field(name: str, value: Any) -> str | None:
    """The rule `value` breaks as field `name`, or None when it is fine."""
    if name in REQUIRED and (value is None or (isinstance(value, str) and not value.strip())):
        return WHEN_EMPTY[name]
    try:
        if name == "id":
            PackageId.parse(value)
        elif name == "version":
            Version.parse(value)
        elif name == "content_hash":
            if not isinstance(value, str) or not CONTENT_HASH.match(value):
                return "must be sha256: and 64 lowercase hex digits; choose the archive to compute it"
        elif name == "title":
            PackageMetadata(title=value)
        elif name in METADATA_FIELDS:
            PackageMetadata(**{"title": "title", name: value})
        else:
            return "unknown field"
    except PackageError as exc:
        return exc.rule
    return None

