"""The package form (ui/publish.ui): fields checked as you type, each message next to its field.

A field's message appears once the user has typed in it (or tried to publish,
or loaded a manifest) and disappears the moment the value is fixed. Categories
are the standard list as check boxes; any other name only through "Other…",
with a note that the search bar does not list it. A manifest fills the form
and every problem it has is shown at its field at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.core.package import Category, Package, PackageError, PackageId, PackageMetadata, Version
from ggen_desktop.core.package_fields import check_field, is_standard_category
from ggen_desktop.gui.resources import child, load_ui
from ggen_desktop.gui.tasks import TaskGroup

TEXT_FIELDS = ("id", "version", "title", "description", "tags", "license", "homepage", "repository", "content_hash")
FIELDS = (*TEXT_FIELDS[:4], "categories", *TEXT_FIELDS[4:])
CATEGORY_COLUMNS = 3
_HASH_CHUNK = 1 << 20


def split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def sha256_file(path: Path) -> str:
    """`sha256:<hex>` of a file, read in chunks (archives can be large; runs in a worker thread)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


class PublishForm(QWidget):
    """`fields`, `errors` (one label per field), `category_boxes` and `other_box`; `validate()` gives a Package."""

    def __init__(self, tasks: TaskGroup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.form = load_ui("publish.ui", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.form)
        self.fields: dict[str, QLineEdit | QPlainTextEdit] = {
            name: child(self.form, QPlainTextEdit if name == "description" else QLineEdit, f"{name}Field")  # type: ignore[misc]
            for name in TEXT_FIELDS
        }
        self.errors: dict[str, QLabel] = {name: child(self.form, QLabel, f"{name}Error") for name in FIELDS}
        for label in self.errors.values():
            label.setStyleSheet("font-weight: bold;")  # palette colours: readable in light and dark themes
        self.form_error: QLabel = child(self.form, QLabel, "formError")
        self.other_field: QLineEdit = child(self.form, QLineEdit, "otherCategoryField")
        self.categories_note: QLabel = child(self.form, QLabel, "categoriesNote")
        self.category_boxes = self._category_boxes()
        self.touched: set[str] = set()
        for name, widget in self.fields.items():
            widget.textChanged.connect(lambda *_, name=name: self._edited(name))
        self.other_field.textChanged.connect(lambda: self._edited("categories"))
        child(self.form, QPushButton, "chooseArchiveButton").clicked.connect(self._choose_archive)
        child(self.form, QPushButton, "loadManifestButton").clicked.connect(self._choose_manifest)

    def _category_boxes(self) -> dict[str, QCheckBox]:
        grid = child(self.form, QWidget, "categoriesBox").layout()
        assert isinstance(grid, QGridLayout), "categoriesBox has a grid layout in publish.ui"
        boxes: dict[str, QCheckBox] = {}
        for number, name in enumerate([c.value for c in Category] + ["Other…"]):
            check = QCheckBox(name)
            check.toggled.connect(lambda _on: self._edited("categories"))
            grid.addWidget(check, number // CATEGORY_COLUMNS, number % CATEGORY_COLUMNS)
            boxes[name] = check
        self.other_box = boxes.pop("Other…")
        self.other_box.setToolTip("A category of your own: the search bar does not list it")
        self.other_box.toggled.connect(self.other_field.setVisible)
        self.other_box.toggled.connect(self.categories_note.setVisible)
        return boxes

    # -- values --------------------------------------------------------------------
    def text(self, name: str) -> str:
        widget = self.fields[name]
        return widget.toPlainText() if isinstance(widget, QPlainTextEdit) else widget.text()

    def set_text(self, name: str, value: str) -> None:
        widget = self.fields[name]
        if isinstance(widget, QPlainTextEdit):
            widget.setPlainText(value)
        else:
            widget.setText(value)

    def categories(self) -> tuple[str, ...]:
        chosen = [name for name, box in self.category_boxes.items() if box.isChecked()]
        if self.other_box.isChecked():
            chosen += split_list(self.other_field.text())
        return tuple(chosen)

    def set_categories(self, names: tuple[str, ...]) -> None:
        others = [n for n in names if not is_standard_category(n)]
        for name, box in self.category_boxes.items():
            box.setChecked(any(n.strip().lower() == name.lower() for n in names))
        self.other_box.setChecked(bool(others))
        self.other_field.setText(", ".join(others))

    def value(self, name: str) -> Any:
        """A field's value as the package model takes it."""
        if name == "categories":
            return self.categories()
        if name == "tags":
            return split_list(self.text(name))
        return self.text(name).strip()

    def fill(self, package: Package) -> None:
        meta = package.metadata
        for name, value in (("id", str(package.id)), ("version", str(package.version)), ("title", meta.title),
                            ("description", meta.description), ("tags", ", ".join(meta.tags)),
                            ("license", meta.license), ("homepage", meta.homepage), ("repository", meta.repository),
                            ("content_hash", package.content_hash)):
            self.set_text(name, value)
        self.set_categories(meta.categories)

    # -- checking --------------------------------------------------------------------
    def _edited(self, name: str) -> None:
        self.touched.add(name)
        self.show_problem(name, check_field(name, self.value(name)))
        if self.form_error.text():
            self.form_error.setText(self._summary())

    def show_problem(self, name: str, rule: str | None) -> None:
        label = self.errors[name]
        label.setText(f"⚠ {rule}" if rule else "")
        label.setVisible(bool(rule))

    def problems(self) -> dict[str, str]:
        return {name: rule for name in FIELDS if (rule := check_field(name, self.value(name))) is not None}

    def _summary(self) -> str:
        count = len(self.problems())
        return f"{count} field{'s' if count != 1 else ''} to fix before publishing" if count else ""

    def validate(self) -> Package | None:
        """Show every problem (all fields count as touched now); the Package when there is none."""
        problems = self.problems()
        self.touched.update(FIELDS)
        for name in FIELDS:
            self.show_problem(name, problems.get(name))
        self.form_error.setText(self._summary())
        if problems:
            return None
        try:
            return Package(
                id=PackageId.parse(self.value("id")), version=Version.parse(self.value("version")),
                metadata=PackageMetadata(title=self.value("title"), description=self.value("description"),
                                         categories=self.categories(), tags=self.value("tags"),
                                         license=self.value("license"), homepage=self.value("homepage"),
                                         repository=self.value("repository")),
                content_hash=self.value("content_hash"), created_at=int(time.time()))
        except PackageError as exc:  # a rule across fields: shown at the field it names
            self.show_problem(exc.field if exc.field in self.errors else "id", exc.rule)
            return None

    # -- files -----------------------------------------------------------------------
    def _choose_archive(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the package archive")
        if path:
            self.tasks.spawn(self.hash_archive(Path(path)), "hashing the archive")

    async def hash_archive(self, path: Path) -> None:
        self.fields["content_hash"].setEnabled(False)
        try:
            digest = await asyncio.to_thread(sha256_file, path)
        except OSError as exc:
            self.show_problem("content_hash", f"cannot read {path}: {exc.strerror or exc}")
            return
        finally:
            self.fields["content_hash"].setEnabled(True)
        self.set_text("content_hash", digest)

    def _choose_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a package manifest", "", "Package manifest (*.toml)")
        if path:
            self.tasks.spawn(self.load_manifest(Path(path)), "loading the manifest")

    async def load_manifest(self, path: Path) -> bool:
        """Fill the form from a manifest; with problems, fill what it can and show each at its field.
        Read (and its archive hashed) on a worker thread: a large archive must not freeze the window."""
        from ggen_desktop.core.manifest import ManifestError, load_manifest

        self.form_error.setText(f"Reading {path.name}…")
        try:
            package = await asyncio.to_thread(load_manifest, path)
        except ManifestError as exc:
            self._fill_raw(path)
            unplaced = []
            for problem in exc.problems:
                field = (problem.field or "").removeprefix("package.")
                field = "content_hash" if field == "archive" else field
                if field in self.errors:
                    self.show_problem(field, problem.rule)
                else:
                    unplaced.append(f"{problem.field}: {problem.rule}" if problem.field else problem.rule)
            count = len(exc.problems)
            extra = f": {'; '.join(unplaced)}" if unplaced else ""
            self.form_error.setText(f"⚠ {path.name} has {count} problem{'s' if count != 1 else ''}, "
                                    f"shown at {'their' if count != 1 else 'its'} field{extra}")
            return False
        self.fill(package)
        self.form_error.setText(f"Loaded {path.name}; check the fields, then publish.")
        return True

    def _fill_raw(self, path: Path) -> None:
        """Put a manifest's values (even bad ones) in the form, so each problem is next to what caused it."""
        import tomllib

        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("package")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return
        if not isinstance(table, dict):
            return
        for name in TEXT_FIELDS:
            value = table.get(name)
            if isinstance(value, str):
                self.set_text(name, value)
            elif isinstance(value, list) and name == "tags":
                self.set_text(name, ", ".join(str(v) for v in value))
        if isinstance(table.get("categories"), list):
            self.set_categories(tuple(str(c) for c in table["categories"]))
