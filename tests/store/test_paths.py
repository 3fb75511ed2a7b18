"""Folder resolution: explicit argument, then environment variable, then the platform default."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from ggen_desktop.store import paths
from ggen_desktop.store.database import Database

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG folders are Linux's defaults")

# (resolver, its override variable, the XDG variable of its Linux default, the path below that folder)
CASES = [
    (paths.data_dir, paths.DATA_DIR_ENV, "XDG_DATA_HOME", "ggen-desktop"),
    (paths.config_dir, paths.CONFIG_DIR_ENV, "XDG_CONFIG_HOME", "ggen-desktop"),
    (paths.log_dir, paths.LOG_DIR_ENV, "XDG_STATE_HOME", "ggen-desktop/log"),
]


@pytest.mark.parametrize(("resolve", "env"), [case[:2] for case in CASES])
def test_explicit_beats_environment(
    resolve: Callable[..., Path], env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env, str(tmp_path / "from-env"))
    assert resolve(create=False) == tmp_path / "from-env"
    assert resolve(tmp_path / "explicit") == tmp_path / "explicit"
    assert (tmp_path / "explicit").is_dir()
    assert not (tmp_path / "from-env").exists()


@linux_only
@pytest.mark.parametrize(("resolve", "env", "xdg", "below"), CASES)
@pytest.mark.parametrize("env_value", [None, ""], ids=["unset", "empty"])
def test_without_an_override_the_linux_default_is_the_xdg_folder(
    resolve: Callable[..., Path], env: str, xdg: str, below: str, env_value: str | None,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if env_value is None:
        monkeypatch.delenv(env, raising=False)
    else:
        monkeypatch.setenv(env, env_value)
    monkeypatch.setenv(xdg, str(tmp_path / "xdg"))
    assert resolve(create=False) == tmp_path / "xdg" / below
    assert not (tmp_path / "xdg").exists()  # create=False creates nothing
    assert resolve().is_dir()


def test_nested_folders_are_created(tmp_path: Path) -> None:
    assert paths.data_dir(tmp_path / "a" / "b").is_dir()


def test_the_database_and_its_lock_keep_their_names_inside_the_data_folder(tmp_path: Path) -> None:
    """The file names are part of the on-disk format: renaming either would orphan an existing
    installation's data, or let an old and a new release open one folder at the same time."""
    with closing(Database(tmp_path / "data")):
        names = {p.name for p in (tmp_path / "data").iterdir()}
    assert {"ggen-desktop.sqlite3", "ggen-desktop.lock"} <= names
    assert list(tmp_path.iterdir()) == [tmp_path / "data"]  # nothing is written outside the folder
