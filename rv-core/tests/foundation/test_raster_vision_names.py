"""Names from later Raster Vision releases: aliases of rv's keys, and the TensorFlow backends' replacements.

These tests use rv-core alone (no plugin package): the aliases of keys that
plugins register (``RASTERIZED_SOURCE`` → ``GEOJSON_SOURCE``) are plain
strings in rv-core, and with the plugin absent their error names it. The
same names with rv-geojson installed are tested in rv-cli's
``test_rv_cli_raster_vision_names.py``.
"""

from pathlib import Path

import pytest

import rv
from rv.errors import ConfigError
from rv.plugins import make_plugin_manager, use_plugin_manager
from rv.serialization import config_to_json

DATA = Path(__file__).resolve().parents[3] / "examples" / "data"
IMAGE = str(DATA / "landcover" / "s2_aberystwyth_tile4.tif")
LABELS = str(DATA / "landcover" / "s2_aberystwyth_tile4_labels.tif")


@pytest.fixture
def core_only():
    """A plugin manager with rv-core's built-in plugin alone."""
    with use_plugin_manager(make_plugin_manager(autoload=False)) as pm:
        yield pm


def test_rasterio_source_is_the_geotiff_source(core_only):
    later = rv.RasterSourceConfig.builder(rv.RASTERIO_SOURCE).with_uri(IMAGE).with_channel_order([2, 1, 0]).build()
    ours = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(IMAGE).with_channel_order([2, 1, 0]).build()
    assert later == ours
    assert later.key == rv.GEOTIFF_SOURCE
    assert config_to_json(later) == config_to_json(ours)  # saved files do not change
    assert '"GEOTIFF_SOURCE"' in config_to_json(later) and "RASTERIO" not in config_to_json(later)
    # The literal string works too, and the alias is no key of its own (rv plugins list is unchanged).
    assert type(rv.RasterSourceConfig.builder("RASTERIO_SOURCE")) is type(rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE))
    assert rv.RASTERIO_SOURCE not in core_only.rv_registry.keys("raster_sources")


def test_a_task_key_gives_the_tasks_label_source(core_only):
    task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["forest", "grass", "urban", "water"]).build()
    later = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION).with_raster_source(LABELS).build()
    ours = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(LABELS).build()
    assert later == ours and later.key == rv.SEMANTIC_SEGMENTATION_RASTER
    # In a scene, as a user writes it: the same scene as with a bare label URI.
    scene = rv.SceneConfig.builder().with_task(task).with_id("tile4").with_raster_source(IMAGE)
    assert scene.with_label_source(later).build() == scene.with_label_source(LABELS).build()


@pytest.mark.parametrize(
    "group, alias, key",
    [
        ("raster_sources", rv.RASTERIZED_SOURCE, "GEOJSON_SOURCE"),
        ("label_sources", rv.OBJECT_DETECTION, "OBJECT_DETECTION_GEOJSON"),
        ("label_sources", rv.CHIP_CLASSIFICATION, "CHIP_CLASSIFICATION_GEOJSON"),
    ],
)
def test_an_alias_of_a_plugins_key_names_the_key_and_the_package(core_only, group, alias, key):
    family = rv.RasterSourceConfig if group == "raster_sources" else rv.LabelSourceConfig
    with pytest.raises(ConfigError) as info:
        family.builder(alias)
    message = str(info.value)
    assert f"{alias!r} is another name of the" in message and repr(key) in message
    assert "pip install rv-geojson" in message


@pytest.mark.parametrize(
    "old, new",
    [
        ("TF_DEEPLAB", "PYTORCH_SEMANTIC_SEGMENTATION"),
        ("TF_OBJECT_DETECTION", "PYTORCH_OBJECT_DETECTION"),
        ("KERAS_CLASSIFICATION", "PYTORCH_CHIP_CLASSIFICATION"),
    ],
)
def test_a_tensorflow_backend_names_its_pytorch_replacement(core_only, old, new):
    # As a Raster Vision 0.8 experiment file spells it: rv.TF_DEEPLAB ...
    with pytest.raises(AttributeError, match=rf"rv\.{old} is a TensorFlow backend .*rv\.BackendConfig\.builder\(rv\.{new}\)"):
        getattr(rv, old)
    # ... or as a string key.
    with pytest.raises(ConfigError, match=rf"'{old}' is a TensorFlow backend .*rv\.BackendConfig\.builder\(rv\.{new}\)"):
        rv.BackendConfig.builder(old)
    assert not hasattr(rv, old)


@pytest.mark.parametrize("old, new", [("SSD_MOBILENET_V2_COCO", "MOBILENETV3_LARGE"), ("RESNET50_IMAGENET", "RESNET50")])
def test_a_tensorflow_model_default_names_the_closest_of_rvs(old, new):
    with pytest.raises(AttributeError, match=rf"rv\.{old} is a model default .*\.with_model_defaults\(rv\.{new}\)"):
        getattr(rv, old)
    assert hasattr(rv, new)
