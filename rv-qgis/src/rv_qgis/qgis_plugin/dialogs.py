"""The Load Experiment and Predict dialogs of Plugins → rv, on top of ``rv:load_experiment`` and ``rv:predict``.

Load Experiment reads the chosen experiment JSON at once and lists its scenes
to tick, with the layer kinds and the style profiles; Predict starts
``rv:predict`` as a background task (``QgsProcessingAlgRunnerTask``: progress
and cancel in QGIS's task manager) and loads the result styled by the bundle's
class map when it ends. Problems end in a QGIS message (the message bar in the
desktop application, always the rv tab of the message log), never an
exception out of a dialog.
"""

from __future__ import annotations

import os

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMapLayerProxyModel,
    QgsMessageLog,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.gui import QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

from . import settings
from .bundle import BundleError, read_bundle
from .experiment import LAYER_KINDS, SPLITS, ExperimentError, read_experiment
from .fetch import FetchError, local_path
from .styles import style_class_raster, style_class_vector

CLASS_MAP_STYLE = "(the experiment's class map)"


class _Messages:
    """Messages to the user: the message bar of ``iface`` when there is one, and QGIS's message log (tab rv)."""

    # No __init__: PyQt's cooperative constructors would call it with the dialog's arguments.
    def init_messages(self, iface) -> None:
        self.iface = iface
        #: ``(level, text)`` of every message, newest last (what the tests read)
        self.messages = []

    def notify(self, text: str, level=Qgis.Info) -> None:
        self.messages.append((level, text))
        QgsMessageLog.logMessage(text, "rv", level)
        if self.iface is not None:
            self.iface.messageBar().pushMessage("rv", text, level=level, duration=0 if level == Qgis.Critical else 8)


class LoadExperimentDialog(QDialog, _Messages):
    """Pick an experiment JSON, tick scenes and layer kinds, choose a style; OK loads them."""

    def __init__(self, iface=None, parent=None):
        super().__init__(parent)
        self.init_messages(iface)
        self.setWindowTitle("rv: Load experiment")
        self.experiment = None
        form = QFormLayout(self)
        self.file = QgsFileWidget()
        self.file.setFilter("Experiment JSON (*.json)")
        self.file.setToolTip("An experiment JSON under <root_uri>/experiments/: a path, or any URI rv reads")
        self.file.fileChanged.connect(self.read)
        form.addRow("Experiment", self.file)
        self.summary = QLabel("")
        form.addRow("", self.summary)
        self.scenes = QListWidget()
        form.addRow("Scenes", self.scenes)
        kinds = QWidget()
        row = QHBoxLayout(kinds)
        row.setContentsMargins(0, 0, 0, 0)
        self.kinds = {}
        for kind in LAYER_KINDS:
            box = QCheckBox(kind.replace("_", " "))
            box.setChecked(True)
            row.addWidget(box)
            self.kinds[kind] = box
        form.addRow("Layers", kinds)
        self.style = QComboBox()
        self.style.addItems([CLASS_MAP_STYLE, *sorted(settings.style_profiles())])
        form.addRow("Style", self.style)
        self.clear = QCheckBox("Clear the project first")
        form.addRow("", self.clear)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.load)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(False)
        form.addRow(self.buttons)

    def read(self, uri: str | None = None) -> bool:
        """Read the experiment at ``uri`` (default: the file widget's) and list its scenes, all ticked."""
        uri = (uri if isinstance(uri, str) else self.file.filePath()).strip()
        self.scenes.clear()
        self.experiment = None
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(False)
        if not uri:
            return False
        try:
            self.experiment = read_experiment(local_path(uri, settings.working_dir()))
        except (ExperimentError, FetchError) as exc:
            self.summary.setText("")
            self.notify(str(exc), Qgis.Critical)
            return False
        prefixes = {split: prefix for split, _, prefix in SPLITS}
        for scene in self.experiment.scenes:
            item = QListWidgetItem(f"{prefixes[scene.split]}-{scene.id}  ({scene.split})")
            item.setData(Qt.UserRole, scene.id)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked)
            self.scenes.addItem(item)
        self.summary.setText(
            f"{self.experiment.id}: {self.experiment.task or 'task?'}, {len(self.experiment.classes)} classes, "
            f"{len(self.experiment.scenes)} scenes"
        )
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(True)
        return True

    def chosen_scenes(self) -> list[str]:
        items = (self.scenes.item(i) for i in range(self.scenes.count()))
        return [item.data(Qt.UserRole) for item in items if item.checkState() == Qt.Checked]

    def parameters(self) -> dict:
        """The ``rv:load_experiment`` parameters the dialog stands for."""
        style = self.style.currentText()
        return {
            "EXPERIMENT": self.file.filePath().strip(),
            "SCENES": ",".join(self.chosen_scenes()),
            "LAYERS": [i for i, kind in enumerate(LAYER_KINDS) if self.kinds[kind].isChecked()],
            "STYLE_PROFILE": "" if style == CLASS_MAP_STYLE else style,
            "CLEAR_PROJECT": self.clear.isChecked(),
        }

    def load(self) -> dict | None:
        """Run ``rv:load_experiment``; the dialog closes when it succeeds. Returns its results (``None`` on failure)."""
        import processing

        if self.experiment is None and not self.read():
            return None
        params = self.parameters()
        if not params["SCENES"] or not params["LAYERS"]:
            self.notify("tick at least one scene and one kind of layer", Qgis.Warning)
            return None
        feedback = QgsProcessingFeedback()
        try:
            results = processing.run("rv:load_experiment", params, feedback=feedback)
        except QgsProcessingException as exc:
            self.notify(str(exc), Qgis.Critical)
            return None
        self.notify(f"loaded {results['LOADED']} layer(s) of experiment {self.experiment.id}", Qgis.Success)
        self.accept()
        return results


class PredictDialog(QDialog, _Messages):
    """Pick a raster layer and a model bundle; OK runs ``rv:predict`` in the background and loads the result."""

    def __init__(self, iface=None, parent=None):
        super().__init__(parent)
        self.init_messages(iface)
        self.setWindowTitle("rv: Predict")
        self.task = None
        self.bundle = None
        self.results = None
        self.loaded = []
        form = QFormLayout(self)
        self.layer = QgsMapLayerComboBox()
        self.layer.setFilters(QgsMapLayerProxyModel.RasterLayer)
        form.addRow("Input raster", self.layer)
        self.bundle_file = QgsFileWidget()
        self.bundle_file.setFilter("Model bundle (*.zip)")
        self.bundle_file.fileChanged.connect(self.read_bundle)
        form.addRow("Model bundle", self.bundle_file)
        self.bundle_info = QLabel("")
        form.addRow("", self.bundle_info)
        self.output = QgsFileWidget()
        self.output.setStorageMode(QgsFileWidget.SaveFile)
        self.output.setFilter("GeoTIFF (*.tif)")
        form.addRow("Predictions (raster)", self.output)
        self.output_vector = QgsFileWidget()
        self.output_vector.setStorageMode(QgsFileWidget.SaveFile)
        self.output_vector.setFilter("GeoJSON (*.geojson);;GeoPackage (*.gpkg)")
        self.output_vector.setToolTip("Polygons of a segmentation; the boxes or cells of the other tasks")
        form.addRow("Predictions (vector)", self.output_vector)
        self.update_stats = QCheckBox("Compute the statistics on this image instead of using the bundle's")
        form.addRow("", self.update_stats)
        self.channel_order = QLineEdit()
        self.channel_order.setPlaceholderText("the bundle's (0-based band numbers, e.g. 2 1 0)")
        form.addRow("Bands", self.channel_order)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Close)
        self.cancel_button = QPushButton("Cancel prediction")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ActionRole)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def read_bundle(self, path: str | None = None) -> bool:
        """Read the bundle's manifest and show its task, classes and bands."""
        path = (path if isinstance(path, str) else self.bundle_file.filePath()).strip()
        self.bundle = None
        self.bundle_info.setText("")
        if not path:
            return False
        try:
            self.bundle = read_bundle(path)
        except BundleError as exc:
            self.notify(str(exc), Qgis.Critical)
            return False
        names = ", ".join(c.name for c in self.bundle.classes)
        bands = " ".join(map(str, self.bundle.channel_order or [])) or "?"
        self.bundle_info.setText(
            f"{self.bundle.task}: {names}; reads bands {bands} (0-based) of {self.bundle.num_bands or '?'}-band imagery"
        )
        return True

    def parameters(self) -> dict:
        """The ``rv:predict`` parameters the dialog stands for."""
        layer = self.layer.currentLayer()
        params = {
            "INPUT": layer.id() if layer is not None else "",
            "BUNDLE": self.bundle_file.filePath().strip(),
            "OUTPUT": self.output.filePath().strip() or "TEMPORARY_OUTPUT",
            "UPDATE_STATS": self.update_stats.isChecked(),
            "CHANNEL_ORDER": self.channel_order.text().strip(),
        }
        if self.output_vector.filePath().strip():
            params["OUTPUT_VECTOR"] = self.output_vector.filePath().strip()
        return params

    def start(self):
        """Start ``rv:predict`` as a background task; :meth:`finished` loads the result. Returns the task."""
        if self.task is not None:
            self.notify("a prediction is already running: cancel it first", Qgis.Warning)
            return None
        if self.layer.currentLayer() is None:
            self.notify("choose an input raster layer (add one to the project first)", Qgis.Warning)
            return None
        if not self.read_bundle():
            return None
        algorithm = QgsApplication.processingRegistry().createAlgorithmById("rv:predict")
        self.context = QgsProcessingContext()
        self.context.setProject(QgsProject.instance())
        self.feedback = QgsProcessingFeedback()
        self.task = QgsProcessingAlgRunnerTask(algorithm, self.parameters(), self.context, self.feedback)
        self.task.executed.connect(self.finished)
        self.cancel_button.setEnabled(True)
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(False)
        QgsApplication.taskManager().addTask(self.task)
        self.notify(f"predicting with {os.path.basename(self.bundle.path)} (see the task manager)")
        return self.task

    def cancel(self) -> None:
        """Cancel the running prediction: its ``rv`` process is killed."""
        if self.task is not None:
            self.task.cancel()

    def finished(self, successful: bool, results: dict) -> None:
        """The task ended: load and style what ``rv:predict`` wrote, or say why it did not."""
        task, self.task = self.task, None
        self.cancel_button.setEnabled(False)
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(True)
        if task is not None and task.isCanceled() or self.feedback.isCanceled():
            self.notify("prediction canceled: the rv process was stopped", Qgis.Warning)
            return
        if not successful or not results:
            log = self.feedback.textLog().strip().splitlines()
            errors = [line for line in log if "error" in line.lower() or "failed" in line.lower()] or log[-5:]
            self.notify("prediction failed: " + " ".join(errors[-3:]), Qgis.Critical)
            return
        self.results = results
        name = os.path.splitext(os.path.basename(self.bundle.path))[0]
        for key, path in sorted(results.items()):
            if key == "OUTPUT" and path:
                layer = QgsRasterLayer(path, f"{name}-predictions")
                style = style_class_raster
            elif key == "OUTPUT_VECTOR" and path:
                layer = QgsVectorLayer(path, f"{name}-predictions-vector", "ogr")
                style = style_class_vector
            else:
                continue
            if layer.isValid():
                style(layer, self.bundle.classes)
                QgsProject.instance().addMapLayer(layer)
                self.loaded.append(layer.id())
        self.notify(f"predictions loaded: {', '.join(p for p in results.values() if isinstance(p, str))}", Qgis.Success)
