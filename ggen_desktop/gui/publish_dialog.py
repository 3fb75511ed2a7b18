"""The publish dialog: the package form at a width where labels, fields and buttons all fit, with the
signing key named and the outcome shown where the user pressed the button.

A dialog rather than the dock: a side panel is a quarter of the window, too
narrow for a form without scrolling sideways. It scrolls up and down on a
short screen, never sideways, and keeps what was typed when closed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.gui.publish_form import PublishForm
from ggen_desktop.gui.tasks import TaskGroup
from ggen_desktop.gui.window_docks import available_area

WIDTH = 660
SCREEN_SHARE = 0.9


class PublishDialog(QDialog):
    """Emits `publish_requested(Package)` when the form is valid and the user presses "Sign and publish"."""

    publish_requested = Signal(object)

    def __init__(self, tasks: TaskGroup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("publishDialog")
        self.setWindowTitle("Publish a package")
        self.form = PublishForm(tasks)
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # never sideways
        self.scroller.setWidget(self.form)
        self.signer = QLabel()
        self.signer.setObjectName("signerLabel")
        self.signer.setWordWrap(True)
        self.publish_button = QPushButton("Sign and publish")
        self.publish_button.setObjectName("publishButton")
        self.publish_button.setAccessibleName("Sign and publish the package")
        self.publish_button.setDefault(True)
        self.publish_button.clicked.connect(self._publish)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(120)
        self.progress.setAccessibleName("Publishing")
        self.progress.hide()
        self.result_label = QLabel()
        self.result_label.setObjectName("publishResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        row = QHBoxLayout()
        row.addWidget(self.publish_button)
        row.addWidget(self.progress)
        row.addWidget(self.result_label, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scroller, 1)
        layout.addWidget(self.signer)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self._sized = False

    def _publish(self) -> None:
        package = self.form.validate()
        if package is not None:
            self.publish_requested.emit(package)
            return
        self.result_label.setText(f"⚠ {self.form.form_error.text()}")  # said here too: the form may be scrolled
        first = next((label for label in self.form.errors.values() if label.isVisibleTo(self.form)), None)
        if first is not None:
            self.scroller.ensureWidgetVisible(first)

    def set_busy(self, busy: bool, text: str) -> None:
        self.publish_button.setEnabled(not busy)
        self.progress.setVisible(busy)
        self.result_label.setText(text)

    def showEvent(self, event: QShowEvent) -> None:
        """Wide enough for the form, as tall as it is or the screen allows (then it scrolls up and down)."""
        super().showEvent(event)
        self.form.fields["id"].setFocus(Qt.FocusReason.OtherFocusReason)
        if self._sized:  # the user's size from now on
            return
        self._sized = True
        area = available_area(self)
        # room for the form with a few messages shown, the key line and the buttons
        height = self.form.sizeHint().height() + self.signer.sizeHint().height() + 220
        self.resize(min(WIDTH, int(area.width() * SCREEN_SHARE)), min(height, int(area.height() * SCREEN_SHARE)))
