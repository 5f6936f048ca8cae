"""Building footprints on drone imagery of Kampala: semantic segmentation.

Kampala A (1536×1024 px, EPSG:3857, 0.149 m) trains and Kampala B (512×512 px)
validates. The labels are hand-drawn footprints in WGS84 (one file for both
scenes: rv reprojects them and clips them to each scene). The stats
transformer maps the imagery to uint8 with ANALYZE's statistics.

    rv run local examples/buildings_segmentation.py -a root_uri out/buildings

The model is the RESNET18 model defaults (resnet18 + FPN from scratch, class
weights from the class counts) with test-time flips opted in; the budget is 10 epochs over
273 chips, about 7 minutes of training on 2 CPU cores. Budget arguments:
``-a num_epochs N``, ``-a num_steps N``.
"""

from __future__ import annotations

from pathlib import Path

import rv

DATA = Path(__file__).resolve().parent / "data" / "buildings"
CLASSES = {"building": (1, "red"), "background": (2, "lightgray")}


def buildings_label_source(labels_uri: str):
    """Footprints rasterized per window: building where a polygon lies, background elsewhere."""
    geojson = (
        rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE)
        .with_uri(labels_uri)
        .with_default_class_id(1)  # the footprints carry no class property: they are all buildings
        .with_rasterizer_options(background_class_id=2)
    )
    return rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(geojson)


class BuildingsSegmentation(rv.ExperimentSet):
    def exp_buildings_segmentation(self, root_uri, num_epochs: int = 10, num_steps: int | None = None,
                                   chip_size: int = 256, class_balance: float = 1.0):
        task = (
            rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
            .with_chip_size(chip_size)
            .with_classes(CLASSES)
            .with_background_class_id(2)
            # Chips every quarter chip: 273 overlapping 256 px chips of Kampala A, so
            # each step sees buildings at new offsets (better than more epochs over fewer chips).
            .with_chip_options(window_method="sliding", stride=chip_size // 4)
            # PREDICT: the default stride (an eighth of a chip of overlap, blended).
            .with_debug(True)
            .build()
        )
        backend = (
            rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION)
            .with_task(task)
            .with_model_defaults(rv.RESNET18)
            .with_num_epochs(int(num_epochs))
            # Loss weights inverse to the class frequencies of the training chips: Kampala A is
            # 24 % building, Kampala B 59 %, and plain cross-entropy learns A's caution.
            # Test-time flips (opt-in: 4 forward passes a window) are worth ~0.01 of mIoU on
            # Kampala B, a 512² scene (bench/predict_defaults.py).
            .with_config({"class_balance": float(class_balance), "tta": "flips"})
        )
        if num_steps is not None:
            backend = backend.with_num_steps(num_steps)
        backend = backend.with_debug(True).build()

        labels = buildings_label_source(str(DATA / "kampala_buildings.geojson"))

        def scene(scene_id: str, image: str, predicted: bool):
            raster = (
                rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE)
                .with_uri(str(DATA / image))
                .with_channel_order([0, 1, 2])
                .with_stats_transformer()
            )
            builder = (
                rv.SceneConfig.builder().with_task(task).with_id(scene_id).with_raster_source(raster).with_label_source(labels)
            )
            if predicted:
                builder = builder.with_label_store(
                    rv.LabelStoreConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_vector_output(True)
                )
            return builder.build()

        dataset = (
            rv.DatasetConfig.builder()
            .with_train_scenes([scene("kampala_a", "kampala_oam_a.tif", False)])
            .with_validation_scenes([scene("kampala_b", "kampala_oam_b.tif", True)])
            .build()
        )
        return (
            rv.ExperimentConfig.builder()
            .with_id("buildings-segmentation")
            .with_task(task)
            .with_backend(backend)
            .with_dataset(dataset)
            .with_stats_analyzer()
            .with_root_uri(root_uri)
            .build()
        )


if __name__ == "__main__":
    rv.main()
