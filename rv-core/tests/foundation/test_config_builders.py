"""Builders: immutable and fluent, ``build()`` validates with messages naming the fix, ``to_builder()`` goes back."""

import re
from pathlib import Path

import attrs
import pytest

import rv
from rv.errors import ConfigError

# the sample data kept in the repository: <repo>/examples/data
LANDCOVER = Path(__file__).resolve().parents[3] / "examples" / "data" / "landcover"
IMAGE = str(LANDCOVER / "s2_aberystwyth_tile4.tif")
LABELS = str(LANDCOVER / "s2_aberystwyth_tile4_labels.tif")


def seg_task(**changes):
    b = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["forest", "grass", "urban", "water"])
    return b.with_options(**changes).build() if changes else b.build()


# ---------------------------------------------------------------------------
# immutability
# ---------------------------------------------------------------------------


def assert_immutable_step(builder, method, *args, **kwargs):
    """``builder.method(...)`` returns a new builder of the same class and leaves ``builder`` as it was."""
    before = (dict(builder.values), dict(builder.context))
    after = getattr(builder, method)(*args, **kwargs)
    assert after is not builder
    assert type(after) is type(builder)
    assert (dict(builder.values), dict(builder.context)) == before, f"{method} changed the old builder"
    return after


@pytest.mark.parametrize("key", [rv.CHIP_CLASSIFICATION, rv.OBJECT_DETECTION, rv.SEMANTIC_SEGMENTATION])
def test_every_task_builder_step_returns_a_new_builder(key):
    b = rv.TaskConfig.builder(key)
    b = assert_immutable_step(b, "with_classes", {"building": (1, "red"), "background": (2, "black")})
    b = assert_immutable_step(b, "with_chip_size", 256)
    b = assert_immutable_step(b, "with_background_class_id", 2)
    b = assert_immutable_step(b, "with_debug", True)
    b = assert_immutable_step(b, "with_predict_batch_size", 4)
    b = assert_immutable_step(b, "with_predict_package_uri", "out/bundle.zip")
    b = assert_immutable_step(b, "with_chip_options", debug_chip_probability=0.5)
    b = assert_immutable_step(b, "with_predict_options")
    config = b.build()
    assert (config.chip_size, config.background_class_id, config.debug) == (256, 2, True)
    assert (config.predict_batch_size, config.predict_package_uri) == (4, "out/bundle.zip")
    assert config.chip_options.debug_chip_probability == 0.5
    assert config.key == key


def test_branching_from_one_builder_gives_independent_configs():
    base = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes(["car"])
    small = base.with_chip_size(200).build()
    large = base.with_chip_size(600).build()
    assert (small.chip_size, large.chip_size, base.build().chip_size) == (200, 600, 300)


def test_scene_dataset_and_experiment_builder_steps_return_new_builders(fake_backend):
    task = seg_task()
    s = rv.SceneConfig.builder()
    s = assert_immutable_step(s, "with_task", task)
    s = assert_immutable_step(s, "with_id", "tile4")
    s = assert_immutable_step(s, "with_raster_source", IMAGE)
    s = assert_immutable_step(s, "with_label_source", LABELS)
    s = assert_immutable_step(s, "with_label_store")
    s = assert_immutable_step(s, "with_aoi_uri", "aoi.geojson")
    s = assert_immutable_step(s, "with_aoi_uris", ["a.geojson", "b.geojson"])
    scene = s.build()

    d = rv.DatasetConfig.builder()
    d = assert_immutable_step(d, "with_train_scene", scene)
    d = assert_immutable_step(d, "with_validation_scene", scene.to_builder().with_id("v"))
    d = assert_immutable_step(d, "with_test_scenes", [scene.to_builder().with_id("t").build()])
    d = assert_immutable_step(d, "with_augmentor", rv.NODATA_AUGMENTOR)
    dataset = d.build()

    e = rv.ExperimentConfig.builder()
    for step, arg in [
        ("with_id", "e1"), ("with_task", task), ("with_backend", rv.BackendConfig.builder("FAKE_BACKEND")),
        ("with_dataset", dataset), ("with_root_uri", "out"), ("with_analyzer", rv.STATS_ANALYZER),
        ("with_evaluator", rv.SEMANTIC_SEGMENTATION_EVALUATOR), ("with_chip_key", "chips"),
        ("with_train_uri", "elsewhere/train"),
    ]:  # fmt: skip
        e = assert_immutable_step(e, step, arg)
    experiment = e.build()
    assert experiment.dataset == dataset
    assert experiment.command_key(rv.CHIP) == "chips"
    assert experiment.command_uri(rv.CHIP) == "out/chip/chips"
    assert experiment.command_uri(rv.TRAIN) == "elsewhere/train"
    assert experiment.command_uri(rv.PREDICT) == "out/predict/e1"


def test_builders_and_configs_are_frozen():
    b = rv.TaskConfig.builder(rv.OBJECT_DETECTION)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        b.values = {}
    with pytest.raises(TypeError):
        b.values["chip_size"] = 3  # the values mapping is read-only too
    config = b.with_classes(["car"]).build()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.chip_size = 3


def test_assigning_to_a_built_config_says_to_use_to_builder():
    # What a Raster Vision user tries after building a dataset: change one of its lists in place.
    task = seg_task()
    scene = rv.SceneConfig.builder().with_task(task).with_id("tile4").with_raster_source(IMAGE).with_label_source(LABELS)
    dataset = rv.DatasetConfig.builder().with_train_scene(scene).build()
    with pytest.raises(ConfigError) as info:
        dataset.train_scenes = [scene.with_id("other").build()]
    message = str(info.value)
    assert "DatasetConfig" in message and "`config.train_scenes = ...`" in message
    assert "config.to_builder().with_train_scenes(...).build()" in message
    # Also an AttributeError (attrs' FrozenInstanceError), so attrs internals and hasattr-style code still work.
    assert isinstance(info.value, attrs.exceptions.FrozenInstanceError) and isinstance(info.value, AttributeError)
    assert [s.id for s in dataset.train_scenes] == ["tile4"]
    # Following the advice works, and the configs still evolve, copy and compare as before.
    changed = dataset.to_builder().with_train_scenes([scene.with_id("other")]).build()
    assert [s.id for s in changed.train_scenes] == ["other"]
    assert attrs.evolve(task, chip_size=128).chip_size == 128 and task.chip_size != 128
    # A field with no with_ method of its own points at with_options; a name that is no field lists the fields.
    with pytest.raises(ConfigError, match=r"to_builder\(\)\.with_options\(seed=\.\.\.\)"):
        rv.AnalyzerConfig.builder(rv.STATS_ANALYZER).build().seed = 1
    with pytest.raises(ConfigError, match=r"SceneConfig has no field 'labels'.*Its fields: id, "):
        scene.build().labels = LABELS


# ---------------------------------------------------------------------------
# build() validates
# ---------------------------------------------------------------------------


def test_missing_required_fields_name_the_fields_and_the_with_call():
    with pytest.raises(ConfigError) as e:
        rv.ExperimentConfig.builder().with_id("e1").build()
    msg = str(e.value)
    assert "ExperimentConfig is missing required field(s) task, backend, dataset, root_uri" in msg
    for fix in ("with_task(...)", "with_backend(...)", "with_dataset(...)", "with_root_uri(...)"):
        assert fix in msg

    with pytest.raises(ConfigError) as e:
        rv.SceneConfig.builder().with_id("s").build()
    assert "missing required field(s) raster_source" in str(e.value)
    assert "call .with_raster_source(...)" in str(e.value)


def test_task_without_classes_says_how_to_give_them():
    with pytest.raises(ConfigError, match=r"has no classes: call \.with_classes\(\.\.\.\)"):
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).build()


def test_bad_values_name_the_field_the_value_and_the_fix():
    with pytest.raises(ConfigError, match=r"chip_size must be positive, got 0: call \.with_chip_size\(256\)"):
        seg_task(chip_size=0)
    with pytest.raises(ConfigError, match=r"background_class_id 9 is not a class id \(ids: \[1, 2, 3, 4\]\)"):
        seg_task(background_class_id=9)
    with pytest.raises(ConfigError, match=r"window_method 'tiles' is not one of"):
        rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes(["car"]).with_chip_options(window_method="tiles").build()
    with pytest.raises(ConfigError, match=r"has no option 'chip_sise'; known options: .*chip_size"):
        rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_options(chip_sise=3)
    with pytest.raises(ConfigError, match=r"Unknown chip option\(s\) \['neg_ration'\].*neg_ratio"):
        rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_chip_options(neg_ration=2)
    with pytest.raises(ConfigError, match=r"Unknown predict option\(s\) \['strides'\].*stride"):
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_predict_options(strides=2)
    with pytest.raises(ConfigError, match=r"Experiment id 'a/b' must be non-empty and contain no '/'"):
        rv.ExperimentConfig.builder().with_id("a/b").with_task(seg_task()).with_backend(_any_backend()).with_dataset(
            _dataset()
        ).with_root_uri("out").build()


def _any_backend():
    # A backend without a plugin: the base class is enough for validation tests.
    return rv.BackendConfig()


def _dataset():
    scene = rv.SceneConfig.builder().with_id("s").with_raster_source(IMAGE).build()
    return rv.DatasetConfig.builder().with_train_scene(scene).build()


def test_dataset_rejects_a_scene_id_used_twice():
    scene = rv.SceneConfig.builder().with_id("tile4").with_raster_source(IMAGE).build()
    with pytest.raises(ConfigError, match=r"Scene id 'tile4' is used twice \(train and validation scenes\)"):
        rv.DatasetConfig.builder().with_train_scene(scene).with_validation_scene(scene).build()


def test_experiment_without_training_scenes_is_an_error():
    with pytest.raises(ConfigError, match=r"has no training scenes"):
        rv.ExperimentConfig.builder().with_id("e").with_task(seg_task()).with_backend(_any_backend()).with_dataset(
            rv.DatasetConfig.builder().build()
        ).with_root_uri("out").build()


# ---------------------------------------------------------------------------
# to_builder round trips
# ---------------------------------------------------------------------------


def test_to_builder_rebuilds_an_equal_config_and_changes_one_field(fake_backend):
    task = seg_task(chip_size=128)
    assert task.to_builder().build() == task
    bigger = task.to_builder().with_chip_size(256).build()
    assert bigger.chip_size == 256 and bigger.classes == task.classes and task.chip_size == 128

    scene = rv.SceneConfig.builder().with_task(task).with_id("s").with_raster_source(IMAGE).with_label_source(LABELS).build()
    assert scene.to_builder().build() == scene
    assert type(scene.to_builder()) is type(rv.SceneConfig.builder())

    backend = rv.BackendConfig.builder("FAKE_BACKEND").with_epochs(3).build()
    assert backend.to_builder().build() == backend
    assert backend.to_builder().with_epochs(4).build().epochs == 4  # the registered builder, with its own with_*

    experiment = (
        rv.ExperimentConfig.builder().with_id("e").with_task(task).with_backend(backend)
        .with_dataset(rv.DatasetConfig.builder().with_train_scene(scene)).with_root_uri("out").build()
    )
    assert experiment.to_builder().build() == experiment
    assert experiment.to_builder().with_id("e2").build().id == "e2"


# ---------------------------------------------------------------------------
# classes in every form
# ---------------------------------------------------------------------------


def classes_of(spec, key=rv.SEMANTIC_SEGMENTATION):
    task = rv.TaskConfig.builder(key).with_classes(spec).build()
    return [(c.id, c.name, c.color) for c in task.classes]


def test_classes_as_a_list_of_names_get_ids_from_one():
    got = classes_of(["building", "road", "tree"])
    assert [(i, n) for i, n, _ in got] == [(1, "building"), (2, "road"), (3, "tree")]
    assert all(color for _, _, color in got)  # a default color each
    assert len({color for _, _, color in got}) == 3


def test_classes_as_a_dict_of_ids_keep_the_users_ids():
    assert [(i, n) for i, n, _ in classes_of({"background": 0, "building": 5})] == [(0, "background"), (5, "building")]


def test_classes_as_a_dict_of_id_and_color():
    got = classes_of({"building": (1, "red"), "background": (2, "#000000")}, rv.OBJECT_DETECTION)
    assert got == [(1, "building", "red"), (2, "background", "#000000")]
    class_map = rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION).with_classes({"building": (1, "red")}).build().class_map
    assert class_map.get_by_name("building").color == "red"
    assert class_map.colors_rgb()[1] == (255, 0, 0)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"building": (1, "not-a-color")}, "not a color"),
        ({"building": (1, 2, 3)}, "use name -> id or name -> (id, color)"),
        ({"building": "one"}, "class ids are ints in 0-254"),
        (42, "give a list of names, a dict name -> id, or a dict name -> (id, color)"),
    ],
)
def test_bad_class_specs_say_what_is_expected(spec, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(spec)


def test_class_id_255_is_reserved():
    with pytest.raises(ConfigError, match="255"):
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes({"x": 255})


# ---------------------------------------------------------------------------
# default providers: configs picked by URI and task
# ---------------------------------------------------------------------------


def test_raster_source_is_picked_by_uri():
    scene = rv.SceneConfig.builder().with_id("s")
    assert scene.with_raster_source("scene.tif").build().raster_source.key == rv.GEOTIFF_SOURCE
    assert scene.with_raster_source("scene.TIFF").build().raster_source.uris == ("scene.TIFF",)
    assert scene.with_raster_source("photo.png").build().raster_source.key == rv.IMAGE_SOURCE
    rs = scene.with_raster_source(IMAGE, channel_order=[3, 2, 1]).build().raster_source
    assert rs.channel_order == (3, 2, 1)
    with pytest.raises(ConfigError, match=r"No raster source handles 'scene\.xyz'"):
        scene.with_raster_source("scene.xyz")


def test_label_source_and_store_are_picked_by_task_and_uri():
    task = seg_task()
    scene = rv.SceneConfig.builder().with_id("s").with_raster_source(IMAGE)
    with pytest.raises(ConfigError, match=r"call \.with_task\(task\) first"):
        scene.with_label_source(LABELS)
    built = scene.with_task(task).with_label_source(LABELS).with_label_store("pred.tif").build()
    assert built.label_source.key == rv.SEMANTIC_SEGMENTATION_RASTER
    assert built.label_source.raster_source.uris == (LABELS,)
    assert built.label_store.key == rv.SEMANTIC_SEGMENTATION_RASTER
    assert built.label_store.uri == "pred.tif"
    assert built.input_uris() == [IMAGE, LABELS]


def test_resolved_experiment_fills_every_derived_uri(fake_backend):
    task = seg_task()
    scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(IMAGE).with_label_source(LABELS)
    dataset = rv.DatasetConfig.builder().with_train_scene(scenes.with_id("a")).with_validation_scene(scenes.with_id("b"))
    e = (
        rv.ExperimentConfig.builder().with_id("e").with_task(task).with_backend(rv.BackendConfig.builder("FAKE_BACKEND"))
        .with_dataset(dataset).with_root_uri("root/").with_bundle_key("shared-bundle").build()
    )
    r = e.resolved()
    assert r.resolved() == r  # idempotent
    assert r.chip_uri == "root/chip/e" and r.bundle_uri == "root/bundle/shared-bundle"
    assert r.task.predict_package_uri == "root/bundle/shared-bundle/model-bundle.zip"
    assert r.backend.training_data_uri == "root/chip/e"
    assert r.backend.model_output_uri() == "root/train/e/model.pth"
    assert r.dataset.validation_scenes[0].label_store.uri == "root/predict/e/b.tif"
    assert r.dataset.train_scenes[0].label_store is None
    assert [ev.key for ev in r.evaluators] == [rv.SEMANTIC_SEGMENTATION_EVALUATOR]
    assert r.evaluators[0].output_uri == "root/eval/e/eval.json"
