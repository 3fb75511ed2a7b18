"""User settings, each declared once as a typed field with its default, rule and description (Electrum's ConfigVar).

`Settings` is a frozen dataclass, so `settings.fan_out` is an `int` to mypy and
a value that breaks its rule cannot exist in one. Persisted as JSON in the
platform config folder; a bad value in the file is reported naming its setting
and falls back to its default, the rest are kept.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from ggen_desktop.core.query import QueryConfig, QueryError

log = logging.getLogger(__name__)

T = TypeVar("T")
SETTINGS_FILE = "settings.json"
_DECLARATION = "declaration"


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


@dataclass(frozen=True)
class Declaration(Generic[T]):
    """One setting: its default, its rule (returns the value to keep, raises on a bad one) and what it means.

    `needs_restart`: the node reads it only when it starts (it listens and joins once).
    """

    default: T
    rule: Callable[[str, object], T]
    description: str
    needs_restart: bool = False


def setting(default: T, rule: Callable[[str, object], T], description: str, *, needs_restart: bool = False) -> T:
    """A `Settings` field: typed as its default to mypy, with its declaration in the field's metadata."""
    declaration = Declaration(default, rule, description, needs_restart)
    return field(default=default, metadata={_DECLARATION: declaration})


def _query_rule(name: str, value: object) -> None:
    """The node's own rule and message for one of QueryConfig's fields."""
    try:
        QueryConfig(**{name: value})  # type: ignore[arg-type]  # checked by QueryConfig itself
    except QueryError as exc:
        raise SettingsError(str(exc)) from None


def _number(name: str, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{name} must be a number, not {json.dumps(value)}")
    return value


def _whole_number(name: str, value: object) -> int:
    number = _number(name, value)
    if not isinstance(number, int):
        raise SettingsError(f"{name} must be a whole number, not {number}")
    return number


def _seconds(name: str, value: object) -> float:
    seconds = float(_number(name, value))
    _query_rule(name, seconds)
    return seconds


def _query_count(name: str, value: object) -> int:
    count = _whole_number(name, value)
    _query_rule(name, count)
    return count


def _switch(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{name} must be true or false, not {json.dumps(value)}")
    return value


def _port(name: str, value: object) -> int:
    port = _whole_number(name, value)
    if not 0 <= port <= 65535:
        raise SettingsError(f"{name} must be a number from 0 (any free port) to 65535")
    return port


def _peers(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"{name} must be a list of HOST:PORT")
    for peer in value:
        parse_peer(peer)
    return tuple(peer.strip() for peer in value)


def _folder(name: str, value: object) -> str:
    """A folder given as an absolute path ("~" allowed), or "" for the default."""
    if not isinstance(value, str):
        raise SettingsError(f"{name} must be a folder path, not {json.dumps(value)}")
    value = value.strip()
    if value and not Path(value).expanduser().is_absolute():
        raise SettingsError(f"{name} must be an absolute path (or empty for the default), not '{value}'")
    return value


_QUERY = QueryConfig()


@dataclass(frozen=True)
class Settings:
    """Validated settings with load/save; `query_config()` builds the node's QueryConfig.

    Change one with `dataclasses.replace(settings, fan_out=5)`: the new value is checked
    on construction and a SettingsError names the setting that broke its rule.
    """

    default_timeout: float = setting(_QUERY.default_timeout, _seconds,
                                     "Seconds a search waits for answers before it returns partial results")
    max_results: int = setting(_QUERY.max_results, _query_count,
                               "A search stops early once it has this many distinct results")
    adaptive_timeout: bool = setting(_QUERY.adaptive_timeout, _switch,
                                     "Give each peer a timeout from its measured round-trip time")
    fan_out: int = setting(_QUERY.fan_out, _query_count, "How many peers are asked at the same time")
    listen_port: int = setting(0, _port, "UDP port this node listens on (0: any free port)", needs_restart=True)
    bootstrap_peers: tuple[str, ...] = setting((), _peers, "Peers to join (HOST:PORT); none means the built-in "
                                               "demo network", needs_restart=True)
    downloads_folder: str = setting("", _folder, "Folder downloaded archives are saved in (empty: \"downloads\" in "
                                    "the data folder)")
    seed_downloads: bool = setting(True, _switch, "Share the archives you download with other nodes while the app runs")

    def __post_init__(self) -> None:
        for name, declaration in declarations().items():
            object.__setattr__(self, name, _checked(name, getattr(self, name), declaration))

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> Settings:
        """Settings from plain values (a settings file, a form); raises SettingsError at the first bad one."""
        for name in values:
            if name not in declarations():
                raise SettingsError(f"unknown setting '{name}'")
        return cls(**cast(Mapping[str, Any], values))  # each value is checked by __post_init__

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values, as in the settings file (lists, not tuples)."""
        return {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(self).items()}

    def restart_needed(self, previous: Settings) -> list[str]:
        """The settings changed since `previous` that only take effect when the node starts again."""
        return [name for name, declaration in declarations().items()
                if declaration.needs_restart and getattr(self, name) != getattr(previous, name)]

    def query_config(self) -> QueryConfig:
        return replace(_QUERY, default_timeout=self.default_timeout, max_results=self.max_results,
                       adaptive_timeout=self.adaptive_timeout, fan_out=self.fan_out)

    def bootstrap(self) -> list[tuple[str, int]]:
        return [parse_peer(p) for p in self.bootstrap_peers]

    def downloads_dir(self, default: Path) -> Path:
        """Where downloads are saved: the chosen folder, else `default`."""
        return Path(self.downloads_folder).expanduser() if self.downloads_folder else default

    @classmethod
    def load(cls, config_dir: Path) -> tuple[Settings, list[str]]:
        """Settings from the file plus a list of problems found (each one setting kept at its default)."""
        path = Path(config_dir) / SETTINGS_FILE
        if not path.exists():
            return cls(), []
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            return cls(), [f"{path}: unreadable ({exc}); using defaults"]
        good: dict[str, object] = {}
        problems: list[str] = []
        for name, value in raw.items():
            try:
                cls.from_dict({name: value})
            except SettingsError as exc:
                problems.append(f"{path}: {exc}; using the default")
            else:
                good[name] = value
        for problem in problems:
            log.warning("%s", problem)
        return cls.from_dict(good), problems

    def save(self, config_dir: Path) -> Path:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        config_dir = Path(config_dir)
        config_dir.mkdir(parents=True, exist_ok=True)
        path = config_dir / SETTINGS_FILE
        fd, tmp = tempfile.mkstemp(dir=config_dir, prefix=".settings-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.as_dict(), handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return path


def declarations() -> dict[str, Declaration[Any]]:
    """Every setting's declaration by name, in the order they are declared."""
    return {f.name: f.metadata[_DECLARATION] for f in fields(Settings)}


def _checked(name: str, value: object, declaration: Declaration[T]) -> T:
    """The value its rule keeps; a message that names the setting once when it breaks the rule."""
    try:
        return declaration.rule(name, value)
    except (SettingsError, TypeError, ValueError) as exc:
        message = str(exc)
        raise SettingsError(message if message.startswith(name) else f"{name}: {message}") from None
