"""Publish dock: the publisher key, "Publish a package…" (the form opens in a dialog), the last
outcome, and my packages with "Check visibility" (can peers far from its keys find it?).

Publishing signs the form's package with the key in use (creating one in the
keyring after asking, when there is none) and stores it on the network; the
outcome is said in the dialog and here.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QMenu, QPushButton, QTableView, QVBoxLayout, QWidget

from ggen_desktop.core.package import Package
from ggen_desktop.core.record import SignedRecord
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
        view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._context_menu)
        self.my_packages_view = view
        self.check_button = QPushButton("Check visibility")
        self.check_button.setObjectName("checkVisibilityButton")
        self.check_button.setToolTip("Ask peers far from the selected package's keys to find it")
        self.check_button.setEnabled(False)
        self.check_button.clicked.connect(self.check_selected)
        self.visibility_label = QLabel()
        self.visibility_label.setObjectName("visibilityResult")
        self.visibility_label.setWordWrap(True)
        self._records: list[SignedRecord] = []  # my packages, row by row
        layout = QVBoxLayout(self)
        layout.addWidget(self.key)
        layout.addWidget(self.new_button)
        layout.addWidget(self.result_label)
        layout.addWidget(QLabel("My packages:"))
        layout.addWidget(view, 1)
        layout.addWidget(self.check_button)
        layout.addWidget(self.visibility_label)
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
        self.check_button.setEnabled(True)
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
        await self.check_visibility(record)

    def refresh_my_packages(self) -> None:
        if self.app is None:
            return

        def when(stamp: float | None) -> str:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "–"

        def replicas(record: SignedRecord, at_publish: int) -> str:
            assert self.app is not None
            count = self.app.replica_count(record)
            return count.describe() if count is not None else f"{at_publish} at publish"

        mine = self.app.my_packages()
        self._records = [p.record for p in mine]
        self.my_packages.set_rows([
            (str(p.record.package.id), str(p.record.package.version), when(p.published_at),
             when(p.last_republished_at), replicas(p.record, p.replicas))
            for p in mine
        ])

    # -- can others find it? -------------------------------------------------------------
    def selected_record(self) -> SignedRecord | None:
        rows = self.my_packages_view.selectionModel().selectedRows()
        return self._records[rows[0].row()] if rows and rows[0].row() < len(self._records) else None

    def check_selected(self) -> None:
        record = self.selected_record()
        if record is None:
            self.visibility_label.setText("Select one of my packages to check.")
            return
        self.tasks.spawn(self.check_visibility(record), f"checking visibility of {record.package.id}")

    def _context_menu(self, at: QPoint) -> None:
        index = self.my_packages_view.indexAt(at)
        if not index.isValid():
            return
        self.my_packages_view.selectRow(index.row())
        menu = QMenu(self)
        menu.addAction("Check visibility", self.check_selected)
        menu.popup(self.my_packages_view.viewport().mapToGlobal(at))

    async def check_visibility(self, record: SignedRecord) -> None:
        """Lookups from far peers, then the replica count: both said under the table."""
        from ggen_desktop.app import NodeError

        assert self.app is not None
        name = f"{record.package.id} {record.package.version}"
        self.visibility_label.setText(f"Checking whether peers far from {name}'s keys can find it…")
        try:
            report = await self.app.check_visibility(record)
            await self.app.count_replicas(record)
        except NodeError as exc:
            self.visibility_label.setText(f"⚠ {name} not checked: {exc}")
            return
        mark = "✓" if report.checks and report.found == len(report.checks) else "⚠"
        self.visibility_label.setText(f"{mark} {name}: {report.summary()}")
        self.refresh_my_packages()

    async def refresh_replicas(self) -> None:
        """At start: the Replicas column counted on the network, replacing the number saved at publish."""
        from ggen_desktop.app import NodeError

        assert self.app is not None
        try:
            await self.app.refresh_replicas()
        except NodeError as exc:  # stopped meanwhile: the numbers saved at publish stay
            log.info("replicas not counted: %s", exc)
        self.refresh_my_packages()
