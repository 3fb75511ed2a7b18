"""Benchmark: stream 10,000 search results into the results view and measure event-loop stalls.

Run: `python tests/bench/bench_gui.py` (offscreen; not collected by pytest).

Results come through the real node path: a network of MarketplaceNodes on
loopback, in a process of their own (they stand for other machines), whose
holders keep every record under one keyword; a fresh searcher node in this
process, with its own SQLite database, runs `node.search`, so answer pages are
decoded, signatures verified, hits merged across peers and sightings written to
the database, and the SearchSession pages on (`load_more`) until every result
is shown. A 1 ms precise QTimer heartbeat records how long the event loop was
blocked, with the view unsorted and sorted by name. The same search feeding a
naive model (one beginInsertRows per result, no coalescing) is the baseline.
Database transactions per search, the store thread's cpu time (its writes
compete with the window for a core and the GIL) and resident memory per 10,000 rows
are reported too. Each mode runs `--repeat` times (3) and the figures are medians.
`--rows 100000 --modes unsorted,sorted` runs the large case: beyond the 50,000 the
loopback holders can serve, a replayed search (`ReplayedHandle`) feeds the same
session, model, proxy and view with verified records, pages of 64 from two peers. Finally
`python -m ggen_desktop` is started three times with
GGEN_DESKTOP_EXIT_AFTER_SHOWN=1 to time process start to first expose.
The last line printed is one JSON object. `--trace-gaps N` prints, for each run, what ran inside
its N stalls with the most main-thread cpu time and inside its longest (Qt events, asyncio steps,
collections, the model's and proxy's batch work, with their wall and cpu times): a stall's wall
time well beyond its cpu time is time the loop waited for a core, not work the code did.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
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
from ggen_desktop.gui.search_session import Searcher, SearchSession
from ggen_desktop.gui.tasks import TaskGroup
from ggen_desktop.logging_setup import quiet_library_loggers
from ggen_desktop.net import stall_rule
from ggen_desktop.net.node import MarketplaceNode
from ggen_desktop.net.storage import PAGE_RECORDS, keyword_key
from ggen_desktop.store.database import Database
from tests.helpers.packages import make_record

RESULTS = 10_000
KEYWORD = "bench"
KSIZE = 20  # every node is among the keyword's closest, so the searcher asks them all
PER_SET = 5_000  # records per replica set: below what one search reads from one peer (lookup.MAX_PAGES_PER_PEER)
PAGE_RESULTS = 500  # QueryConfig.max_results: the searcher reads the keyword page by page (`handle.more()`)
STARTUP_RUNS = 3
ATTEMPTS = 5  # a search can end short when a loaded machine makes holders slow (the lookup leaves them)


def make_records(count: int) -> list[SignedRecord]:
    keys = [Ed25519PrivateKey.generate() for _ in range(8)]
    words = ["rust", "cli", "web", "postgres", "auth", "deploy", "metrics", "docs", "testing", "grpc"]
    records = []
    for i in range(count):
        a, b = words[i % len(words)], words[(i // len(words)) % len(words)]
        records.append(make_record(f"bench{i % 97}/{a}-{b}-{i}", f"{a.title()} {b} generator number {i}",
                                   keys[i % len(keys)], version=f"{i % 7}.{i % 13}.{i % 5}",
                                   description=f"Bench {a} {b}", tags=(KEYWORD, a)))
    return records


class BenchNetwork:
    """Real MarketplaceNodes on loopback; holders keep the records under the one keyword.

    Records go straight into the holders' storage (as a publish of each would leave them), with the
    per-key cap raised on these nodes only. One search reads a bounded number of pages from each
    peer (lookup.MAX_PAGES_PER_PEER, sized for a full 1,024-record key), so the records are split
    into sets of PER_SET, each kept by a pair of holders (as replicas of one key are): 10,000 records
    are 2 sets on 4 holders (every result comes from two peers and is merged) among 8 nodes; at most
    KSIZE holders, so up to 50,000 records (beyond, `ReplayedHandle`).

    The holders stand for other machines, so they run in their own process (`--serve-holders`): their
    work answering pages is not the window's, and only the searcher's node shares its event loop.
    """

    def __init__(self) -> None:
        self.nodes: list[MarketplaceNode] = []

    @staticmethod
    def layout(count: int) -> tuple[int, int]:
        """(sets, holders per set) for `count` records: pairs, as many as the keyword's KSIZE closest hold."""
        sets = math.ceil(count / PER_SET)
        if 2 * sets > KSIZE:
            raise SystemExit(f"{count} records need {2 * sets} holders; the keyword's {KSIZE} closest nodes are the most")
        return sets, 2

    async def start(self, records: list[SignedRecord]) -> None:
        sets, replicas = self.layout(len(records))
        for _ in range(min(KSIZE, replicas * sets + 4)):
            node = MarketplaceNode(query_config=QUERY_CONFIG, remember_contacts=False)
            node.storage.max_per_key = len(records)
            node.storage.max_total = max(node.storage.max_total, len(records) * 2)
            node.storage.max_per_source = max(node.storage.max_per_source, len(records))
            node.storage.max_per_group = max(node.storage.max_per_group, len(records))
            await node.start(0, [n.address for n in self.nodes[:3]])
            self.nodes.append(node)
        for i, record in enumerate(records):
            first = replicas * (i % sets)
            for holder in self.nodes[first:first + replicas]:
                holder.storage.put(keyword_key(KEYWORD), record)

    async def stop(self) -> None:
        for node in self.nodes:
            await node.stop()


QUERY_CONFIG = QueryConfig(default_timeout=10.0, max_results=PAGE_RESULTS)
# One process of holders stands for up to 20 machines, so their answers queue behind each other (a page
# costs a holder ~30-70 ms of matching on a loaded 2-core machine): the searcher waits this long before it
# counts a holder as stalled and ends the lookup without it (the app's minimum is 50 ms, for real peers).
HOLDER_PATIENCE_S = 3.0


async def serve_holders(count: int) -> None:
    """The holders' process: sign the records, start the nodes, print where they are, serve until stdin closes."""
    records = make_records(count)
    network = BenchNetwork()
    await network.start(records)
    del records
    print(json.dumps({"bootstrap": [list(n.address) for n in network.nodes[:3]], "nodes": len(network.nodes)}),
          flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await network.stop()


class RemoteHolders:
    """The holders' process, seen from the window's process: where to join, and fresh searchers."""

    def __init__(self, count: int) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve-holders", str(count)], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the holders' process ended before it started its nodes")
        started = json.loads(line)
        self.bootstrap = [(host, port) for host, port in started["bootstrap"]]
        self.size = int(started["nodes"])

    async def searcher(self, data_dir: Path) -> tuple[MarketplaceNode, Database]:
        """A fresh node with its own SQLite database: nothing verified or known before its search."""
        database = Database(data_dir)
        node = MarketplaceNode(database, query_config=QUERY_CONFIG, remember_contacts=False)
        await node.start(0, self.bootstrap)
        deadline = time.monotonic() + 10.0
        while len(node.contacts()) < self.size and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # until it knows every holder, or a search may end before reaching them
        return node, database

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


class ReplayedHandle:
    """A search page replayed from records in memory, as `MarketplaceNode.search` hands them over: answer
    pages of PAGE_RECORDS (64) from two peers, a network round trip apart, in pages of PAGE_RESULTS.

    For row counts beyond what one keyword's holders can serve on loopback (50,000: KSIZE holders read
    up to lookup.MAX_PAGES_PER_PEER pages each): the window's share of the work (the session, model,
    proxy and view) at that size, without the node's per-answer work, which the runs through the real
    node path measure at 10,000 (it is per answer page, the same at any count)."""

    def __init__(self, records: list[SignedRecord], trace: QueryTrace, start: int = 0) -> None:
        self.records, self.trace, self.start = records, trace, start
        self.query_id = trace.query_id

    def __aiter__(self) -> AsyncIterator[SearchEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[SearchEvent]:
        end = min(self.start + PAGE_RESULTS, len(self.records))
        for first in range(self.start, end, PAGE_RECORDS):
            for peer in ("replayed-peer-a", "replayed-peer-b"):
                await asyncio.sleep(REPLAY_ROUND_TRIP_S)
                for record in self.records[first:min(first + PAGE_RECORDS, end)]:
                    if self.trace.status is not QueryStatus.RUNNING:
                        return
                    event = self.trace.add(record, peer)
                    if event is not None:
                        yield event
        self.trace.more = end < len(self.records)
        self.trace.finish(QueryStatus.FINISHED)

    def cancel(self) -> None:
        self.trace.finish(QueryStatus.CANCELLED)

    async def wait(self) -> QueryTrace:
        return self.trace

    def more(self) -> ReplayedHandle:
        self.trace.next_page()
        return ReplayedHandle(self.records, self.trace, self.start + PAGE_RESULTS)


class ReplayedSearcher:
    """What `stream_session` needs of a searcher, replaying `records` (no node, no database)."""

    def __init__(self, records: list[SignedRecord]) -> None:
        self.records = records

    def search(self, query: Query, config: QueryConfig | None = None) -> ReplayedHandle:
        return ReplayedHandle(self.records, QueryTrace(query))


REPLAY_ROUND_TRIP_S = 0.002


def shown_view(model: ResultsModel, sorted_by: int | None) -> ResultsView:
    """The results table as the window shows it (1200×800), sorted by a column or in arrival order."""
    view = ResultsView(model)
    view.resize(1200, 800)
    view.show()
    if sorted_by is not None:
        view.sortByColumn(sorted_by, Qt.SortOrder.AscendingOrder)
    return view


@dataclass
class PagedRun:
    """One search streamed page after page into a shown table, with the event loop's heartbeat."""

    model: ResultsModel
    view: ResultsView
    seconds: float
    pages: int
    stats: dict[str, float]  # the heartbeat's
    batch_ms: list[float]
    rss_before: int


async def stream_pages(searcher: Searcher, count: int, sorted_by: int | None) -> PagedRun:
    """The session → rate limiter → model → proxy → view path, "load more" until `count` rows are shown."""
    model = ResultsModel()
    view = shown_view(model, sorted_by)
    batch_ms = time_batches(model)
    session = SearchSession(model, TaskGroup())
    pages = [0]
    done = asyncio.get_running_loop().create_future()

    def page_finished(trace: QueryTrace) -> None:
        pages[0] += 1
        if not trace.more and model.rowCount() < count:
            print(f"search ended short: {trace.summary()}", flush=True)
        if model.rowCount() < count and session.load_more() is not None:
            return
        if not done.done():
            done.set_result(None)

    session.finished.connect(page_finished)
    await asyncio.sleep(0.05)
    gc.collect()
    GC_PAUSES.clear()  # from here on, only collections during the search
    rss_before = rss_kib()
    beat = Heartbeat()
    beat.start()
    started = time.perf_counter()
    session.start(searcher, Query(text=KEYWORD))
    await done
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.05)  # let the last paint happen inside the measurement
    return PagedRun(model, view, seconds, pages[0], beat.stop(), batch_ms, rss_before)


async def stream_replayed(records: list[SignedRecord], sorted_by: int | None = None) -> dict[str, float]:
    """The session → model → proxy → view path at any row count, fed by a replayed search."""
    count = len(records)
    run = await stream_pages(ReplayedSearcher(records), count, sorted_by)
    if run.model.rowCount() != count:
        raise ShortSearch(f"{run.model.rowCount()} rows shown of {count}")
    rss = round((rss_kib() - run.rss_before) / 1024.0 * 10_000 / count, 1)
    run.view.close()
    return {"seconds": round(run.seconds, 3), "pages": run.pages, **run.stats, "gui_batches": len(run.batch_ms),
            **batch_stats(run.batch_ms), "longest_gc_pause_ms": round(max(GC_PAUSES, default=0.0), 1),
            "rss_mib_per_10k_rows": rss}


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Heartbeat:
    """A 1 ms precise timer; every gap beyond the interval is time the loop could not run.

    A gap is wall time: on a loaded machine it includes time the process waited for a core. The
    main thread's CPU time inside each gap (`max_loop_cpu_ms`) is the work the loop itself did
    without a turn, what the code controls."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.clock = QElapsedTimer()
        self.gaps: list[float] = []
        self.cpu: list[float] = []
        self._last = 0.0
        self._last_cpu = 0.0
        self.ticks: list[float] = []  # perf_counter at each tick, for `GapTracer`
        self.faults: list[tuple[int, int]] = []  # and the main thread's page faults so far (major, minor)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.clock.start()
        self._last = 0.0
        self._last_cpu = time.thread_time()
        self.timer.start()

    def _tick(self) -> None:
        now, cpu = self.clock.nsecsElapsed() / 1e6, time.thread_time()
        self.gaps.append(max(0.0, now - self._last - 1.0))
        self.cpu.append((cpu - self._last_cpu) * 1000.0)
        self._last, self._last_cpu = now, cpu
        if TRACER is not None:
            self.ticks.append(time.perf_counter())
            usage = resource.getrusage(resource.RUSAGE_THREAD)
            self.faults.append((usage.ru_majflt, usage.ru_minflt))

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        if TRACER is not None:
            TRACER.report(self.ticks, self.gaps, self.cpu, self.faults)
        elapsed = self.clock.nsecsElapsed() / 1e6
        gaps = sorted(self.gaps) or [0.0]
        return {
            "max_stall_ms": round(gaps[-1], 2),
            "p99_stall_ms": round(gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))], 2),
            "max_loop_cpu_ms": round(max(self.cpu, default=0.0), 2),
            # share of wall time the loop was blocked: the naive model's cost shows here and in seconds
            "busy_pct": round(100.0 * sum(gaps) / max(elapsed, 1.0), 1),
            "load_avg_1min": round(os.getloadavg()[0], 2),  # cores busy on the machine (2 here, shared)
        }


async def stream_session(network: RemoteHolders, count: int, tmp: Path, sorted_by: int | None = None) -> dict[str, float]:
    """The app's path: node.search → SearchSession → rate limiter → model → proxy → view, page after page."""
    searcher, database = await network.searcher(tmp)
    transactions_before = database.transactions
    run = await stream_pages(searcher, count, sorted_by)
    await asyncio.wrap_future(database.background.flush())
    result = await finish_run(searcher, database, run.model.rowCount(), count, run.rss_before, transactions_before)
    run.view.close()
    return {"seconds": round(run.seconds, 3), "pages": run.pages, **run.stats, "gui_batches": len(run.batch_ms),
            **batch_stats(run.batch_ms), **result}


async def stream_naive(network: RemoteHolders, count: int, tmp: Path) -> dict[str, float]:
    """Baseline: every event of every page goes straight to the model (one beginInsertRows per result)."""
    searcher, database = await network.searcher(tmp)
    model = ResultsModel()
    view = ResultsView(model)
    view.resize(1200, 800)
    view.show()
    await asyncio.sleep(0.05)
    gc.collect()
    GC_PAUSES.clear()  # from here on, only collections during the search
    rss_before, transactions_before = rss_kib(), database.transactions
    beat = Heartbeat()
    beat.start()
    started = time.perf_counter()
    batch_ms = time_batches(model)
    handle = searcher.search(Query(text=KEYWORD))
    model.reset(handle.query_id)
    pages = 0
    while True:
        async for event in handle:
            model.add_events([event])
        trace = await handle.wait()
        pages += 1
        if model.rowCount() >= count or not trace.more:
            break
        handle = handle.more()
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.05)
    stats = beat.stop()
    await asyncio.wrap_future(database.background.flush())
    result = await finish_run(searcher, database, model.rowCount(), count, rss_before, transactions_before)
    view.close()
    return {"seconds": round(seconds, 3), "pages": pages, **stats, "gui_batches": len(batch_ms),
            **batch_stats(batch_ms), **result}


def time_batches(model: ResultsModel) -> list[float]:
    """Time each batch the model applies, the proxy's (re)sorting and the view's bookkeeping included:
    the GUI's own share of a stall, apart from the node's work (decoding, verifying, the holders' answers)."""
    durations: list[float] = []
    apply = model.add_events

    def timed(events: list[SearchEvent]) -> int:
        started = time.perf_counter()
        try:
            return apply(events)
        finally:
            durations.append((time.perf_counter() - started) * 1000.0)

    model.add_events = timed  # type: ignore[method-assign]
    return durations


def batch_stats(durations: list[float]) -> dict[str, float]:
    ordered = sorted(durations) or [0.0]
    return {"gui_max_batch_ms": round(ordered[-1], 2),
            "gui_p99_batch_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)}


class ShortSearch(Exception):
    """A search ended ("finished", no more pages) before every result was shown: a recall bug in the net layer."""


async def finish_run(searcher: MarketplaceNode, database: Database, rows: int, count: int,
                     rss_before: int, transactions_before: int) -> dict[str, float]:
    """Check every result is shown; count the database transactions and the memory the rows took."""
    if rows != count:
        await searcher.stop()
        database.close()
        raise ShortSearch(f"{rows} rows shown of {count}")
    rss_mib_per_10k = (rss_kib() - rss_before) / 1024.0 * 10_000 / count
    transactions = database.transactions - transactions_before
    store_cpu_s = thread_cpu_s("ggen-store")
    await searcher.stop()
    database.close()
    return {"longest_gc_pause_ms": round(max(GC_PAUSES, default=0.0), 1), "db_transactions": transactions,
            "store_thread_cpu_s": round(store_cpu_s, 2), "rss_mib_per_10k_rows": round(rss_mib_per_10k, 1)}


def thread_cpu_s(name: str) -> float:
    """CPU time of this process's running thread `name` so far (the searcher's store thread lives one run): a
    core it takes from the window's thread on a 2-core machine, and the GIL between its SQLite calls."""
    for thread in threading.enumerate():
        if thread.name == name and thread.native_id is not None:
            return int(Path(f"/proc/self/task/{thread.native_id}/schedstat").read_text().split()[0]) / 1e9
    return 0.0


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


class GapTracer:
    """`--trace-gaps N`: what ran inside the N heartbeat gaps of each run with the most main-thread cpu time,
    and inside the longest one.

    Records, with perf_counter times and nesting depth, every Qt event the application delivers
    (`TracingApplication.notify`: repaints, timers, sockets), every asyncio callback (a task's step is
    named by its coroutine), every garbage collection (with its generation) and the calls named in
    `WATCHED`; after each run, prints the intervals of at least MIN_MS that overlap each worst gap."""

    MIN_MS = 0.3
    WATCHED = (("ggen_desktop.net.lookup", "StreamingLookup", "_handle"),
               ("ggen_desktop.net.search_runner", "SearchRunner", "_answered"),
               ("ggen_desktop.gui.results_model", "ResultsModel", "add_events"),
               ("ggen_desktop.gui.results_proxy", "ResultsProxy", "_place_tail"),
               ("ggen_desktop.gui.results_proxy", "ResultsProxy", "_relayout"),
               ("ggen_desktop.gui.results_proxy", "ResultsProxy", "_data_changed"))

    def __init__(self, worst: int) -> None:
        self.worst = worst
        self.depth = 0
        self.spans: list[tuple[float, float, float, int, str]] = []  # start, end, main-thread cpu ms, depth, label
        self._gc_started = (0.0, 0.0)

    def install(self) -> None:
        import importlib
        tracer = self
        run = asyncio.events.Handle._run

        def traced_run(handle: asyncio.events.Handle) -> None:
            callback = handle._callback  # type: ignore[attr-defined]
            owner = getattr(callback, "__self__", None)
            label = (f"task {owner.get_coro().__qualname__}" if isinstance(owner, asyncio.Task)  # type: ignore[union-attr]
                     else f"callback {getattr(callback, '__qualname__', repr(callback))}")
            tracer.timed(label, run, handle)

        asyncio.events.Handle._run = traced_run  # type: ignore[method-assign]
        for module, cls, name in self.WATCHED:
            owner_class = getattr(importlib.import_module(module), cls)
            setattr(owner_class, name, self.wrapped(f"{cls}.{name}", getattr(owner_class, name)))
        gc.callbacks.append(self._gc)

    def wrapped(self, label: str, method: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            return self.timed(label, method, *args, **kwargs)
        return call

    def timed(self, label: str, function: Callable[..., object], *args: object, **kwargs: object) -> object:
        started, cpu = time.perf_counter(), time.thread_time()
        self.depth += 1
        try:
            return function(*args, **kwargs)
        finally:
            self.depth -= 1
            self.spans.append((started, time.perf_counter(), (time.thread_time() - cpu) * 1000.0, self.depth, label))

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = (time.perf_counter(), time.thread_time())
        else:
            started, cpu = self._gc_started
            self.spans.append((started, time.perf_counter(), (time.thread_time() - cpu) * 1000.0, self.depth,
                               f"gc generation {info['generation']} ({info['collected']} collected)"))

    def report(self, ticks: list[float], gaps: list[float], cpu: list[float], faults: list[tuple[int, int]]) -> None:
        """A gap's wall time beyond its cpu time is time the loop waited off the core; its page faults (major,
        minor) show big allocations (a dict of every row growing its table, ~2,000 faults at 87,000 rows)."""
        # the worst by the loop's own cpu time: on a shared machine, a gap's wall time also counts waits for a core
        order = set(sorted(range(1, len(ticks)), key=lambda i: cpu[i], reverse=True)[:self.worst])
        order.add(max(range(1, len(ticks)), key=lambda i: gaps[i], default=0))  # and the longest, whatever it was
        for i in sorted(order - {0}):
            start, end = ticks[i - 1], ticks[i]
            major, minor = (now - before for now, before in zip(faults[i], faults[i - 1], strict=True))
            print(f"  gap {gaps[i]:.1f} ms (loop cpu {cpu[i]:.1f} ms, page faults {major}/{minor}) at {start - ticks[0]:.3f} s:",
                  flush=True)
            for s, e, cpu_ms, depth, label in sorted(self.spans):
                if e > start and s < end and (e - s) * 1000.0 >= self.MIN_MS:
                    at, took = (s - start) * 1000.0, (e - s) * 1000.0
                    print(f"    {'  ' * depth}{at:+6.1f} {took:5.1f} ms (cpu {cpu_ms:4.1f}) {label}", flush=True)
        self.spans.clear()


class TracingApplication(QApplication):
    """Times every event delivered to a top-level receiver, for `GapTracer`."""

    def notify(self, receiver: object, event: object) -> bool:  # type: ignore[override]
        if TRACER is None:
            return super().notify(receiver, event)  # type: ignore[arg-type]
        name = f"qt {type(receiver).__name__}:{event.type().name}"  # type: ignore[attr-defined]
        return bool(TRACER.timed(name, super().notify, receiver, event))


TRACER: GapTracer | None = None


GC_PAUSES: list[float] = []


def gc_pauses() -> list[float]:
    """Record the duration of each garbage collection (a gen-2 pass over 10,000 records is a stall too)."""
    pauses = GC_PAUSES
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - started[0]) * 1000.0)

    gc.callbacks.append(callback)
    return pauses


async def measure_replayed(count: int, modes: list[str], repeat: int) -> dict[str, list[dict[str, float]]]:
    """Beyond what the loopback network serves: the window's path fed by a replayed search."""
    print(f"signing {count} records…", flush=True)
    records = make_records(count)
    gc.collect()
    gc.freeze()  # signed before the search: like the app's start-up objects, not the search's
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in modes}
    for _ in range(repeat):
        for name in modes:
            run = await stream_replayed(records, ResultsModel.Columns.NAME if name == "sorted" else None)
            runs[name].append(run)
            print(f"{name} (replayed): {run}", flush=True)
    runs["short_searches"] = [{"count": 0}]
    return runs


async def measure(count: int, modes: list[str], repeat: int) -> dict[str, list[dict[str, float]]]:
    """Start the holders once; each run gets a fresh searcher (own database, nothing verified yet)."""
    if count > PER_SET * KSIZE // 2:
        return await measure_replayed(count, [m for m in modes if m != "naive"], repeat)
    print(f"signing {count} records in the holders' process…", flush=True)
    network = RemoteHolders(count)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in modes}
    short: list[str] = []  # reported in the JSON line: a search that misses results is a bug, not noise
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(repeat):
                for name in modes:
                    for attempt in range(ATTEMPTS):
                        folder = Path(tmp) / f"{name}-{round_}-{attempt}"
                        try:
                            if name == "naive":
                                run = await stream_naive(network, count, folder)
                            else:
                                run = await stream_session(network, count, folder,
                                                           ResultsModel.Columns.NAME if name == "sorted" else None)
                            break
                        except ShortSearch as exc:
                            short.append(f"{name}: {exc}")
                            print(f"{name}: {exc}; searching again with a fresh node", flush=True)
                    else:
                        raise ShortSearch(f"{name}: every one of {ATTEMPTS} searches ended short")
                    runs[name].append(run)
                    print(f"{name}: {run}", flush=True)
    finally:
        network.stop()
    runs["short_searches"] = [{"count": len(short)}]
    return runs


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs (and the worst of the worst stalls, apart)."""
    summary = {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}
    summary["worst_max_stall_ms"] = max(run["max_stall_ms"] for run in runs)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=RESULTS, help="results under the keyword (e.g. 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode; figures are their medians")
    parser.add_argument("--modes", default="unsorted,sorted,naive", help="of unsorted, sorted, naive")
    parser.add_argument("--no-startup", action="store_true", help="skip timing the app's start")
    parser.add_argument("--trace-gaps", type=int, default=0, metavar="N",
                        help="print what ran inside each run's N longest stalls (slows the loop a little)")
    parser.add_argument("--serve-holders", type=int, metavar="ROWS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_holders:
        quiet_library_loggers()
        asyncio.run(serve_holders(args.serve_holders))
        return
    stall_rule.MIN_STALL_S = HOLDER_PATIENCE_S
    global TRACER
    app = (TracingApplication if args.trace_gaps else QApplication)(sys.argv[:1])
    if args.trace_gaps:
        TRACER = GapTracer(args.trace_gaps)
        TRACER.install()
    app.setQuitOnLastWindowClosed(False)  # each run closes its view; the loop must go on
    quiet_library_loggers()
    gc_pauses()
    gc.freeze()  # as the app does once it has joined; the records below arrive "later", unfrozen
    modes = args.modes.split(",")
    runs = run_async(lambda: measure(args.rows, modes, args.repeat))
    assert isinstance(runs, dict)
    report: dict[str, object] = {
        "results": args.rows, "runs_per_mode": args.repeat,
        "path": "node.search on loopback (verify, merge, database) -> SearchSession -> ResultsModel -> ResultsView; "
                "holders in their own process",
        "searches_ended_short": runs["short_searches"][0]["count"],
    }
    for name in modes:
        if runs.get(name):
            report[name] = medians(runs[name])
    if args.rows > PER_SET * KSIZE // 2:
        report["path"] = "replayed search (verified records, pages of 64 from two peers) -> SearchSession -> " \
                         "ResultsModel -> ResultsView"
    if "naive" in modes and "unsorted" in modes:
        report["max_stall_ratio"] = round(report["naive"]["max_stall_ms"]  # type: ignore[index]
                                          / max(report["unsorted"]["max_stall_ms"], 0.01), 1)  # type: ignore[index]
    report["startup_ms"] = None if args.no_startup else startup_ms()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
