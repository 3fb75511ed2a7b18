"""User settings, each declared once with its default, check and description (Electrum style).

Persisted as JSON in the platform config folder. A bad value in the file is
reported and that one setting falls back to its default; the rest are kept.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ggen_desktop.core.query import QueryConfig

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"
# The node listens and joins once, at start; every other setting applies to the next search.
NEEDS_RESTART = ("listen_port", "bootstrap_peers")
DEFAULT_PORT = 4433


class SettingsError(ValueError):
    """A setting's value broke its rule; the message names the setting."""


def parse_peer(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv4, name or [IPv6]) into a tuple, with a message that says what is wrong."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise SettingsError(f"peer '{text}' must be HOST:PORT, for example 127.0.0.1:4433")
    host = host.strip("[]")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise SettingsError(f"peer '{text}': port must be a number from 1 to 65535")
    return host, int(port_text)


def _port(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        raise SettingsError("listen_port must be a number from 0 (any free port) to 65535")
    return value


def _peers(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingsError("bootstrap_peers must be a list of HOST:PORT")
    for peer in value:
        parse_peer(peer)
    return [v.strip() for v in value]


def _query_field(name: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        QueryConfig(**{name: value})
        return value

    return check


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    check: Callable[[Any], Any]
    description: str


_QUERY_DEFAULTS = QueryConfig()
SETTINGS: tuple[Setting, ...] = (
    Setting("default_timeout", _QUERY_DEFAULTS.default_timeout, _query_field("default_timeout"),
            "Seconds a search waits for answers before it returns partial results"),
    Setting("max_results", _QUERY_DEFAULTS.max_results, _query_field("max_results"),
            "A search stops early once it has this many distinct results"),
    Setting("adaptive_timeout", _QUERY_DEFAULTS.adaptive_timeout, _query_field("adaptive_timeout"),
            "Give each peer a timeout from its measured round-trip time"),
    Setting("fan_out", _QUERY_DEFAULTS.fan_out, _query_field("fan_out"),
            "How many peers are asked at the same time"),
    Setting("listen_port", 0, _port, "UDP port this node listens on (0: any free port)"),
    Setting("bootstrap_peers", [], _peers,
            "Peers to join (HOST:PORT); none means the built-in demo network"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


class Settings:
    """Validated settings with load/save; `query_config()` builds the node's QueryConfig."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self._values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
        for name, value in (values or {}).items():
            self.set(name, value)

    def get(self, name: str) -> Any:
        return self._values[name]

    def set(self, name: str, value: Any) -> None:
        setting = _BY_NAME.get(name)
        if setting is None:
            raise SettingsError(f"unknown setting '{name}'")
        try:
            setting.check(value)
        except (ValueError, TypeError) as exc:
            raise SettingsError(f"{name}: {exc}") from None
        self._values[name] = value

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def restart_needed(self, previous: Settings) -> list[str]:
        """The settings changed since `previous` that only take effect when the node starts again."""
        return [name for name in NEEDS_RESTART if self.get(name) != previous.get(name)]

    def query_config(self) -> QueryConfig:
        return QueryConfig(
            default_timeout=float(self.get("default_timeout")),
            max_results=self.get("max_results"),
            adaptive_timeout=self.get("adaptive_timeout"),
            fan_out=self.get("fan_out"),
        )

    def bootstrap(self) -> list[tuple[str, int]]:
        return [parse_peer(p) for p in self.get("bootstrap_peers")]

    @classmethod
    def load(cls, config_dir: Path) -> tuple[Settings, list[str]]:
        """Settings from the file plus a list of problems found (each one setting kept at default)."""
        path = Path(config_dir) / SETTINGS_FILE
        settings = cls()
        problems: list[str] = []
        if not path.exists():
            return settings, problems
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            return settings, [f"{path}: unreadable ({exc}); using defaults"]
        for name, value in raw.items():
            try:
                settings.set(name, value)
            except SettingsError as exc:
                problems.append(f"{path}: {exc}; using the default")
        for problem in problems:
            log.warning("%s", problem)
        return settings, problems

    def save(self, config_dir: Path) -> Path:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        config_dir = Path(config_dir)
        config_dir.mkdir(parents=True, exist_ok=True)
        path = config_dir / SETTINGS_FILE
        fd, tmp = tempfile.mkstemp(dir=config_dir, prefix=".settings-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self._values, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return path
