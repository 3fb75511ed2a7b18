"""What one can do with a result: copy its id, version, hash or key, open its links, show its versions or
its publisher's packages, name its publisher. The same actions serve the table's context menu and the
details pane's toolbar, and always act on the selected result.

Download is enabled only when the result names a shared archive and this app can share (`can_download`):
nothing shows a button that would do nothing. "Download with dependencies" also needs the package to have
dependencies; which of them can be fetched is resolved when it runs (gui/dependency_view.py).
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Signal, SignalInstance
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMenu, QWidget

from ggen_desktop.core.search import SearchHit


def _key(hit: SearchHit) -> str:
    return base64.b64encode(hit.record.publisher).decode()


# (name, text, what it copies): one copy action each
COPIES: tuple[tuple[str, str, Callable[[SearchHit], str]], ...] = (
    ("copy_id", "Copy id", lambda hit: str(hit.record.package.id)),
    ("copy_version", "Copy version", lambda hit: str(hit.record.package.version)),
    ("copy_hash", "Copy content hash", lambda hit: hit.record.package.content_hash),
    ("copy_key", "Copy publisher key", _key),
)


class ResultActions(QObject):
    """QActions for the current result (`set_hit`); signals for what the window does with them.

    Signals: `versions_requested(hit)`, `publisher_requested(hit)`, `petname_requested(hit)`,
    `copied(str)` (a status line), `download_requested(hit)` (the Download action) and
    `download_with_dependencies_requested(hit)`.
    """

    versions_requested = Signal(object)
    publisher_requested = Signal(object)
    petname_requested = Signal(object)
    download_requested = Signal(object)
    download_with_dependencies_requested = Signal(object)
    copied = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.hit: SearchHit | None = None
        self.copies: dict[str, QAction] = {}
        for name, text, value in COPIES:
            action = self._action(text, f"{text[5:].capitalize()} to the clipboard")
            action.triggered.connect(lambda _=False, value=value, text=text: self._copy(value, text[5:]))
            self.copies[name] = action
        self.open_homepage = self._action("Open homepage", "Open the package's homepage in the browser")
        self.open_homepage.triggered.connect(lambda: self._open(self.hit.record.package.metadata.homepage if self.hit else ""))
        self.open_repository = self._action("Open repository", "Open the package's source repository in the browser")
        self.open_repository.triggered.connect(
            lambda: self._open(self.hit.record.package.metadata.repository if self.hit else ""))
        self.show_versions = self._action("Show all versions", "Search the network for every version of this package")
        self.show_versions.triggered.connect(lambda: self._emit(self.versions_requested))
        self.show_publisher = self._action("Show this publisher's packages",
                                           "Only the results signed by this publisher's key")
        self.show_publisher.triggered.connect(lambda: self._emit(self.publisher_requested))
        self.name_publisher = self._action("Name this publisher…",
                                           "Give the publisher's key a name of your own, shown beside its fingerprint")
        self.name_publisher.triggered.connect(lambda: self._emit(self.petname_requested))
        self.download = self._action("Download", "Download the package's archive over BitTorrent, checked against its hash")
        self.download.setObjectName("downloadAction")
        self.download.triggered.connect(lambda: self._emit(self.download_requested))
        self.download_with_dependencies = self._action(
            "Download with dependencies", "Download the package's archive and those of its dependencies that nodes seed")
        self.download_with_dependencies.setObjectName("downloadWithDependenciesAction")
        self.download_with_dependencies.triggered.connect(lambda: self._emit(self.download_with_dependencies_requested))
        self.can_download = False  # the app shares archives (set by the window once the engine runs)
        self.set_hit(None)

    def _action(self, text: str, tip: str) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        return action

    def all(self) -> list[QAction]:
        return [*self.copies.values(), self.open_homepage, self.open_repository, self.show_versions,
                self.show_publisher, self.name_publisher, self.download, self.download_with_dependencies]

    def set_hit(self, hit: SearchHit | None) -> None:
        """The result the actions act on; a link action is disabled when the package has no such link."""
        self.hit = hit
        for action in self.all():
            action.setEnabled(hit is not None)
        meta = hit.record.package.metadata if hit is not None else None
        self.open_homepage.setEnabled(bool(meta and meta.homepage))
        self.open_repository.setEnabled(bool(meta and meta.repository))
        self.download.setEnabled(self.can_download and hit is not None and hit.record.package.has_archive)
        self.download_with_dependencies.setEnabled(self.download.isEnabled() and hit is not None
                                                   and bool(hit.record.package.dependencies))
        if hit is not None and not hit.record.package.has_archive:
            self.download.setToolTip("This package was published without a shared archive")
        elif not self.can_download:
            self.download.setToolTip("Archive sharing is off in this session (in memory, or BitTorrent did not start)")
        else:
            self.download.setToolTip("Download the package's archive over BitTorrent, checked against its hash")

    def set_can_download(self, can: bool) -> None:
        self.can_download = can
        self.set_hit(self.hit)

    def _emit(self, signal: SignalInstance) -> None:
        if self.hit is not None:
            signal.emit(self.hit)

    def _copy(self, value: Callable[[SearchHit], str], what: str) -> None:
        if self.hit is None:
            return
        text = value(self.hit)
        QGuiApplication.clipboard().setText(text)
        self.copied.emit(f"Copied the {what} of {self.hit.record.package.id}: {text}")

    @staticmethod
    def _open(url: str) -> None:
        if url:
            QDesktopServices.openUrl(QUrl(url))

    def popup(self, parent: QWidget, at: QPoint) -> QMenu:
        """The context menu at a global position; it deletes itself once closed."""
        menu = QMenu(parent)
        menu.setObjectName("resultMenu")
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addActions([self.download, self.download_with_dependencies])
        menu.addSeparator()
        copy = menu.addMenu("Copy")
        copy.addActions(list(self.copies.values()))
        menu.addSeparator()
        menu.addActions([self.open_homepage, self.open_repository])
        menu.addSeparator()
        menu.addActions([self.show_versions, self.show_publisher, self.name_publisher])
        menu.popup(at)
        return menu
