"""Record bytes are verified once by digest; a set of records has one digest whatever its order."""

from __future__ import annotations

import pytest

from ggen_desktop.core.record import RecordError
from ggen_desktop.net.record_digests import VerifiedRecords, record_digest, set_digest
from tests.helpers.packages import make_record


def test_the_same_bytes_are_verified_once_and_bad_bytes_refused_each_time_alike() -> None:
    record = make_record("acme/widget", "Widget", tags=("widget",))
    verified = VerifiedRecords(capacity=2)
    assert verified.verify(record.encoded) == record
    assert verified.verify(bytes(record.encoded)) == record
    assert verified.checked == 1
    forged = record.encoded.replace(b"Widget", b"Wodget")
    for _ in range(2):
        with pytest.raises(RecordError, match="signature"):
            verified.verify(forged)
    assert verified.checked == 2
    for i in range(3):  # bounded: the oldest outcomes are forgotten first
        verified.verify(make_record(f"acme/w{i}", "W", tags=("widget",)).encoded)
    assert len(verified) == 2
    verified.verify(record.encoded)
    assert verified.checked == 6


def test_a_set_digest_does_not_depend_on_the_order_of_the_records() -> None:
    encoded = [make_record(f"acme/w{i}", "W").encoded for i in range(3)]
    assert set_digest(encoded) == set_digest(reversed(encoded))
    assert set_digest(encoded) != set_digest(encoded[:2])
    assert len(record_digest(encoded[0])) == len(set_digest(encoded)) == 16
