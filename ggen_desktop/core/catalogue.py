"""The sample catalogue that seeds the built-in demo network.

Its publishers' keys are derived from their labels, so the demo network shows
the same fingerprints on every start. They are demo keys: public by design,
never used for anything but the local demo.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.package import Dependency, Package, PackageId, PackageMetadata, Version

CATALOGUE_FILE = "catalogue.json"
_METADATA_FIELDS = ("title", "description", "long_description", "categories", "tags", "license",
                    "authors", "homepage", "repository", "documentation")


def demo_publisher_key(label: str) -> Ed25519PrivateKey:
    """A deterministic Ed25519 key for a demo publisher label."""
    seed = hashlib.sha256(f"ggen-desktop demo publisher:{label}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def _entry_to_package(entry: dict[str, Any]) -> Package:
    metadata = PackageMetadata.from_dict({k: entry[k] for k in _METADATA_FIELDS if k in entry})
    return Package(
        id=PackageId.parse(entry["id"]),
        version=Version.parse(entry["version"]),
        metadata=metadata,
        content_hash=entry["content_hash"],
        dependencies=tuple(Dependency(PackageId.parse(d), r) for d, r in entry.get("dependencies", {}).items()),
        created_at=1_767_225_600,  # 2026-01-01: fixed, so demo records are byte-identical on every start
    )


def load_sample_catalogue() -> list[tuple[str, Package]]:
    """(publisher label, package) for every entry of the shipped catalogue."""
    raw = importlib.resources.files("ggen_desktop.resources").joinpath(CATALOGUE_FILE).read_text("utf-8")
    data = json.loads(raw)
    return [(entry["publisher"], _entry_to_package(entry)) for entry in data["packages"]]
