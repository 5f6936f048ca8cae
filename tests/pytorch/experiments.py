"""The experiments of the end-to-end tests, as a user writes them: one method per task.

Run by the tests with ``rv run local tests/pytorch/experiments.py -m <method> -a root_uri OUT ...``.
Budgets are tiny (a few optimiser steps, small chips): the tests check that
every command works and that outputs are georeferenced and consistent, not
model quality (the Sentinel-2 test trains longer and checks that too).

The scene data is the sample data kept in the repository (``examples/data``);
AOI files are written by the tests and passed with ``-a``.
"""

from pathlib import Path

import rv

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
BUILDINGS = DATA / "buildings"
TREES = DATA / "trees"
LANDCOVER = DATA / "landcover"


def _backend(key, task, steps, batch_size, **options):
    """The backend of ``task``: ``steps`` optimiser steps, or ``epochs`` passes when ``steps`` is 0
    (the number of steps, when set, decides the training length)."""
    builder = (
        rv.BackendConfig.builder(key)
        .with_task(task)
        .with_model_defaults(rv.RESNET18)
        .with_batch_size(int(batch_size))
        .with_num_epochs(int(options.pop("epochs", 1)))
        .with_train_options(sync_interval=30, do_monitoring=False)
        .with_config({"encoder": "resnet18", "num_workers": 0, **options})
    )
    if int(steps):
        builder = builder.with_num_steps(int(steps))
    return builder.build()


def _experiment(exp_id, task, backend, train, valid, root_uri):
    dataset = rv.DatasetConfig.builder().with_train_scenes(train).with_validation_scenes(valid)
    return (
        rv.ExperimentConfig.builder()
        .with_id(exp_id)
        .with_task(task)
        .with_backend(backend)
        .with_dataset(dataset)
        .with_root_uri(root_uri)
        .build()
    )


class EndToEnd(rv.ExperimentSet):
    def exp_buildings_segmentation(self, root_uri, steps: int = 4, epochs: int = 1, chip_size: int = 64,
                                   lr: float = 1e-3, vector_output: int = 0):
        """Kampala A trains, Kampala B validates; building footprints from one WGS84 GeoJSON; the stats transformer.
        ``-a vector_output 1``: PREDICT also writes building polygons and class scores."""
        task = (
            rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
            .with_classes({"background": (0, "black"), "building": (1, "red")})
            .with_background_class_id(0)
            .with_chip_size(int(chip_size))
            .with_chip_options(chips_per_scene=16)
            .with_predict_options(stride=int(chip_size) * 3 // 4)
            .build()
        )
        backend = _backend(rv.PYTORCH_SEMANTIC_SEGMENTATION, task, steps, 4, epochs=epochs, decoder_channels=64,
                           lr=float(lr))
        labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(
            rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE)
            .with_uri(str(BUILDINGS / "kampala_buildings.geojson"))
            .with_default_class_id(1)
        )
        scenes = rv.SceneConfig.builder().with_task(task).with_label_source(labels)

        def image(name):  # ANALYZE's statistics scale the bands, as the bundle will on new images
            return rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(str(BUILDINGS / name)).with_stats_transformer()

        train = scenes.with_id("kampala_a").with_raster_source(image("kampala_oam_a.tif"))
        valid = scenes.with_id("kampala_b").with_raster_source(image("kampala_oam_b.tif"))
        if int(vector_output):
            valid = valid.with_label_store(
                rv.LabelStoreConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_vector_output().with_scores()
            )
        return _experiment("buildings-seg", task, backend, [train], [valid], root_uri)

    def exp_buildings_chip_classification(self, root_uri, steps: int = 4, chip_size: int = 64):
        """The same scenes as building / no-building cells."""
        task = (
            rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION)
            .with_classes({"background": (0, "black"), "building": (1, "red")})
            .with_background_class_id(0)
            .with_chip_size(int(chip_size))
            .build()
        )
        backend = _backend(rv.PYTORCH_CHIP_CLASSIFICATION, task, steps, 8)
        labels = (
            rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON)
            .with_uri(str(BUILDINGS / "kampala_buildings.geojson"))
            .with_default_class_id(1)
            .with_ioa_thresh(0.2)
            .with_use_intersection_over_cell()
        )
        scenes = rv.SceneConfig.builder().with_task(task).with_label_source(labels)
        train = scenes.with_id("kampala_a").with_raster_source(str(BUILDINGS / "kampala_oam_a.tif"))
        valid = scenes.with_id("kampala_b").with_raster_source(str(BUILDINGS / "kampala_oam_b.tif"))
        return _experiment("buildings-cc", task, backend, [train], [valid], root_uri)

    def exp_trees_detection(self, root_uri, aoi_dir, steps: int = 3, chip_size: int = 128, score_thresh: float = 0.0):
        """NEON tree crowns: the left half of the scene trains, the right half validates (AOIs)."""
        task = (
            rv.TaskConfig.builder(rv.OBJECT_DETECTION)
            .with_classes({"Tree": (0, "green")})
            .with_chip_size(int(chip_size))
            .with_chip_options(neg_ratio=0.5)
            .with_predict_options(stride=int(chip_size), score_thresh=float(score_thresh), merge_thresh=0.5)
            .build()
        )
        backend = _backend(rv.PYTORCH_OBJECT_DETECTION, task, steps, 4, fpn_channels=64, max_detections=20)
        scenes = (
            rv.SceneConfig.builder()
            .with_task(task)
            .with_raster_source(str(TREES / "neon_osbs_029.tif"))
            .with_label_source(str(TREES / "neon_osbs_029_trees.geojson"))
        )
        train = scenes.with_id("osbs_left").with_aoi_uri(f"{aoi_dir}/left.geojson")
        valid = scenes.with_id("osbs_right").with_aoi_uri(f"{aoi_dir}/right.geojson")
        return _experiment("trees-od", task, backend, [train], [valid], root_uri)

    def exp_trees_overfit(self, root_uri, image_uri, steps: int = 120, epochs: int = 120, chip_size: int = 128,
                          lr: float = 2e-3):
        """One small scene (a crop of the NEON scene) both trains and validates: a tiny budget overfits it."""
        task = (
            rv.TaskConfig.builder(rv.OBJECT_DETECTION)
            .with_classes({"Tree": (0, "green")})
            .with_chip_size(int(chip_size))
            .with_chip_options(window_method="sliding", ioa_thresh=0.5)
            .with_predict_options(stride=int(chip_size) // 2, score_thresh=0.5, merge_thresh=0.5)
            .build()
        )
        backend = _backend(rv.PYTORCH_OBJECT_DETECTION, task, steps, 4, epochs=epochs, fpn_channels=64,
                           max_detections=50, lr=float(lr))
        scene = (
            rv.SceneConfig.builder()
            .with_task(task)
            .with_raster_source(str(image_uri))
            .with_label_source(str(TREES / "neon_osbs_029_trees.geojson"))
        )
        return _experiment("trees-overfit", task, backend, [scene.with_id("osbs_crop_train")],
                           [scene.with_id("osbs_crop")], root_uri)

    def exp_landcover_multiband(self, root_uri, aoi_dir, steps: int = 150, epochs: int = 100, chip_size: int = 64):
        """Sentinel-2, all 10 bands (uint16, normalised by the backend); top rows train, bottom rows validate."""
        task = (
            rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
            .with_classes({"forest": (1, "darkgreen"), "grass": (2, "lightgreen"), "urban": (3, "grey"),
                           "water": (4, "blue")})
            .with_chip_size(int(chip_size))
            .with_chip_options(chips_per_scene=64)
            .build()
        )
        backend = _backend(rv.PYTORCH_SEMANTIC_SEGMENTATION, task, steps, 8, epochs=epochs, lr=2e-3,
                           decoder_channels=64, fine=False)
        scenes = (
            rv.SceneConfig.builder()
            .with_task(task)
            .with_raster_source(str(LANDCOVER / "s2_aberystwyth_tile4.tif"))
            .with_label_source(str(LANDCOVER / "s2_aberystwyth_tile4_labels.tif"))
        )
        train = scenes.with_id("tile4_top").with_aoi_uri(f"{aoi_dir}/top.geojson")
        valid = scenes.with_id("tile4_bottom").with_aoi_uri(f"{aoi_dir}/bottom.geojson")
        return _experiment("landcover-s2", task, backend, [train], [valid], root_uri)
