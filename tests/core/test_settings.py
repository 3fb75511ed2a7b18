"""Settings validate each value, round-trip through their file, and survive a bad file."""

import json
from pathlib import Path

import pytest

from ggen_desktop.core.settings import SETTINGS_FILE, Settings, SettingsError, parse_peer


def test_defaults_are_the_seeds_query_config() -> None:
    config = Settings().query_config()
    assert (config.default_timeout, config.max_results, config.adaptive_timeout, config.fan_out) == (10.0, 20, True, 3)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("fan_out", 0, "fan_out"),
        ("max_results", "many", "max_results"),
        ("default_timeout", -1, "default_timeout"),
        ("listen_port", 70000, "listen_port"),
        ("bootstrap_peers", ["nohost"], "HOST:PORT"),
        ("bootstrap_peers", ["1.2.3.4:0"], "port"),
        ("colour", "blue", "unknown setting"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(name: str, value: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings().set(name, value)


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    settings = Settings({"fan_out": 5, "bootstrap_peers": ["127.0.0.1:4433", "[::1]:9000"], "listen_port": 4500})
    settings.save(tmp_path)
    loaded, problems = Settings.load(tmp_path)
    assert problems == []
    assert loaded.as_dict() == settings.as_dict()
    assert loaded.bootstrap() == [("127.0.0.1", 4433), ("::1", 9000)]


def test_one_bad_value_in_the_file_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"fan_out": 99, "max_results": 7}))
    loaded, problems = Settings.load(tmp_path)
    assert loaded.get("max_results") == 7 and loaded.get("fan_out") == 3
    assert len(problems) == 1 and "fan_out" in problems[0]


def test_unreadable_file_means_defaults_and_a_message(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text("{not json")
    loaded, problems = Settings.load(tmp_path)
    assert loaded.as_dict() == Settings().as_dict()
    assert "unreadable" in problems[0]


def test_parse_peer() -> None:
    assert parse_peer(" example.org:4433 ") == ("example.org", 4433)
