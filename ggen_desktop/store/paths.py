"""Where ggen-desktop keeps its files: platform folders, overridable per run.

An explicit argument wins over the environment variable, which wins over the
platform default, so tests and several nodes on one machine can each use
their own folders without touching the user's real ones.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "ggen-desktop"
DATA_DIR_ENV = "GGEN_DESKTOP_DATA_DIR"
CONFIG_DIR_ENV = "GGEN_DESKTOP_CONFIG_DIR"
LOG_DIR_ENV = "GGEN_DESKTOP_LOG_DIR"
DATABASE_FILENAME = "ggen-desktop.sqlite3"
LOCK_FILENAME = "ggen-desktop.lock"


def _resolve(explicit: str | os.PathLike[str] | None, env_var: str, default: str, create: bool) -> Path:
    if explicit is not None:
        path = Path(explicit)
    elif os.environ.get(env_var):
        path = Path(os.environ[env_var])
    else:
        path = Path(default)
    path = path.expanduser()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir(explicit: str | os.PathLike[str] | None = None, *, create: bool = True) -> Path:
    """The folder holding the database and its lock file (`GGEN_DESKTOP_DATA_DIR` overrides)."""
    return _resolve(explicit, DATA_DIR_ENV, platformdirs.user_data_dir(APP_NAME, appauthor=False), create)


def config_dir(explicit: str | os.PathLike[str] | None = None, *, create: bool = True) -> Path:
    """The folder for settings files (`GGEN_DESKTOP_CONFIG_DIR` overrides)."""
    return _resolve(explicit, CONFIG_DIR_ENV, platformdirs.user_config_dir(APP_NAME, appauthor=False), create)


def log_dir(explicit: str | os.PathLike[str] | None = None, *, create: bool = True) -> Path:
    """The folder for log files (`GGEN_DESKTOP_LOG_DIR` overrides)."""
    return _resolve(explicit, LOG_DIR_ENV, platformdirs.user_log_dir(APP_NAME, appauthor=False), create)


def database_path(directory: Path) -> Path:
    """The SQLite file inside a data folder."""
    return directory / DATABASE_FILENAME


def lock_path(directory: Path) -> Path:
    """The lock file that marks a data folder as in use by one process."""
    return directory / LOCK_FILENAME
