"""Folder resolution: explicit argument, then environment variable, then the platform default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import platformdirs
import pytest

from ggen_desktop.store import paths

CASES = [
    (paths.data_dir, paths.DATA_DIR_ENV, platformdirs.user_data_dir),
    (paths.config_dir, paths.CONFIG_DIR_ENV, platformdirs.user_config_dir),
    (paths.log_dir, paths.LOG_DIR_ENV, platformdirs.user_log_dir),
]


@pytest.mark.parametrize(("resolve", "env", "platform_default"), CASES)
def test_explicit_beats_environment_beats_platform(
    resolve: Callable[..., Path],
    env: str,
    platform_default: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(env, raising=False)
    assert resolve(create=False) == Path(platform_default("ggen-desktop", appauthor=False))
    monkeypatch.setenv(env, str(tmp_path / "from-env"))
    assert resolve(create=False) == tmp_path / "from-env"
    assert resolve(tmp_path / "explicit") == tmp_path / "explicit"
    assert (tmp_path / "explicit").is_dir()
    assert not (tmp_path / "from-env").exists()


def test_empty_environment_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, "")
    assert paths.data_dir(create=False) == Path(platformdirs.user_data_dir("ggen-desktop", appauthor=False))


def test_nested_folders_are_created(tmp_path: Path) -> None:
    assert paths.data_dir(tmp_path / "a" / "b").is_dir()


def test_files_inside_the_data_folder(tmp_path: Path) -> None:
    assert paths.database_path(tmp_path).parent == tmp_path
    assert paths.lock_path(tmp_path).parent == tmp_path
