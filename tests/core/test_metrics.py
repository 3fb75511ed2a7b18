"""Metrics keep true running averages (the seed kept only the last value) and percentiles."""

import pytest

from ggen_desktop.core.metrics import QueryMetrics
from ggen_desktop.core.query import Query
from ggen_desktop.core.search import QueryStatus, QueryTrace


def finished_trace(status: QueryStatus, duration_ms: float, results: int, first: float | None) -> QueryTrace:
    trace = QueryTrace(Query("x"))
    trace.finish(status)
    trace.duration_ms = duration_ms
    trace.first_result_ms = first
    trace.hits = {("p", str(i), "f"): None for i in range(results)}  # type: ignore[misc]
    return trace


def test_counters_and_running_averages() -> None:
    metrics = QueryMetrics()
    for _ in range(4):
        metrics.started()
    metrics.finished(finished_trace(QueryStatus.FINISHED, 100.0, 10, 5.0))
    metrics.finished(finished_trace(QueryStatus.TIMED_OUT, 300.0, 2, 15.0))
    metrics.finished(finished_trace(QueryStatus.CANCELLED, 200.0, 0, None))
    snap = metrics.snapshot()
    assert (snap.total, snap.successful, snap.timed_out, snap.cancelled, snap.in_flight) == (4, 1, 1, 1, 1)
    assert snap.avg_duration_ms == 200.0
    assert snap.avg_results == pytest.approx(4.0, rel=1e-12)  # (10 + 2 + 0) / 3
    assert snap.avg_first_result_ms == 10.0
    assert snap.p50_duration_ms == 200.0
    # linear interpolation between ranks of 100, 200, 300: rank 0.95 · (3 - 1) = 1.9, so 200 + 0.9 · 100
    assert snap.p95_duration_ms == pytest.approx(290.0, rel=1e-12)
    assert snap.recent_durations_ms == (100.0, 300.0, 200.0)


def test_empty_snapshot_has_no_percentiles() -> None:
    snap = QueryMetrics().snapshot()
    assert snap.p50_duration_ms is None and snap.avg_first_result_ms is None
