"""``rv:predict``: ``rv predict`` with a model bundle on a raster layer, the result styled by the bundle's class map."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsProcessingUtils,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

from .bundle import BundleError, read_bundle
from .experiment import polygons_uri
from .rv_runner import RvCanceled, RvNotFound, error_message, run_rv
from .styles import style_class_raster, style_class_vector

#: post-processors must outlive processAlgorithm: QGIS keeps only a pointer
_POST_PROCESSORS = []


class ClassMapStyler(QgsProcessingLayerPostProcessorInterface):
    """Styles an output layer by the bundle's class map when Processing loads it into the project."""

    def __init__(self, classes):
        super().__init__()
        self.classes = classes

    def postProcessLayer(self, layer, context, feedback):
        if isinstance(layer, QgsRasterLayer):
            style_class_raster(layer, self.classes)
        elif isinstance(layer, QgsVectorLayer):
            style_class_vector(layer, self.classes)


def _file_of(layer) -> str:
    """The file behind a GDAL raster layer (its source without ``|option`` suffixes)."""
    return layer.source().split("|")[0]


class PredictAlgorithm(QgsProcessingAlgorithm):
    """Predict on a raster layer with an rv model bundle (``rv predict`` of the configured rv)."""

    INPUT = "INPUT"
    BUNDLE = "BUNDLE"
    OUTPUT = "OUTPUT"
    OUTPUT_VECTOR = "OUTPUT_VECTOR"
    UPDATE_STATS = "UPDATE_STATS"
    CHANNEL_ORDER = "CHANNEL_ORDER"

    def name(self):
        return "predict"

    def displayName(self):
        return "Predict with a model bundle"

    def shortHelpString(self):
        return (
            "Runs `rv predict` of the configured rv installation (Plugins → rv → Configure; `rv` on PATH by "
            "default) with a model bundle (model-bundle.zip) on the input raster, and loads the result styled by the "
            "bundle's class map: for a segmentation bundle the class raster (OUTPUT) and, if asked, its polygons "
            "(OUTPUT_VECTOR); for object detection and chip classification bundles the boxes or cells (OUTPUT_VECTOR, "
            "by default OUTPUT with the extension .geojson). Cancel kills the rv process."
        )

    def createInstance(self):
        return PredictAlgorithm()

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input raster"))
        self.addParameter(QgsProcessingParameterFile(self.BUNDLE, "Model bundle", extension="zip"))
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.UPDATE_STATS,
                "Compute the statistics on this image instead of using the bundle's",
                defaultValue=False,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.CHANNEL_ORDER, "Bands to use, 0-based (e.g. 2 1 0; empty: the bundle's)", optional=True
            )
        )
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Predictions"))
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                self.OUTPUT_VECTOR,
                "Prediction polygons, boxes or cells",
                QgsProcessing.TypeVectorPolygon,
                optional=True,
                createByDefault=False,
            )
        )

    def processAlgorithm(self, parameters, context, feedback):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(f"no input raster layer {parameters.get(self.INPUT)!r}")
        image = _file_of(layer)
        if not os.path.isfile(image):
            raise QgsProcessingException(
                f"input layer {layer.name()} is not a raster file rv can read ({image}): save it as a GeoTIFF first"
            )
        bundle_path = self.parameterAsFile(parameters, self.BUNDLE, context)
        try:
            bundle = read_bundle(bundle_path)
        except BundleError as exc:
            raise QgsProcessingException(str(exc)) from exc
        channel_order = (self.parameterAsString(parameters, self.CHANNEL_ORDER, context) or "").strip()
        self._check_bands(layer, image, bundle, channel_order)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        vector_output = self.parameterAsOutputLayer(parameters, self.OUTPUT_VECTOR, context)
        if not bundle.writes_raster:
            return self._predict_vectors(
                image, bundle, output, vector_output, parameters, channel_order, context, feedback
            )

        args = self._args(bundle_path, image, output, parameters, channel_order, context)
        if os.path.dirname(output):
            os.makedirs(os.path.dirname(output), exist_ok=True)
        if not self._run(args, output, [output, polygons_uri(output)], feedback):
            return {}

        result = QgsRasterLayer(output, os.path.basename(output))
        style_class_raster(result, bundle.classes)
        result.saveNamedStyle(os.path.splitext(output)[0] + ".qml")  # QGIS applies it whenever it opens the file
        outputs = {self.OUTPUT: output}
        if vector_output:
            outputs[self.OUTPUT_VECTOR] = self._polygons(output, vector_output, bundle, context, feedback)
        self._style_on_load(outputs, bundle, context)
        feedback.setProgress(100)
        return outputs

    @staticmethod
    def _check_bands(layer, image, bundle, channel_order) -> None:
        """Before any heavy work: the bands the model reads must be bands of the image."""
        if channel_order:
            if not all(part.isdigit() for part in channel_order.replace(",", " ").split()):
                raise QgsProcessingException(
                    f'CHANNEL_ORDER {channel_order!r} is not a list of band numbers (0-based), e.g. "2 1 0"'
                )
            order = [int(part) for part in channel_order.replace(",", " ").split()]
            source = "CHANNEL_ORDER"
        else:
            order = list(bundle.channel_order or [])
            source = f"the bundle {os.path.basename(bundle.path)}"
        count = layer.bandCount()
        missing = [band for band in order if band >= count]
        if missing:
            raise QgsProcessingException(
                f"{image} has {count} band(s), but {source} reads bands {', '.join(map(str, order))} (0-based) — the "
                f"model was trained on {bundle.num_bands or 'other'}-band imagery: give an image with the bands the "
                "model was trained on, or set CHANNEL_ORDER to the bands of this image that match them"
            )
        channels = len(bundle.channel_order or [])
        if channel_order and channels and len(order) != channels:
            raise QgsProcessingException(
                f"CHANNEL_ORDER {channel_order!r} gives {len(order)} band(s), but the model of {bundle.path} takes "
                f"{channels}: give {channels} band numbers"
            )

    def _args(self, bundle_path, image, output, parameters, channel_order, context) -> list[str]:
        args = ["predict", bundle_path, image, output]
        if self.parameterAsBoolean(parameters, self.UPDATE_STATS, context):
            args.append("--update-stats")
        if channel_order:
            args += ["--channel-order", channel_order]
        return args

    def _run(self, args, output, partial, feedback) -> bool:
        """Run ``rv *args`` that writes ``output``; ``False`` when canceled (``partial`` files removed)."""
        feedback.setProgress(1)
        try:
            code, lines = run_rv(args, feedback)
        except RvNotFound as exc:
            raise QgsProcessingException(str(exc)) from exc
        except RvCanceled as exc:
            feedback.reportError(str(exc), fatalError=False)
            for path in partial:
                if os.path.exists(path):
                    os.remove(path)
            return False
        if code != 0 or not os.path.isfile(output):
            raise QgsProcessingException(
                f"rv predict failed (exit code {code}) on {args[2]} with {args[1]}:\n{error_message(lines)}"
            )
        feedback.setProgress(90)
        return True

    def _predict_vectors(self, image, bundle, output, vector_output, parameters, channel_order, context, feedback):
        """Object detection and chip classification: rv writes GeoJSON (boxes, cells) to ``OUTPUT_VECTOR``.

        Without ``OUTPUT_VECTOR`` the GeoJSON goes beside ``OUTPUT`` (``<OUTPUT stem>.geojson``); no raster is
        written, so ``OUTPUT`` is not loaded.
        """
        destination = vector_output or os.path.splitext(output)[0] + ".geojson"
        is_geojson = destination.lower().endswith((".geojson", ".json"))
        written = destination if is_geojson else os.path.splitext(destination)[0] + ".rv.geojson"
        if os.path.dirname(written):
            os.makedirs(os.path.dirname(written), exist_ok=True)
        args = self._args(bundle.path, image, written, parameters, channel_order, context)
        if not self._run(args, written, [written], feedback):
            return {}
        if not is_geojson:  # GeoPackage, Shapefile, ...: QGIS converts rv's GeoJSON
            self._convert(written, destination, context)
            os.remove(written)
        result = QgsVectorLayer(destination, os.path.basename(destination), "ogr")
        style_class_vector(result, bundle.classes)
        result.saveNamedStyle(os.path.splitext(destination)[0] + ".qml")
        layers = context.layersToLoadOnCompletion()
        # No raster for these tasks: where OUTPUT was to be loaded (the dialogs), the vectors are.
        if layers.pop(output, None) is not None and destination not in layers:
            layers[destination] = QgsProcessingContext.LayerDetails(
                "predictions", context.project(), self.OUTPUT_VECTOR, QgsProcessingUtils.LayerHint.Vector
            )
        context.setLayersToLoadOnCompletion(layers)
        self._style_on_load({self.OUTPUT_VECTOR: destination}, bundle, context)
        feedback.setProgress(100)
        return {self.OUTPUT_VECTOR: destination}

    @staticmethod
    def _convert(source_path, destination, context) -> None:
        source = QgsVectorLayer(source_path, "predictions", "ogr")
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = QgsVectorFileWriter.driverForExtension(os.path.splitext(destination)[1]) or "GPKG"
        error = QgsVectorFileWriter.writeAsVectorFormatV2(source, destination, context.transformContext(), options)
        if error[0] != QgsVectorFileWriter.NoError:
            raise QgsProcessingException(f"cannot write the predictions to {destination}: {error[1]}")

    @staticmethod
    def _style_on_load(outputs, bundle, context) -> None:
        """Style the outputs Processing loads into the project by the bundle's class map."""
        styler = ClassMapStyler(bundle.classes)
        _POST_PROCESSORS.append(styler)
        for path in outputs.values():
            if context.willLoadLayerOnCompletion(path):
                context.layerToLoadOnCompletionDetails(path).setPostProcessor(styler)

    def _polygons(self, raster, destination, bundle, context, feedback) -> str:
        """The prediction's polygons at ``destination``: rv's own when the bundle writes them, else GDAL's."""
        written = polygons_uri(raster)
        if os.path.isfile(written):
            self._convert(written, destination, context)
        else:
            import processing

            feedback.pushInfo("polygonizing the class raster (gdal:polygonize)")
            processing.run(
                "gdal:polygonize",
                {"INPUT": raster, "BAND": 1, "FIELD": "class_id", "EIGHT_CONNECTEDNESS": False, "OUTPUT": destination},
                context=context,
                feedback=feedback,
                is_child_algorithm=True,
            )
        polygons = QgsVectorLayer(destination, "polygons", "ogr")
        if polygons.isValid():
            style_class_vector(polygons, bundle.classes)
            polygons.saveNamedStyle(os.path.splitext(destination)[0] + ".qml")
        return destination
