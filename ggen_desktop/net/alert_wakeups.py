"""How libtorrent's alerts wake the event loop: a byte on a socket pair, never a Python callback.

libtorrent's `set_alert_fd` makes its network thread write one byte to a file descriptor whenever its
alert queue turns non-empty. That thread then needs neither the GIL nor any Python object. A
`set_alert_notify` callable needs both: libtorrent's thread takes the GIL to call it, which deadlocks while
the session's destructor holds the GIL and joins that thread, and the bindings drop the callable on that
thread without the GIL when the session goes (libtorrent #4638, PR #8075). The old close() kept an alert
queued so that no notification fired during destruction; with the fd there is nothing to guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable


class AlertWakeups:
    """The socket pair libtorrent writes a byte to when alerts are waiting, read on the event loop.

    `fd` is the end libtorrent writes to; both ends are non-blocking, so a full buffer (after `stop`, nobody
    reads) costs libtorrent a failed write, never a blocked thread. Loops without `add_reader` (asyncio's
    Proactor loop on Windows) get a relay thread that waits on the socket and calls `drain` on the loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, drain: Callable[[], None]) -> None:
        self.loop, self.drain = loop, drain
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self.fd = self._writer.fileno()
        self._relay: threading.Thread | None = None
        self._reading = True
        try:
            self._reader.setblocking(False)
            loop.add_reader(self._reader.fileno(), self._readable)
        except NotImplementedError:
            self._reader.setblocking(True)
            self._relay = threading.Thread(target=self._relay_forever, name="libtorrent alert relay", daemon=True)
            self._relay.start()

    def _readable(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._reader.recv(4096):
                pass
        if self._reading:
            self.drain()

    def _relay_forever(self) -> None:
        """Relay thread: one drain per wake-up, until the writing end closes (`close`)."""
        with contextlib.suppress(OSError):
            while self._reader.recv(4096):
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to tell
                    self.loop.call_soon_threadsafe(self._relayed)
        self._reader.close()

    def _relayed(self) -> None:
        if self._reading:
            self.drain()

    def stop(self) -> None:
        """Drain no more (the session is closing); the sockets stay open for libtorrent's last writes."""
        self._reading = False
        if self._relay is None:
            self.loop.remove_reader(self._reader.fileno())

    def close(self) -> None:
        """Once the session is destroyed: nothing will write to `fd` again."""
        self.stop()
        self._writer.close()
        if self._relay is None:
            self._reader.close()
