"""Configure: the ``rv`` executable, the working directory and the style profiles."""

from __future__ import annotations

import json
import os

from qgis.PyQt.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPlainTextEdit

from . import settings
from .experiment import LAYER_KINDS


def check_style_profiles(profiles) -> str | None:
    """What is wrong with style profiles (``{name: {layer kind: QML or SLD file}}``), or ``None``."""
    if not isinstance(profiles, dict):
        return "style profiles must be a JSON object of profile name → {layer kind: file}"
    for name, files in profiles.items():
        if not isinstance(files, dict):
            return f"profile {name!r} must map layer kinds ({', '.join(LAYER_KINDS)}) to QML or SLD files"
        for kind, path in files.items():
            if kind not in LAYER_KINDS:
                return f"profile {name!r}: {kind!r} is not a layer kind; the kinds are {', '.join(LAYER_KINDS)}"
            if not isinstance(path, str) or not path.lower().endswith((".qml", ".sld")):
                return f"profile {name!r}: {kind} must name a .qml or .sld file, not {path!r}"
            if not os.path.isfile(os.path.expanduser(path)):
                return f"profile {name!r}: style file {path} does not exist"
    return None


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
            'JSON: {"profile": {"image": "image.qml", "ground_truth": "gt.sld", "predictions": "p.qml", "aoi": "a.qml"}}'
        )
        self.error = QLabel("")
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        form.addRow("rv executable", self.executable)
        form.addRow("Working directory", self.working_dir)
        form.addRow("Style profiles", self.profiles)
        form.addRow("", self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def save(self) -> bool:
        """Store the settings and close; on a problem, say it in the dialog and keep it open."""
        try:
            profiles = json.loads(self.profiles.toPlainText() or "{}")
        except ValueError as exc:
            problem = f"style profiles are not valid JSON: {exc}"
        else:
            problem = check_style_profiles(profiles)
        executable = self.executable.text().strip()
        if (
            problem is None
            and executable
            and os.sep in executable
            and not os.access(os.path.expanduser(executable), os.X_OK)
        ):
            problem = f"the rv executable {executable} does not exist or is not executable"
        if problem is not None:
            self.error.setText(problem)
            return False
        settings.set_executable(executable)
        settings.set_working_dir(self.working_dir.text().strip())
        settings.set_style_profiles(profiles)
        self.error.setText("")
        self.accept()
        return True
