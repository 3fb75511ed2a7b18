"""In and out traffic rates from the transport's running byte counters, sampled by a poll timer.

The transport counts every datagram's bytes (`bytes_in`, `bytes_out`); a rate
is the change over the last few samples divided by the time they span, so a
burst shows for a moment and then fades rather than jumping between extremes.
"""

from __future__ import annotations

from collections import deque

UNITS = ("B/s", "KB/s", "MB/s", "GB/s")


class TrafficMeter:
    """`sample(now, bytes_in, bytes_out)` returns (in, out) in bytes per second over the last `window` s."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int, int]] = deque()

    def sample(self, now: float, bytes_in: int, bytes_out: int) -> tuple[float, float]:
        if self._samples and (bytes_in < self._samples[-1][1] or bytes_out < self._samples[-1][2]):
            self._samples.clear()  # the counters started again (a new node): rates from here on
        self._samples.append((now, bytes_in, bytes_out))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()
        first_at, first_in, first_out = self._samples[0]
        span = now - first_at
        if span <= 0:
            return 0.0, 0.0
        return (bytes_in - first_in) / span, (bytes_out - first_out) / span


def format_rate(bytes_per_s: float) -> str:
    """"0 B/s", "512 B/s", "1.5 KB/s", "12 MB/s": three significant digits at most."""
    value = max(0.0, bytes_per_s)
    unit = 0
    while value >= 1000 and unit < len(UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{value:.0f} {UNITS[0]}"
    return f"{value:.1f} {UNITS[unit]}" if value < 10 else f"{value:.0f} {UNITS[unit]}"
