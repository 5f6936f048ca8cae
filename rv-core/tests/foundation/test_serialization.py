"""JSON serialization: every registered config round-trips; old files upgrade; bad files say what is wrong."""

import json
from pathlib import Path

import pytest

import rv
from rv.command.command_config import ChipCommandConfig, commands_for_experiment
from rv.errors import ConfigError
from rv.plugins import make_plugin_manager
from rv.registry import CONFIG_GROUPS
from rv.serialization import FORMAT_VERSION, config_from_json, config_to_json, load_config, save_config, structure
from rv.testing import assert_config_round_trip, sample_config, sample_configs

FIXTURES = Path(__file__).resolve().parent / "data"
LANDCOVER = Path(__file__).resolve().parents[3] / "examples" / "data" / "landcover"


def pytest_generate_tests(metafunc):
    # Every key of every config group that the installed plugins register: a
    # new plugin's keys are covered without touching this file.
    if "registered_key" in metafunc.fixturenames:
        registry = make_plugin_manager(strict=False).rv_registry
        keys = [(group, key) for group in CONFIG_GROUPS for key in registry.keys(group)]
        metafunc.parametrize("registered_key", keys, ids=[f"{g}:{k}" for g, k in keys])


def test_every_registered_key_round_trips_with_every_field_set(rv_plugin_manager, registered_key):
    group, key = registered_key
    config = sample_config(group, key)
    assert config.key == key
    assert_config_round_trip(config)


def test_every_registered_key_round_trips_from_its_empty_builder(rv_plugin_manager, registered_key):
    group, key = registered_key
    try:
        config = rv_plugin_manager.rv_registry.get_builder(group, key)().build()
    except ConfigError as e:
        # A key with required options must say which (field name and the with_ call).
        assert "with_" in str(e) or "call ." in str(e), str(e)
        return
    assert_config_round_trip(config)
    assert config.to_builder().build() == config


def test_the_walk_covers_keys_registered_at_run_time(fake_backend):
    walked = {(group, key): config for group, key, config in sample_configs()}
    assert ("backends", "FAKE_BACKEND") in walked
    assert walked[("backends", "FAKE_BACKEND")].epochs == 7  # every field set, not left at its default
    assert ("tasks", rv.SEMANTIC_SEGMENTATION) in walked
    for config in walked.values():
        assert_config_round_trip(config)


def experiment():
    task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes({"forest": (1, "green"), "water": (4, "blue")})
    scenes = (
        rv.SceneConfig.builder().with_task(task.build())
        .with_raster_source(
            rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(str(LANDCOVER / "s2_aberystwyth_tile4.tif"))
            .with_channel_order([3, 2, 1]).with_stats_transformer()
        )
        .with_label_source(str(LANDCOVER / "s2_aberystwyth_tile4_labels.tif"))
        .with_aoi_uris(["aoi-a.geojson", "aoi-b.geojson"])
    )
    dataset = (
        rv.DatasetConfig.builder().with_train_scene(scenes.with_id("train")).with_validation_scene(scenes.with_id("valid"))
        .with_augmentor(rv.NODATA_AUGMENTOR)
    )
    return (
        rv.ExperimentConfig.builder().with_id("landcover").with_task(task)
        .with_backend(rv.BackendConfig.builder("FAKE_BACKEND").with_epochs(3)).with_dataset(dataset)
        .with_root_uri("memory://runs").with_stats_analyzer(sample_prob=0.5).build()
    )


def test_experiment_and_its_command_configs_round_trip(fake_backend):
    e = experiment()
    assert_config_round_trip(e)
    resolved = assert_config_round_trip(e.resolved())
    assert resolved.dataset.train_scenes[0].raster_source.transformers[0].stats_uri == (
        "memory://runs/analyze/landcover/stats.json"
    )
    commands = commands_for_experiment(e)
    assert [c.command_type for c in commands] == ["ANALYZE", "CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"]
    for command in commands:
        back = assert_config_round_trip(command)
        assert back.config_hash() == command.config_hash()
        assert back.inputs() == command.inputs() and back.outputs() == command.outputs()


def test_saved_file_records_format_version_class_and_plugins(fake_backend, tmp_path):
    path = tmp_path / "experiment.json"
    save_config(experiment(), str(path))
    doc = json.loads(path.read_text())
    assert doc["format_version"] == FORMAT_VERSION
    assert doc["config_class"] == "rv.experiment.experiment_config:ExperimentConfig"
    assert {"distribution": "rv-core", "version": rv.__version__} in doc["plugins"]
    assert doc["config"]["task"]["type"] == rv.SEMANTIC_SEGMENTATION
    assert doc["config"]["backend"]["type"] == "FAKE_BACKEND"
    assert doc["config"]["dataset"]["augmentors"] == [{"type": rv.NODATA_AUGMENTOR, "aug_prob": 0.5, "seed": 0}]


# ---------------------------------------------------------------------------
# an old file
# ---------------------------------------------------------------------------


def test_a_format_1_command_config_loads_and_upgrades(rv_plugin_manager):
    old = FIXTURES / "chip-command-config-v1.json"
    assert json.loads(old.read_text())["format_version"] == 1

    config = load_config(str(old))
    assert isinstance(config, ChipCommandConfig)
    train = config.train_scenes[0]
    # "uri" became "uris", "aoi_uri" became "aoi_uris".
    assert train.raster_source.uris == ("data/landcover/s2_aberystwyth_tile4.tif",)
    assert train.raster_source.channel_order == (2, 1, 0)
    assert train.label_source.raster_source.uris == ("data/landcover/s2_aberystwyth_tile4_labels.tif",)
    assert train.aoi_uris == ("data/landcover/aoi.geojson",)
    assert config.validation_scenes[0].aoi_uris == ()
    # Fields the old file left out take their defaults; nested configs keep their values.
    assert config.task.chip_size == 64 and config.task.predict_batch_size == 8
    assert config.task.chip_options.window_method == "sliding" and config.task.chip_options.stride == 32
    assert train.raster_source.transformers[0].stats_uri == "out/analyze/landcover/stats.json"
    assert config.augmentors[0].aug_prob == 0.3
    assert config.inputs()[:2] == ["data/landcover/s2_aberystwyth_tile4.tif", "data/landcover/s2_aberystwyth_tile4_labels.tif"]


def test_an_upgraded_file_saves_at_the_current_format(rv_plugin_manager, tmp_path):
    config = load_config(str(FIXTURES / "chip-command-config-v1.json"))
    path = tmp_path / "command-config.json"
    save_config(config, str(path))
    doc = json.loads(path.read_text())
    assert doc["format_version"] == FORMAT_VERSION
    assert doc["config"]["train_scenes"][0]["aoi_uris"] == ["data/landcover/aoi.geojson"]
    assert "aoi_uri" not in doc["config"]["train_scenes"][0]
    assert load_config(str(path)) == config


def test_run_command_reads_an_old_command_config(rv_plugin_manager):
    from rv.command.run_command import load_command

    config = load_command(str(FIXTURES / "chip-command-config-v1.json"))
    assert config.command_type == "CHIP" and config.key == "landcover"


def test_a_command_config_needing_a_missing_plugin_names_it(rv_plugin_manager, tmp_path):
    from rv.command.run_command import load_command

    doc = json.loads((FIXTURES / "chip-command-config-v1.json").read_text())
    doc["plugins"].append({"distribution": "rv-sar", "version": "2.0"})
    path = tmp_path / "command-config.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as e:
        load_command(str(path))
    assert f"{path} needs plugin distribution(s) rv-sar" in str(e.value)
    assert "pip install rv-sar" in str(e.value)


def test_any_saved_config_using_a_key_of_a_missing_plugin_names_its_distribution(rv_plugin_manager, tmp_path):
    doc = json.loads((FIXTURES / "chip-command-config-v1.json").read_text())
    doc["config"]["task"]["type"] = "SAR_CHANGE_DETECTION"
    doc["plugins"].append({"distribution": "rv-sar", "version": "2.0"})
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    message = str(e.value)
    assert f"{path} was written with plugin distribution(s) rv-sar" in message
    assert "pip install rv-sar" in message and "SAR_CHANGE_DETECTION" in message


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_a_newer_format_asks_for_a_newer_rv(rv_plugin_manager):
    text = json.dumps({"format_version": FORMAT_VERSION + 1, "config_class": "x:y", "config": {}})
    with pytest.raises(ConfigError, match=r"newer than this rv understands .* upgrade rv-core"):
        config_from_json(text, source="future.json")


def test_not_json_and_not_a_config_file_are_named(rv_plugin_manager):
    with pytest.raises(ConfigError, match=r"broken\.json is not valid JSON \(Expecting value at line 1, column 1\)"):
        config_from_json("nope", source="broken.json")
    with pytest.raises(ConfigError, match=r"other\.json is not an rv config file"):
        config_from_json("{}", source="other.json")


def test_unknown_field_suggests_the_closest(rv_plugin_manager):
    data = json.loads(config_to_json(rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes(["car"]).build()))["config"]
    data["chip_sise"] = data.pop("chip_size")
    with pytest.raises(ConfigError) as e:
        structure(data, rv.TaskConfig)
    assert "Unknown key(s) 'chip_sise' (did you mean 'chip_size'?) in ObjectDetectionConfig (OBJECT_DETECTION)" in str(e.value)


def test_unknown_and_missing_type_tags(rv_plugin_manager):
    with pytest.raises(ConfigError, match=r"Unknown task key 'OBJECT_DETECTOR'\. Did you mean 'OBJECT_DETECTION'\?"):
        structure({"type": "OBJECT_DETECTOR"}, rv.TaskConfig)
    with pytest.raises(ConfigError, match=r"A TaskConfig needs a 'type' tag naming its key, one of: CHIP_CLASSIFICATION"):
        structure({"chip_size": 3}, rv.TaskConfig)
    # A key of another group is looked up in the field's own group, so it is unknown there.
    with pytest.raises(ConfigError, match=r"Unknown task key 'GEOTIFF_SOURCE'\. Known task keys:"):
        structure({"type": rv.GEOTIFF_SOURCE}, rv.TaskConfig)


def test_a_value_of_the_wrong_type_names_the_field(rv_plugin_manager):
    with pytest.raises(ConfigError, match=r"ObjectDetectionConfig\.chip_size: cannot read 'big'"):
        structure({"type": rv.OBJECT_DETECTION, "chip_size": "big"}, rv.TaskConfig)
