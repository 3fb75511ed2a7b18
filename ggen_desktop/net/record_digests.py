"""Record bytes by digest: one signature check per distinct record, and one digest per set of records.

The replicas of a key (§2.3: its k closest nodes) mostly hold the same records,
so a lookup would receive and verify each record once per replica. Two things
stop that: `VerifiedRecords` remembers what it verified (or refused) by the
digest of the bytes, and `set_digest` names the whole set of records a peer
holds for a query, so a searcher can tell a peer "I have this set" and the peer
answers without records (see `MarketProtocol.rpc_search` and the lookup).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import Iterable

from ggen_desktop.core.record import RecordError, SignedRecord, decode_and_verify

DIGEST_BYTES = 16
VERIFIED_CAPACITY = 8192  # records (most ~1 KiB, at most 4 KiB): a popular keyword's every record, many times over


def record_digest(encoded: bytes) -> bytes:
    """The digest of one record's exact bytes."""
    return hashlib.blake2b(encoded, digest_size=DIGEST_BYTES).digest()


def set_digest(encoded_records: Iterable[bytes]) -> bytes:
    """The digest of a set of records, whatever their order (replicas store them in different orders)."""
    joined = b"".join(sorted(record_digest(e) for e in encoded_records))
    return hashlib.blake2b(joined, digest_size=DIGEST_BYTES).digest()


def is_digest(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == DIGEST_BYTES


class VerifiedRecords:
    """`decode_and_verify` with a bounded memory of its outcomes, keyed by the digest of the bytes.

    Verification depends only on the bytes, so a copy seen before (from another
    replica, another page or an earlier search) is not checked again; a refused
    one is refused again with the same error. `checked` counts real checks.
    """

    def __init__(self, capacity: int = VERIFIED_CAPACITY) -> None:
        self.capacity = capacity
        self.checked = 0
        self._outcomes: OrderedDict[bytes, SignedRecord | RecordError] = OrderedDict()

    def verify(self, data: bytes) -> SignedRecord:
        """The verified record in `data`; raises RecordError (the same one each time) for bad bytes."""
        key = record_digest(data)
        outcome = self._outcomes.get(key)
        if outcome is None:
            self.checked += 1
            try:
                outcome = decode_and_verify(data)
            except RecordError as exc:
                outcome = exc
            self._outcomes[key] = outcome
            if len(self._outcomes) > self.capacity:
                self._outcomes.popitem(last=False)
        else:
            self._outcomes.move_to_end(key)
        if isinstance(outcome, RecordError):
            raise outcome.with_traceback(None)  # a fresh traceback each time: none piles up in the memory
        return outcome

    async def verify_in_slices(self, items: list[object], slice_s: float) -> int:
        """Check (and remember) every record in `items`, giving the event loop a turn every `slice_s`
        seconds, so a window on the same loop never waits for a whole answer page; the number checked."""
        checked, deadline = self.checked, time.perf_counter() + slice_s
        for data in items:
            if time.perf_counter() >= deadline:
                await asyncio.sleep(0)
                deadline = time.perf_counter() + slice_s
            if isinstance(data, bytes):
                with contextlib.suppress(RecordError):  # remembered: the caller counts it when it looks it up
                    self.verify(data)
        return self.checked - checked

    def __len__(self) -> int:
        return len(self._outcomes)
