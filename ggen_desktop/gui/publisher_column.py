"""Who signed a result, as the table shows it: a petname and a 16-digit grouped fingerprint, and a flag on
the name when another key published it first (even if that key's rows are not among the results).

Drawn by a delegate over the results model's Name and Publisher columns, so the model stays a plain,
fast table of hits; what is shown is cached per (name, key) until the history or a petname changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QAbstractItemView, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from ggen_desktop.core.petnames import group_fingerprint, publisher_label
from ggen_desktop.core.provenance import Continuity, KeyHistory
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.gui.resources import icon
from ggen_desktop.gui.results_model import HIT_ROLE, ResultsModel

if TYPE_CHECKING:
    from ggen_desktop.app import App

Index = QModelIndex | QPersistentModelIndex


def _day(stamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(stamp))


@dataclass(frozen=True)
class PublisherView:
    """A record's publisher as shown: label, petname and continuity, with the warning when flagged."""

    label: str
    petname: str | None
    continuity: Continuity
    earlier_labels: tuple[str, ...] = ()  # how the keys that used the name first are shown (petname, fingerprint)

    @property
    def flagged(self) -> bool:
        return self.continuity.flagged

    def warning(self) -> str:
        """Why the name is flagged, in one paragraph (empty when it is not)."""
        if not self.flagged:
            return ""
        c = self.continuity
        others = "; ".join(_key_line(h, label) for h, label in zip(c.earlier_keys, self.earlier_labels, strict=True))
        since = f", first seen {_day(c.history.first_seen)}" if c.history is not None else ""
        return (f"Another key published {c.name} before this one: {others}. This key ({group_fingerprint(c.fingerprint)}"
                f"{since}) may be an impostor: compare the keys before trusting it.")

    def tooltip(self) -> str:
        text = f"Signed by {self.label}: {self.continuity.summary()}"
        return f"⚠ {self.warning()}\n{text}" if self.flagged else text


def _key_line(history: KeyHistory, label: str) -> str:
    return f"{label} since {history.first_version} ({history.releases_text}, first seen {_day(history.first_seen)})"


class Publishers(QObject):
    """The window's view of publisher keys: petnames and continuity from the App, cached for painting."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app: App | None = None
        self._cache: dict[tuple[str, str], PublisherView] = {}
        self._generation = -1

    def attach(self, app: App) -> None:
        self.app = app
        self.invalidate()

    def invalidate(self) -> None:
        self._cache.clear()

    def view(self, record: SignedRecord) -> PublisherView | None:
        if self.app is None:
            return None
        if self.app.provenance.generation != self._generation:
            self._cache.clear()
            self._generation = self.app.provenance.generation
        name, _, fingerprint = record.identity
        shown = self._cache.get((name, fingerprint))
        if shown is None:
            petname = self.app.petnames.get(fingerprint)
            continuity = self.app.continuity(record)
            shown = self._cache[(name, fingerprint)] = PublisherView(
                publisher_label(fingerprint, petname), petname, continuity,
                tuple(self.app.petnames.label(h.fingerprint) for h in continuity.earlier_keys))
        return shown


class PublisherDelegate(QStyledItemDelegate):
    """Paints the Publisher column as petname and grouped fingerprint, and flags the Name column."""

    def __init__(self, publishers: Publishers, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.publishers = publishers

    def _view(self, index: Index) -> PublisherView | None:
        hit = index.data(HIT_ROLE)
        return self.publishers.view(hit.record) if hit is not None else None

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        shown = self._view(index)
        if shown is None:
            return
        if index.column() == ResultsModel.Columns.PUBLISHER:
            option.text = shown.label
        elif shown.flagged:
            option.icon = icon("warning")
            option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView, option: QStyleOptionViewItem,
                  index: Index) -> bool:
        shown = self._view(index)
        if event.type() != QEvent.Type.ToolTip or shown is None:
            return super().helpEvent(event, view, option, index)
        if index.column() == ResultsModel.Columns.PUBLISHER or shown.flagged:
            QToolTip.showText(event.globalPos(), shown.tooltip(), view)
            return True
        return super().helpEvent(event, view, option, index)

