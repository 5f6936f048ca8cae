"""rv-core's built-in plugin, loaded through the ``rv.plugins`` entry point like any other.

It registers the three tasks, the GeoTIFF and image raster sources, the stats
transformer and analyzer, the nodata augmentor, the raster label source and
store of segmentation, the evaluators, the six command implementations
(imported only when a command runs), the ``local`` and ``inprocess`` runners and the local,
HTTP and memory file systems. Only light config modules are imported here.
"""

from __future__ import annotations

from rv import keys
from rv.file_systems import file_system_for  # noqa: F401  (hookimpl)
from rv.hookspecs import hookimpl

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_TIFF_EXTENSIONS = (".tif", ".tiff", ".vrt")


def _ext(uri: str) -> str:
    path = uri.split("?", 1)[0].lower()
    return path[path.rfind(".") :] if "." in path else ""


@hookimpl
def register_tasks(register):
    from rv.task.chip_classification_config import ChipClassificationConfigBuilder
    from rv.task.object_detection_config import ObjectDetectionConfigBuilder
    from rv.task.semantic_segmentation_config import SemanticSegmentationConfigBuilder

    register(keys.CHIP_CLASSIFICATION, ChipClassificationConfigBuilder)
    register(keys.OBJECT_DETECTION, ObjectDetectionConfigBuilder)
    register(keys.SEMANTIC_SEGMENTATION, SemanticSegmentationConfigBuilder)


@hookimpl
def register_raster_sources(register):
    from rv.data.raster_source.geotiff_source_config import GeoTIFFSourceConfigBuilder
    from rv.data.raster_source.image_source_config import ImageSourceConfigBuilder

    register(keys.GEOTIFF_SOURCE, GeoTIFFSourceConfigBuilder)
    register(keys.IMAGE_SOURCE, ImageSourceConfigBuilder)


@hookimpl
def register_raster_transformers(register):
    from rv.data.raster_transformer.stats_transformer_config import StatsTransformerConfigBuilder

    register(keys.STATS_TRANSFORMER, StatsTransformerConfigBuilder)


@hookimpl
def register_label_sources(register):
    from rv.data.label_source.semantic_segmentation_raster_source_config import (
        SemanticSegmentationRasterSourceConfigBuilder,
    )

    register(keys.SEMANTIC_SEGMENTATION_RASTER, SemanticSegmentationRasterSourceConfigBuilder)


@hookimpl
def register_label_stores(register):
    from rv.data.label_store.semantic_segmentation_raster_store_config import (
        SemanticSegmentationRasterStoreConfigBuilder,
    )

    register(keys.SEMANTIC_SEGMENTATION_RASTER, SemanticSegmentationRasterStoreConfigBuilder)


@hookimpl
def register_analyzers(register):
    from rv.analyzer.stats_analyzer_config import StatsAnalyzerConfigBuilder

    register(keys.STATS_ANALYZER, StatsAnalyzerConfigBuilder)


@hookimpl
def register_augmentors(register):
    from rv.augmentor.nodata_augmentor_config import NodataAugmentorConfigBuilder

    register(keys.NODATA_AUGMENTOR, NodataAugmentorConfigBuilder)


@hookimpl
def register_evaluators(register):
    from rv.evaluation.task_evaluator_configs import (
        ChipClassificationEvaluatorConfigBuilder,
        ObjectDetectionEvaluatorConfigBuilder,
        SemanticSegmentationEvaluatorConfigBuilder,
    )

    register(keys.CHIP_CLASSIFICATION_EVALUATOR, ChipClassificationEvaluatorConfigBuilder)
    register(keys.OBJECT_DETECTION_EVALUATOR, ObjectDetectionEvaluatorConfigBuilder)
    register(keys.SEMANTIC_SEGMENTATION_EVALUATOR, SemanticSegmentationEvaluatorConfigBuilder)


@hookimpl
def register_runners(register):
    register(keys.INPROCESS, "rv.runner.inprocess_runner:InProcessRunner")
    register(keys.LOCAL, "rv.runner.local_runner:LocalRunner")


@hookimpl
def register_command_implementations(register):
    # Lazy "module:function" strings: torch and rasterio are imported only when a command runs.
    # In alphabetical order, like every other group (`rv plugins list` and its --json agree).
    register(keys.ANALYZE, "rv.command.analyze:run_analyze")
    register(keys.BUNDLE, "rv.command.bundle:run_bundle")
    register(keys.CHIP, "rv.command.chip:run_chip")
    register(keys.EVAL, "rv.command.eval:run_eval")
    register(keys.PREDICT, "rv.command.predict:run_predict")
    register(keys.TRAIN, "rv.command.train:run_train")


# -- default providers ---------------------------------------------------------


@hookimpl
def default_raster_source(uri):
    from rv.data.raster_source.geotiff_source_config import GeoTIFFSourceConfigBuilder
    from rv.data.raster_source.image_source_config import ImageSourceConfigBuilder

    ext = _ext(uri)
    if ext in _TIFF_EXTENSIONS:
        return GeoTIFFSourceConfigBuilder().with_uri(uri)
    if ext in _IMAGE_EXTENSIONS:
        return ImageSourceConfigBuilder().with_uri(uri)
    return None


@hookimpl(trylast=True)
def default_label_source(task_type, uri):
    if task_type == keys.SEMANTIC_SEGMENTATION and _ext(uri) in _TIFF_EXTENSIONS:
        from rv.data.label_source.semantic_segmentation_raster_source_config import (
            SemanticSegmentationRasterSourceConfigBuilder,
        )

        return SemanticSegmentationRasterSourceConfigBuilder().with_raster_source(uri)
    return None


@hookimpl(trylast=True)
def default_label_store(task_type):
    if task_type == keys.SEMANTIC_SEGMENTATION:
        from rv.data.label_store.semantic_segmentation_raster_store_config import (
            SemanticSegmentationRasterStoreConfigBuilder,
        )

        return SemanticSegmentationRasterStoreConfigBuilder()
    return None


@hookimpl(trylast=True)
def default_evaluator(task_type):
    from rv.evaluation.task_evaluator_configs import (
        ChipClassificationEvaluatorConfigBuilder,
        ObjectDetectionEvaluatorConfigBuilder,
        SemanticSegmentationEvaluatorConfigBuilder,
    )

    return {
        keys.CHIP_CLASSIFICATION: ChipClassificationEvaluatorConfigBuilder,
        keys.OBJECT_DETECTION: ObjectDetectionEvaluatorConfigBuilder,
        keys.SEMANTIC_SEGMENTATION: SemanticSegmentationEvaluatorConfigBuilder,
    }.get(task_type, lambda: None)()
