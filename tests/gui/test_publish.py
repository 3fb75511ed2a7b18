"""Publishing: a form that fits and checks as you type, the key (keyring or a remembered key file, backed up,
deleted only after asking), publish, then find the package by search."""

from __future__ import annotations

from pathlib import Path

import keyring
from keyring.backends import fail
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QMessageBox, QPlainTextEdit
from pytestqt.qtbot import QtBot

from ggen_desktop.core.package import Category
from ggen_desktop.core.petnames import group_fingerprint
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.publish_form import PublishForm, sha256_file
from ggen_desktop.gui.publish_panel import PublishPanel
from ggen_desktop.gui.publisher_key import KEY_FILE_SETTING, PREFERENCES_FILE
from tests.gui.conftest import Runner
from tests.gui.test_search import search

GOOD = {
    "id": "gui-test/zephyr-widget",
    "version": "1.4.0",
    "title": "Zephyr widget generator",
    "description": "Generates zephyr widgets for testing the publish form",
    "tags": "zephyr, widget",
    "license": "MIT",
    "homepage": "https://example.org/zephyr",
    "repository": "",
    "content_hash": "sha256:" + "ab" * 32,
}


def fill(form: PublishForm, values: dict[str, str], categories: tuple[str, ...] = ("Utility", "Testing")) -> None:
    for name, value in values.items():
        form.set_text(name, value)
    form.set_categories(categories)


def shown_errors(form: PublishForm) -> dict[str, str]:
    return {name: label.text() for name, label in form.errors.items() if label.isVisibleTo(form)}


def open_form(window: MainWindow) -> PublishForm:
    window.show_publish()
    return window.publish_panel.dialog.form


def test_messages_appear_as_you_type_next_to_the_field_and_go_once_fixed(qtbot: QtBot, window: MainWindow) -> None:
    form = open_form(window)
    field = form.fields["id"]
    assert shown_errors(form) == {}  # nothing typed yet: no message shouts at an empty form
    qtbot.keyClicks(field, "Acme/My Tool")
    assert list(shown_errors(form)) == ["id"] and "must be lowercase" in form.errors["id"].text()
    field.clear()
    assert form.errors["id"].text().startswith("⚠ required: namespace/name")  # says what to type, never "''"
    qtbot.keyClicks(field, "acme/my-tool")
    assert shown_errors(form) == {}  # fixed: the message is gone at once
    qtbot.keyClicks(form.fields["homepage"], "ftp://x")
    assert "http(s) URL" in shown_errors(form)["homepage"]
    form.fields["homepage"].clear()
    assert "homepage" not in shown_errors(form)  # optional: empty is fine


def test_publishing_an_invalid_form_shows_every_problem_and_sends_nothing(qtbot: QtBot, window: MainWindow) -> None:
    form = open_form(window)
    fill(form, {**GOOD, "id": "Bad Id", "version": "one", "tags": "Has Space", "homepage": "ftp://x",
                "content_hash": "md5:123"})
    asked: list[str] = []
    window.publish_panel.key.confirm = lambda title, text: asked.append(title) or True  # type: ignore[func-returns-value]
    qtbot.mouseClick(window.publish_panel.dialog.publish_button, Qt.MouseButton.LeftButton)
    errors = shown_errors(form)
    assert list(errors) == ["id", "version", "tags", "homepage", "content_hash"]
    for name, fragment in (("id", "lowercase"), ("version", "semantic version"), ("tags", "lowercase"),
                           ("homepage", "http(s) URL"), ("content_hash", "sha256")):
        assert fragment in errors[name], (name, errors[name])
    assert form.form_error.text() == "5 fields to fix before publishing"
    form.set_text("version", "1.0.0")  # each fix updates the count
    assert form.form_error.text() == "4 fields to fix before publishing"
    assert not asked and window.app.node.my_packages() == []  # type: ignore[union-attr]


def test_placeholders_read_as_examples_and_categories_come_from_the_list(window: MainWindow) -> None:
    form = open_form(window)
    for name, widget in form.fields.items():
        hint = widget.placeholderText()
        assert hint.startswith(("e.g. ", "sha256:… (choose")), (name, hint)
    assert list(form.category_boxes) == [c.value for c in Category]
    assert not form.other_field.isVisibleTo(form) and not form.categories_note.isVisibleTo(form)
    form.category_boxes["Database"].setChecked(True)
    form.other_box.setChecked(True)  # "Other…": only now a free-text category
    assert form.other_field.isVisibleTo(form) and "not in the search bar's list" in form.categories_note.text()
    form.other_field.setText("Robotics, " + "x" * 40)
    assert "over 32 characters" in shown_errors(form)["categories"]
    form.other_field.setText("Robotics")
    fill(form, GOOD, categories=form.categories())
    package = form.validate()
    assert package is not None and package.metadata.categories == ("Database", "Robotics")


def test_the_form_fits_without_scrolling_sideways(qtbot: QtBot, window: MainWindow) -> None:
    form = open_form(window)
    dialog = window.publish_panel.dialog
    qtbot.waitExposed(dialog)
    fill(form, {**GOOD, "id": "Bad Id"})
    form.validate()
    assert form.minimumSizeHint().width() <= dialog.scroller.viewport().width()
    for widget in form.findChildren(QLabel) + form.findChildren(QAbstractButton):
        if widget.isVisibleTo(form) and not (isinstance(widget, QLabel) and widget.wordWrap()):
            assert widget.width() >= widget.sizeHint().width(), widget.objectName() or widget.text()  # nothing clipped
    panel = window.publish_panel
    window.docks["publish"].raise_()
    qtbot.waitUntil(lambda: panel.isVisible(), timeout=1000)
    scroller = window.docks["publish"].widget()
    assert panel.minimumSizeHint().width() <= scroller.width()  # the dock too: nothing off to the side


def test_publish_creates_a_key_after_asking_then_a_search_finds_the_package(qtbot: QtBot, window: MainWindow) -> None:
    panel = window.publish_panel
    assert "No publisher key yet" in panel.key.label.text()
    form = open_form(window)
    fill(form, GOOD)
    asked: list[str] = []
    panel.key.confirm = lambda title, text: asked.append(text) or True  # type: ignore[func-returns-value]
    qtbot.mouseClick(panel.dialog.publish_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and "Back it up" in asked[0]
    qtbot.waitUntil(lambda: panel.identity is not None, timeout=5000)  # created on a worker thread
    assert panel.identity is not None
    assert group_fingerprint(panel.identity.fingerprint) in panel.key.label.text()
    assert group_fingerprint(panel.identity.fingerprint) in panel.dialog.signer.text()
    qtbot.waitUntil(lambda: panel.dialog.result_label.text().startswith("✓"), timeout=15000)
    assert panel.dialog.result_label.text().startswith("✓ Published gui-test/zephyr-widget 1.4.0: stored on ")
    assert panel.result_label.text() == panel.dialog.result_label.text()
    qtbot.waitUntil(lambda: panel.my_packages.rowCount() == 1, timeout=2000)
    assert panel.my_packages.row(0)[:2] == ("gui-test/zephyr-widget", "1.4.0")
    search(qtbot, window, "zephyr")
    model = window.results_model
    hit = next(model.hit(r) for r in range(model.rowCount()) if str(model.hit(r).record.package.id) == GOOD["id"])
    assert hit.record.fingerprint == panel.identity.fingerprint


def test_without_a_keyring_one_short_line_offers_a_key_file_which_is_backed_up_and_remembered(
        qtbot: QtBot, window: MainWindow, tmp_path: Path, config_dir: Path) -> None:
    keyring.set_keyring(fail.Keyring())
    panel = window.publish_panel
    panel.key.attach(window.app)  # type: ignore[arg-type]
    qtbot.waitUntil(lambda: panel.key.label.text().startswith("No OS keyring"), timeout=5000)  # read off the loop
    text = panel.key.label.text()
    assert text == "No OS keyring is available on this computer: use a key file to publish."
    assert "--key-file" not in text and "keyring is unavailable" in panel.key.label.toolTip()
    form = open_form(window)
    fill(form, GOOD)
    qtbot.mouseClick(panel.dialog.publish_button, Qt.MouseButton.LeftButton)
    assert panel.identity is None and "no publisher key" in panel.dialog.result_label.text()
    assert "--key-file" not in panel.dialog.result_label.text() + form.form_error.text()  # not repeated in the form
    key = tmp_path / "publisher.key"
    panel.key.choose_key_path = lambda: str(key)
    qtbot.mouseClick(panel.key.key_file_button, Qt.MouseButton.LeftButton)
    assert key.exists() and panel.identity is not None and "key file" in panel.key.label.text()
    box = panel.key.backup_box
    assert box is not None and box.isVisible() and "Back it up now" in box.text() and str(key) in box.text()
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "backupBox") is None, timeout=2000)  # deleted once closed
    stored = QSettings(str(config_dir / PREFERENCES_FILE), QSettings.Format.IniFormat).value(KEY_FILE_SETTING)
    assert stored == str(key)
    fingerprint = panel.identity.fingerprint
    # the next start: a new panel uses the remembered key file, and an existing key needs no backup prompt
    again = PublishPanel(window.tasks)
    qtbot.addWidget(again)
    again.attach(window.app)  # type: ignore[arg-type]
    assert again.identity is not None and again.identity.fingerprint == fingerprint
    assert again.key.backup_box is None


def test_deleting_a_key_asks_first_and_forgets_the_key_file(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                           config_dir: Path, run: Runner) -> None:
    panel = window.publish_panel
    key = tmp_path / "publisher.key"
    assert panel.key.use_key_file(key)
    assert panel.key.delete_button.isEnabled()
    panel.key.backup_box.close()  # type: ignore[union-attr]
    questions: list[str] = []
    panel.key.confirm = lambda title, text: questions.append(text) or False  # type: ignore[func-returns-value]
    qtbot.mouseClick(panel.key.delete_button, Qt.MouseButton.LeftButton)
    assert key.exists() and panel.identity is not None  # the user said no
    assert "cannot be undone" in questions[0] and str(key) in questions[0]
    panel.key.confirm = lambda title, text: True  # type: ignore[assignment]
    qtbot.mouseClick(panel.key.delete_button, Qt.MouseButton.LeftButton)
    assert not key.exists() and panel.identity is None
    assert QSettings(str(config_dir / PREFERENCES_FILE), QSettings.Format.IniFormat).value(KEY_FILE_SETTING) is None
    qtbot.waitUntil(lambda: "No publisher key yet" in panel.key.label.text(), timeout=5000)  # read off the loop
    assert not panel.key.delete_button.isEnabled()
    # and the keyring's key the same way
    panel.key.confirm = lambda title, text: True  # type: ignore[assignment]
    assert panel.key.may_create_key()
    assert run(panel.key.ensure_identity()) is not None and panel.key.key_file is None
    assert panel.key.delete_key() and panel.identity is None
    assert window.app is not None and window.app.keyring_identity() is None


def test_a_manifest_fills_the_form_and_every_problem_shows_at_its_field(window: MainWindow, tmp_path: Path,
                                                                        run: Runner) -> None:
    archive = tmp_path / "pkg.tar.gz"
    archive.write_bytes(b"archive bytes")
    manifest = tmp_path / "ggen-package.toml"
    manifest.write_text('[package]\nid = "acme/from-toml"\nversion = "0.3.0"\ntitle = "From a manifest"\n'
                        'tags = ["toml"]\ncategories = ["Database", "Robotics"]\narchive = "pkg.tar.gz"\n',
                        encoding="utf-8")
    form = open_form(window)
    assert run(form.load_manifest(manifest))
    assert form.text("id") == "acme/from-toml" and form.text("tags") == "toml"
    assert form.text("content_hash") == sha256_file(archive)
    assert form.category_boxes["Database"].isChecked() and form.other_field.text() == "Robotics"
    manifest.write_text('[package]\nid = "Acme/X"\nversion = "zero"\ntitle = ""\ntags = ["Bad Tag"]\n'
                        f'content_hash = "sha256:{"ab" * 32}"\nlicence = "MIT"\n', encoding="utf-8")
    assert not run(form.load_manifest(manifest))
    errors = shown_errors(form)
    assert list(errors) == ["id", "version", "title", "tags"]  # all at once, each where it belongs
    assert form.text("id") == "Acme/X"  # the bad value is in the field, next to its message
    assert form.form_error.text() == ("⚠ ggen-package.toml has 5 problems, shown at their field: package.licence: "
                                      "unknown key; known keys are archive, authors, categories, content_hash, "
                                      "dependencies, description, documentation, homepage, id, license, "
                                      "long_description, repository, tags, title, version")


def test_a_publish_no_peer_stores_is_said_in_the_form_and_kept_for_republish(qtbot: QtBot, window: MainWindow,
                                                                             run: Runner) -> None:
    assert window.app is not None and window.app.demo is not None
    run(window.app.demo.stop())  # every neighbour is gone
    panel = window.publish_panel
    fill(open_form(window), GOOD)
    panel.key.confirm = lambda title, text: True  # type: ignore[assignment]
    panel.dialog.publish_button.click()
    qtbot.waitUntil(lambda: panel.dialog.result_label.text().startswith("⚠"), timeout=30000)
    assert "Publishing failed: no peer stored" in panel.dialog.result_label.text()
    assert "kept" in panel.dialog.result_label.text()
    assert window.error_box is None or not window.error_box.isVisible()  # an outcome, not a crash dialog
    assert panel.my_packages.rowCount() == 1 and panel.dialog.publish_button.isEnabled()
    assert not panel.dialog.progress.isVisible()


def test_every_field_of_the_dialog_is_named(window: MainWindow) -> None:
    dialog = window.publish_panel.open_dialog()
    for widget in dialog.findChildren(QLineEdit) + dialog.findChildren(QPlainTextEdit):
        assert widget.accessibleName(), widget.objectName()


def test_a_keyword_copy_refused_because_its_key_is_full_is_said_in_one_line(qtbot: QtBot, window: MainWindow) -> None:
    from ggen_desktop.net.storage import keyword_key  # the demo peers are the test's network, not the window's
    from tests.helpers.packages import make_record

    assert window.app is not None and window.app.demo is not None
    filler = make_record("fill/zephyr", "Filler", tags=("zephyr",))
    for peer in window.app.demo.nodes:
        peer.storage.max_per_key = 1  # 'zephyr' now holds as many records as these peers accept
        peer.storage.put(keyword_key("zephyr"), filler)
    panel = window.publish_panel
    fill(open_form(window), GOOD)
    panel.key.confirm = lambda title, text: True  # type: ignore[assignment]
    panel.dialog.publish_button.click()
    qtbot.waitUntil(lambda: "Published" in panel.dialog.result_label.text(), timeout=15000)
    text = panel.dialog.result_label.text()
    assert text.startswith("⚠ Published gui-test/zephyr-widget 1.4.0: stored on ") and "\n" not in text
    assert "keyword copies refused (key full): " in text and "'zephyr' by " in text
