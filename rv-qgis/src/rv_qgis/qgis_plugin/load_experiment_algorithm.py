"""``rv:load_experiment``: an experiment's scenes as layers, grouped per scene and styled by class map."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)

from . import settings
from .experiment import LAYER_KINDS, SPLITS, ExperimentError, read_experiment
from .fetch import FetchError, local_path, local_paths
from .styles import StyleError, style_layer

SPLIT_NAMES = [split for split, _, _ in SPLITS]


class LoadExperimentAlgorithm(QgsProcessingAlgorithm):
    """Load an rv experiment: scenes (train, validation, test) × layers (image, ground truth, predictions, AOI)."""

    EXPERIMENT = "EXPERIMENT"
    SPLITS = "SPLITS"
    SCENES = "SCENES"
    LAYERS = "LAYERS"
    STYLE_PROFILE = "STYLE_PROFILE"
    CLEAR_PROJECT = "CLEAR_PROJECT"
    OUTPUT_LAYERS = "OUTPUT_LAYERS"
    LOADED = "LOADED"

    def name(self):
        return "load_experiment"

    def displayName(self):
        return "Load experiment"

    def shortHelpString(self):
        return (
            "Loads an rv experiment (a JSON file under <root_uri>/experiments/): for the chosen scenes, the image "
            "(train-<scene>), ground truth (-ground_truth), predictions (-predictions) and AOIs (-aoi), one group "
            "per scene, styled by the experiment's class map or by a style profile."
        )

    def flags(self):
        # Layers and groups are added to the project: main thread only.
        return super().flags() | QgsProcessingAlgorithm.FlagNoThreading

    def createInstance(self):
        return LoadExperimentAlgorithm()

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(self.EXPERIMENT, "Experiment JSON", extension="json"))
        self.addParameter(
            QgsProcessingParameterEnum(
                self.SPLITS, "Scenes of", options=SPLIT_NAMES, allowMultiple=True, defaultValue=[0, 1, 2]
            )
        )
        self.addParameter(
            QgsProcessingParameterString(self.SCENES, "Scene ids (comma separated; empty: all)", optional=True)
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.LAYERS, "Layers to load", options=list(LAYER_KINDS), allowMultiple=True, defaultValue=[0, 1, 2, 3]
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.STYLE_PROFILE, "Style profile (empty: the experiment's class map)", optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(self.CLEAR_PROJECT, "Clear the project first", defaultValue=False)
        )
        self.addOutput(QgsProcessingOutputMultipleLayers(self.OUTPUT_LAYERS, "Loaded layers"))
        self.addOutput(QgsProcessingOutputNumber(self.LOADED, "Number of loaded layers"))

    def processAlgorithm(self, parameters, context, feedback):
        uri = self.parameterAsFile(parameters, self.EXPERIMENT, context)
        splits = [SPLIT_NAMES[i] for i in self.parameterAsEnums(parameters, self.SPLITS, context)]
        kinds = [LAYER_KINDS[i] for i in self.parameterAsEnums(parameters, self.LAYERS, context)]
        scene_ids = [
            s.strip() for s in (self.parameterAsString(parameters, self.SCENES, context) or "").split(",") if s.strip()
        ]
        profile_name = (self.parameterAsString(parameters, self.STYLE_PROFILE, context) or "").strip()
        profile = None
        if profile_name:
            profiles = settings.style_profiles()
            if profile_name not in profiles:
                raise QgsProcessingException(
                    f"no style profile {profile_name!r}: the configured ones are {', '.join(sorted(profiles)) or 'none'} "
                    "(Plugins → rv → Configure)"
                )
            profile = profiles[profile_name]
        work_dir = settings.working_dir()
        try:
            experiment = read_experiment(local_path(uri, work_dir, feedback))
            scenes = experiment.select(splits, scene_ids, kinds)
            # Remote layers are fetched in one go (one `rv qgis fetch`); local ones are used in place.
            paths, fetch_errors = local_paths(
                [spec.uri for scene in scenes for spec in scene.layers], work_dir, feedback
            )
        except (ExperimentError, FetchError) as exc:
            raise QgsProcessingException(str(exc)) from exc

        project = context.project() or QgsProject.instance()
        if self.parameterAsBoolean(parameters, self.CLEAR_PROJECT, context):
            project.clear()
        was_empty = not project.mapLayers()
        root = project.layerTreeRoot()
        loaded = []
        first_image = None
        for scene in scenes:
            if feedback.isCanceled():
                break
            group = root.findGroup(scene.group_name) or root.addGroup(scene.group_name)
            # Each layer goes on top of the group: image at the bottom, then ground truth, predictions, AOI.
            for spec in sorted(scene.layers, key=lambda s: LAYER_KINDS.index(s.kind)):
                layer = self._load(spec, paths.get(spec.uri), fetch_errors.get(spec.uri), feedback)
                if layer is None:
                    continue
                try:
                    style_layer(layer, spec.kind, experiment.classes, spec.rgb_bands, profile, spec.class_options)
                except StyleError as exc:
                    raise QgsProcessingException(str(exc)) from exc
                project.addMapLayer(layer, False)
                group.insertLayer(0, layer)
                loaded.append(layer.id())
                if spec.kind == "image" and first_image is None:
                    first_image = layer
                feedback.pushInfo(f"loaded {spec.name} from {spec.uri}")
        if first_image is not None and (was_empty or not project.crs().isValid()):
            project.setCrs(first_image.crs())  # an empty project takes the imagery's CRS
        return {self.OUTPUT_LAYERS: loaded, self.LOADED: len(loaded)}

    def _load(self, spec, path, fetch_error, feedback):
        """The layer of ``spec`` from its local ``path``, or ``None`` (with a warning) when missing or unreadable."""
        if fetch_error or path is None:
            feedback.reportError(f"{spec.name}: cannot read {spec.uri}: {fetch_error}", fatalError=False)
            return None
        if not os.path.exists(path):
            feedback.reportError(
                f"{spec.name}: {path} does not exist (has the experiment's command that writes it run?)",
                fatalError=False,
            )
            return None
        layer = QgsRasterLayer(path, spec.name) if spec.is_raster else QgsVectorLayer(path, spec.name, "ogr")
        if not layer.isValid():
            feedback.reportError(f"{spec.name}: QGIS cannot open {path}", fatalError=False)
            return None
        return layer
