"""Publish dock: the package form (ui/publish.ui), the publisher identity, publishing, my packages.

Each field is checked on its own with the core model's rules, so every
problem is shown next to its field before anything is signed or sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QFileDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.core.package import (
    CONTENT_HASH,
    Package,
    PackageError,
    PackageId,
    PackageMetadata,
    Version,
)
from ggen_desktop.gui.list_models import MyPackagesModel
from ggen_desktop.gui.resources import child, load_ui
from ggen_desktop.gui.table_model import make_compact
from ggen_desktop.gui.tasks import TaskGroup

if TYPE_CHECKING:
    from ggen_desktop.app import App, PublisherIdentity

log = logging.getLogger(__name__)

FIELDS = ("id", "version", "title", "description", "categories", "tags", "license", "homepage", "repository",
          "content_hash")
LIST_FIELDS = ("categories", "tags")
_HASH_CHUNK = 1 << 20


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def sha256_file(path: Path) -> str:
    """`sha256:<hex>` of a file, read in chunks (archives can be large; runs in a worker thread)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def _ask(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text)
    return answer == QMessageBox.StandardButton.Yes


class PublishPanel(QWidget):
    """`confirm` and `choose_key_path` are attributes so tests can answer the dialogs."""

    def __init__(self, tasks: TaskGroup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.app: App | None = None
        self.identity: PublisherIdentity | None = None
        self.confirm: Callable[[str, str], bool] = lambda title, text: _ask(self, title, text)
        self.choose_key_path: Callable[[], str] = lambda: QFileDialog.getSaveFileName(
            self, "Publisher key file (existing or new)", str(Path.home()),
            options=QFileDialog.Option.DontConfirmOverwrite)[0]
        self.form = load_ui("publish.ui", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.form)
        form = self.form
        self.fields: dict[str, QLineEdit | QPlainTextEdit] = {
            name: child(form, QPlainTextEdit, f"{name}Field") if name == "description"
            else child(form, QLineEdit, f"{name}Field")
            for name in FIELDS
        }
        self.errors: dict[str, QLabel] = {name: child(form, QLabel, f"{name}Error") for name in FIELDS}
        for label in self.errors.values():
            label.setStyleSheet("font-weight: bold;")  # palette colours: readable in light and dark themes
        self.form_error: QLabel = child(form, QLabel, "formError")
        self.identity_label: QLabel = child(form, QLabel, "identityLabel")
        self.publish_button: QPushButton = child(form, QPushButton, "publishButton")
        self.progress: QProgressBar = child(form, QProgressBar, "publishProgress")
        self.result_label: QLabel = child(form, QLabel, "publishResult")
        self.my_packages = MyPackagesModel(self)
        view: QTableView = child(form, QTableView, "myPackagesView")
        view.setModel(self.my_packages)
        make_compact(view)
        view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        view.horizontalHeader().setStretchLastSection(True)
        self.my_packages_view = view
        self.publish_button.clicked.connect(self.publish)
        child(form, QPushButton, "chooseArchiveButton").clicked.connect(self._choose_archive)
        child(form, QPushButton, "loadManifestButton").clicked.connect(self._choose_manifest)
        child(form, QPushButton, "keyFileButton").clicked.connect(self._choose_key_file)
        self.publish_button.setEnabled(False)
        self.identity_label.setText("The node is starting…")

    def attach(self, app: App) -> None:
        self.app = app
        self.publish_button.setEnabled(True)
        self._load_identity()

    def focus_first_field(self) -> None:
        self.fields["id"].setFocus()

    # -- identity --------------------------------------------------------------------
    def _load_identity(self) -> None:
        from ggen_desktop.app import App, IdentityError

        try:
            self.identity = App.keyring_identity()
        except IdentityError as exc:
            self.identity_label.setText(f"⚠ {exc}. Use “Use a key file…” to publish with a key file instead.")
            return
        if self.identity is None:
            self.identity_label.setText(
                "No publisher key yet. One will be created in the OS keyring when you first publish."
            )
        else:
            self._show_identity("OS keyring")

    def _show_identity(self, source: str) -> None:
        assert self.identity is not None
        self.identity_label.setText(
            f"Publishing as <b>{self.identity.fingerprint}</b> (key in {source}).<br>"
            f"Public key: <code>{self.identity.public_key_bytes.hex()}</code>"
        )

    def ensure_identity(self) -> PublisherIdentity | None:
        """The key to sign with; creates one in the keyring after the user confirms."""
        if self.identity is not None:
            return self.identity
        from ggen_desktop.app import App, IdentityError

        try:
            self.identity = App.keyring_identity()
            if self.identity is None:
                if not self.confirm(
                    "Create a publisher key?",
                    "Publishing signs the package with your publisher key. None exists yet: create one "
                    "and keep it in the OS keyring? Back it up: only this key can publish new versions.",
                ):
                    return None
                self.identity = App.create_keyring_identity()
        except IdentityError as exc:
            self.form_error.setText(f"⚠ {exc}")
            self.identity_label.setText(f"⚠ {exc}")
            return None
        self._show_identity("OS keyring")
        return self.identity

    def use_key_file(self, path: Path) -> bool:
        from ggen_desktop.app import App, IdentityError

        try:
            self.identity, _created = App.open_key_file(path)
        except IdentityError as exc:
            self.identity_label.setText(f"⚠ {exc}")
            return False
        self._show_identity(f"key file {path}")
        return True

    def _choose_key_file(self) -> None:
        path = self.choose_key_path()
        if path:
            self.use_key_file(Path(path))

    # -- form ------------------------------------------------------------------------
    def text(self, name: str) -> str:
        widget = self.fields[name]
        return widget.toPlainText() if isinstance(widget, QPlainTextEdit) else widget.text()

    def set_text(self, name: str, value: str) -> None:
        widget = self.fields[name]
        if isinstance(widget, QPlainTextEdit):
            widget.setPlainText(value)
        else:
            widget.setText(value)

    def fill(self, package: Package) -> None:
        meta = package.metadata
        values = {
            "id": str(package.id), "version": str(package.version), "title": meta.title,
            "description": meta.description, "categories": ", ".join(meta.categories),
            "tags": ", ".join(meta.tags), "license": meta.license, "homepage": meta.homepage,
            "repository": meta.repository, "content_hash": package.content_hash,
        }
        for name, value in values.items():
            self.set_text(name, value)
        self.validate()

    def _check_field(self, name: str) -> None:
        value: Any = self.text(name).strip()
        if name == "id":
            PackageId.parse(value)
        elif name == "version":
            Version.parse(value)
        elif name == "content_hash":
            if not CONTENT_HASH.match(value):
                raise PackageError(name, "must be 'sha256:' and 64 lowercase hex digits; use “Choose archive…”")
        else:
            if name in LIST_FIELDS:
                value = _split(value)
            PackageMetadata(**{"title": "title", name: value})

    def validate(self) -> Package | None:
        """Show a message next to every bad field; the Package when all are good."""
        problems: dict[str, str] = {}
        for name in FIELDS:
            try:
                self._check_field(name)
            except PackageError as exc:
                problems[name] = exc.rule
        package = None
        if not problems:
            try:
                package = Package(
                    id=PackageId.parse(self.text("id").strip()),
                    version=Version.parse(self.text("version").strip()),
                    metadata=PackageMetadata(
                        title=self.text("title").strip(), description=self.text("description").strip(),
                        categories=_split(self.text("categories")), tags=_split(self.text("tags")),
                        license=self.text("license").strip(), homepage=self.text("homepage").strip(),
                        repository=self.text("repository").strip(),
                    ),
                    content_hash=self.text("content_hash").strip(),
                    created_at=int(time.time()),
                )
            except PackageError as exc:
                problems[exc.field if exc.field in FIELDS else "id"] = exc.rule
        for name, label in self.errors.items():
            message = problems.get(name, "")
            label.setText(f"⚠ {message}" if message else "")
            label.setVisible(bool(message))
        self.form_error.setText(
            f"{len(problems)} field{'s' if len(problems) != 1 else ''} to fix before publishing" if problems else ""
        )
        return package

    def _choose_archive(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the package archive")
        if path:
            self.tasks.spawn(self.hash_archive(Path(path)), "hashing the archive")

    async def hash_archive(self, path: Path) -> None:
        self.set_text("content_hash", "computing…")
        try:
            digest = await asyncio.to_thread(sha256_file, path)
        except OSError as exc:
            self.set_text("content_hash", "")
            self.errors["content_hash"].setText(f"⚠ cannot read {path}: {exc.strerror or exc}")
            self.errors["content_hash"].setVisible(True)
            return
        self.set_text("content_hash", digest)

    def _choose_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a package manifest", "", "Package manifest (*.toml)")
        if path:
            self.load_manifest(Path(path))

    def load_manifest(self, path: Path) -> bool:
        from ggen_desktop.core.manifest import ManifestError, load_manifest

        try:
            package = load_manifest(path)
        except ManifestError as exc:
            field = (exc.field or "").removeprefix("package.")
            label = self.errors.get("content_hash" if field == "archive" else field)
            if label is not None:
                label.setText(f"⚠ {exc.rule}")
                label.setVisible(True)
            self.form_error.setText(f"⚠ {exc}")
            return False
        self.fill(package)
        self.form_error.setText(f"Loaded {path.name}; check the fields, then publish.")
        return True

    # -- publishing --------------------------------------------------------------------
    def publish(self) -> None:
        package = self.validate()
        if package is None or self.app is None:
            return
        identity = self.ensure_identity()
        if identity is None:
            return
        self.tasks.spawn(self.publish_package(package, identity), f"publishing {package.id}")

    async def publish_package(self, package: Package, identity: PublisherIdentity) -> None:
        from ggen_desktop.app import NodeError, StoreError
        from ggen_desktop.core.record import RecordError

        assert self.app is not None
        try:
            record = identity.sign_package(package)
        except RecordError as exc:
            self.form_error.setText(f"⚠ {exc}")
            return
        self.publish_button.setEnabled(False)
        self.progress.setVisible(True)
        self.result_label.setText(f"Publishing {package.id} {package.version}…")
        try:
            report = await self.app.publish(record)
        except (NodeError, StoreError) as exc:
            # Expected outcomes (no peer reachable, disk full): the message says what happened and
            # whether the package is kept for republishing; nothing here is a crash to report.
            self.result_label.setText(f"⚠ Publishing failed: {exc}")
            self.refresh_my_packages()
            return
        except Exception as exc:
            self.result_label.setText(f"⚠ Publishing failed: {exc}")
            raise
        finally:
            self.progress.setVisible(False)
            self.publish_button.setEnabled(True)
        mark = "⚠" if report.refused_keywords() else "✓"
        self.result_label.setText(f"{mark} Published {package.id} {package.version}: {report.summary()}")
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
