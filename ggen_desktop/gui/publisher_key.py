"""The publisher key box: which key signs (OS keyring or a key file), choosing a key file, deleting a key.

A chosen key file is remembered for the next start; a newly created one gets
the same "back it up" prompt as a new keyring key, since losing it means no
one can ever publish a new version of its packages. Deleting a key asks first.
Without an OS keyring the box says so in one line and offers the key file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QGroupBox, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ggen_desktop.core.petnames import group_fingerprint

if TYPE_CHECKING:
    from ggen_desktop.app import App, PublisherIdentity
    from ggen_desktop.gui.tasks import TaskGroup

log = logging.getLogger(__name__)

PREFERENCES_FILE = "publish.ini"
KEY_FILE_SETTING = "key_file"
BACKUP_TEXT = ("Back it up now, somewhere private (a password manager, an encrypted drive): only this key can "
               "publish new versions of your packages, and anyone who has it can publish as you.")


def _ask(parent: QWidget, title: str, text: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                      parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes


class PublisherKeyBox(QGroupBox):
    """`identity` is the key that signs (None until there is one). `confirm(title, text)` and
    `choose_key_path()` are attributes so tests can answer the dialogs. Emits `changed` on every change."""

    changed = Signal()

    def __init__(self, tasks: TaskGroup, parent: QWidget | None = None) -> None:
        super().__init__("Publisher key", parent)
        self.tasks = tasks  # keyring calls run on a worker thread: a keyring daemon may be slow to answer
        self.keyring_missing = False
        self.app: App | None = None
        self.identity: PublisherIdentity | None = None
        self.key_file: Path | None = None  # None: the OS keyring
        self.backup_box: QMessageBox | None = None
        self.confirm: Callable[[str, str], bool] = lambda title, text: _ask(self, title, text)
        self.choose_key_path: Callable[[], str] = lambda: QFileDialog.getSaveFileName(
            self, "Publisher key file (existing or new)", str(Path.home()),
            options=QFileDialog.Option.DontConfirmOverwrite)[0]
        self.label = QLabel("The node is starting…")
        self.label.setObjectName("identityLabel")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_file_button = QPushButton("Use a key file…")
        self.key_file_button.setObjectName("keyFileButton")
        self.key_file_button.setToolTip("Choose a key file, or name a new one to create (readable by you only)")
        self.key_file_button.clicked.connect(self._choose_key_file)
        self.delete_button = QPushButton("Delete this key…")
        self.delete_button.setObjectName("deleteKeyButton")
        self.delete_button.setToolTip("Remove the key from this computer (asks first; it cannot be undone)")
        self.delete_button.clicked.connect(self.delete_key)
        self.delete_button.setEnabled(False)
        layout = QVBoxLayout(self)  # one below the other: the dock may be narrow
        layout.addWidget(self.label)
        layout.addWidget(self.key_file_button)
        layout.addWidget(self.delete_button)

    # -- preferences -----------------------------------------------------------------
    def _preferences(self) -> QSettings | None:
        if self.app is None:
            return None
        return QSettings(str(self.app.config_dir / PREFERENCES_FILE), QSettings.Format.IniFormat)

    def _remember(self, path: Path | None) -> None:
        store = self._preferences()
        if store is None:
            return
        if path is None:
            store.remove(KEY_FILE_SETTING)
        else:
            store.setValue(KEY_FILE_SETTING, str(path))
        store.sync()

    def remembered_key_file(self) -> Path | None:
        store = self._preferences()
        value = store.value(KEY_FILE_SETTING) if store is not None else None
        return Path(value) if isinstance(value, str) and value else None

    # -- loading ---------------------------------------------------------------------
    def attach(self, app: App) -> None:
        """The key file chosen last time if there was one, else the keyring's key."""
        self.app = app
        remembered = self.remembered_key_file()
        if remembered is not None and self.use_key_file(remembered, remember=False):
            return
        self.reload_keyring()

    def reload_keyring(self) -> None:
        """Use the OS keyring's key: read on a worker thread, shown when it is known."""
        self.key_file, self.identity = None, None
        self._show("Looking for your publisher key in the OS keyring…")
        self.tasks.spawn(self._load_keyring(), "reading the publisher key")

    async def _load_keyring(self) -> None:
        from ggen_desktop.app import App, IdentityError

        try:
            identity = await asyncio.to_thread(App.keyring_identity)
        except IdentityError as exc:
            self.keyring_missing = True
            if self.key_file is None:
                self._show("No OS keyring is available on this computer: use a key file to publish.", str(exc))
            return
        self.keyring_missing = False
        if self.key_file is not None:  # the user chose a key file meanwhile
            return
        self.identity = identity
        if self.identity is None:
            self._show("No publisher key yet: one is created in the OS keyring when you first publish.")
        else:
            self._show_identity()

    def _show(self, text: str, tip: str = "") -> None:
        self.label.setText(text)
        self.label.setToolTip(tip)
        self.delete_button.setEnabled(self.identity is not None)
        self.changed.emit()

    def _show_identity(self) -> None:
        assert self.identity is not None
        where = f"key file {self.key_file}" if self.key_file is not None else "the OS keyring"
        self._show(f"Publishing as <b>{group_fingerprint(self.identity.fingerprint)}</b> (key in {where}).",
                   f"Public key: {self.identity.public_key_bytes.hex()}")

    def describe(self) -> str:
        """One line for the publish dialog: which key will sign."""
        if self.identity is None:
            return "No publisher key yet: one is created when you publish (see the Publish panel)."
        where = f"key file {self.key_file.name}" if self.key_file is not None else "OS keyring"
        return f"Signs as {group_fingerprint(self.identity.fingerprint)} ({where}); change it in the Publish panel."

    # -- choosing, creating, deleting ------------------------------------------------
    def may_create_key(self) -> bool:
        """Before a publish with no key: False when there is no keyring, or the user does not want a new key
        (asked here, on the GUI thread, never inside a running task)."""
        if self.identity is not None:
            return True
        if self.keyring_missing:
            return False
        return self.confirm("Create a publisher key?",
                            f"Publishing signs the package with your publisher key. None exists yet: create "
                            f"one and keep it in the OS keyring? {BACKUP_TEXT}")

    async def ensure_identity(self) -> PublisherIdentity | None:
        """The key to sign with: the keyring's, or a new one there (call `may_create_key` first); keyring
        calls run on a worker thread."""
        if self.identity is not None:
            return self.identity
        from ggen_desktop.app import App, IdentityError

        try:
            identity = await asyncio.to_thread(App.keyring_identity)
            if identity is None:
                identity = await asyncio.to_thread(App.create_keyring_identity)
            self.identity = identity
        except IdentityError as exc:
            self._show("No OS keyring is available on this computer: use a key file to publish.", str(exc))
            return None
        self._show_identity()
        return self.identity

    def use_key_file(self, path: Path, remember: bool = True) -> bool:
        from ggen_desktop.app import App, IdentityError

        try:
            identity, created = App.open_key_file(path)
        except IdentityError as exc:
            self._show(f"⚠ {exc}")
            return False
        self.identity, self.key_file = identity, path
        if remember:
            self._remember(path)
        self._show_identity()
        if created:
            self._prompt_backup(path)
        return True

    def _prompt_backup(self, path: Path) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Back up your new publisher key",
                          f"A new publisher key was created in {path}.\n\n{BACKUP_TEXT}", QMessageBox.StandardButton.Ok,
                          self)
        box.setObjectName("backupBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: setattr(self, "backup_box", None))
        box.open()  # not blocking: the node keeps running
        self.backup_box = box

    def _choose_key_file(self) -> None:
        path = self.choose_key_path()
        if path:
            self.use_key_file(Path(path))

    def delete_key(self) -> bool:
        """Delete the key in use, after the user confirms; True when it is gone."""
        from ggen_desktop.app import App, IdentityError

        if self.identity is None:
            return False
        where = f"the key file {self.key_file}" if self.key_file is not None else "the OS keyring"
        if not self.confirm("Delete this publisher key?",
                            f"Delete the key {group_fingerprint(self.identity.fingerprint)} from {where}? Without it "
                            "no one can publish new versions of the packages it signed. This cannot be undone; "
                            "keep a backup if you may need it."):
            return False
        try:
            if self.key_file is not None:
                App.delete_key_file(self.key_file)
                self._remember(None)
            else:
                App.delete_keyring_identity()
        except IdentityError as exc:
            self._show(f"⚠ The key was not deleted: {exc}")
            return False
        log.info("publisher key %s deleted by the user", self.identity.fingerprint)
        self.identity = None
        self.reload_keyring()
        return True
