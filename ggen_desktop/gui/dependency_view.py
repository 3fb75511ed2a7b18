"""Dependencies before a download: the details pane shows each dependency of the selected package as
available (the newest matching version a node seeds, and how many nodes seed it) or missing (and why),
and "Download with dependencies" fetches the package and every available dependency.

Resolution runs on the network (App.resolve_dependencies, net/dependencies.py) in the window's
TaskGroup, once per package version and publisher; an answer is reused for RESOLVED_TTL_S, after which
the next look asks again (seeders come and go).
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from ggen_desktop.core.package import Package
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import SearchHit
from ggen_desktop.gui.tasks import TaskGroup

if TYPE_CHECKING:
    from ggen_desktop.app import App, DependencyStatus

RESOLVED_TTL_S = 60.0
Identity = tuple[str, str, str]


class DependencyCheck(QObject):
    """Resolves the dependencies of the records it is shown, caching each answer.

    Signal: `resolved(record)` when a record's dependencies are known.
    """

    resolved = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app: App | None = None
        self.tasks: TaskGroup | None = None
        self._answers: dict[Identity, tuple[float, list[DependencyStatus]]] = {}
        self._running: dict[Identity, asyncio.Task[list[DependencyStatus]]] = {}
        self._download: Callable[[Package], None] = lambda _package: None
        self._say: Callable[[str], None] = lambda _text: None

    def attach(self, app: App, tasks: TaskGroup, download: Callable[[Package], None], say: Callable[[str], None]) -> None:
        """The engine to ask, the tasks to run in, how to start one download, and where to say what happened."""
        self.app, self.tasks, self._download, self._say = app, tasks, download, say

    def statuses(self, record: SignedRecord) -> list[DependencyStatus] | None:
        """The record's resolved dependencies, or None while they are being looked up (a lookup starts)."""
        answer = self._answers.get(record.identity)
        if answer is not None and time.monotonic() - answer[0] < RESOLVED_TTL_S:
            return answer[1]
        self._start(record)
        return answer[1] if answer is not None else None  # an old answer stays in view while the new one comes

    async def wait(self, record: SignedRecord) -> list[DependencyStatus]:
        """The record's dependencies, resolved now if they are not known."""
        known = self.statuses(record)
        running = self._running.get(record.identity)
        if running is None:  # known, or nothing to resolve (no dependencies, or no engine yet)
            return known or []
        return await asyncio.shield(running)

    def download_with_dependencies(self, hit: SearchHit) -> None:
        """Fetch the package and each available dependency (after resolving them, if that is still under way)."""
        if self.tasks is not None:
            self.tasks.spawn(self._download_all(hit.record), f"downloading {hit.record.package.id} with dependencies")

    async def _download_all(self, record: SignedRecord) -> None:
        statuses = await self.wait(record)
        self._download(record.package)
        for status in statuses:
            if status.package is not None and status.available:
                self._download(status.package)
        missing = [s for s in statuses if not s.available]
        fetched = len(statuses) - len(missing)
        text = f"Downloading {record.package.id} and {fetched} dependenc{'y' if fetched == 1 else 'ies'}"
        if missing:
            text += "; not available: " + "; ".join(s.describe() for s in missing)
        self._say(text)

    def _start(self, record: SignedRecord) -> None:
        identity = record.identity
        if self.app is None or self.tasks is None or identity in self._running or not record.package.dependencies:
            return
        task = self.tasks.spawn(self._resolve(record), f"resolving the dependencies of {record.package.id}")
        self._running[identity] = task

    async def _resolve(self, record: SignedRecord) -> list[DependencyStatus]:
        assert self.app is not None
        try:
            statuses = await self.app.resolve_dependencies(record)
        finally:
            self._running.pop(record.identity, None)
        self._answers[record.identity] = (time.monotonic(), statuses)
        self.resolved.emit(record)
        return statuses


def dependencies_html(package: Package, statuses: list[DependencyStatus] | None) -> str:
    """The details pane's Dependencies value: each dependency with its availability, once known."""
    e = html.escape
    if not package.dependencies:
        return "none"
    if statuses is None:
        return "<br>".join(f"{e(str(d.id))} {e(d.requirement)}: <i>looking on the network…</i>"
                           for d in package.dependencies)
    lines = []
    for status in statuses:
        wanted = f"<code>{e(str(status.dependency.id))}</code> {e(status.dependency.requirement)}"
        if status.available and status.package is not None:
            count = status.providers
            lines.append(f"✓ {wanted}: available, {e(str(status.package.version))} from {count} "
                         f"provider{'s' if count != 1 else ''}")
        else:
            lines.append(f"✗ {wanted}: <b>missing</b>: {e(status.reason)}")
    return "<br>".join(lines)
