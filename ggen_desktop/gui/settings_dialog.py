"""The settings dialog: query and download settings (apply at once) and network settings (the node restarts).

Every value is checked by `core.settings.Settings` itself, so the dialog and the
settings file share one set of rules; a message names the field by its label as
the user sees it ("Peers asked at once: must be …"), not by the setting's key.
Each field's tooltip is its setting's declared description.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
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
        self.downloads_folder: QLineEdit = child(form, QLineEdit, "downloads_folderField")
        self.seed_downloads: QCheckBox = child(form, QCheckBox, "seed_downloadsField")
        self.choose_folder: QPushButton = child(form, QPushButton, "chooseDownloadsFolder")
        self.choose_folder.clicked.connect(self.ask_folder)
        self.error_label: QLabel = child(form, QLabel, "errorLabel")
        self.error_label.setStyleSheet("font-weight: bold;")
        self.labels: dict[str, str] = {}  # setting name -> the field's label as shown, without its colon
        for name, declaration in declarations().items():
            field = child(form, QWidget, f"{name}Field")
            field.setToolTip(declaration.description)
            self.labels[name] = field.text() if isinstance(field, QCheckBox) else ""
        for label in form.findChildren(QLabel):
            buddy = label.buddy()
            if buddy is not None and buddy.objectName().endswith("Field"):
                self.labels[buddy.objectName().removesuffix("Field")] = label.text().rstrip(": ")
        self.timeout.setValue(settings.default_timeout)
        self.max_results.setValue(settings.max_results)
        self.fan_out.setValue(settings.fan_out)
        self.adaptive.setChecked(settings.adaptive_timeout)
        self.port.setValue(settings.listen_port)
        self.bootstrap.setPlainText("\n".join(settings.bootstrap_peers))
        self.bootstrap.textChanged.connect(self.validate)
        self.downloads_folder.setText(settings.downloads_folder)
        self.downloads_folder.textChanged.connect(self.validate)
        self.seed_downloads.setChecked(settings.seed_downloads)
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
            downloads_folder=self.downloads_folder.text().strip(),
            seed_downloads=self.seed_downloads.isChecked(),
        )

    def ask_folder(self) -> None:
        """The platform's folder chooser, starting at the folder in the field."""
        folder = QFileDialog.getExistingDirectory(self, "Downloads folder", self.downloads_folder.text())
        if folder:
            self.downloads_folder.setText(folder)

    def message(self, error: SettingsError) -> str:
        """The error with its setting's key replaced by the field's label: "Bootstrap peers: peer 'x' must be …"."""
        text = str(error)
        for name, label in self.labels.items():
            if text.startswith(name):
                return f"{label}: {text[len(name):].lstrip(': ')}"
        return text

    def validate(self) -> Settings | None:
        """As the user types: the message for the first bad field, cleared once it is fixed."""
        try:
            settings = self.build()
        except SettingsError as exc:
            self.error_label.setText(f"⚠ {self.message(exc)}")
            return None
        self.error_label.clear()
        return settings

    def accept(self) -> None:
        settings = self.validate()
        if settings is None:
            return
        self.result_settings = settings
        super().accept()
