"""Composition root: settings, database, node and (without a bootstrap peer) the demo network.

Both front ends build one `App`: the GUI wraps it in Qt, the CLI drives it
headless. It owns start-up and shutdown order: the database opens first (and
refuses a data folder another process holds), the demo network starts before
the node that joins it, and shutdown runs the other way round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from ggen_desktop.core.settings import Settings, SettingsError, parse_peer
from ggen_desktop.net.demo import DemoNetwork
from ggen_desktop.net.node import MarketplaceNode, NodeError
from ggen_desktop.store import paths
from ggen_desktop.store.database import Database

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


class App:
    """One running ggen-desktop: what the GUI and the CLI share."""

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        config_dir: Path | None = None,
        port: int | None = None,
        bootstrap: Sequence[str] = (),
        demo_size: int = 24,
        interface: str | None = None,
        allow_demo: bool = True,
    ) -> None:
        """Load settings and open the database; raises NodeError for a bad bootstrap address and
        StoreLocked (one sentence) when another process holds the data folder. With
        `allow_demo=False` and no bootstrap peer the node starts a network of its own."""
        self.config_dir = paths.config_dir(config_dir)
        self.settings, self.settings_problems = Settings.load(self.config_dir)
        try:
            self._bootstrap = [parse_peer(p) for p in bootstrap] or self.settings.bootstrap()
        except SettingsError as exc:
            raise NodeError(str(exc)) from None
        self._port = port
        self.is_demo = allow_demo and not self._bootstrap
        self.demo_size = demo_size
        self._interface = interface or ("127.0.0.1" if self.is_demo else "0.0.0.0")
        self.database = Database(data_dir)
        # Demo peers live for one run: do not mix their addresses into the saved contacts.
        self.node = MarketplaceNode(self.database, self.settings.query_config(), remember_contacts=not self.is_demo)
        self.demo: DemoNetwork | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        return self._port if self._port is not None else int(self.settings.get("listen_port"))

    async def start(self, progress: Progress | None = None) -> None:
        """Start the demo network when there is no bootstrap peer, then the node."""
        report = progress or (lambda stage, done, total: None)
        bootstrap = list(self._bootstrap)
        if self.is_demo:
            self.demo = DemoNetwork(self.demo_size)
            bootstrap = await self.demo.start(lambda done, total: report("Starting demo network", done, total))
        report("Joining", 0, 1)
        await self.node.start(self.port, bootstrap, self._interface)
        report("Joining", 1, 1)

    async def stop(self) -> None:
        """Node, then demo, then database. A second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        try:
            await self.node.stop()
        finally:
            try:
                if self.demo is not None:
                    await self.demo.stop()
            finally:
                self.database.close()

    def apply_settings(self, settings: Settings) -> list[str]:
        """Save, and apply what can change live (the query config); returns the changed settings
        that wait for the next start (port, bootstrap peers)."""
        settings.save(self.config_dir)
        waiting = settings.restart_needed(self.settings)
        self.settings = settings
        self.node.query_config = settings.query_config()
        return waiting
