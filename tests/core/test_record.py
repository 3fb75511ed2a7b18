"""Signed records: a round trip works, and every kind of tampering is refused with a typed error."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ggen_desktop.core.record import (
    MAX_CLOCK_AHEAD_S,
    MAX_RECORD_BYTES,
    RecordBadSignature,
    RecordError,
    RecordFromFuture,
    RecordMismatch,
    RecordMissingField,
    RecordTooLarge,
    RecordUnknownFormat,
    RecordUnparseable,
    SignedRecord,
    canonical_json,
    decode_and_verify,
    fingerprint,
    public_key_bytes,
    sign,
)
from tests.helpers.packages import make_package, package_dict

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
RECORD: SignedRecord = sign(make_package(), KEY)
B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def envelope(record: SignedRecord = RECORD) -> dict[str, Any]:
    return json.loads(record.encoded)  # type: ignore[no-any-return]


def signed_envelope(unsigned: dict[str, Any], key: Ed25519PrivateKey = KEY) -> bytes:
    """Sign an arbitrary envelope exactly the way `sign` does, to forge well-signed but wrong records."""
    signature = key.sign(canonical_json(unsigned))
    return canonical_json({**unsigned, "signature": base64.b64encode(signature).decode("ascii")})


def unsigned_envelope(package: dict[str, Any], key: Ed25519PrivateKey = KEY, **extra: Any) -> dict[str, Any]:
    publisher = base64.b64encode(public_key_bytes(key)).decode("ascii")
    return {"format": 1, "package": package, "publisher": publisher, **extra}


def test_round_trip() -> None:
    decoded = decode_and_verify(RECORD.encoded, expect_id="acme/rust-cli", expect_version="1.0.0")
    assert decoded == RECORD
    assert decoded.package == make_package()
    assert decoded.publisher == public_key_bytes(KEY)
    assert decoded.fingerprint == fingerprint(public_key_bytes(KEY)) == RECORD.fingerprint
    assert len(decoded.fingerprint) == 16
    assert decoded.identity == ("acme/rust-cli", "1.0.0", decoded.fingerprint)


def test_accepts_bytearray() -> None:
    assert decode_and_verify(bytearray(RECORD.encoded)) == RECORD  # type: ignore[arg-type]


def test_encoding_is_canonical_and_deterministic() -> None:
    assert sign(make_package(), KEY).encoded == RECORD.encoded
    assert canonical_json(envelope()) == RECORD.encoded
    assert b" " not in RECORD.encoded.replace(b"Rust CLI subcommand template", b"")  # compact separators


def test_same_package_different_publishers_are_different_identities() -> None:
    other = sign(make_package(), OTHER_KEY)
    assert other.package == RECORD.package and other.identity != RECORD.identity


def test_sign_refuses_a_record_over_the_cap() -> None:
    big = make_package(long_description="x" * 2000, authors=["a" * 200] * 16)
    with pytest.raises(RecordTooLarge, match=f"at most {MAX_RECORD_BYTES}"):
        sign(big, KEY)


def test_non_ascii_text_survives() -> None:
    record = sign(make_package(title="Café ✓ 模板"), KEY)
    assert decode_and_verify(record.encoded).package.metadata.title == "Café ✓ 模板"


# -- each reason has its own error type ----------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"not json",
        b"[1,2]",
        b'"text"',
        b"null",
        RECORD.encoded[:-1],
        RECORD.encoded + b" ",
        b" " + RECORD.encoded,
        json.dumps(envelope(), sort_keys=True).encode(),  # spaces: not canonical
        json.dumps(envelope(), sort_keys=False, separators=(",", ":"))[::-1].encode(),
        RECORD.encoded.replace(b'"format":1', b'"format":1,"format":1'),  # duplicate key
        "not bytes",
        None,
    ],
)
def test_unparseable(data: Any) -> None:
    with pytest.raises(RecordUnparseable):
        decode_and_verify(data)


def test_non_canonical_key_order_is_unparseable() -> None:
    env = envelope()
    reordered = json.dumps(dict(reversed(list(env.items()))), separators=(",", ":"), ensure_ascii=False)
    with pytest.raises(RecordUnparseable, match="canonical"):
        decode_and_verify(reordered.encode())


def test_escaped_unicode_is_not_canonical() -> None:
    data = RECORD.encoded.replace(b"Rust", b"\\u0052ust", 1)
    with pytest.raises(RecordUnparseable, match="canonical"):
        decode_and_verify(data)


@pytest.mark.parametrize("value", [2, 0, -1, "1", True, None, [1]])
def test_unknown_format(value: Any) -> None:
    env = {**envelope(), "format": value}
    with pytest.raises(RecordUnknownFormat):
        decode_and_verify(canonical_json(env))


def test_future_format_is_refused_even_if_well_signed() -> None:
    data = signed_envelope({**unsigned_envelope(package_dict()), "format": 2})
    with pytest.raises(RecordUnknownFormat, match="format 2"):
        decode_and_verify(data)


def test_oversized_is_refused_before_parsing() -> None:
    with pytest.raises(RecordTooLarge, match=str(MAX_RECORD_BYTES)):
        decode_and_verify(b"{" + b" " * MAX_RECORD_BYTES + b"}")
    padded = canonical_json({**envelope(), "padding": "x" * MAX_RECORD_BYTES})
    with pytest.raises(RecordTooLarge):
        decode_and_verify(padded)


@pytest.mark.parametrize("field", ["format", "package", "publisher", "signature"])
def test_missing_envelope_field(field: str) -> None:
    env = envelope()
    del env[field]
    with pytest.raises(RecordMissingField, match=field):
        decode_and_verify(canonical_json(env))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("package", "acme/rust-cli", "'package'"),
        ("package", None, "'package'"),
        ("publisher", 5, "'publisher' is missing or not text"),
        ("publisher", "***", "not valid base64"),
        ("publisher", base64.b64encode(b"x" * 31).decode(), "32 bytes, got 31"),
        ("signature", base64.b64encode(b"x" * 65).decode(), "64 bytes, got 65"),
        ("signature", "", "64 bytes, got 0"),
    ],
)
def test_malformed_envelope_field(field: str, value: Any, message: str) -> None:
    env = {**envelope(), field: value}
    with pytest.raises(RecordMissingField, match=message):
        decode_and_verify(canonical_json(env))


def test_second_base64_spelling_of_the_same_signature_is_refused() -> None:
    """The last character of padded base64 has unused bits; decoders ignore them, we must not."""
    env = envelope()
    text = env["signature"]
    last = text.rstrip("=")[-1]
    twin = chr(ord(last) + 1)  # differs only in the unused low bits for this key's signature
    variant = text.rstrip("=")[:-1] + twin + "=" * (len(text) - len(text.rstrip("=")))
    assert base64.b64decode(variant) == base64.b64decode(text)
    with pytest.raises(RecordUnparseable, match="canonical base64"):
        decode_and_verify(canonical_json({**env, "signature": variant}))


def test_unknown_envelope_field() -> None:
    with pytest.raises(RecordMissingField, match="unknown fields"):
        decode_and_verify(canonical_json({**envelope(), "extra": 1}))


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["metadata"].update(title="Rust CLI subcommand templatE"),
        lambda p: p.update(version="1.2.4"),
        lambda p: p.update(id="evil/rust-cli"),
        lambda p: p.update(content_hash="sha256:" + "cd" * 32),
        lambda p: p.update(created_at=p["created_at"] + 1),
        lambda p: p["metadata"]["tags"].append("malware"),
    ],
)
def test_changed_package_fails_the_signature(change: Any) -> None:
    env = envelope()
    change(env["package"])
    with pytest.raises(RecordBadSignature, match=RECORD.fingerprint):
        decode_and_verify(canonical_json(env))


def test_signature_from_another_key_fails() -> None:
    env = envelope()
    env["signature"] = base64.b64encode(OTHER_KEY.sign(canonical_json(unsigned_envelope(package_dict())))).decode()
    with pytest.raises(RecordBadSignature):
        decode_and_verify(canonical_json(env))


def test_swapped_publisher_key_fails() -> None:
    env = {**envelope(), "publisher": base64.b64encode(public_key_bytes(OTHER_KEY)).decode()}
    with pytest.raises(RecordBadSignature, match=fingerprint(public_key_bytes(OTHER_KEY))):
        decode_and_verify(canonical_json(env))


def test_publisher_that_is_not_a_curve_point_fails_as_bad_signature() -> None:
    env = {**envelope(), "publisher": base64.b64encode(b"\xff" * 32).decode()}
    with pytest.raises(RecordError):
        decode_and_verify(canonical_json(env))


def test_well_signed_but_invalid_package_is_refused() -> None:
    data = signed_envelope(unsigned_envelope(package_dict(version="not-semver")))
    with pytest.raises(RecordMissingField, match="version"):
        decode_and_verify(data)
    data = signed_envelope(unsigned_envelope({k: v for k, v in package_dict().items() if k != "content_hash"}))
    with pytest.raises(RecordMissingField, match="content_hash"):
        decode_and_verify(data)


@pytest.mark.parametrize(
    "package",
    [
        {**package_dict(), "smuggled": "field"},
        package_dict(tags=["rust", "rust"]),  # not normalised
        package_dict(categories=["utility"]),  # not normalised
    ],
)
def test_well_signed_but_non_canonical_package_is_a_mismatch(package: dict[str, Any]) -> None:
    with pytest.raises(RecordMismatch, match="round-trip"):
        decode_and_verify(signed_envelope(unsigned_envelope(package)))


def test_expected_id_and_version_must_match() -> None:
    with pytest.raises(RecordMismatch, match="expected 'acme/other'"):
        decode_and_verify(RECORD.encoded, expect_id="acme/other")
    with pytest.raises(RecordMismatch, match="expected 9.9.9"):
        decode_and_verify(RECORD.encoded, expect_version="9.9.9")


@pytest.mark.parametrize("stamp", ["updated_at", "created_at"])
def test_a_record_from_the_far_future_is_refused(stamp: str) -> None:
    """A well-signed record stamped 2**62 would beat every honest update by `updated_at` forever."""
    future = sign(make_package(**{stamp: 2**62}), KEY)
    with pytest.raises(RecordFromFuture, match=f"{stamp} {2**62}, more than a day after now"):
        decode_and_verify(future.encoded)


def test_a_day_ahead_is_tolerated_and_a_second_more_is_not() -> None:
    now = 1_800_000_000
    at_limit = sign(make_package(updated_at=now + MAX_CLOCK_AHEAD_S), KEY)
    beyond = sign(make_package(updated_at=now + MAX_CLOCK_AHEAD_S + 1), KEY)
    assert decode_and_verify(at_limit.encoded, now=now) == at_limit
    with pytest.raises(RecordFromFuture):
        decode_and_verify(beyond.encoded, now=now)
    assert decode_and_verify(beyond.encoded, now=now + 1) == beyond  # later, the same record is fine


def test_every_record_error_is_a_value_error() -> None:
    for error in (RecordUnparseable, RecordUnknownFormat, RecordTooLarge, RecordMissingField, RecordBadSignature,
                  RecordMismatch, RecordFromFuture):
        assert issubclass(error, RecordError) and issubclass(error, ValueError)


# -- any change to the signed bytes is refused ------------------------------------


def _assert_refused(data: bytes) -> None:
    """decode_and_verify must raise a RecordError: never return a record, never raise anything else."""
    try:
        decoded = decode_and_verify(data)
    except RecordError:
        return
    pytest.fail(f"tampered record was accepted: {data!r} -> {decoded!r}")


@st.composite
def tampered(draw: st.DrawFn) -> bytes:
    data = bytearray(RECORD.encoded)
    kind = draw(st.sampled_from(["flip", "replace", "insert", "delete"]))
    pos = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        data[pos] ^= 1 << draw(st.integers(0, 7))
    elif kind == "replace":
        data[pos] = draw(st.sampled_from(B64_ALPHABET + b'{}[]":,0123456789 \\') | st.integers(0, 255))
    elif kind == "insert":
        data[pos:pos] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b" ", b"0", b"A", b",", b"\\"]))
    else:
        del data[pos : pos + draw(st.integers(1, 16))]
    assume(bytes(data) != RECORD.encoded)
    return bytes(data)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(tampered())
def test_any_change_to_the_signed_bytes_is_refused(data: bytes) -> None:
    _assert_refused(data)


def test_every_single_character_change_in_key_and_signature_is_refused() -> None:
    """Exhaustive over the base64 fields, where a lenient decoder could accept two spellings of one key."""
    data = RECORD.encoded
    for field in (b'"publisher":"', b'"signature":"'):
        start = data.index(field) + len(field)
        end = data.index(b'"', start)
        for pos in range(start, end):
            for char in B64_ALPHABET:
                if char != data[pos]:
                    _assert_refused(data[:pos] + bytes([char]) + data[pos + 1 :])


def test_a_later_signing_supersedes_and_an_earlier_one_never_does() -> None:
    first = sign(make_package(updated_at=1_000), KEY)
    later = sign(make_package(updated_at=2_000), KEY)
    assert first.identity == later.identity
    assert first.is_older_than(later) and not later.is_older_than(first)
    assert not first.is_older_than(sign(make_package(updated_at=1_000), KEY))  # a tie is not older


# -- archive fields: size and torrent info-hash ------------------------------------------

INFO_HASH = "ab" * 32


def test_archive_fields_are_signed_and_round_trip() -> None:
    record = sign(make_package(size=5_000_000, info_hash=INFO_HASH), KEY)
    decoded = decode_and_verify(record.encoded)
    assert (decoded.package.size, decoded.package.info_hash) == (5_000_000, INFO_HASH)
    assert decoded.package.has_archive
    assert envelope(record)["package"]["info_hash"] == INFO_HASH


def test_record_without_archive_fields_keeps_its_bytes_and_verifies() -> None:
    """Records signed before the fields existed have neither key; they still verify, byte for byte."""
    old_shape = make_package().to_dict()
    assert not {"size", "info_hash"} & set(old_shape)
    data = signed_envelope(unsigned_envelope(old_shape))
    decoded = decode_and_verify(data)
    assert decoded.package.size is None and decoded.package.info_hash is None
    assert not decoded.package.has_archive
    assert "size" not in envelope(decoded) and decoded.encoded == data


def test_changing_the_signed_info_hash_breaks_the_signature() -> None:
    record = sign(make_package(size=10, info_hash=INFO_HASH), KEY)
    forged = envelope(record)
    forged["package"]["info_hash"] = "cd" * 32
    with pytest.raises(RecordBadSignature):
        decode_and_verify(canonical_json(forged))


@pytest.mark.parametrize(("size", "info_hash", "field"), [
    (0, INFO_HASH, "size"), (-5, INFO_HASH, "size"), (True, INFO_HASH, "size"), ("10", INFO_HASH, "size"),
    (1.5, INFO_HASH, "size"), (10, "AB" * 32, "info_hash"), (10, "ab" * 31, "info_hash"), (10, 5, "info_hash"),
    (10, None, "info_hash"), (None, INFO_HASH, "size"),
])
def test_bad_archive_fields_are_refused(size: object, info_hash: object, field: str) -> None:
    data = signed_envelope(unsigned_envelope(package_dict(size=size, info_hash=info_hash)))
    with pytest.raises(RecordMissingField, match=field):
        decode_and_verify(data)


def test_explicit_null_archive_fields_are_not_canonical() -> None:
    data = signed_envelope(unsigned_envelope({**make_package().to_dict(), "size": None, "info_hash": None}))
    with pytest.raises(RecordMismatch):
        decode_and_verify(data)
