"""``rv:predict``: ``rv predict`` with a model bundle on a raster layer, the result styled by the bundle's class map."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
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
            "default) with a model bundle (model-bundle.zip) on the input raster, and loads the predicted class "
            "raster (and, if asked, its polygons) styled by the bundle's class map. Cancel kills the rv process."
        )

    def createInstance(self):
        return PredictAlgorithm()

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Input raster"))
        self.addParameter(QgsProcessingParameterFile(self.BUNDLE, "Model bundle", extension="zip"))
        self.addParameter(QgsProcessingParameterBoolean(
            self.UPDATE_STATS, "Compute the statistics on this image instead of using the bundle's", defaultValue=False))
        self.addParameter(QgsProcessingParameterString(
            self.CHANNEL_ORDER, "Bands to use, 0-based (e.g. 2 1 0; empty: the bundle's)", optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Predictions"))
        self.addParameter(QgsProcessingParameterVectorDestination(
            self.OUTPUT_VECTOR, "Prediction polygons", QgsProcessing.TypeVectorPolygon, optional=True,
            createByDefault=False))

    def processAlgorithm(self, parameters, context, feedback):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(f"no input raster layer {parameters.get(self.INPUT)!r}")
        image = _file_of(layer)
        if not os.path.isfile(image):
            raise QgsProcessingException(
                f"input layer {layer.name()} is not a raster file rv can read ({image}): save it as a GeoTIFF first")
        bundle_path = self.parameterAsFile(parameters, self.BUNDLE, context)
        try:
            bundle = read_bundle(bundle_path)
        except BundleError as exc:
            raise QgsProcessingException(str(exc)) from exc
        if not bundle.writes_raster:
            raise QgsProcessingException(
                f"{bundle_path} is a {bundle.task} bundle, which predicts GeoJSON, not a class raster: "
                "rv:predict takes segmentation bundles; run `rv predict` for the others")
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        vector_output = self.parameterAsOutputLayer(parameters, self.OUTPUT_VECTOR, context)

        args = ["predict", bundle_path, image, output]
        if self.parameterAsBoolean(parameters, self.UPDATE_STATS, context):
            args.append("--update-stats")
        channel_order = (self.parameterAsString(parameters, self.CHANNEL_ORDER, context) or "").strip()
        if channel_order:
            if not all(part.isdigit() for part in channel_order.replace(",", " ").split()):
                raise QgsProcessingException(
                    f"CHANNEL_ORDER {channel_order!r} is not a list of band numbers (0-based), e.g. \"2 1 0\"")
            args += ["--channel-order", channel_order]
        if os.path.dirname(output):
            os.makedirs(os.path.dirname(output), exist_ok=True)

        feedback.setProgress(1)
        try:
            code, lines = run_rv(args, feedback)
        except RvNotFound as exc:
            raise QgsProcessingException(str(exc)) from exc
        except RvCanceled as exc:
            feedback.reportError(str(exc), fatalError=False)
            for path in (output, polygons_uri(output)):
                if os.path.exists(path):
                    os.remove(path)
            return {}
        if code != 0 or not os.path.isfile(output):
            raise QgsProcessingException(
                f"rv predict failed (exit code {code}) on {image} with {bundle_path}:\n{error_message(lines)}")
        feedback.setProgress(90)

        result = QgsRasterLayer(output, os.path.basename(output))
        style_class_raster(result, bundle.classes)
        result.saveNamedStyle(os.path.splitext(output)[0] + ".qml")  # QGIS applies it whenever it opens the file
        outputs = {self.OUTPUT: output}
        if vector_output:
            outputs[self.OUTPUT_VECTOR] = self._polygons(output, vector_output, bundle, context, feedback)
        styler = ClassMapStyler(bundle.classes)
        _POST_PROCESSORS.append(styler)
        for path in outputs.values():
            if context.willLoadLayerOnCompletion(path):
                context.layerToLoadOnCompletionDetails(path).setPostProcessor(styler)
        feedback.setProgress(100)
        return outputs

    def _polygons(self, raster, destination, bundle, context, feedback) -> str:
        """The prediction's polygons at ``destination``: rv's own when the bundle writes them, else GDAL's."""
        written = polygons_uri(raster)
        if os.path.isfile(written):
            source = QgsVectorLayer(written, "polygons", "ogr")
            options = QgsVectorFileWriter.SaveVectorOptions()
            options.driverName = QgsVectorFileWriter.driverForExtension(os.path.splitext(destination)[1]) or "GPKG"
            error = QgsVectorFileWriter.writeAsVectorFormatV2(
                source, destination, context.transformContext(), options)
            if error[0] != QgsVectorFileWriter.NoError:
                raise QgsProcessingException(f"cannot write the polygons to {destination}: {error[1]}")
        else:
            import processing

            feedback.pushInfo("polygonizing the class raster (gdal:polygonize)")
            processing.run("gdal:polygonize", {"INPUT": raster, "BAND": 1, "FIELD": "class_id",
                                               "EIGHT_CONNECTEDNESS": False, "OUTPUT": destination},
                           context=context, feedback=feedback, is_child_algorithm=True)
        polygons = QgsVectorLayer(destination, "polygons", "ogr")
        if polygons.isValid():
            style_class_vector(polygons, bundle.classes)
            polygons.saveNamedStyle(os.path.splitext(destination)[0] + ".qml")
        return destination
