"""Everything about the selected result: metadata, dependencies (resolved on the network), publisher key,
signature status, hash, sources."""

from __future__ import annotations

import base64
import html

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QTextBrowser, QWidget

from ggen_desktop.core.petnames import group_fingerprint
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import SearchHit
from ggen_desktop.gui.dependency_view import DependencyCheck, dependencies_html
from ggen_desktop.gui.publisher_column import PublisherView


class DetailsPane(QTextBrowser):
    """Rich text, selectable and copyable, so keys and hashes can be pasted elsewhere."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailsPane")
        self.setAccessibleName("Details of the selected package")
        self.setOpenExternalLinks(True)
        self._shown: tuple[SearchHit | None, int, PublisherView | None] = (None, 1, None)
        self.dependencies = DependencyCheck(self)  # resolves once attached to the engine (`dependencies.attach`)
        self.dependencies.resolved.connect(self._resolved)
        self.show_hit(None, 1)

    def changeEvent(self, event: QEvent) -> None:
        # link colours are taken from the palette when the HTML is laid out: redo it on a theme switch
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.show_hit(*self._shown)

    def _resolved(self, record: SignedRecord) -> None:
        """A package's dependencies were resolved: show them if it is the one in view."""
        hit = self._shown[0]
        if hit is not None and hit.record.identity == record.identity:
            self.show_hit(*self._shown)

    def show_hit(self, hit: SearchHit | None, publishers_of_name: int, publisher: PublisherView | None = None) -> None:
        """A result's details; `publisher` adds its petname, its key's history and a warning when flagged."""
        self._shown = (hit, publishers_of_name, publisher)
        if hit is None:
            self.setHtml("<p><i>Select a result to see its details.</i></p>")
            return
        package = hit.record.package
        meta = package.metadata
        e = html.escape
        warning = ""
        if publishers_of_name > 1:
            warning = (
                f"<p><b>⚠ {publishers_of_name} publishers use the name {e(str(package.id))}.</b> "
                "They are different packages: compare the publisher keys.</p>"
            )
        if publisher is not None and publisher.flagged:
            warning += f"<p><b>⚠ {e(publisher.warning())}</b></p>"
        rows = "".join(f"<tr><th align='left' valign='top'>{e(label)}</th><td>{value}</td></tr>"
                       for label, value in _rows(hit, publisher, self.dependencies))
        long = f"<p>{e(meta.long_description)}</p>" if meta.long_description else ""
        self.setHtml(
            f"<h3>{e(meta.title)}</h3><p><code>{e(str(package.id))}</code></p>{warning}"
            f"<table cellspacing='4'>{rows}</table>{long}"
        )


def _publisher(hit: SearchHit, publisher: PublisherView | None) -> str:
    e = html.escape
    if publisher is None:
        return f"<code>{e(group_fingerprint(hit.record.fingerprint))}</code>"
    name = f"<b>{e(publisher.petname)}</b> " if publisher.petname else ""
    return (f"{name}<code>{e(group_fingerprint(hit.record.fingerprint))}</code><br>"
            f"{e(publisher.continuity.summary())}")


def _rows(hit: SearchHit, publisher: PublisherView | None, dependencies: DependencyCheck) -> list[tuple[str, str]]:
    """(label, HTML value) for each line of the details table."""
    record = hit.record
    package = record.package
    meta = package.metadata
    e = html.escape

    def link(url: str) -> str:
        return f"<a href='{e(url)}'>{e(url)}</a>" if url else "–"

    answered = hit.answered_by
    if dependencies.app is None:  # no engine to ask
        deps = e(", ".join(f"{d.id} {d.requirement}" for d in package.dependencies) or "none")
    else:
        deps = dependencies_html(package, dependencies.statuses(record))
    return [
        ("Version", e(str(package.version))),
        ("Description", e(meta.description) or "–"),
        ("Categories", e(", ".join(meta.categories)) or "–"),
        ("Tags", e(", ".join(meta.tags)) or "–"),
        ("License", e(meta.license) or "–"),
        ("Authors", e(", ".join(meta.authors)) or "–"),
        ("Homepage", link(meta.homepage)),
        ("Repository", link(meta.repository)),
        ("Documentation", link(meta.documentation)),
        ("Dependencies", deps),
        ("Content hash", f"<code>{e(package.content_hash)}</code>"),
        ("Publisher", _publisher(hit, publisher)),
        ("Publisher key", f"<code>{e(base64.b64encode(record.publisher).decode())}</code><br>"
         f"<code>{e(record.publisher.hex())}</code>"),
        ("Signature", "✓ verified (Ed25519; the node verifies every record before showing it)"),
        (f"Returned by {len(answered)} peer{'s' if len(answered) != 1 else ''}",
         "<br>".join(f"<code>{e(s)}</code>" for s in sorted(answered)) or "none yet in this search"),
        *([("Known before the search", "<br>".join(e(s) for s in sorted(hit.sources - answered)))] if hit.is_known else []),
        ("First seen", f"{hit.first_seen_ms:.0f} ms after the query started"),
    ]
