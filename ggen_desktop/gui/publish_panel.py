"""Publish dock: the publisher key, "Publish a package…" (the form opens in a dialog), the last
outcome, and my packages.

Publishing signs the form's package with the key in use (creating one in the
keyring after asking, when there is none) and stores it on the network; the
outcome is said in the dialog and here.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QHeaderView, QLabel, QPushButton, QTableView, QVBoxLayout, QWidget

from ggen_desktop.core.package import Package
from ggen_desktop.gui.list_models import MyPackagesModel
from ggen_desktop.gui.publish_dialog import PublishDialog
from ggen_desktop.gui.publisher_key import PublisherKeyBox
from ggen_desktop.gui.table_model import make_compact
from ggen_desktop.gui.tasks import TaskGroup

if TYPE_CHECKING:
    from ggen_desktop.app import App, PublisherIdentity

log = logging.getLogger(__name__)


NO_KEY = "⚠ Not published: there is no publisher key to sign with (see the Publish panel)."


class PublishPanel(QWidget):
    """`key` chooses the signing key; `dialog` holds the form (made on first use, kept with its contents)."""

    def __init__(self, tasks: TaskGroup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.app: App | None = None
        self.key = PublisherKeyBox(tasks)
        self.key.changed.connect(self._key_changed)
        self.new_button = QPushButton("Publish a package…")
        self.new_button.setObjectName("newPackageButton")
        self.new_button.setToolTip("Fill in the package form, or load a ggen-package.toml (Ctrl+Shift+P)")
        self.new_button.clicked.connect(self.open_dialog)
        self.new_button.setEnabled(False)
        self.result_label = QLabel()
        self.result_label.setObjectName("publishResult")
        self.result_label.setWordWrap(True)
        self.my_packages = MyPackagesModel(self)
        view = QTableView()
        view.setObjectName("myPackagesView")
        view.setAccessibleName("My published packages")
        view.setModel(self.my_packages)
        make_compact(view)
        view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        view.horizontalHeader().setStretchLastSection(True)
        self.my_packages_view = view
        layout = QVBoxLayout(self)
        layout.addWidget(self.key)
        layout.addWidget(self.new_button)
        layout.addWidget(self.result_label)
        layout.addWidget(QLabel("My packages:"))
        layout.addWidget(view, 1)
        self._dialog: PublishDialog | None = None

    @property
    def identity(self) -> PublisherIdentity | None:
        return self.key.identity

    @property
    def dialog(self) -> PublishDialog:
        if self._dialog is None:
            self._dialog = PublishDialog(self.tasks, self.window())
            self._dialog.publish_requested.connect(self.publish)
            self._key_changed()
        return self._dialog

    def attach(self, app: App) -> None:
        self.app = app
        self.new_button.setEnabled(True)
        self.key.attach(app)

    def focus_first_field(self) -> None:
        self.new_button.setFocus()

    def open_dialog(self) -> PublishDialog:
        dialog = self.dialog
        if dialog.isVisible():  # open behind the window: bring it forward
            dialog.raise_()
            dialog.activateWindow()
        else:
            dialog.show()
        return dialog

    def _key_changed(self) -> None:
        if self._dialog is not None:
            self._dialog.signer.setText(self.key.describe())

    # -- publishing --------------------------------------------------------------------
    def publish(self, package: Package) -> None:
        if self.app is None:
            return
        if not self.key.may_create_key():
            self._say(NO_KEY)
            return
        self.tasks.spawn(self._sign_and_publish(package), f"publishing {package.id}")

    async def _sign_and_publish(self, package: Package) -> None:
        identity = await self.key.ensure_identity()
        if identity is None:
            self._say(NO_KEY)
            return
        await self.publish_package(package, identity)

    def _say(self, text: str, busy: bool = False) -> None:
        self.result_label.setText(text)
        if self._dialog is not None:
            self._dialog.set_busy(busy, text)

    async def publish_package(self, package: Package, identity: PublisherIdentity) -> None:
        from ggen_desktop.app import NodeError, StoreError
        from ggen_desktop.core.record import RecordError

        assert self.app is not None
        try:
            record = identity.sign_package(package)
        except RecordError as exc:
            self._say(f"⚠ Not published: {exc}")
            return
        self._say(f"Publishing {package.id} {package.version}…", busy=True)
        try:
            report = await self.app.publish(record)
        except (NodeError, StoreError) as exc:
            # Expected outcomes (no peer reachable, disk full): the message says what happened and
            # whether the package is kept for republishing; nothing here is a crash to report.
            self._say(f"⚠ Publishing failed: {exc}")
            self.refresh_my_packages()
            return
        except Exception as exc:
            self._say(f"⚠ Publishing failed: {exc}")
            raise
        mark = "⚠" if report.refused_keywords() else "✓"
        self._say(f"{mark} Published {package.id} {package.version}: {report.summary()}")
        self.refresh_my_packages()

    def refresh_my_packages(self) -> None:
        if self.app is None:
            return

        def when(stamp: float | None) -> str:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "–"

        self.my_packages.set_rows([
            (str(p.record.package.id), str(p.record.package.version), when(p.published_at),
             when(p.last_republished_at), str(p.replicas))
            for p in self.app.my_packages()
        ])
