"""Benchmark: stream 10,000 search results into the results view and measure event-loop stalls.

Run: `python tests/bench/bench_gui.py` (offscreen; not collected by pytest).

Results arrive the way the node delivers them: SearchEvents from an async
source, in pages of 11 records (one answer datagram) a millisecond or two
apart, some of them repeats from a second peer. A 1 ms precise QTimer
heartbeat records how long the event loop was blocked. The same stream is
then fed to a naive model (one beginInsertRows per result, no coalescing) as
the baseline. Finally `python -m ggen_desktop` is started three times with
GGEN_DESKTOP_EXIT_AFTER_SHOWN=1 to time process start to first expose.
The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtWidgets import QApplication
from qasync import QEventLoop  # after PySide6, so qasync binds to it

from ggen_desktop.core.query import Query, QueryConfig
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import QueryStatus, QueryTrace, SearchEvent
from ggen_desktop.gui.results_model import ResultsModel
from ggen_desktop.gui.results_view import ResultsView
from ggen_desktop.gui.search_session import SearchSession
from ggen_desktop.gui.tasks import TaskGroup
from tests.helpers.packages import make_record

RESULTS = 10_000
PAGE = 11  # records per answer datagram (48 KiB pages of <=4 KiB records)
REPEAT_EVERY = 5  # every 5th page is re-sent by a second peer: sources update in place
PAGE_GAP_S = 0.001
STARTUP_RUNS = 3


def make_records(count: int) -> list[SignedRecord]:
    keys = [Ed25519PrivateKey.generate() for _ in range(8)]
    words = ["rust", "cli", "web", "postgres", "auth", "deploy", "metrics", "docs", "testing", "grpc"]
    records = []
    for i in range(count):
        a, b = words[i % len(words)], words[(i // len(words)) % len(words)]
        records.append(make_record(f"bench{i % 97}/{a}-{b}-{i}", f"{a.title()} {b} generator number {i}",
                                   keys[i % len(keys)], version=f"{i % 7}.{i % 13}.{i % 5}",
                                   description=f"Bench {a} {b}", tags=(a, b)))
    return records


class StreamHandle:
    """A stand-in for the node's SearchHandle that replays pages of records at network pace."""

    def __init__(self, records: list[SignedRecord]) -> None:
        self.trace = QueryTrace(Query(text="bench", limit=500))
        self.query_id = self.trace.query_id
        self._records = records
        self._cancelled = False

    def __aiter__(self) -> AsyncIterator[SearchEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[SearchEvent]:
        pages = [self._records[i:i + PAGE] for i in range(0, len(self._records), PAGE)]
        for number, page in enumerate(pages):
            for record in page:
                event = self.trace.add(record, "peer-a")
                if event is not None:
                    yield event
            if number % REPEAT_EVERY == 0:
                for record in page:
                    event = self.trace.add(record, "peer-b")
                    if event is not None:
                        yield event
            await asyncio.sleep(PAGE_GAP_S)
            if self._cancelled:
                return
        self.trace.finish(QueryStatus.FINISHED)

    def cancel(self) -> None:
        self._cancelled = True

    async def wait(self) -> QueryTrace:
        return self.trace


class StreamSearcher:
    def __init__(self, records: list[SignedRecord]) -> None:
        self.records = records

    def search(self, query: Query, config: QueryConfig | None = None) -> StreamHandle:
        return StreamHandle(self.records)


class Heartbeat:
    """A 1 ms precise timer; every gap beyond the interval is time the loop could not run."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.clock = QElapsedTimer()
        self.gaps: list[float] = []
        self._last = 0.0
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.clock.start()
        self._last = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        self.gaps.append(max(0.0, now - self._last - 1.0))
        self._last = now

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        elapsed = self.clock.nsecsElapsed() / 1e6
        gaps = sorted(self.gaps) or [0.0]
        return {
            "max_stall_ms": round(gaps[-1], 2),
            "p99_stall_ms": round(gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))], 2),
            # share of wall time the loop was blocked: the naive model's cost shows here and in seconds
            "busy_pct": round(100.0 * sum(gaps) / max(elapsed, 1.0), 1),
        }


async def stream_coalesced(records: list[SignedRecord], sorted_by: int | None = None) -> dict[str, float]:
    """The app's path: SearchSession → rate limiter → one insert per batch → proxy → view."""
    model = ResultsModel()
    view = ResultsView(model)
    view.resize(1200, 800)
    view.show()
    if sorted_by is not None:
        view.sortByColumn(sorted_by, Qt.SortOrder.AscendingOrder)
    tasks = TaskGroup()
    session = SearchSession(model, tasks)
    done = asyncio.get_running_loop().create_future()
    session.finished.connect(lambda trace: done.done() or done.set_result(trace))
    beat = Heartbeat()
    await asyncio.sleep(0.05)
    beat.start()
    started = time.perf_counter()
    session.start(StreamSearcher(records), Query(text="bench"))
    await done
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.05)  # let the last paint happen inside the measurement
    stats = beat.stop()
    assert model.rowCount() == len(records), model.rowCount()
    view.close()
    return {"seconds": round(seconds, 3), **stats}


async def stream_naive(records: list[SignedRecord]) -> dict[str, float]:
    """Baseline: every event goes straight to the model (one beginInsertRows per result)."""
    model = ResultsModel()
    view = ResultsView(model)
    view.resize(1200, 800)
    view.show()
    handle = StreamHandle(records)
    model.reset(handle.query_id)
    beat = Heartbeat()
    await asyncio.sleep(0.05)
    beat.start()
    started = time.perf_counter()
    async for event in handle:
        model.add_events([event])
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.05)
    stats = beat.stop()
    assert model.rowCount() == len(records)
    view.close()
    return {"seconds": round(seconds, 3), **stats}


def startup_ms(runs: int = STARTUP_RUNS) -> float:
    """Median wall time from spawning `python -m ggen_desktop` to its window's first expose."""
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GGEN_DESKTOP_EXIT_AFTER_SHOWN": "1",
               "GGEN_DESKTOP_CONFIG_DIR": str(Path(tmp) / "config"), "GGEN_DESKTOP_DATA_DIR": str(Path(tmp) / "data")}
        for _ in range(runs):
            spawned = time.time()
            out = subprocess.run([sys.executable, "-m", "ggen_desktop"], env=env, capture_output=True, text=True,
                                 cwd=ROOT, timeout=60, check=True).stdout
            shown = float(out.strip().rsplit(" ", 1)[-1])
            samples.append((shown - spawned) * 1000.0)
    return round(statistics.median(samples), 1)


def run_async(factory: Callable[[], object]) -> object:
    app = QApplication.instance()
    loop = QEventLoop(app)
    try:
        return loop.run_until_complete(factory())  # type: ignore[arg-type]
    finally:
        loop.close()


def gc_pauses() -> list[float]:
    """Record the duration of each garbage collection (a gen-2 pass over 10,000 records is a stall too)."""
    pauses: list[float] = []
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - started[0]) * 1000.0)

    gc.callbacks.append(callback)
    return pauses


def main() -> None:
    QApplication(sys.argv[:1])
    pauses = gc_pauses()
    gc.freeze()  # as the app does once it has joined; the records below arrive "later", unfrozen
    print(f"signing {RESULTS} records…", flush=True)
    records = make_records(RESULTS)
    ours = run_async(lambda: stream_coalesced(records))
    print(f"coalesced (app path): {ours}; longest GC pause so far {max(pauses, default=0):.1f} ms", flush=True)
    ours_sorted = run_async(lambda: stream_coalesced(records, sorted_by=ResultsModel.Columns.NAME))
    print(f"coalesced, view sorted by name: {ours_sorted}", flush=True)
    naive = run_async(lambda: stream_naive(records))
    print(f"naive baseline (one insert per result): {naive}", flush=True)
    ratio = naive["max_stall_ms"] / max(ours["max_stall_ms"], 0.01)  # type: ignore[index]
    time_ratio = naive["seconds"] / max(ours["seconds"], 0.001)  # type: ignore[index]
    print(f"naive/coalesced: max stall {ratio:.1f}x, time to show all results {time_ratio:.1f}x, "
          f"loop busy {naive['busy_pct']}% vs {ours['busy_pct']}%", flush=True)
    start_ms = startup_ms()
    print(f"startup (median of {STARTUP_RUNS}): {start_ms} ms", flush=True)
    print(json.dumps({
        "results": RESULTS,
        "seconds": ours["seconds"],  # type: ignore[index]
        "max_stall_ms": ours["max_stall_ms"],  # type: ignore[index]
        "p99_stall_ms": ours["p99_stall_ms"],  # type: ignore[index]
        "sorted_max_stall_ms": ours_sorted["max_stall_ms"],  # type: ignore[index]
        "sorted_p99_stall_ms": ours_sorted["p99_stall_ms"],  # type: ignore[index]
        "baseline_seconds": naive["seconds"],  # type: ignore[index]
        "baseline_max_stall_ms": naive["max_stall_ms"],  # type: ignore[index]
        "baseline_p99_stall_ms": naive["p99_stall_ms"],  # type: ignore[index]
        "busy_pct": ours["busy_pct"],  # type: ignore[index]
        "baseline_busy_pct": naive["busy_pct"],  # type: ignore[index]
        "max_stall_ratio": round(ratio, 1),
        "seconds_ratio": round(time_ratio, 1),
        "startup_ms": start_ms,
    }))


if __name__ == "__main__":
    main()
