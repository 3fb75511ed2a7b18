"""The publish panel: field-level validation, identity on first use, publish, then find it by search."""

from __future__ import annotations

from pathlib import Path

import keyring
from keyring.backends import fail
from pytestqt.qtbot import QtBot

from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.publish_panel import PublishPanel, sha256_file
from tests.gui.test_search import search

GOOD = {
    "id": "gui-test/zephyr-widget",
    "version": "1.4.0",
    "title": "Zephyr widget generator",
    "description": "Generates zephyr widgets for testing the publish form",
    "categories": "Utility, Testing",
    "tags": "zephyr, widget",
    "license": "MIT",
    "homepage": "https://example.org/zephyr",
    "repository": "",
    "content_hash": "sha256:" + "ab" * 32,
}


def fill(panel: PublishPanel, values: dict[str, str]) -> None:
    for name, value in values.items():
        panel.set_text(name, value)


def test_invalid_fields_get_messages_next_to_them_and_nothing_is_sent(qtbot: QtBot, window: MainWindow) -> None:
    panel = window.publish_panel
    fill(panel, {**GOOD, "id": "Bad Id", "version": "one", "tags": "Has Space", "homepage": "ftp://x",
                 "content_hash": "md5:123"})
    asked: list[str] = []
    panel.confirm = lambda title, text: asked.append(title) or True  # type: ignore[func-returns-value]
    panel.publish_button.click()
    for name, fragment in (("id", "lowercase"), ("version", "semantic version"), ("tags", "lowercase"),
                           ("homepage", "http(s) URL"), ("content_hash", "sha256")):
        assert panel.errors[name].isVisibleTo(panel), name
        assert fragment in panel.errors[name].text(), (name, panel.errors[name].text())
    for name in ("title", "description", "categories", "license"):
        assert not panel.errors[name].isVisibleTo(panel)
    assert "5 fields to fix" in panel.form_error.text()
    assert not asked and window.app.node.my_packages() == []  # type: ignore[union-attr]


def test_publish_creates_an_identity_then_a_search_finds_the_package(qtbot: QtBot, window: MainWindow) -> None:
    panel = window.publish_panel
    assert "No publisher key yet" in panel.identity_label.text()
    fill(panel, GOOD)
    asked: list[str] = []
    panel.confirm = lambda title, text: asked.append(title) or True  # type: ignore[func-returns-value]
    panel.publish_button.click()
    assert asked == ["Create a publisher key?"]
    assert panel.identity is not None and panel.identity.fingerprint in panel.identity_label.text()
    qtbot.waitUntil(lambda: panel.result_label.text().startswith("✓"), timeout=15000)
    assert "Published gui-test/zephyr-widget 1.4.0" in panel.result_label.text()
    assert "stored on" in panel.result_label.text()
    qtbot.waitUntil(lambda: panel.my_packages.rowCount() == 1, timeout=2000)
    assert panel.my_packages.row(0)[:2] == ("gui-test/zephyr-widget", "1.4.0")
    trace = search(qtbot, window, "zephyr")
    model = window.results_model
    assert trace.result_count >= 1
    hit = next(model.hit(r) for r in range(model.rowCount()) if str(model.hit(r).record.package.id) == GOOD["id"])
    assert hit.record.fingerprint == panel.identity.fingerprint


def test_without_a_keyring_the_panel_says_so_and_a_key_file_works(qtbot: QtBot, window: MainWindow,
                                                                  tmp_path: Path) -> None:
    keyring.set_keyring(fail.Keyring())
    panel = window.publish_panel
    panel.identity = None
    fill(panel, GOOD)
    panel.publish_button.click()
    assert "keyring is unavailable" in panel.identity_label.text()
    assert panel.identity is None
    key = tmp_path / "publisher.key"
    panel.choose_key_path = lambda: str(key)
    panel.form.findChild(type(panel.publish_button), "keyFileButton").click()
    assert key.exists() and panel.identity is not None
    assert "key file" in panel.identity_label.text()


def test_loading_a_manifest_fills_the_form(window: MainWindow, tmp_path: Path) -> None:
    archive = tmp_path / "pkg.tar.gz"
    archive.write_bytes(b"archive bytes")
    manifest = tmp_path / "ggen-package.toml"
    manifest.write_text(
        '[package]\nid = "acme/from-toml"\nversion = "0.3.0"\ntitle = "From a manifest"\ntags = ["toml"]\n'
        'archive = "pkg.tar.gz"\n', encoding="utf-8")
    panel = window.publish_panel
    assert panel.load_manifest(manifest)
    assert panel.text("id") == "acme/from-toml" and panel.text("tags") == "toml"
    assert panel.text("content_hash") == sha256_file(archive)
    manifest.write_text('[package]\nid = "acme/x"\nversion = "zero"\ntitle = "t"\n'
                        f'content_hash = "sha256:{"ab" * 32}"\n', encoding="utf-8")
    assert not panel.load_manifest(manifest)
    assert panel.errors["version"].isVisibleTo(panel)


def test_a_publish_no_peer_stores_is_said_in_the_form_and_kept_for_republish(qtbot: QtBot, window: MainWindow,
                                                                             run) -> None:
    assert window.app is not None and window.app.demo is not None
    run(window.app.demo.stop())  # every neighbour is gone
    panel = window.publish_panel
    fill(panel, GOOD)
    panel.confirm = lambda title, text: True  # type: ignore[assignment]
    panel.publish_button.click()
    qtbot.waitUntil(lambda: panel.result_label.text().startswith("⚠"), timeout=30000)
    assert "Publishing failed: no peer stored" in panel.result_label.text()
    assert "kept" in panel.result_label.text()
    assert window.error_box is None or not window.error_box.isVisible()  # an outcome, not a crash dialog
    assert panel.my_packages.rowCount() == 1 and panel.publish_button.isEnabled()


def test_a_keyword_copy_refused_because_its_key_is_full_is_said_in_one_line(qtbot: QtBot, window: MainWindow) -> None:
    from ggen_desktop.net.storage import keyword_key  # the demo peers are the test's network, not the window's
    from tests.helpers.packages import make_record

    assert window.app is not None and window.app.demo is not None
    filler = make_record("fill/zephyr", "Filler", tags=("zephyr",))
    for peer in window.app.demo.nodes:
        peer.storage.max_per_key = 1  # 'zephyr' now holds as many records as these peers accept
        peer.storage.put(keyword_key("zephyr"), filler)
    panel = window.publish_panel
    fill(panel, GOOD)
    panel.confirm = lambda title, text: True  # type: ignore[assignment]
    panel.publish_button.click()
    qtbot.waitUntil(lambda: "Published" in panel.result_label.text(), timeout=15000)
    text = panel.result_label.text()
    assert text.startswith("⚠ Published gui-test/zephyr-widget 1.4.0: stored on ") and "\n" not in text
    assert "keyword copies refused (key full): " in text and "'zephyr' by " in text
