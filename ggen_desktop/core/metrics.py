"""Query metrics: the seed's counters with true running averages, plus percentiles.

The seed stored the last value where it meant an average; here every average
is a running mean over all finished queries, and p50/p95 come from a bounded
window of recent durations (which also feeds the GUI's live chart). `saved()`
and `restore()` carry them across restarts (queries in flight are not kept).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ggen_desktop.core.search import QueryStatus, QueryTrace

RECENT_WINDOW = 200
_COUNTS = ("total", "successful", "timed_out", "cancelled", "failed", "_finished", "_with_first")
_MEANS = ("_mean_duration", "_mean_results", "_mean_first")


@dataclass(frozen=True)
class MetricsSnapshot:
    total: int
    successful: int
    timed_out: int
    cancelled: int
    failed: int
    in_flight: int
    avg_duration_ms: float
    avg_results: float
    avg_first_result_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    recent_durations_ms: tuple[float, ...]


@dataclass
class QueryMetrics:
    """Counters updated when a query starts and when it ends (exactly once each)."""

    total: int = 0
    successful: int = 0
    timed_out: int = 0
    cancelled: int = 0
    failed: int = 0
    in_flight: int = 0
    _finished: int = 0
    _mean_duration: float = 0.0
    _mean_results: float = 0.0
    _with_first: int = 0
    _mean_first: float = 0.0
    _recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_WINDOW))

    def started(self) -> None:
        self.total += 1
        self.in_flight += 1

    def finished(self, trace: QueryTrace) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        if trace.status is QueryStatus.FINISHED:
            self.successful += 1
        elif trace.status is QueryStatus.TIMED_OUT:
            self.timed_out += 1
        elif trace.status is QueryStatus.CANCELLED:
            self.cancelled += 1
        else:
            self.failed += 1
        duration = trace.duration_ms if trace.duration_ms is not None else trace.elapsed_ms()
        self._finished += 1
        self._mean_duration += (duration - self._mean_duration) / self._finished
        self._mean_results += (trace.result_count - self._mean_results) / self._finished
        if trace.first_result_ms is not None:
            self._with_first += 1
            self._mean_first += (trace.first_result_ms - self._mean_first) / self._with_first
        self._recent.append(duration)

    def snapshot(self) -> MetricsSnapshot:
        recent = tuple(self._recent)
        p50 = p95 = None
        if len(recent) >= 2:
            cuts = statistics.quantiles(recent, n=20, method="inclusive")
            p50, p95 = cuts[9], cuts[18]
        elif recent:
            p50 = p95 = recent[0]
        return MetricsSnapshot(
            total=self.total,
            successful=self.successful,
            timed_out=self.timed_out,
            cancelled=self.cancelled,
            failed=self.failed,
            in_flight=self.in_flight,
            avg_duration_ms=self._mean_duration,
            avg_results=self._mean_results,
            avg_first_result_ms=self._mean_first if self._with_first else None,
            p50_duration_ms=p50,
            p95_duration_ms=p95,
            recent_durations_ms=recent,
        )

    def saved(self) -> dict[str, Any]:
        """Plain JSON values of everything but the queries in flight (they end with this run)."""
        values: dict[str, Any] = {name.lstrip("_"): getattr(self, name) for name in (*_COUNTS, *_MEANS)}
        values["total"] -= self.in_flight
        values["recent"] = list(self._recent)
        return values

    def restore(self, values: dict[str, Any]) -> None:
        """Take saved values (from a file: each is checked); ValueError names the first bad one, and then
        nothing changes."""
        counts = {name: values.get(name.lstrip("_")) for name in _COUNTS}
        means = {name: values.get(name.lstrip("_")) for name in _MEANS}
        for name, value in counts.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"saved query metrics: {name.lstrip('_')} must be a whole number >= 0, not {value!r}")
        for name, value in means.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < float("inf"):
                raise ValueError(f"saved query metrics: {name.lstrip('_')} must be a number >= 0, not {value!r}")
        recent = values.get("recent")
        if not isinstance(recent, list) or not all(isinstance(v, (int, float)) and v >= 0 for v in recent):
            raise ValueError("saved query metrics: recent must be a list of durations in ms")
        for name, value in (*counts.items(), *means.items()):
            setattr(self, name, value)
        self.total += self.in_flight
        self._recent.clear()
        self._recent.extend(float(v) for v in recent[-RECENT_WINDOW:])
