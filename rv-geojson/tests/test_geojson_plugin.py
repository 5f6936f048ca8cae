"""rv-geojson as rv sees it: the keys it registers, the defaults it provides, AOIs, and light discovery."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import shapely

import rv
from rv.core.box import Box
from rv.errors import ConfigError
from rv_geojson.geojson_reader import GeoJSONWarning
from rv_geojson.testing import scene_grid

BUILDINGS = "kampala_buildings.geojson"


def test_registers_its_keys(rv_plugin_manager):
    assert rv_plugin_manager.rv_registry.provided_by("rv_geojson") == {
        "raster_sources": [rv.GEOJSON_SOURCE],
        "label_sources": [rv.CHIP_CLASSIFICATION_GEOJSON, rv.OBJECT_DETECTION_GEOJSON],
        "label_stores": [rv.CHIP_CLASSIFICATION_GEOJSON, rv.OBJECT_DETECTION_GEOJSON],
    }
    info = next(p for p in rv_plugin_manager.plugin_infos() if p.name == "rv_geojson")
    assert info.status == "ok" and info.distribution == "rv-geojson"
    assert {"default_label_source", "default_label_store", "read_aoi"} <= set(info.hooks)


def test_discovery_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from rv.plugins import make_plugin_manager\n"
        "pm = make_plugin_manager(load_only=['rv_geojson'])\n"
        "assert pm.rv_registry.has('raster_sources', 'GEOJSON_SOURCE')\n"
        "import rv\n"
        "task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(['building']).build()\n"
        "rv.SceneConfig.builder().with_task(task).with_id('s').with_raster_source('a.tif')"
        ".with_label_source('b.geojson').build()\n"
        "heavy = [m for m in ('rasterio', 'shapely', 'pyproj', 'torch', 'matplotlib', 'boto3') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _scene_builder(task_key: str):
    task = rv.TaskConfig.builder(task_key).with_classes({"building": 1, "background": 2}).build()
    return rv.SceneConfig.builder().with_task(task).with_id("kampala-a").with_raster_source("kampala_oam_a.tif")


def test_default_label_source_per_task(rv_plugin_manager):
    seg = _scene_builder(rv.SEMANTIC_SEGMENTATION).with_label_source(BUILDINGS).build().label_source
    assert seg.key == rv.SEMANTIC_SEGMENTATION_RASTER
    assert seg.raster_source.key == rv.GEOJSON_SOURCE and seg.raster_source.uri == BUILDINGS
    assert seg.input_uris() == [BUILDINGS]

    cc = _scene_builder(rv.CHIP_CLASSIFICATION).with_label_source("cells.JSON").build().label_source
    assert (cc.key, cc.uri, cc.infer_cells, cc.cell_size) == (rv.CHIP_CLASSIFICATION_GEOJSON, "cells.JSON", True, None)

    od = _scene_builder(rv.OBJECT_DETECTION).with_label_source("s3://b/boxes.geojson?v=2").build().label_source
    assert (od.key, od.uri) == (rv.OBJECT_DETECTION_GEOJSON, "s3://b/boxes.geojson?v=2")


def test_other_files_are_left_to_other_plugins(rv_plugin_manager):
    seg = _scene_builder(rv.SEMANTIC_SEGMENTATION).with_label_source("labels.tif").build().label_source
    assert seg.raster_source.key == rv.GEOTIFF_SOURCE  # rv-core's class raster
    with pytest.raises(ConfigError, match=r"No label source handles 'boxes\.csv' for OBJECT_DETECTION"):
        _scene_builder(rv.OBJECT_DETECTION).with_label_source("boxes.csv")


def test_default_label_stores(rv_plugin_manager):
    for task_key, store_key in (
        (rv.CHIP_CLASSIFICATION, rv.CHIP_CLASSIFICATION_GEOJSON),
        (rv.OBJECT_DETECTION, rv.OBJECT_DETECTION_GEOJSON),
        (rv.SEMANTIC_SEGMENTATION, rv.SEMANTIC_SEGMENTATION_RASTER),  # rv-core's, not ours
    ):
        store = _scene_builder(task_key).with_label_store("preds/out").build().label_store
        assert (store.key, store.uri) == (store_key, "preds/out")
    store = _scene_builder(rv.OBJECT_DETECTION).with_label_store().build().label_store
    assert store.uri is None and type(store).extension == ".geojson"


def _aoi_file(path, ct, pixel_polygon):
    import json

    (lonlat,) = ct.pixel_to_crs_geoms(np.array([pixel_polygon]), "EPSG:4326")
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": json.loads(shapely.to_geojson(lonlat)), "properties": {}}],
    }
    path.write_text(json.dumps(doc))
    return str(path)


def test_scene_reads_geojson_aois(rv_plugin_manager, data_dir, tmp_path):
    tif = data_dir / "buildings" / "kampala_oam_b.tif"
    ct, extent = scene_grid(tif)
    top = _aoi_file(tmp_path / "top.geojson", ct, shapely.box(0, 0, 512, 100))
    corner = _aoi_file(tmp_path / "corner.json", ct, shapely.box(400, 400, 600, 600))  # clipped to the scene
    task = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes({"building": 1}).build()
    scene_config = (
        rv.SceneConfig.builder()
        .with_task(task)
        .with_id("kampala-b")
        .with_raster_source(str(tif))
        .with_label_source(
            rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION_GEOJSON)
            .with_uri(str(data_dir / "buildings" / BUILDINGS))
            .with_default_class_id(1)
        )
        .with_aoi_uris([top, corner])
        .build()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoJSONWarning)
        scene = scene_config.create(task, str(tmp_path))
    assert [round(p.area) for p in scene.aoi_polygons] == [512 * 100, 112 * 112]
    assert scene.aoi_mask(extent).sum() == 512 * 100 + 112 * 112
    assert scene.window_in_aoi(Box(0, 0, 50, 50)) and not scene.window_in_aoi(Box(200, 0, 250, 50))
    # The hook answers only for GeoJSON: a shapefile AOI is someone else's (here: no one's).
    assert rv_plugin_manager.hook.read_aoi(uris=["aoi.shp"], crs_transformer=ct, extent=extent) is None
    assert rv_plugin_manager.hook.read_aoi(uris=[top, "aoi.shp"], crs_transformer=ct, extent=extent) is None
    with pytest.raises(ConfigError, match="no installed plugin reads them"):
        scene_config.to_builder().with_aoi_uri("aoi.shp").build().create(task, str(tmp_path), with_labels=False)
