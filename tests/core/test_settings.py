"""Settings are typed fields that validate each value, round-trip through their file, and survive a bad file."""

import json
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from ggen_desktop.core.settings import SETTINGS_FILE, Settings, SettingsError, declarations, parse_peer

# A settings file as ggen-desktop 0.1.0 wrote it (before settings were typed fields).
OLD_FILE = """{
  "adaptive_timeout": false,
  "bootstrap_peers": [
    "127.0.0.1:4433",
    "[::1]:9000"
  ],
  "default_timeout": 4.5,
  "fan_out": 5,
  "listen_port": 4500,
  "max_results": 77
}"""


def test_defaults_are_the_seeds_query_config() -> None:
    config = Settings().query_config()
    assert (config.default_timeout, config.max_results, config.adaptive_timeout, config.fan_out) == (10.0, 20, True, 3)
    assert Settings().listen_port == 0 and Settings().bootstrap_peers == ()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("fan_out", 0, "^fan_out must be a whole number from 1 to 16$"),
        ("fan_out", 2.5, "^fan_out must be a whole number"),
        ("max_results", "many", "^max_results must be a number"),
        ("max_results", True, "^max_results must be a number, not true"),
        ("default_timeout", -1, "^default_timeout must be between"),
        ("adaptive_timeout", 1, "^adaptive_timeout must be true or false"),
        ("listen_port", 70000, "^listen_port must be a number from 0"),
        ("bootstrap_peers", ["nohost"], "^bootstrap_peers: peer 'nohost' must be HOST:PORT"),
        ("bootstrap_peers", ["1.2.3.4:0"], "^bootstrap_peers: .*port must be"),
        ("bootstrap_peers", "1.2.3.4:80", "^bootstrap_peers must be a list"),
        ("downloads_folder", "relative/dir", "^downloads_folder must be an absolute path .or empty for the default., "
                                             "not 'relative/dir'$"),
        ("downloads_folder", 7, "^downloads_folder must be a folder path, not 7$"),
        ("seed_downloads", "yes", '^seed_downloads must be true or false, not "yes"$'),
        ("colour", "blue", "^unknown setting 'colour'$"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(name: str, value: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_dict({name: value})


def test_a_typed_change_is_checked_too_and_settings_are_immutable() -> None:
    settings = replace(Settings(), fan_out=5, default_timeout=2)
    assert settings.fan_out == 5 and settings.default_timeout == 2.0 and isinstance(settings.default_timeout, float)
    with pytest.raises(SettingsError, match="^fan_out"):
        replace(settings, fan_out=17)
    with pytest.raises(FrozenInstanceError):
        settings.fan_out = 4  # type: ignore[misc]


def test_every_setting_is_declared_with_a_default_and_a_description() -> None:
    declared = declarations()
    assert list(declared) == ["default_timeout", "max_results", "adaptive_timeout", "fan_out", "listen_port",
                              "bootstrap_peers", "downloads_folder", "seed_downloads"]
    assert all(d.description for d in declared.values())
    assert Settings().as_dict() == {name: list(d.default) if isinstance(d.default, tuple) else d.default
                                    for name, d in declared.items()}
    assert [name for name, d in declared.items() if d.needs_restart] == ["listen_port", "bootstrap_peers"]


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    settings = Settings.from_dict({"fan_out": 5, "bootstrap_peers": ["127.0.0.1:4433", "[::1]:9000"],
                                   "listen_port": 4500})
    settings.save(tmp_path)
    loaded, problems = Settings.load(tmp_path)
    assert problems == []
    assert loaded == settings
    assert loaded.bootstrap() == [("127.0.0.1", 4433), ("::1", 9000)]


def test_a_file_written_before_settings_were_typed_loads_and_is_written_back_the_same(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text(OLD_FILE)
    loaded, problems = Settings.load(tmp_path)
    assert problems == []
    assert (loaded.fan_out, loaded.max_results, loaded.default_timeout, loaded.adaptive_timeout) == (5, 77, 4.5, False)
    assert loaded.listen_port == 4500 and loaded.bootstrap_peers == ("127.0.0.1:4433", "[::1]:9000")
    loaded.save(tmp_path)  # written back with every old value as it was, and the later settings at their defaults
    assert json.loads((tmp_path / SETTINGS_FILE).read_text()) == {**json.loads(OLD_FILE), "downloads_folder": "",
                                                                  "seed_downloads": True}


def test_one_bad_value_in_the_file_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"fan_out": 99, "max_results": 7, "colour": "blue"}))
    loaded, problems = Settings.load(tmp_path)
    assert loaded.max_results == 7 and loaded.fan_out == 3
    assert len(problems) == 2
    assert "fan_out must be a whole number from 1 to 16; using the default" in problems[0]
    assert "unknown setting 'colour'" in problems[1]


def test_unreadable_file_means_defaults_and_a_message(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text("{not json")
    loaded, problems = Settings.load(tmp_path)
    assert loaded == Settings()
    assert "unreadable" in problems[0]


def test_restart_needed_names_only_what_the_node_reads_at_start() -> None:
    before = Settings()
    after = replace(before, fan_out=5, listen_port=4500, bootstrap_peers=("127.0.0.1:4433",))
    assert after.restart_needed(before) == ["listen_port", "bootstrap_peers"]
    assert replace(before, fan_out=5).restart_needed(before) == []


def test_parse_peer() -> None:
    assert parse_peer(" example.org:4433 ") == ("example.org", 4433)


def test_download_settings_default_to_the_data_folder_and_seeding(tmp_path: Path) -> None:
    """A file from before the download settings existed loads with their defaults: downloads go to the
    default folder and are seeded. A chosen folder ("~" allowed) replaces the default."""
    (tmp_path / SETTINGS_FILE).write_text(OLD_FILE)
    settings, problems = Settings.load(tmp_path)
    assert problems == [] and settings.downloads_folder == "" and settings.seed_downloads is True
    assert settings.downloads_dir(tmp_path / "data" / "downloads") == tmp_path / "data" / "downloads"
    chosen = replace(settings, downloads_folder=" ~/Archives ", seed_downloads=False)
    assert chosen.downloads_folder == "~/Archives" and chosen.downloads_dir(tmp_path) == Path.home() / "Archives"
    chosen.save(tmp_path)
    assert Settings.load(tmp_path) == (chosen, [])
    assert json.loads((tmp_path / SETTINGS_FILE).read_text())["seed_downloads"] is False
