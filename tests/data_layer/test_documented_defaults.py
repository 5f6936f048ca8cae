"""Raster Vision 0.8's documented defaults and options, in experiments written as its users write them.

Each test builds its experiment with the builders the way the Raster Vision
0.8 documentation shows, runs the commands through the real command path on
the sample data, and checks what a user would look at: where chips were
cut, what their pixels and labels are, where PREDICT wrote its pictures,
what eval.json names the classes.

- augmentors change training chips only, never validation chips;
- object detection ``window_method="sliding"``: windows half a chip apart;
- segmentation ``sliding`` chips: ``stride`` defaults to half the chip size;
- object detection ``label_buffer`` below 1 is a fraction of the box, from 1 up pixels;
- ``with_rgb_class_map(map)`` reads an RGB label raster by the map given;
- ``clear_label_source()`` / ``clear_label_store()`` on a scene builder;
- ``with_predict_debug_uri(uri)``: PREDICT's overlays are written there;
- evaluator ``with_class_map(...)`` / ``with_task(task)``;
- ``with_chip_options`` / ``with_predict_options`` in the documented positional order.

No ``from __future__ import annotations``: the backend config below is read by the serializer.
"""

import csv
from pathlib import Path

import attrs
import numpy as np
import pytest
import rasterio

import rv
from rv.backend.backend import Backend
from rv.backend.backend_config import BackendConfig, BackendConfigBuilder
from rv.errors import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore::rv_geojson.geojson_reader.GeoJSONWarning")

KAMPALA_CLASSES = {"building": (1, "red"), "background": (2, "lightgray")}
LANDCOVER_CLASSES = {"forest": (1, "darkgreen"), "grass": (2, "yellowgreen"), "urban": (3, "red"), "water": (4, "blue")}


def grid(extent_size, chip_size, stride):
    """Window starts along one axis of ``extent_size`` px: every ``stride``, the last one moved back to end on the edge."""
    starts = list(range(0, extent_size - chip_size + 1, stride))
    if starts[-1] + chip_size < extent_size:
        starts.append(extent_size - chip_size)
    return starts


def kampala_scene(task, scene_id, tif, geojson):
    """A Kampala scene: the drone image and its footprints (every feature a building, id 1) rasterized."""
    labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(
        rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE).with_uri(str(geojson)).with_default_class_id(1)
    )
    return (
        rv.SceneConfig.builder()
        .with_task(task)
        .with_id(scene_id)
        .with_raster_source(str(tif))
        .with_label_source(labels)
    )


def read_rgb(tif):
    with rasterio.open(tif) as ds:
        return np.moveaxis(ds.read(), 0, -1)


def located_windows(helpers, chips, scene_image, h, w):
    """``[(ymin, xmin), ...]`` of each chip, found in ``scene_image`` by its pixels (exactly one place each)."""
    locator = helpers.ChipLocator(scene_image, h, w)
    found = []
    for chip in chips:
        (window,) = locator.locate(chip["image"])
        found.append((int(window.ymin), int(window.xmin)))
    return found


# ---------------------------------------------------------------------------------------------
# Augmentors
# ---------------------------------------------------------------------------------------------


def test_the_nodata_augmentor_changes_training_chips_and_never_validation_chips(rv_env, helpers, data_dir, tmp_path):
    buildings = data_dir / "buildings"
    geojson = buildings / "kampala_buildings.geojson"
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes(KAMPALA_CLASSES)
        .with_background_class_id(2)
        .with_chip_size(64)
        .with_chip_options(window_method="sliding", stride=64)
        .build()
    )
    # Every negative chip is augmented (probability 1). The same image is chipped for training and for
    # validation, so the two splits hold the same windows: only the training ones may change.
    tif_a = buildings / "kampala_oam_a.tif"
    augmentor = rv.AugmentorConfig.builder(rv.NODATA_AUGMENTOR).with_probability(1.0).build()
    dataset = (
        rv.DatasetConfig.builder()
        .with_train_scenes([kampala_scene(task, "kampala-a", tif_a, geojson)])
        .with_validation_scenes([kampala_scene(task, "kampala-a-valid", tif_a, geojson)])
        .with_augmentor(augmentor)
    )
    experiment = (
        rv.ExperimentConfig.builder()
        .with_id("kampala-augment")
        .with_task(task)
        .with_backend(helpers.backend_for(task))
        .with_dataset(dataset)
        .with_root_uri(str(tmp_path / "out"))
        .build()
    )
    helpers.run_commands(experiment, tmp_path, ["CHIP"])
    _, chips, _ = helpers.read_chips(experiment)
    windows = [(y, x) for y in grid(1024, 64, 64) for x in grid(1536, 64, 64)]
    assert len(chips["train"]) == len(chips["valid"]) == len(windows)

    # Validation: every chip is exactly its window of the image (Kampala has no nodata), nothing masked,
    # negatives (no building pixel) included.
    scene_a = read_rgb(tif_a)
    assert not any(chip["mask"].any() for chip in chips["valid"])
    assert sorted(located_windows(helpers, chips["valid"], scene_a, 64, 64)) == windows
    negatives = sum(not (chip["labels"] == 1).any() for chip in chips["valid"])
    assert negatives >= 50

    # Training: the negative chips carry the augmentor's blank square (a square of random side, rarely 0 px).
    augmented = [chip for chip in chips["train"] if chip["mask"].any()]
    assert len(augmented) >= negatives * 3 // 4
    for chip in augmented:
        assert not (chip["labels"] == 1).any()  # only negative chips are augmented
        assert (chip["image"][chip["mask"]] == 0).all()


# ---------------------------------------------------------------------------------------------
# Window positions
# ---------------------------------------------------------------------------------------------


def test_object_detection_sliding_windows_overlap_by_half(rv_env, helpers, data_dir, tmp_path):
    trees = data_dir / "trees"
    image = trees / "neon_osbs_029.tif"
    task = (
        rv.TaskConfig.builder(rv.OBJECT_DETECTION)
        .with_classes({"Tree": (0, "green")})
        .with_chip_size(100)
        .with_chip_options(window_method="sliding")
        .build()
    )
    scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(str(image))
    scenes = scenes.with_label_source(str(trees / "neon_osbs_029_trees.geojson"))
    experiment = helpers.build_experiment(
        "trees-sliding", task, [scenes.with_id("osbs-train")], [scenes.with_id("osbs-valid")], tmp_path / "out"
    )
    helpers.run_commands(experiment, tmp_path, ["CHIP"])
    _, chips, _ = helpers.read_chips(experiment)

    # 400 px, 100-px chips, 50 px apart: 7 x 7 windows, each pixel in up to four chips.
    want = sorted((y, x) for y in range(0, 301, 50) for x in range(0, 301, 50))
    for split in ("train", "valid"):
        assert sorted(located_windows(helpers, chips[split], read_rgb(image), 100, 100)) == want


def test_segmentation_sliding_stride_defaults_to_half_the_chip_size(rv_env, helpers, data_dir, tmp_path):
    buildings = data_dir / "buildings"
    geojson = buildings / "kampala_buildings.geojson"
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes(KAMPALA_CLASSES)
        .with_background_class_id(2)
        .with_chip_size(128)
        .with_chip_options(window_method="sliding")
        .build()
    )
    tif_b = buildings / "kampala_oam_b.tif"
    experiment = helpers.build_experiment(
        "kampala-stride",
        task,
        [kampala_scene(task, "kampala-b", tif_b, geojson)],
        [kampala_scene(task, "kampala-b-valid", tif_b, geojson)],
        tmp_path / "out",
    )
    helpers.run_commands(experiment, tmp_path, ["CHIP"])
    _, chips, _ = helpers.read_chips(experiment)

    # 512 px, 128-px chips, 64 px apart: 7 x 7 windows.
    want = sorted((y, x) for y in range(0, 385, 64) for x in range(0, 385, 64))
    assert sorted(located_windows(helpers, chips["train"], read_rgb(tif_b), 128, 128)) == want
    # PREDICT's stride is its own option (default: the chip size less an eighth), untouched by the chip stride.
    assert task.predict_options.stride is None


# ---------------------------------------------------------------------------------------------
# label_buffer
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label_buffer,margin",
    [
        (0.25, lambda side: round(0.25 * side)),  # below 1: a quarter of the box's side, on each side
        (3, lambda side: 3),  # from 1 up: pixels
    ],
)
def test_label_buffer_below_one_is_a_fraction_of_the_box(rv_env, helpers, data_dir, tmp_path, label_buffer, margin):
    trees = data_dir / "trees"
    image = trees / "neon_osbs_029.tif"
    # Positional, in the order the documentation gives: neg_ratio, ioa_thresh, window_method, label_buffer.
    task = (
        rv.TaskConfig.builder(rv.OBJECT_DETECTION)
        .with_classes({"Tree": (0, "green")})
        .with_chip_size(100)
        .with_chip_options(1, 0.8, "label", label_buffer)
        .build()
    )
    scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(str(image))
    scenes = scenes.with_label_source(str(trees / "neon_osbs_029_trees.geojson"))
    experiment = helpers.build_experiment(
        "trees-buffer", task, [scenes.with_id("osbs-train")], [scenes.with_id("osbs-valid")], tmp_path / "out"
    )
    helpers.run_commands(experiment, tmp_path, ["CHIP"])
    _, chips, _ = helpers.read_chips(experiment)

    with open(trees / "neon_osbs_029_trees.csv") as f:
        boxes = [[float(r[k]) for k in ("ymin", "xmin", "ymax", "xmax")] for r in csv.DictReader(f)]
    # Window = box grown by the margin on each side, clipped to the 400 x 400 scene. The GeoJSON boxes
    # lie within 1 px of the CSV's, so sizes agree to within 2 px (an edge each side, plus rounding).
    # Heights and widths are compared as sorted lists (if each window is within 2 px of its box's
    # expectation, the sorted lists are too).
    want_h = sorted(min(y1 + margin(y1 - y0), 400) - max(y0 - margin(y1 - y0), 0) for y0, x0, y1, x1 in boxes)
    want_w = sorted(min(x1 + margin(x1 - x0), 400) - max(x0 - margin(x1 - x0), 0) for y0, x0, y1, x1 in boxes)
    got_h = sorted(chip["image"].shape[0] for chip in chips["train"])
    got_w = sorted(chip["image"].shape[1] for chip in chips["train"])
    assert len(got_h) == len(want_h)
    assert max(abs(a - b) for a, b in zip(got_h + got_w, want_h + want_w)) <= 2, (got_h, want_h, got_w, want_w)


def test_a_negative_label_buffer_is_refused():
    with pytest.raises(ConfigError, match=r"label_buffer is -2.*>= 0"):
        rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes(["car"]).with_chip_options(label_buffer=-2).build()


# ---------------------------------------------------------------------------------------------
# with_rgb_class_map
# ---------------------------------------------------------------------------------------------


def test_with_rgb_class_map_reads_the_label_colors_of_the_map_given(rv_env, helpers, data_dir, tmp_path):
    image = data_dir / "landcover" / "s2_aberystwyth_tile4.tif"
    with rasterio.open(data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif") as ds:
        class_raster = ds.read(1)
        profile = ds.profile
    # The label raster as an RGB picture, painted in colors other than the task's.
    painted = {1: (0, 100, 0), 2: (255, 255, 0), 3: (128, 0, 128), 4: (0, 255, 255)}
    rgb_map = {"forest": (1, "#006400"), "grass": (2, "#ffff00"), "urban": (3, "#800080"), "water": (4, "#00ffff")}
    rgb = np.zeros((3, *class_raster.shape), dtype=np.uint8)
    for class_id, color in painted.items():
        rgb[:, class_raster == class_id] = np.array(color, dtype=np.uint8)[:, None]
    rgb_tif = tmp_path / "labels_rgb.tif"
    profile.update(count=3, nodata=None)
    with rasterio.open(rgb_tif, "w", **profile) as ds:
        ds.write(rgb)

    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes(LANDCOVER_CLASSES)
        .with_chip_size(64)
        .with_chip_options(window_method="random_sample", chips_per_scene=6)
        .build()
    )
    labels = (
        rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER)
        .with_raster_source(str(rgb_tif))
        .with_rgb_class_map(rgb_map)
    )
    channel_order = [2, 1, 0]
    scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(str(image), channel_order=channel_order)
    scenes = scenes.with_label_source(labels)
    experiment = helpers.build_experiment(
        "landcover-rgb", task, [scenes.with_id("tile4")], [scenes.with_id("tile4-valid")], tmp_path / "out"
    )
    helpers.run_commands(experiment, tmp_path, ["CHIP"])
    _, chips, _ = helpers.read_chips(experiment)

    with rasterio.open(image) as ds:
        scene_image = np.moveaxis(ds.read([c + 1 for c in channel_order]), 0, -1)
    locator = helpers.ChipLocator(scene_image, 64, 64)
    assert len(chips["train"]) == 6
    for chip in chips["train"] + chips["valid"]:
        (window,) = locator.locate(chip["image"])
        inside = helpers.window_of(np.ones(class_raster.shape, bool), window, fill=False)
        want = np.where(inside, helpers.window_of(class_raster, window), rv.IGNORE_CLASS_ID)
        np.testing.assert_array_equal(chip["labels"], want)


def test_an_rgb_class_map_with_ids_the_task_lacks_is_refused(rv_env, data_dir, tmp_path):
    task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(LANDCOVER_CLASSES).build()
    labels = (
        rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER)
        .with_raster_source(str(data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif"))
        .with_rgb_class_map({"forest": (1, "#006400"), "snow": (9, "#ffffff")})
        .build()
    )
    with pytest.raises(ConfigError, match=r"class id\(s\) \[9\].*task ids: \[1, 2, 3, 4\]"):
        labels.label_class_map(task)


# ---------------------------------------------------------------------------------------------
# PREDICT: with_predict_debug_uri, clear_label_source / clear_label_store
# ---------------------------------------------------------------------------------------------

CONSTANT_BACKEND = "DOCUMENTED_DEFAULTS_CONSTANT"


class ConstantBackend(Backend):
    """Predicts class 1 at every pixel: PREDICT's path without a model."""

    def __init__(self, task):
        self.task = task

    def train(self, chip_uri, train_uri, stats_uri, tmp_dir):
        raise AssertionError("not trained in these tests")

    def load_model(self, model_uri, tmp_dir):
        assert Path(model_uri).is_file()

    def predict_scene(self, scene, tmp_dir):
        from rv.labels.semantic_segmentation_labels import SemanticSegmentationLabels

        extent = scene.extent
        labels = SemanticSegmentationLabels.from_array(np.ones((int(extent.ymax), int(extent.xmax)), np.uint8))
        scene.label_store.save(labels)
        return labels


@attrs.frozen
class ConstantBackendConfig(BackendConfig):
    def create(self, task_config=None, tmp_dir=None):
        return ConstantBackend(task_config or self.task)


class ConstantBackendConfigBuilder(BackendConfigBuilder):
    config_class = ConstantBackendConfig


class ConstantBackendPlugin:
    @rv.hookimpl
    def register_backends(self, register):
        register(CONSTANT_BACKEND, ConstantBackendConfigBuilder)


def run_predict(experiment, tmp_dir):
    """Plan PREDICT (input check on) and run it through ``run_command``, as a runner does."""
    from rv.command.dag import build_plan
    from rv.command.run_command import run_command
    from rv.runner.runner import write_command_configs

    plan = build_plan([experiment], ["PREDICT"], check_inputs=True)
    assert [pc.config.command_type for pc in plan.to_run()] == ["PREDICT"]
    for uri in write_command_configs(plan):
        run_command(uri, tmp_dir=str(tmp_dir))


def test_predict_debug_uri_and_cleared_label_source_and_store(rv_env, rv_register_plugin, data_dir, tmp_path):
    rv_register_plugin(ConstantBackendPlugin(), "documented_defaults_constant")
    buildings = data_dir / "buildings"
    geojson = buildings / "kampala_buildings.geojson"
    debug_dir = tmp_path / "prediction-debug"
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes(KAMPALA_CLASSES)
        .with_background_class_id(2)
        .with_chip_size(128)
        .with_predict_debug_uri(str(debug_dir))
        .build()
    )
    backend = rv.BackendConfig.builder(CONSTANT_BACKEND).with_task(task).build()
    tif_b = buildings / "kampala_oam_b.tif"
    custom_store = tmp_path / "elsewhere" / "kampala-b.tif"
    labelled = kampala_scene(task, "kampala-b", tif_b, geojson).with_label_store(str(custom_store))
    # A scene copied from a labelled one whose label file is gone: cleared, it is only predicted.
    gone = labelled.with_id("kampala-b-unlabelled").with_label_source(str(tmp_path / "missing.geojson"))
    test_scene = gone.clear_label_source().clear_label_store()
    validation = labelled.clear_label_store()
    assert test_scene.build().label_source is None and validation.build().label_store is None
    experiment = (
        rv.ExperimentConfig.builder()
        .with_id("kampala-predict")
        .with_task(task)
        .with_backend(backend)
        .with_dataset(
            rv.DatasetConfig.builder()
            .with_train_scenes([kampala_scene(task, "kampala-a", buildings / "kampala_oam_a.tif", geojson)])
            .with_validation_scenes([validation])
            .with_test_scenes([test_scene])
        )
        .with_root_uri(str(tmp_path / "out"))
        .build()
    )
    resolved = experiment.resolved()
    model = Path(resolved.backend.model_output_uri())
    model.parent.mkdir(parents=True)
    model.write_text("constant")
    run_predict(experiment, tmp_path)

    predict_dir = Path(resolved.command_uri("PREDICT"))
    # The cleared stores fall back to the default: <predict>/<scene id>.tif, never the store cleared away.
    for scene_id in ("kampala-b", "kampala-b-unlabelled"):
        with rasterio.open(predict_dir / f"{scene_id}.tif") as ds:
            assert ds.shape == (512, 512) and (ds.read(1) == 1).all()
    assert not custom_store.exists()
    # The prediction overlays go to the debug directory, not next to the predictions.
    overlays = sorted(p.name for p in debug_dir.iterdir())
    assert overlays == ["kampala-b-overlay.png", "kampala-b-unlabelled-overlay.png"]
    for name in overlays:
        assert (debug_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(predict_dir.glob("*.png"))


# ---------------------------------------------------------------------------------------------
# Evaluators
# ---------------------------------------------------------------------------------------------


def kampala_eval_experiment(helpers, data_dir, tmp_path, evaluator):
    buildings = data_dir / "buildings"
    geojson = buildings / "kampala_buildings.geojson"
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes(KAMPALA_CLASSES)
        .with_background_class_id(2)
        .with_chip_size(128)
    )
    if callable(evaluator):
        evaluator = evaluator(task)
    dataset = (
        rv.DatasetConfig.builder()
        .with_train_scenes([kampala_scene(task, "kampala-a", buildings / "kampala_oam_a.tif", geojson)])
        .with_validation_scenes([kampala_scene(task, "kampala-b", buildings / "kampala_oam_b.tif", geojson)])
    )
    return (
        rv.ExperimentConfig.builder()
        .with_id("kampala-eval")
        .with_task(task)
        .with_backend(helpers.backend_for(task.build()))
        .with_dataset(dataset)
        .with_evaluator(evaluator)
        .with_root_uri(str(tmp_path / "out"))
        .build()
    )


def test_evaluator_with_class_map_names_the_classes_in_eval_json(rv_env, helpers, data_dir, tmp_path):
    evaluator = rv.EvaluatorConfig.builder(rv.SEMANTIC_SEGMENTATION_EVALUATOR).with_class_map(
        {"roof": (1, "orange"), "ground": (2, "black")}
    )
    experiment = kampala_eval_experiment(helpers, data_dir, tmp_path, evaluator)
    helpers.run_commands(experiment, tmp_path, ["EVAL"])
    report, _ = helpers.read_eval(experiment)
    by_id = {c["class_id"]: c for c in report["classes"]}
    assert (by_id[1]["class_name"], by_id[2]["class_name"]) == ("roof", "ground")
    # Ground truth scored against itself: the map renames, it does not change what is counted.
    assert by_id[1]["gt_count"] > 0 and by_id[2]["gt_count"] > 0
    assert by_id[1]["gt_count"] + by_id[2]["gt_count"] == 512 * 512
    assert by_id[1]["f1"] == pytest.approx(1.0)


def test_evaluator_with_task_scores_with_the_tasks_class_map(rv_env, helpers, data_dir, tmp_path):
    evaluator = lambda task: rv.EvaluatorConfig.builder(rv.SEMANTIC_SEGMENTATION_EVALUATOR).with_task(task)  # noqa: E731
    experiment = kampala_eval_experiment(helpers, data_dir, tmp_path, evaluator)
    assert experiment.evaluators[0].class_map_for(experiment.task) == experiment.task.class_map
    helpers.run_commands(experiment, tmp_path, ["EVAL"])
    report, _ = helpers.read_eval(experiment)
    assert sorted((c["class_id"], c["class_name"]) for c in report["classes"]) == [(1, "building"), (2, "background")]


def test_an_evaluator_class_map_without_the_tasks_ids_fails_when_the_experiment_is_built(
    rv_env, helpers, data_dir, tmp_path
):
    evaluator = rv.EvaluatorConfig.builder(rv.SEMANTIC_SEGMENTATION_EVALUATOR).with_class_map({"building": 1})
    with pytest.raises(ConfigError, match=r"class ids \[1\] but the task's are \[1, 2\].*with_task\(task\)"):
        kampala_eval_experiment(helpers, data_dir, tmp_path, evaluator)


# ---------------------------------------------------------------------------------------------
# Options in the documented positional order
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task_type,method,positional,named",
    [
        (
            rv.OBJECT_DETECTION,
            "with_chip_options",
            (2, 0.5, "sliding", 0.1),
            {"neg_ratio": 2, "ioa_thresh": 0.5, "window_method": "sliding", "label_buffer": 0.1},
        ),
        (rv.OBJECT_DETECTION, "with_predict_options", (0.3, 0.7), {"merge_thresh": 0.3, "score_thresh": 0.7}),
        (
            rv.SEMANTIC_SEGMENTATION,
            "with_chip_options",
            ("sliding", [1], 0.1, 0.5, 50, 20, 32),
            {
                "window_method": "sliding",
                "target_classes": [1],
                "debug_chip_probability": 0.1,
                "negative_survival_probability": 0.5,
                "chips_per_scene": 50,
                "target_count_threshold": 20,
                "stride": 32,
            },
        ),
    ],
)
def test_options_in_the_documented_positional_order(rv_env, task_type, method, positional, named):
    base = rv.TaskConfig.builder(task_type).with_classes({"building": 1, "background": 2})
    by_position = getattr(base, method)(*positional).build()
    by_name = getattr(base, method)(**named).build()
    assert by_position == by_name
    options = by_position.chip_options if method == "with_chip_options" else by_position.predict_options
    for name, value in named.items():
        assert getattr(options, name) == (tuple(value) if isinstance(value, list) else value)
    # Positional first, then named, as Python calls mix them.
    mixed = getattr(base, method)(*positional[:1], **dict(list(named.items())[1:])).build()
    assert mixed == by_name


def test_positional_options_beyond_the_documented_order_or_given_twice_are_refused(rv_env):
    od = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes(["car"])
    with pytest.raises(
        ConfigError, match=r"takes at most 4, in the order \(neg_ratio, ioa_thresh, window_method, label_buffer\)"
    ):
        od.with_chip_options(1, 0.8, "chip", 0.0, 0.5)
    with pytest.raises(ConfigError, match=r"neg_ratio both by position and by name"):
        od.with_chip_options(1, neg_ratio=2)
    seg = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["building"])
    with pytest.raises(ConfigError, match=r"takes none\. Pass the others by name.*stride"):
        seg.with_predict_options(64)


def test_a_positionally_built_task_survives_the_command_config_round_trip(rv_env, assert_config_round_trip):
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes({"building": 1, "background": 2})
        .with_chip_options("sliding", [1])
        .with_predict_debug_uri("debug/")
        .build()
    )
    assert assert_config_round_trip(task) == task
    evaluator = rv.EvaluatorConfig.builder(rv.SEMANTIC_SEGMENTATION_EVALUATOR).with_task(task).build()
    assert assert_config_round_trip(evaluator) == evaluator


def test_the_predict_debug_uri_changes_predict_only(rv_env, helpers, data_dir, tmp_path):
    """Moving the debug pictures must not redo CHIP or TRAIN (their configs stay the same)."""
    from rv.command.command_config import commands_for_experiment

    buildings = data_dir / "buildings"
    geojson = buildings / "kampala_buildings.geojson"
    configs = []
    for debug_uri in (None, str(tmp_path / "debug")):
        task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(KAMPALA_CLASSES).with_chip_size(128)
        task = task.with_predict_debug_uri(debug_uri).build()
        experiment = helpers.build_experiment(
            "kampala-debug",
            task,
            [kampala_scene(task, "kampala-a", buildings / "kampala_oam_a.tif", geojson)],
            [kampala_scene(task, "kampala-b", buildings / "kampala_oam_b.tif", geojson)],
            tmp_path / "out",
        )
        configs.append({c.command_type: c for c in commands_for_experiment(experiment)})
    without, with_debug = configs
    for command in ("CHIP", "TRAIN"):
        assert without[command].config_hash() == with_debug[command].config_hash()
    assert with_debug["PREDICT"].task.predict_debug_uri == str(tmp_path / "debug")
    assert without["PREDICT"].config_hash() != with_debug["PREDICT"].config_hash()
