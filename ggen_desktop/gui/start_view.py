"""The start view: what there is to browse before the first search, and whenever the search field is cleared.

Categories with the number of packages this node knows in each, the packages
it saw most recently (published here or discovered), the user's recent
searches and a few examples. Everything is a button or a list row: clicking
(or Enter) searches.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.core.overview import KnownPackage, Overview, describe
from ggen_desktop.core.query import Query

COLUMNS = 3


def ago(stamp: float | None, now: float | None = None) -> str:
    """"just now", "5 min ago", "3 h ago", or the date."""
    if stamp is None:
        return "earlier"
    seconds = max(0.0, (time.time() if now is None else now) - stamp)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h ago"
    return time.strftime("%Y-%m-%d", time.localtime(stamp))


class _ButtonGrid(QGroupBox):
    """A titled grid of buttons that is rebuilt whenever its content changes."""

    def __init__(self, title: str, name: str, columns: int = COLUMNS) -> None:
        super().__init__(title)
        self.setObjectName(name)
        self.columns = columns
        self.grid = QGridLayout(self)
        self.buttons: list[QPushButton] = []

    def set_buttons(self, buttons: list[QPushButton]) -> None:
        for old in self.buttons:
            self.grid.removeWidget(old)
            old.deleteLater()
        self.buttons = buttons
        for number, button in enumerate(buttons):
            self.grid.addWidget(button, number // self.columns, number % self.columns)
        self.setVisible(bool(buttons))


class StartView(QScrollArea):
    """Signals: `search_requested(Query)`, `package_requested(name)` (show all versions of a package)."""

    search_requested = Signal(object)
    package_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("startView")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content = QWidget()
        layout = QVBoxLayout(content)
        self.title = QLabel("<h2>Browse packages</h2>")
        self.intro = QLabel("The node is starting…")
        self.intro.setWordWrap(True)
        self.categories = _ButtonGrid("Categories", "startCategories")
        self.recent = _ButtonGrid("Recently published or discovered", "startRecentPackages", columns=1)
        self.searches = _ButtonGrid("Your recent searches", "startRecentSearches")
        self.examples = _ButtonGrid("Try a search", "startExamples")
        for widget in (self.title, self.intro, self.categories, self.recent, self.searches, self.examples):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.setWidget(content)
        self.overview: Overview | None = None

    def show_overview(self, overview: Overview) -> None:
        self.overview = overview
        if overview.is_empty:
            self.intro.setText("This node knows no packages yet. Pick a category or try one of the searches "
                               "below: what peers return is kept, and shows up here next time.")
        else:
            self.intro.setText(f"This node knows {overview.known} package{'s' if overview.known != 1 else ''} "
                               "(published here or found in earlier searches). Pick a category, a package or a "
                               "search; the network is asked for more.")
        self.categories.set_buttons([self._search_button(f"{name}  ({count})" if count else name,
                                                         Query(categories=(name,)), f"Search the {name} category")
                                     for name, count in overview.categories])
        self.recent.set_buttons([self._package_button(known) for known in overview.recent])
        self.searches.set_buttons([self._search_button(describe(q), q, "Search again")
                                   for q in overview.recent_searches[:2 * COLUMNS]])
        self.examples.set_buttons([self._search_button(describe(q), q, "An example search")
                                   for q in overview.examples])

    def _search_button(self, text: str, query: Query, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(f"{tip}: {describe(query)}")
        button.setAutoDefault(False)
        button.clicked.connect(lambda: self.search_requested.emit(query))
        return button

    def _package_button(self, known: KnownPackage) -> QPushButton:
        package = known.record.package
        how = "published here" if known.mine else "discovered"
        button = QPushButton(f"{package.id} {package.version} — {package.metadata.title}   ·   {how}, {ago(known.seen_at)}")
        button.setFlat(True)
        button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # a long title must not widen the view
        button.setStyleSheet("text-align: left; padding: 2px 6px;")
        button.setToolTip(f"Show every version of {package.id}: {package.metadata.description or package.metadata.title}")
        button.setAutoDefault(False)
        name = str(package.id)
        button.clicked.connect(lambda: self.package_requested.emit(name))
        return button
