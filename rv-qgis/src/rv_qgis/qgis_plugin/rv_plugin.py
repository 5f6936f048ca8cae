"""The plugin object QGIS loads: the Processing provider, and the Plugins → rv menu in the desktop application."""

from __future__ import annotations

from qgis.core import QgsApplication

from .provider import RvProvider

MENU = "&rv"


class RvPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.actions = []

    def initProcessing(self):  # noqa: N802 (QGIS's name; qgis_process calls it without a GUI)
        if self.provider is None:
            self.provider = RvProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        from qgis.PyQt.QtWidgets import QAction

        self.initProcessing()
        for text, slot in (
            ("Load experiment…", self.load_experiment),
            ("Predict…", self.predict),
            ("Configure…", self.configure),
        ):
            action = QAction(text, self.iface.mainWindow())
            action.triggered.connect(slot)
            self.iface.addPluginToMenu(MENU, action)
            self.actions.append(action)

    def unload(self):
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
        self.actions = []
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    def load_experiment(self):
        from .dialogs import LoadExperimentDialog

        LoadExperimentDialog(self.iface, self.iface.mainWindow()).exec_()

    def predict(self):
        from .dialogs import PredictDialog

        # Not modal: the prediction runs as a background task; the dialog stays to show and cancel it.
        dialog = PredictDialog(self.iface, self.iface.mainWindow())
        self.dialogs = [d for d in getattr(self, "dialogs", []) if d.isVisible() or d.task is not None] + [dialog]
        dialog.show()

    def configure(self):
        from .configure_dialog import ConfigureDialog

        ConfigureDialog(self.iface.mainWindow()).exec_()
