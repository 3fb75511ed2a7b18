"""Signed package records: the only kind of value that travels on the DHT.

A record is a versioned envelope `{"format", "package", "publisher", "signature"}`
encoded as sorted-key UTF-8 JSON. The signature is Ed25519 over the canonical
bytes of the envelope without its signature. Every way a record can be wrong has
its own exception type, so the node can count it against the peer that sent it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ggen_desktop.core.package import Package, PackageError

RECORD_FORMAT = 1
# 4 KiB: a store request carrying one record stays under rpcudp's 8 KiB request
# limit, and a 48 KiB answer page (well under UDP's 65,507 bytes) holds 11 records.
MAX_RECORD_BYTES = 4096
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
FINGERPRINT_CHARS = 16
# A record dated further ahead than this is refused: one stamped in the far future would win
# every "newer copy replaces older" comparison forever. A day covers any honest clock error.
MAX_CLOCK_AHEAD_S = 24 * 3600


class RecordError(ValueError):
    """Base of every reason a record is refused."""


class RecordUnparseable(RecordError):
    """The bytes are not UTF-8 JSON of an object."""


class RecordUnknownFormat(RecordError):
    """The envelope's format number is not one this version understands."""


class RecordTooLarge(RecordError):
    """The encoded record is over MAX_RECORD_BYTES."""


class RecordMissingField(RecordError):
    """A required envelope or package field is absent or of the wrong type."""


class RecordBadSignature(RecordError):
    """The signature does not verify against the publisher key over the canonical bytes."""


class RecordMismatch(RecordError):
    """The record is well signed but is not the package it was asked or stored for."""


class RecordFromFuture(RecordError):
    """The record is dated (created or updated) more than MAX_CLOCK_AHEAD_S after now."""


def canonical_json(value: Any) -> bytes:
    """Sorted-key, compact, UTF-8 JSON: the one byte form that is signed and sent."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def fingerprint(public_key: bytes) -> str:
    """Short, stable name of a publisher key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:FINGERPRINT_CHARS]


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class SignedRecord:
    """A package signed by its publisher; `encoded` is exactly what is stored and sent."""

    package: Package
    publisher: bytes
    signature: bytes
    encoded: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.publisher)

    @cached_property
    def identity(self) -> tuple[str, str, str]:
        """(name, version, publisher fingerprint): how results are de-duplicated."""
        return (str(self.package.id), str(self.package.version), self.fingerprint)

    def is_older_than(self, other: SignedRecord) -> bool:
        """Another signing of the same identity replaces an older one, never the reverse: a peer
        replaying an old copy cannot roll metadata back."""
        return self.package.updated_at < other.package.updated_at


def _signed_part(package: Package, publisher: bytes) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "package": package.to_dict(),
        "publisher": base64.b64encode(publisher).decode("ascii"),
    }


def sign(package: Package, key: Ed25519PrivateKey) -> SignedRecord:
    """Sign a package; raises RecordTooLarge if its record would not fit the wire cap."""
    publisher = public_key_bytes(key)
    unsigned = _signed_part(package, publisher)
    signature = key.sign(canonical_json(unsigned))
    encoded = canonical_json({**unsigned, "signature": base64.b64encode(signature).decode("ascii")})
    if len(encoded) > MAX_RECORD_BYTES:
        raise RecordTooLarge(
            f"the signed record is {len(encoded)} bytes; at most {MAX_RECORD_BYTES} fit on the wire "
            "(shorten the long description or the lists)"
        )
    return SignedRecord(package, publisher, signature, encoded)


def _b64_field(envelope: dict[str, Any], name: str, size: int) -> bytes:
    value = envelope.get(name)
    if not isinstance(value, str):
        raise RecordMissingField(f"record field '{name}' is missing or not text")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RecordMissingField(f"record field '{name}' is not valid base64") from None
    if len(raw) != size:
        raise RecordMissingField(f"record field '{name}' must decode to {size} bytes, got {len(raw)}")
    # The decoder ignores the unused low bits of the last character, so several
    # spellings decode alike; accept only the one `sign` writes, or the same
    # record would have many byte forms.
    if base64.b64encode(raw).decode("ascii") != value:
        raise RecordUnparseable(f"record field '{name}' is not in canonical base64")
    return raw


def decode_and_verify(data: bytes, expect_id: str | None = None, expect_version: str | None = None,
                      now: float | None = None) -> SignedRecord:
    """Parse, bound, verify and validate a record from an untrusted source.

    `expect_id`/`expect_version`, when given, must match the signed package
    (a peer answering for one package with another's record is lying). A
    record dated more than a day after `now` (default: the system clock) is refused.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise RecordUnparseable(f"a record must be bytes, got {type(data).__name__}")
    if len(data) > MAX_RECORD_BYTES:
        raise RecordTooLarge(f"record is {len(data)} bytes; the cap is {MAX_RECORD_BYTES}")
    try:
        envelope = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordUnparseable(f"record is not UTF-8 JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise RecordUnparseable("record is JSON but not an object")
    if canonical_json(envelope) != bytes(data):
        raise RecordUnparseable("record is not in canonical form (sorted keys, compact, UTF-8)")
    if "format" not in envelope:
        raise RecordMissingField("record field 'format' is missing")
    if envelope["format"] != RECORD_FORMAT or isinstance(envelope["format"], bool):
        raise RecordUnknownFormat(f"record format {envelope['format']!r} is not supported (expected {RECORD_FORMAT})")
    extra = set(envelope) - {"format", "package", "publisher", "signature"}
    if extra:
        raise RecordMissingField(f"record has unknown fields {sorted(extra)}")
    if not isinstance(envelope.get("package"), dict):
        raise RecordMissingField("record field 'package' is missing or not an object")
    publisher = _b64_field(envelope, "publisher", PUBLIC_KEY_BYTES)
    signature = _b64_field(envelope, "signature", SIGNATURE_BYTES)
    unsigned = {k: v for k, v in envelope.items() if k != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(publisher).verify(signature, canonical_json(unsigned))
    except (InvalidSignature, ValueError):
        raise RecordBadSignature(f"signature does not verify for publisher {fingerprint(publisher)}") from None
    try:
        package = Package.from_dict(envelope["package"])
    except PackageError as exc:
        raise RecordMissingField(f"signed package is invalid: {exc}") from None
    if canonical_json(_signed_part(package, publisher)) != canonical_json(unsigned):
        raise RecordMismatch("signed package does not round-trip to its canonical form")
    latest = time.time() + MAX_CLOCK_AHEAD_S if now is None else now + MAX_CLOCK_AHEAD_S
    for stamp in ("created_at", "updated_at"):
        if getattr(package, stamp) > latest:
            raise RecordFromFuture(
                f"record {package.id} {package.version} has {stamp} {getattr(package, stamp)}, more than a day "
                f"after now ({int(latest - MAX_CLOCK_AHEAD_S)}): a clock that far ahead is not trusted"
            )
    if expect_id is not None and str(package.id) != expect_id:
        raise RecordMismatch(f"record is for '{package.id}', expected '{expect_id}'")
    if expect_version is not None and str(package.version) != expect_version:
        raise RecordMismatch(f"record is version {package.version}, expected {expect_version}")
    return SignedRecord(package, publisher, signature, bytes(data))
