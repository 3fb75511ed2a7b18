"""Full garbage collections wait while a search's rows stream in.

CPython's full (generation 2) collection walks every tracked object that is not
frozen; the app freezes its start-up objects, but a search's rows arrive later.
While 10,000 results stream in, full collections run several times and walk
every row so far: ~15 ms each at 10,000 rows, ~150 ms at 100,000, each one a
stall. So a model receiving rows holds off full collections; young collections
(generations 0 and 1) still run, so short-lived cycles are still freed at once.
Each `hold` restarts the holder's countdown: LET_GO_AFTER_IDLE_MS after its last
rows (pages that follow each other keep the hold), or at once when a search is
cancelled, a new one empties the model or the model is deleted, it lets go and
full collections resume: one walk after the stream, never a long-running app
without them, and a window closed mid-stream strands nothing.
"""

from __future__ import annotations

import gc
import weakref
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QTimer

HELD_THRESHOLD = 1_000_000_000  # generation-1 collections before a full one: never, in practice
# Not at once when a page has arrived: a next page ("Load more", paging on) often follows, and a full collection
# between pages walked every row so far in the middle of its stream (50-200 ms at 10,000 rows).
LET_GO_AFTER_IDLE_MS = 2000


@dataclass
class _Hold:
    finalizer: weakref.finalize[[int], object]  # a holder that is deleted lets go
    countdown: QTimer


_normal_threshold: tuple[int, int, int] | None = None
_holders: dict[int, _Hold] = {}  # by id(owner)
_spent: list[QTimer] = []  # countdowns of holds that ended, deleted on a later call (never inside their own timeout)


def hold(owner: object) -> None:
    """`owner` is receiving long-lived rows: no full collection until every holder has let go, each at the latest
    LET_GO_AFTER_IDLE_MS after its last `hold`."""
    global _normal_threshold
    _spent.clear()
    held = _holders.get(id(owner))
    if held is None:
        if not _holders:
            _normal_threshold = gc.get_threshold()
            young, middle, _full = _normal_threshold
            gc.set_threshold(young, middle, HELD_THRESHOLD)
        countdown = QTimer()
        countdown.setSingleShot(True)
        countdown.setInterval(LET_GO_AFTER_IDLE_MS)
        held = _holders[id(owner)] = _Hold(weakref.finalize(owner, _let_go, id(owner)), countdown)
        countdown.timeout.connect(partial(_counted_down, id(owner), held))
    held.countdown.start()


def let_go(owner: object) -> None:
    """`owner` dropped its rows; full collections resume once no one holds them off."""
    held = _holders.get(id(owner))
    if held is not None:
        held.finalizer()  # runs `_let_go` once, and not again when the owner is deleted


def holding(owner: object | None = None) -> bool:
    """Whether full collections are held off (by `owner`, when given)."""
    return bool(_holders) if owner is None else id(owner) in _holders


def _counted_down(key: int, held: _Hold) -> None:
    if _holders.get(key) is held:  # not a hold that ended before, its owner's id since reused by another
        held.finalizer()


def _let_go(key: int) -> None:
    """Also run by the owner's finalizer, which may run on any thread: the countdown is left to fire (a no-op
    then), never stopped here."""
    global _normal_threshold
    held = _holders.pop(key, None)
    if held is not None:
        _spent.append(held.countdown)  # kept alive until it has fired or a later `hold`, on the GUI thread
    if not _holders and _normal_threshold is not None:
        gc.set_threshold(*_normal_threshold)
        _normal_threshold = None
