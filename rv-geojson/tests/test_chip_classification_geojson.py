"""Chip classification from GeoJSON on Kampala A: cells inferred from buildings, stored, read back."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.warp import transform_geom

from rv.core.box import Box
from rv.core.class_map import ClassMap
from rv.errors import ConfigError
from rv.labels import ChipClassificationLabels
from rv_geojson.chip_classification_geojson_source import ChipClassificationGeoJSONSource
from rv_geojson.chip_classification_geojson_store import ChipClassificationGeoJSONStore
from rv_geojson.class_options_config import GeoJSONClassOptions
from rv_geojson.geojson_reader import GeoJSONWarning
from rv_geojson.testing import scene_grid


@pytest.fixture(scope="module")
def kampala_a_grid(data_dir):
    return scene_grid(data_dir / "buildings" / "kampala_oam_a.tif")


@pytest.fixture(scope="module")
def gdal_polygons(data_dir, kampala_geojson, kampala_a_grid):
    """Kampala buildings on scene A's pixel grid, computed independently with GDAL's transform_geom."""
    _, extent = kampala_a_grid
    doc = json.loads(kampala_geojson.read_text())
    with rasterio.open(data_dir / "buildings" / "kampala_oam_a.tif") as ds:
        a, b, c, d, e, f = tuple(~ds.transform)[:6]
        polys = []
        for feature in doc["features"]:
            g = shapely.geometry.shape(transform_geom("EPSG:4326", ds.crs, feature["geometry"]))
            g = shapely.transform(g, lambda xy: np.column_stack([a * xy[:, 0] + b * xy[:, 1] + c,
                                                                 d * xy[:, 0] + e * xy[:, 1] + f]))
            polys.append(shapely.make_valid(g).intersection(extent.to_shapely()))
    return [p for p in polys if p.area > 0]


def _source(kampala_geojson, class_map, grid, **kwargs):
    ct, extent = grid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoJSONWarning)
        return ChipClassificationGeoJSONSource(
            kampala_geojson, class_map, ct, extent, cell_size=256, class_options=GeoJSONClassOptions(default_class_id=1),
            **kwargs,
        )


def _expected(cell: Box, polygons, ioa_thresh: float, over_cell: bool) -> int:
    """Raster Vision 0.8's rule, one cell at a time with plain shapely."""
    cell_poly = cell.to_shapely()
    for p in polygons:
        inter = p.intersection(cell_poly).area
        ratio = inter / (cell_poly.area if over_cell else p.area)
        if inter > 0 and ratio >= ioa_thresh:
            return 1
    return 0


@pytest.mark.parametrize(
    ("kwargs", "ioa_thresh", "over_cell"),
    [({}, 0.5, False), ({"use_intersection_over_cell": True, "ioa_thresh": 0.1}, 0.1, True)],
)
def test_cells_match_a_hand_computation(
    kampala_geojson, building_class_map, kampala_a_grid, gdal_polygons, kwargs, ioa_thresh, over_cell
):
    source = _source(kampala_geojson, building_class_map, kampala_a_grid, **kwargs)
    labels = source.get_labels()
    # 1024 x 1536 scene, 256 px cells: 4 rows of 6.
    assert len(labels) == 24
    assert labels.cells[:, 2].max() == 1024 and labels.cells[:, 3].max() == 1536
    for cell in (Box(0, 0, 256, 256), Box(256, 0, 512, 256), Box(256, 512, 512, 768), Box(768, 1280, 1024, 1536),
                 Box(512, 256, 768, 512)):
        assert labels.get_cell_class_id(cell) == _expected(cell, gdal_polygons, ioa_thresh, over_cell), cell
    # Window queries give the same answer as the cell.
    assert source.get_labels(Box(256, 512, 512, 768)).class_ids.tolist() == [
        labels.get_cell_class_id(Box(256, 512, 512, 768))
    ]


def test_intersection_over_cell_separates_busy_and_quiet_cells(kampala_geojson, building_class_map, kampala_a_grid):
    source = _source(
        kampala_geojson, building_class_map, kampala_a_grid, use_intersection_over_cell=True, ioa_thresh=0.1
    )
    counts = np.bincount(source.get_labels().class_ids, minlength=2)
    assert counts[0] >= 5 and counts[1] >= 5  # both classes occur: the rule discriminates


def test_a_window_that_is_not_a_cell_is_inferred_too(
    kampala_geojson, building_class_map, kampala_a_grid, gdal_polygons
):
    source = _source(kampala_geojson, building_class_map, kampala_a_grid)
    window = Box(100, 300, 356, 556)
    assert source.get_labels(window).class_ids.tolist() == [_expected(window, gdal_polygons, 0.5, False)]


def test_without_background_cells_with_no_building_get_no_label(
    kampala_geojson, kampala_a_grid, building_class_map
):
    buildings_only = ClassMap.from_spec({"building": 1})
    strict = _source(kampala_geojson, buildings_only, kampala_a_grid, ioa_thresh=0.99)
    with_bg = _source(kampala_geojson, building_class_map, kampala_a_grid, ioa_thresh=0.99)
    assert len(strict.get_labels()) == (with_bg.get_labels().class_ids == 1).sum() < 24


def test_pick_min_class_id(tmp_path, kampala_a_grid):
    """Two classes overlapping one cell: the larger share wins, or the smaller id with pick_min_class_id."""
    ct, extent = kampala_a_grid
    class_map = ClassMap.from_spec({"background": 0, "shed": 1, "house": 2}, background_class_id=0)
    shed = shapely.box(10, 10, 60, 60)  # 2,500 px
    house = shapely.box(100, 100, 250, 250)  # 22,500 px
    lonlat = ct.pixel_to_crs_geoms(np.array([shed, house]), "EPSG:4326")
    path = tmp_path / "two.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)), "properties": {"class_id": c}}
        for g, c in zip(lonlat, (1, 2))
    ]}))
    kwargs = dict(cell_size=256)
    default = ChipClassificationGeoJSONSource(path, class_map, ct, extent, **kwargs)
    assert default.get_labels(Box(0, 0, 256, 256)).class_ids.tolist() == [2]
    assert default.get_labels(Box(0, 256, 256, 512)).class_ids.tolist() == [0]
    pick_min = ChipClassificationGeoJSONSource(path, class_map, ct, extent, pick_min_class_id=True, **kwargs)
    assert pick_min.get_labels(Box(0, 0, 256, 256)).class_ids.tolist() == [1]


def _all_coords(doc):
    return np.concatenate([np.array(f["geometry"]["coordinates"][0]) for f in doc["features"]])


def test_store_round_trip_writes_rfc7946(tmp_path, kampala_geojson, building_class_map, kampala_a_grid):
    ct, _ = kampala_a_grid
    labels = _source(kampala_geojson, building_class_map, kampala_a_grid).get_labels()
    rng = np.random.default_rng(1)
    scores = rng.dirichlet([1, 1], size=len(labels)).astype(np.float32)
    predicted = ChipClassificationLabels(labels.cells, labels.class_ids, scores)
    uri = tmp_path / "predict" / "scene_a.geojson"
    store = ChipClassificationGeoJSONStore(uri, building_class_map, ct)
    store.save(predicted)

    doc = json.loads(uri.read_text())
    assert "crs" not in doc and doc["type"] == "FeatureCollection" and len(doc["features"]) == 24
    coords = _all_coords(doc)
    assert (np.abs(coords[:, 0]) <= 180).all() and (np.abs(coords[:, 1]) <= 90).all()
    # lon/lat order, in Kampala (32.59 E, 0.35 N)
    assert np.allclose(coords.mean(axis=0), [32.595, 0.35], atol=0.01)
    rings = [shapely.LinearRing(f["geometry"]["coordinates"][0]) for f in doc["features"]]
    assert all(r.is_ccw for r in rings)  # RFC 7946 right-hand rule
    first = doc["features"][0]["properties"]
    assert first["class_id"] == int(labels.class_ids[0]) and first["class_name"] in ("background", "building")
    assert len(first["scores"]) == 2
    assert not list(tmp_path.joinpath("predict").glob(".*tmp"))  # the temporary file was renamed away

    back = store.get_labels()
    np.testing.assert_array_equal(back.cells, labels.cells)
    np.testing.assert_array_equal(back.class_ids, labels.class_ids)
    np.testing.assert_allclose(back.scores, scores, rtol=1e-6)


def test_store_in_source_crs(tmp_path, kampala_geojson, building_class_map, kampala_a_grid):
    ct, extent = kampala_a_grid
    labels = _source(kampala_geojson, building_class_map, kampala_a_grid).get_labels()
    uri = tmp_path / "scene_a_3857.geojson"
    ChipClassificationGeoJSONStore(uri, building_class_map, ct, use_source_crs=True).save(labels)
    doc = json.loads(uri.read_text())
    assert doc["crs"] == {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    coords = _all_coords(doc)
    np.testing.assert_allclose(coords[:, 0].min(), ct.transform.c)  # the scene's left edge, in metres
    # Read back as a label source that takes cells as drawn.
    source = ChipClassificationGeoJSONSource(uri, building_class_map, ct, extent, infer_cells=False)
    back = source.get_labels()
    np.testing.assert_array_equal(back.cells, labels.cells)
    np.testing.assert_array_equal(back.class_ids, labels.class_ids)
    assert back.scores is None


def test_cell_size_is_required_to_infer(kampala_geojson, building_class_map, kampala_a_grid):
    ct, extent = kampala_a_grid
    with pytest.raises(ConfigError, match=r"infers cells but cell_size is None; give the cell size"):
        ChipClassificationGeoJSONSource(
            kampala_geojson, building_class_map, ct, extent, class_options=GeoJSONClassOptions(default_class_id=1)
        )
