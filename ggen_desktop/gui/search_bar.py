"""The search bar: text, category and tag fields that make a `Query`, with Search and Cancel buttons.

It knows nothing of the node: Enter or the Search button emits `submitted(Query)`
and the window decides when to run it (at once, or once the network has joined).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QProgressBar, QPushButton, QWidget

from ggen_desktop.core.package import Category, PackageError
from ggen_desktop.core.query import Query, QueryError
from ggen_desktop.gui.resources import icon

ANY_CATEGORY = "Any category"


class SearchBar(QWidget):
    """Signals: `submitted(Query)`; `refused(str)` when the fields break a rule (the reason);
    `empty()` when there is nothing to search for; `cancel_requested()` from the Cancel button."""

    submitted = Signal(object)
    refused = Signal(str)
    empty = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = self._text_field()
        self.category_box = self._category_box()
        self.tags_field = QLineEdit()
        self.tags_field.setAccessibleName("Tag filter")
        self.tags_field.setPlaceholderText("tags: cli, rust")
        self.tags_field.setToolTip("Only packages with all of these tags (comma separated)")
        self.tags_field.returnPressed.connect(self.submit)
        self.search_button = QPushButton(icon("search"), "Search")
        self.search_button.setAccessibleName("Search")
        self.search_button.setToolTip("Ask the network (Enter, F5)")
        self.search_button.clicked.connect(self.submit)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setAccessibleName("Cancel search")
        self.cancel_button.setToolTip("Stop asking peers; results so far stay (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.busy = self._busy_bar()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field, 3)
        layout.addWidget(self.category_box)
        layout.addWidget(self.tags_field, 1)
        layout.addWidget(self.search_button)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.busy)

    def _text_field(self) -> QLineEdit:
        field = QLineEdit()
        field.setObjectName("searchField")
        field.setPlaceholderText("Search packages (Enter to search, Esc to cancel)")
        field.setAccessibleName("Search text")
        field.setToolTip("Words to look for in names, titles, descriptions and tags (Ctrl+L)")
        field.setClearButtonEnabled(True)
        field.returnPressed.connect(self.submit)
        return field

    @staticmethod
    def _category_box() -> QComboBox:
        box = QComboBox()
        box.setAccessibleName("Category filter")
        box.setToolTip("Only packages in this category")
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        box.addItem(ANY_CATEGORY, "")
        for category in Category:
            box.addItem(category.value, category.value)
        return box

    @staticmethod
    def _busy_bar() -> QProgressBar:
        busy = QProgressBar()
        busy.setAccessibleName("Search in progress")
        busy.setRange(0, 0)
        busy.setMaximumWidth(80)
        busy.setMaximumHeight(14)
        busy.setTextVisible(False)
        busy.setVisible(False)
        return busy

    def query(self) -> Query:
        """The fields as a Query; raises QueryError or PackageError for a field that breaks a rule."""
        tags = tuple(t.strip() for t in self.tags_field.text().split(",") if t.strip())
        category = self.category_box.currentData()
        return Query(text=self.field.text(), categories=(category,) if category else (), tags=tags)

    def set_query(self, query: Query) -> None:
        """Show a query in the fields (a search started from the start view or a suggestion)."""
        self.field.setText(query.text)
        category = query.categories[0] if query.categories else ""
        if category and self.category_box.findData(category) < 0:
            self.category_box.addItem(category, category)  # a custom category this node knows of
        self.category_box.setCurrentIndex(self.category_box.findData(category))
        self.tags_field.setText(", ".join(query.tags))

    def submit(self) -> None:
        """Enter, the Search button or F5: emit the query, or say why there is none."""
        try:
            query = self.query()
        except (QueryError, PackageError) as exc:
            self.refused.emit(str(exc))
            return
        if query.is_empty:
            self.empty.emit()
        else:
            self.submitted.emit(query)

    def set_running(self, running: bool) -> None:
        """While a search runs: the busy bar shows and Cancel is enabled."""
        self.busy.setVisible(running)
        self.cancel_button.setEnabled(running)

    def focus_text(self) -> None:
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()
