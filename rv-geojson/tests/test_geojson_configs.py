"""The configs of rv-geojson's keys: builders, JSON round trips, validation, and the entities they create."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import shapely

import rv
from rv.core.box import Box
from rv.errors import ConfigError
from rv.serialization import config_to_json, structure, unstructure
from rv.testing import sample_config
from rv_geojson.geojson_reader import GeoJSONWarning
from rv_geojson.testing import scene_grid

KEYS = [
    ("raster_sources", rv.GEOJSON_SOURCE),
    ("label_sources", rv.CHIP_CLASSIFICATION_GEOJSON),
    ("label_sources", rv.OBJECT_DETECTION_GEOJSON),
    ("label_stores", rv.CHIP_CLASSIFICATION_GEOJSON),
    ("label_stores", rv.OBJECT_DETECTION_GEOJSON),
]


def _builder(group: str, key: str):
    return {
        "raster_sources": rv.RasterSourceConfig,
        "label_sources": rv.LabelSourceConfig,
        "label_stores": rv.LabelStoreConfig,
    }[group].builder(key)


def _configured():
    """One config per key with options away from their defaults, built as a user would."""
    return [
        rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE)
        .with_uri("s3://bucket/roads.geojson")
        .with_rasterizer_options(background_class_id=0, line_buffer=4.5, point_radius=None, all_touched=True)
        .with_class_property("highway", {"primary": 1, 12: "road"})
        .with_default_class_id(1)
        .build(),
        rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON)
        .with_uri("labels.json")
        .with_cell_size(128)
        .with_infer_cells(False)
        .with_ioa_thresh(0.25)
        .with_use_intersection_over_cell()
        .with_pick_min_class_id()
        .with_background_class_id(0)
        .with_class_id_property(None)
        .with_class_name_property("kind")
        .build(),
        rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION_GEOJSON)
        .with_uri("/data/boxes.geojson")
        .with_point_radius(8)
        .with_class_options(default_class_id=3, class_id_property="cid")
        .build(),
        rv.LabelStoreConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON)
        .with_uri("out/cells.geojson")
        .with_source_crs()
        .build(),
        rv.LabelStoreConfig.builder(rv.OBJECT_DETECTION_GEOJSON).with_uri("out/boxes.geojson").build(),
    ]


def test_configured_configs_round_trip(rv_plugin_manager, assert_config_round_trip):
    for config in _configured():
        back = assert_config_round_trip(config)
        assert back.to_builder().build() == config


@pytest.mark.parametrize("group,key", KEYS)
def test_every_field_round_trips(rv_plugin_manager, assert_config_round_trip, group, key):
    config = sample_config(group, key)
    assert config.key == key
    assert_config_round_trip(config)


def test_json_is_readable(rv_plugin_manager):
    source, cc, od, cc_store, od_store = _configured()
    data = unstructure(source)
    assert data["type"] == "GEOJSON_SOURCE" and data["uri"] == "s3://bucket/roads.geojson"
    assert (data["line_buffer"], data["point_radius"], data["all_touched"]) == (4.5, None, True)
    # JSON object keys are text: the numeric mapping key is stored as "12".
    assert data["class_options"] == {
        "class_id_property": "class_id",
        "class_name_property": "class_name",
        "property_name": "highway",
        "property_mapping": {"primary": 1, "12": "road"},
        "default_class_id": 1,
    }
    assert unstructure(cc)["type"] == "CHIP_CLASSIFICATION_GEOJSON" and unstructure(cc)["cell_size"] == 128
    assert unstructure(cc_store) == {
        "type": "CHIP_CLASSIFICATION_GEOJSON",
        "uri": "out/cells.geojson",
        "use_source_crs": True,
    }
    assert structure(json.loads(json.dumps(unstructure(od))), rv.LabelSourceConfig) == od
    assert type(cc_store).extension == type(od_store).extension == ".geojson"


def test_saved_scene_names_rv_geojson(rv_plugin_manager):
    task = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes(["tree"]).build()
    scene = (
        rv.SceneConfig.builder()
        .with_task(task)
        .with_id("osbs")
        .with_raster_source("trees.tif")
        .with_label_source("trees.geojson")
        .with_label_store()
        .with_aoi_uri("aoi.geojson")
        .build()
    )
    doc = json.loads(config_to_json(scene))
    assert {"distribution": "rv-geojson", "version": rv_geojson_version()} in doc["plugins"]
    assert doc["config"]["label_source"]["type"] == rv.OBJECT_DETECTION_GEOJSON
    assert doc["config"]["label_store"]["type"] == rv.OBJECT_DETECTION_GEOJSON
    assert scene.input_uris() == ["trees.tif", "trees.geojson", "aoi.geojson"]


def rv_geojson_version() -> str:
    from importlib.metadata import version

    return version("rv-geojson")


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize("group,key", [k for k in KEYS if k[0] != "label_stores"])
def test_uri_is_required(rv_plugin_manager, group, key):
    with pytest.raises(ConfigError, match=rf"{key} needs a GeoJSON file: call \.with_uri"):
        _builder(group, key).build()


def test_bad_options_are_config_errors(rv_plugin_manager):
    source = rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE).with_uri("x.geojson")
    with pytest.raises(ConfigError, match="one band .* leave the channel order unset"):
        source.with_channel_order([1]).build()
    with pytest.raises(ConfigError, match="line_buffer is -1"):
        source.with_rasterizer_options(line_buffer=-1).build()
    with pytest.raises(ConfigError, match="remove its transformers"):
        source.with_stats_transformer().build()
    with pytest.raises(ConfigError, match=r"Unknown class option\(s\) \['class_property'\]"):
        source.with_class_options(class_property="kind")
    with pytest.raises(ConfigError, match="property_mapping was given without property_name"):
        source.with_class_options(property_mapping={"a": 1})
    cc = rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON).with_uri("x.geojson")
    with pytest.raises(ConfigError, match=r"ioa_thresh is a share of an area, in \[0, 1\]; got 1.5"):
        cc.with_ioa_thresh(1.5).build()
    with pytest.raises(ConfigError, match="cell_size must be a positive"):
        cc.with_cell_size(0).build()
    with pytest.raises(ConfigError, match="point_radius"):
        rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION_GEOJSON).with_uri("x.geojson").with_point_radius(0).build()


def test_geojson_source_is_not_imagery(rv_plugin_manager, tmp_path):
    config = rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE).with_uri("labels.geojson").build()
    with pytest.raises(
        ConfigError, match="cannot be a scene's imagery: use it as the label raster of SEMANTIC_SEGMENTATION_RASTER"
    ):
        config.create(str(tmp_path))


# ------------------------------------------------------------- create()


@pytest.fixture
def kampala(data_dir):
    tif = data_dir / "buildings" / "kampala_oam_b.tif"
    return tif, *scene_grid(tif)


def _square_features(ct, squares, properties):
    lonlat = ct.pixel_to_crs_geoms(np.array(squares, dtype=object), "EPSG:4326")
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)), "properties": p}
            for g, p in zip(lonlat, properties)
        ],
    }


def test_geojson_source_creates_the_rasterizer(rv_plugin_manager, kampala, tmp_path):
    """Options reach the entity: a numeric property mapped through a JSON-read mapping, the task's background."""
    _, ct, extent = kampala
    path = tmp_path / "landuse.geojson"
    squares = [shapely.box(10, 20, 60, 80), shapely.box(200, 200, 260, 230)]
    path.write_text(json.dumps(_square_features(ct, squares, [{"code": 12}, {"code": 7}])))
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes({"background": 0, "building": 1, "water": 2})
        .with_background_class_id(0)
        .build()
    )
    source = (
        rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE)
        .with_uri(str(path))
        .with_class_property("code", {12: "building", 7: 2})
        .build()
    )
    source = structure(json.loads(json.dumps(unstructure(source))), rv.RasterSourceConfig)  # as a command reads it
    labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(source).build()
    entity = labels.create(task, ct, extent, str(tmp_path))
    arr = entity.get_label_arr(Box(0, 0, 300, 300))
    assert (arr[20:80, 10:60] == 1).all() and (arr[200:230, 200:260] == 2).all()
    assert (arr == 0).sum() == 300 * 300 - 50 * 60 - 60 * 30
    # The rasterizer option wins over the task's background.
    source_bg = source.to_builder().with_rasterizer_options(background_class_id=2).build()
    raster = source_bg.create(
        str(tmp_path), crs_transformer=ct, extent=extent, class_map=task.class_map, background_class_id=0
    )
    assert raster.fill_value == 2 and raster.all_touched is False


def test_label_source_configs_create_their_entities(rv_plugin_manager, kampala, data_dir, tmp_path):
    _, ct, extent = kampala
    geojson = str(data_dir / "buildings" / "kampala_buildings.geojson")
    task = (
        rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION)
        .with_classes({"building": 1, "background": 2})
        .with_background_class_id(2)
        .with_chip_size(128)
        .build()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoJSONWarning)
        cc = (
            rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON)
            .with_uri(geojson)
            .with_default_class_id(1)
            .build()
            .create(task, ct, extent, str(tmp_path))
        )
        od = (
            rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION_GEOJSON)
            .with_uri(geojson)
            .with_default_class_id(1)
            .build()
            .create(task, ct, extent, str(tmp_path))
        )
    # Cells default to the task's chip size, background to the task's background.
    assert cc.cell_size == 128 and cc.background_class_id == 2
    assert len(cc.get_labels()) == (512 // 128) ** 2
    # 65 footprints inside scene B and 33 crossing its edge: 98 boxes.
    assert len(od.get_labels()) == 98 and set(od.get_labels().class_ids.tolist()) == {1}
