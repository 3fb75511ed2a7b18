"""An asyncio event loop on simulated time: when nothing is ready to run, its clock jumps to the next timer.

Why: two thousand DHT nodes in one process on two cores make a real event loop
lag (callbacks queue behind each other), and that lag would be measured as if
it were network delay. On this loop, running Python takes no simulated time at
all: every `call_later`, `asyncio.sleep` and `wait_for` fires exactly when it is
due, however slow the machine, so latencies measured with `loop.time()` are the
modelled network's alone (event-loop lag is zero by construction).

How: the loop's selector is wrapped. `BaseEventLoop._run_once` asks the selector
to wait until the next timer is due; instead of sleeping, the wrapper polls the
real selector once (the self-pipe, for threads) and then moves the clock forward
by exactly that wait. The same idea as nolar's `looptime.LoopTimeEventLoop` and
aiotools' `VirtualClock`; written here because looptime's pytest plug-in patches
every pytest-asyncio loop of the suite once installed, and neither knows about
the simulated datagram network this loop carries (`tests.helpers.simnet`).

Threads (`run_in_executor`, e.g. a name lookup) take no simulated time either:
while one runs, the clock stands still and the loop waits for it in real time.
A loop with nothing ready and no timer that no thread wakes within
`STALL_GRACE_S` can never wake again; it raises `SimulationStalled` instead of
hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import time
import types
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

_T = TypeVar("_T")
THREAD_POLL_S = 0.01  # real seconds between looks at a running executor job
STALL_GRACE_S = 1.0  # real seconds an idle loop waits for some other thread before it is declared stuck


class SimulationStalled(RuntimeError):
    """Nothing is ready, no timer is due and no thread can wake the loop: it would wait forever."""


class _JumpingSelector:
    """A real selector whose waits move the owning loop's clock instead of sleeping."""

    def __init__(self, real: selectors.BaseSelector) -> None:
        self.real = real
        self.loop: VirtualClockLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self.real.select(0)
        if ready or timeout == 0:
            return ready
        loop = self.loop
        assert loop is not None, "the selector is used before its loop is built"
        if loop.threads_running():
            wait = THREAD_POLL_S if timeout is None else min(timeout, THREAD_POLL_S)
            return self.real.select(wait)  # simulated time stands still while a thread works
        if timeout is None:
            ready = self.real.select(STALL_GRACE_S)  # e.g. asyncio's own executor shutdown thread
            if ready:
                return ready
            raise SimulationStalled("the simulation is stuck: no callback is ready, no timer is scheduled "
                                    "and no thread is running, so nothing can ever happen again")
        loop.advance(timeout)
        return []

    def __getattr__(self, name: str) -> Any:
        """register, unregister, modify, get_key, get_map, close: the real selector's."""
        return getattr(self.real, name)


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose `time()` is simulated seconds since `start`."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._thread_jobs: set[asyncio.Future[Any]] = set()
        selector = _JumpingSelector(selectors.DefaultSelector())
        super().__init__(selector)  # type: ignore[arg-type]  # duck-typed: the loop only calls its methods
        selector.loop = self
        self.advanced_s = 0.0  # simulated seconds skipped while idle (the rest passed "during" callbacks: none)
        self.jumps = 0

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward; only the selector calls this, when nothing is ready."""
        if seconds > 0:
            self._now += seconds
            self.advanced_s += seconds
            self.jumps += 1

    def threads_running(self) -> bool:
        return any(not job.done() for job in self._thread_jobs)

    def run_in_executor(self, executor: Executor | None, func: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        job = super().run_in_executor(executor, func, *args)
        self._thread_jobs.add(job)
        job.add_done_callback(self._thread_jobs.discard)
        return job


class _LoopClockTime(types.ModuleType):
    """The `time` module, except that `monotonic()` reads the simulated loop's clock."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__("time")
        self.monotonic = loop.time

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextlib.contextmanager
def monotonic_is_loop_time(loop: asyncio.AbstractEventLoop, modules: Iterable[types.ModuleType]) -> Iterator[None]:
    """Make `time.monotonic()` inside `modules` (which `import time`) read `loop.time()`, then restore them.

    For code that measures round trips or stall deadlines with `time.monotonic()`
    although it schedules with the loop: on a simulated clock the two differ.
    """
    patched = [(module, module.time) for module in modules]
    try:
        for module, _ in patched:
            module.time = _LoopClockTime(loop)  # type: ignore[attr-defined]
        yield
    finally:
        for module, original in patched:
            module.time = original  # type: ignore[attr-defined]
