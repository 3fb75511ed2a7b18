"""Full garbage collections wait while a search's rows stream in.

CPython's full (generation 2) collection walks every tracked object that is not
frozen; the app freezes its start-up objects, but a search's rows arrive later.
While 10,000 results stream in, full collections run several times and walk
every row so far: ~15 ms each at 10,000 rows, ~150 ms at 100,000, each one a
stall. So a model receiving rows holds off full collections; young collections
(generations 0 and 1) still run, so short-lived cycles are still freed at once.
Two seconds after the model's last batch (`results_model.let_go_when_idle`:
pages that follow each other keep the hold), or at once when a search is
cancelled or a new one empties the model, it lets go and full collections
resume: one walk after the stream, never a long-running app without them.
"""

from __future__ import annotations

import gc
import weakref

HELD_THRESHOLD = 1_000_000_000  # generation-1 collections before a full one: never, in practice
_normal_threshold: tuple[int, int, int] | None = None
_holders: dict[int, weakref.finalize[[int], object]] = {}  # id(owner) -> its finalizer (a holder that is deleted lets go)


def hold(owner: object) -> None:
    """`owner` keeps long-lived rows: no full collection until every holder has let go."""
    global _normal_threshold
    if id(owner) in _holders:
        return
    if not _holders:
        _normal_threshold = gc.get_threshold()
        young, middle, _full = _normal_threshold
        gc.set_threshold(young, middle, HELD_THRESHOLD)
    _holders[id(owner)] = weakref.finalize(owner, _let_go, id(owner))


def let_go(owner: object) -> None:
    """`owner` dropped its rows; full collections resume once no one holds them off."""
    finalizer = _holders.get(id(owner))
    if finalizer is not None:
        finalizer()  # runs `_let_go` once, and not again when the owner is deleted


def holding(owner: object | None = None) -> bool:
    """Whether full collections are held off (by `owner`, when given)."""
    return bool(_holders) if owner is None else id(owner) in _holders


def _let_go(key: int) -> None:
    global _normal_threshold
    _holders.pop(key, None)
    if not _holders and _normal_threshold is not None:
        gc.set_threshold(*_normal_threshold)
        _normal_threshold = None
