"""The end-to-end experiment of the benchmarks that time ``rv run`` (``pipeline_overhead.py``,
``pytorch_predict.py``), written as a user writes one; they pass this file to ``rv run``.

One training and one validation scene, each an image with the stats
transformer and its buildings GeoJSON rasterized as labels (the synthetic
scenes of ``_synthetic``); SEMANTIC_SEGMENTATION and
PYTORCH_SEMANTIC_SEGMENTATION with the RESNET18 model defaults. Defaults
everywhere but the classes, the epochs and (unless None) the chips per scene.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _synthetic as syn  # noqa: E402

import rv  # noqa: E402

#: this file, for ``rv run RUNNER PATH``
PATH = os.path.abspath(__file__)


class BuildingsPipeline(rv.ExperimentSet):
    def exp_buildings_pipeline(
        self,
        root_uri,
        train_image,
        train_labels,
        valid_image,
        valid_labels,
        experiment_id: str = "bench-pipeline",
        num_epochs: int = 1,
        chips_per_scene: int | None = None,
    ):
        task = (
            rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
            .with_classes({"background": (syn.BACKGROUND_ID, "lightgray"), "building": (syn.BUILDING_ID, "red")})
            .with_background_class_id(syn.BACKGROUND_ID)
        )
        if chips_per_scene is not None:
            task = task.with_chip_options(chips_per_scene=int(chips_per_scene))
        task = task.build()
        backend = (
            rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION)
            .with_task(task)
            .with_model_defaults(rv.RESNET18)
            .with_num_epochs(int(num_epochs))
            .build()
        )

        def scene(scene_id: str, image: str, labels: str):
            raster = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(image).with_stats_transformer()
            label_source = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(
                rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE).with_uri(labels)
            )
            return (
                rv.SceneConfig.builder()
                .with_task(task)
                .with_id(scene_id)
                .with_raster_source(raster)
                .with_label_source(label_source)
                .build()
            )

        dataset = (
            rv.DatasetConfig.builder()
            .with_train_scenes([scene("train", train_image, train_labels)])
            .with_validation_scenes([scene("valid", valid_image, valid_labels)])
            .build()
        )
        return (
            rv.ExperimentConfig.builder()
            .with_id(experiment_id)
            .with_task(task)
            .with_backend(backend)
            .with_dataset(dataset)
            .with_stats_analyzer()
            .with_root_uri(root_uri)
            .build()
        )
