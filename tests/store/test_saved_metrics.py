"""Query metrics and recent durations survive a restart; damaged saved values start from zero, said in the log."""

from __future__ import annotations

import logging
from contextlib import closing
from pathlib import Path

import pytest

from ggen_desktop.app import App
from ggen_desktop.core.metrics import QueryMetrics
from ggen_desktop.core.query import Query
from ggen_desktop.core.search import QueryStatus, QueryTrace
from ggen_desktop.store.database import Database
from ggen_desktop.store.saved_metrics import load_metrics, save_metrics
from tests.helpers.packages import make_record


def finished(metrics: QueryMetrics, status: QueryStatus, ms: float, results: int = 0) -> None:
    trace = QueryTrace(Query(text="x"))
    for n in range(results):
        trace.add(make_record(f"acme/p{n}"), "peer")
    trace.finish(status)
    trace.duration_ms = ms
    metrics.started()
    metrics.finished(trace)


def open_app(tmp_path: Path) -> App:
    return App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", demo_size=1)


@pytest.mark.asyncio
async def test_metrics_and_recent_durations_are_kept_across_restarts(tmp_path: Path) -> None:
    first = open_app(tmp_path)
    for status, ms in ((QueryStatus.FINISHED, 40.0), (QueryStatus.TIMED_OUT, 5000.0), (QueryStatus.FINISHED, 60.0)):
        finished(first.node.metrics, status, ms, results=3)
    first.node.metrics.started()  # one still running at shutdown: not kept
    before = first.node.metrics.snapshot()
    await first.stop()
    second = open_app(tmp_path)
    try:
        after = second.node.metrics.snapshot()
        assert after.total == before.total - 1 == 3 and after.in_flight == 0
        assert (after.successful, after.timed_out) == (2, 1)
        assert after.recent_durations_ms == (40.0, 5000.0, 60.0)
        assert after.avg_duration_ms == pytest.approx(before.avg_duration_ms) and after.avg_results == 3.0
        assert after.p50_duration_ms == before.p50_duration_ms
    finally:
        await second.stop()


@pytest.mark.parametrize("values", [{"total": -1}, {"mean_duration": "fast"}, {"recent": [1.0, "x"]}, []])
def test_damaged_saved_metrics_start_from_zero(tmp_path: Path, values: object,
                                              caplog: pytest.LogCaptureFixture) -> None:
    good = QueryMetrics()
    finished(good, QueryStatus.FINISHED, 10.0)
    saved = {**good.saved(), **values} if isinstance(values, dict) else values
    with closing(Database(tmp_path / "data")) as db:
        save_metrics(db, saved)  # type: ignore[arg-type]
        assert load_metrics(db) == (saved if isinstance(saved, dict) else None)
    with caplog.at_level(logging.WARNING):
        app = open_app(tmp_path)
    try:
        assert app.node.metrics.snapshot().total == 0
        if isinstance(values, dict):
            assert "query metrics start from zero: saved query metrics:" in caplog.text
        else:
            assert "not a JSON object" in caplog.text
    finally:
        app.database.close()  # type: ignore[union-attr]
