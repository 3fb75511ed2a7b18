"""What the results area says when a search ends with nothing: what happened, and what to try next.

Each suggestion is a button that runs the changed search: one word at a time,
without the category or the tags, a close keyword this node knows ("did you
mean"), or back to browsing.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from ggen_desktop.core.overview import describe
from ggen_desktop.core.query import Query
from ggen_desktop.core.search import QueryStatus, QueryTrace

MAX_WORD_BUTTONS = 4
COLUMNS = 3


def what_happened(trace: QueryTrace, not_asked_reason: str = "") -> str:
    """One sentence: no match, on how many peers, or why the network gave none."""
    query = describe(trace.query)
    counts = trace.peer_counts()
    peers = f"{counts.answered} peer{'s' if counts.answered != 1 else ''}"
    if trace.status is QueryStatus.FAILED:
        return f"The search for {query} failed: {trace.error or 'unknown error'}."
    if trace.status is QueryStatus.CANCELLED:
        return f"The search for {query} was cancelled before any result arrived."
    if not counts.asked:
        reason = f": {not_asked_reason}" if not_asked_reason else ""
        return f"No package this node knows matches {query}, and the network was not asked{reason}."
    if trace.status is QueryStatus.TIMED_OUT:
        return (f"No package matches {query} on the {peers} that answered in time "
                f"({counts.timed_out} of {counts.asked} asked did not answer).")
    return f"No package matches {query} on {peers}."


def alternatives(query: Query, suggestions: list[str]) -> list[tuple[str, Query]]:
    """(button text, query) for each change worth trying, the most likely to help first."""
    out = [(f"Did you mean “{word}”?", replace(query, text=word)) for word in suggestions]
    if len(query.words) > 1:
        out += [(f"Only “{word}”", replace(query, text=word)) for word in query.words[:MAX_WORD_BUTTONS]]
    if query.categories and (query.words or query.tags):
        out.append(("In any category", replace(query, categories=())))
    if query.tags and (query.words or query.categories):
        out.append(("Without the tags", replace(query, tags=())))
    return out


class EmptyState(QScrollArea):
    """Signals: `search_requested(Query)` from a suggestion; `browse_requested()` back to the start view."""

    search_requested = Signal(object)
    browse_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget()
        layout = QVBoxLayout(content)
        self.headline = QLabel()
        self.headline.setObjectName("emptyHeadline")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.advice = QLabel()
        self.advice.setWordWrap(True)
        self.options = QGridLayout()
        self.buttons: list[QPushButton] = []
        self.browse_button = QPushButton("Browse categories")
        self.browse_button.setToolTip("Back to the start view: categories, recent packages, example searches")
        self.browse_button.clicked.connect(self.browse_requested)
        layout.addWidget(self.headline)
        layout.addWidget(self.advice)
        layout.addLayout(self.options)
        layout.addWidget(self.browse_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        self.setWidget(content)

    def show_trace(self, trace: QueryTrace, suggestions: list[str], not_asked_reason: str = "") -> None:
        self.headline.setText(f"<h3>{what_happened(trace, not_asked_reason)}</h3>".replace("\n", " "))
        options = alternatives(trace.query, suggestions)
        tips = ["Try fewer or other words, check the spelling"]
        if trace.query.categories or trace.query.tags:
            tips.append("drop the category or tag filter")
        if trace.status is QueryStatus.TIMED_OUT:
            tips.append("search again in a moment: peers that did not answer may be busy")
        self.advice.setText("; ".join(tips) + ("; or one of these:" if options else "."))
        for old in self.buttons:
            self.options.removeWidget(old)
            old.deleteLater()
        self.buttons = []
        for number, (text, query) in enumerate(options):
            button = QPushButton(text)
            button.setToolTip(f"Search {describe(query)}")
            button.clicked.connect(lambda _=False, query=query: self.search_requested.emit(query))
            self.options.addWidget(button, number // COLUMNS, number % COLUMNS)
            self.buttons.append(button)
