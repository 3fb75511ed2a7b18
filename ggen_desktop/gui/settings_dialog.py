"""The settings dialog: query settings (apply at once) and network settings (apply on restart).

Every value is checked by `core.settings.Settings` itself, so the dialog and the
settings file share one set of rules and one set of messages; each field's
tooltip is its setting's declared description.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.core.settings import Settings, SettingsError, declarations
from ggen_desktop.gui.resources import child, load_ui


class SettingsDialog(QDialog):
    """On accept, `result_settings` holds the validated Settings; the window applies and saves them."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("ggen Desktop settings")
        self.original = settings
        self.result_settings: Settings | None = None
        self.form = load_ui("settings.ui", self)
        form = self.form
        self.timeout: QDoubleSpinBox = child(form, QDoubleSpinBox, "default_timeoutField")
        self.max_results: QSpinBox = child(form, QSpinBox, "max_resultsField")
        self.fan_out: QSpinBox = child(form, QSpinBox, "fan_outField")
        self.adaptive: QCheckBox = child(form, QCheckBox, "adaptive_timeoutField")
        self.port: QSpinBox = child(form, QSpinBox, "listen_portField")
        self.bootstrap: QPlainTextEdit = child(form, QPlainTextEdit, "bootstrap_peersField")
        self.error_label: QLabel = child(form, QLabel, "errorLabel")
        self.error_label.setStyleSheet("font-weight: bold;")
        for name, declaration in declarations().items():
            child(form, QWidget, f"{name}Field").setToolTip(declaration.description)
        self.timeout.setValue(settings.default_timeout)
        self.max_results.setValue(settings.max_results)
        self.fan_out.setValue(settings.fan_out)
        self.adaptive.setChecked(settings.adaptive_timeout)
        self.port.setValue(settings.listen_port)
        self.bootstrap.setPlainText("\n".join(settings.bootstrap_peers))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(buttons)

    def build(self) -> Settings:
        """Validated Settings from the form; raises SettingsError naming the bad setting."""
        return replace(
            self.original,
            default_timeout=round(self.timeout.value(), 1),
            max_results=self.max_results.value(),
            fan_out=self.fan_out.value(),
            adaptive_timeout=self.adaptive.isChecked(),
            listen_port=self.port.value(),
            bootstrap_peers=tuple(line.strip() for line in self.bootstrap.toPlainText().splitlines() if line.strip()),
        )

    def accept(self) -> None:
        try:
            settings = self.build()
        except SettingsError as exc:
            self.error_label.setText(f"⚠ {exc}")
            return
        self.result_settings = settings
        super().accept()
