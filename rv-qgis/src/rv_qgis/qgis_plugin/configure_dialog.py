"""Configure: the ``rv`` executable, the working directory and the style profiles."""

from __future__ import annotations

import json

from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
)

from . import settings


class ConfigureDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("rv: Configure")
        form = QFormLayout(self)
        self.executable = QLineEdit(settings.executable())
        self.executable.setPlaceholderText("rv on PATH")
        self.working_dir = QLineEdit(settings.working_dir())
        self.profiles = QPlainTextEdit(json.dumps(settings.style_profiles(), indent=2))
        self.profiles.setToolTip(
            'JSON: {"profile": {"image": "image.qml", "ground_truth": "gt.sld", "predictions": "p.qml", "aoi": "a.qml"}}')
        form.addRow("rv executable", self.executable)
        form.addRow("Working directory", self.working_dir)
        form.addRow("Style profiles", self.profiles)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def save(self):
        try:
            profiles = json.loads(self.profiles.toPlainText() or "{}")
            if not isinstance(profiles, dict):
                raise ValueError("style profiles must be a JSON object of profile name → {layer kind: file}")
        except ValueError as exc:
            QMessageBox.warning(self, "rv", f"Style profiles are not valid: {exc}")
            return
        settings.set_executable(self.executable.text().strip())
        settings.set_working_dir(self.working_dir.text().strip())
        settings.set_style_profiles(profiles)
        self.accept()
