"""Object detection from GeoJSON: NEON tree crowns (WGS84) against their pixel boxes, and the store."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
import shapely

from rv.core.box import Box
from rv.core.class_map import ClassMap
from rv.labels import ObjectDetectionLabels
from rv_geojson.class_options_config import GeoJSONClassOptions
from rv_geojson.geojson_reader import GeoJSONWarning
from rv_geojson.object_detection_geojson_source import ObjectDetectionGeoJSONSource
from rv_geojson.object_detection_geojson_store import ObjectDetectionGeoJSONStore
from rv_geojson.testing import scene_grid


@pytest.fixture(scope="module")
def trees(data_dir):
    ct, extent = scene_grid(data_dir / "trees" / "neon_osbs_029.tif")
    class_map = ClassMap.from_spec({"tree": 1})
    with pytest.warns(GeoJSONWarning, match=r"55 lie inside the scene \(400x400 px\), 6 cross its edge"):
        source = ObjectDetectionGeoJSONSource(
            data_dir / "trees" / "neon_osbs_029_trees.geojson",
            class_map,
            ct,
            extent,
            class_options=GeoJSONClassOptions(property_name="class_name", property_mapping={"Tree": "tree"}),
        )
    with open(data_dir / "trees" / "neon_osbs_029_trees.csv") as f:
        rows = list(csv.DictReader(f))
    csv_boxes = np.array([[float(r[k]) for k in ("ymin", "xmin", "ymax", "xmax")] for r in rows])
    return source, csv_boxes, class_map, ct, extent


def test_tree_boxes_match_the_pixel_csv(trees):
    source, csv_boxes, _, _, extent = trees
    labels = source.get_labels()
    assert isinstance(labels, ObjectDetectionLabels) and len(labels) == 61
    np.testing.assert_allclose(labels.boxes, csv_boxes, atol=1.0)
    assert np.abs(labels.boxes - csv_boxes).max() < 0.05  # in fact within a few hundredths of a pixel
    assert (labels.class_ids == 1).all() and labels.scores is None
    # Boxes at the edge are clipped to the scene.
    assert labels.boxes.min() >= 0 and labels.boxes[:, 2:].max() <= extent.height


def test_window_query_matches_a_brute_force_scan(trees):
    source, _, _, _, _ = trees
    everything = source.get_labels().boxes
    for window in (Box(0, 0, 200, 200), Box(150, 150, 350, 350), Box(380, 0, 400, 400)):
        got = source.get_labels(window).boxes
        overlap = (
            (np.minimum(everything[:, 2], window.ymax) > np.maximum(everything[:, 0], window.ymin))
            & (np.minimum(everything[:, 3], window.xmax) > np.maximum(everything[:, 1], window.xmin))
        )
        np.testing.assert_array_equal(got, everything[overlap])
        assert 0 < len(got) < 61


def test_store_round_trip(tmp_path, trees):
    source, _, class_map, ct, _ = trees
    truth = source.get_labels()
    scores = np.linspace(0.3, 0.99, len(truth)).astype(np.float32)
    predicted = ObjectDetectionLabels(truth.boxes, truth.class_ids, scores)
    uri = tmp_path / "trees_pred.geojson"
    store = ObjectDetectionGeoJSONStore(uri, class_map, ct)
    store.save(predicted)

    doc = json.loads(uri.read_text())
    assert "crs" not in doc and len(doc["features"]) == 61
    coords = np.concatenate([np.array(f["geometry"]["coordinates"][0]) for f in doc["features"]])
    assert np.allclose(coords.mean(axis=0), [-81.99, 29.69], atol=0.01)  # lon/lat in Florida
    props = doc["features"][5]["properties"]
    assert props == {"class_id": 1, "class_name": "tree", "score": pytest.approx(float(scores[5]))}
    assert all(shapely.LinearRing(f["geometry"]["coordinates"][0]).is_ccw for f in doc["features"])

    back = store.get_labels()
    np.testing.assert_allclose(back.boxes, truth.boxes, atol=1e-6)
    np.testing.assert_array_equal(back.class_ids, truth.class_ids)
    np.testing.assert_allclose(back.scores, scores, rtol=1e-6)


def test_store_in_source_crs_and_empty_labels(tmp_path, trees):
    source, _, class_map, ct, _ = trees
    uri = tmp_path / "utm.geojson"
    store = ObjectDetectionGeoJSONStore(uri, class_map, ct, use_source_crs=True)
    store.save(source.get_labels())
    doc = json.loads(uri.read_text())
    assert doc["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32617"
    np.testing.assert_allclose(store.get_labels().boxes, source.get_labels().boxes, atol=1e-6)

    empty_uri = tmp_path / "none.geojson"
    empty_store = ObjectDetectionGeoJSONStore(empty_uri, class_map, ct)
    empty_store.save(empty_store.empty())
    assert json.loads(empty_uri.read_text()) == {"type": "FeatureCollection", "features": []}
    assert len(empty_store.get_labels()) == 0


def test_points_become_boxes_with_a_radius(tmp_path, trees):
    _, _, class_map, ct, extent = trees
    point = ct.pixel_to_crs_geoms(shapely.Point(100, 50), "EPSG:4326")
    path = tmp_path / "stems.geojson"
    path.write_text(json.dumps({"type": "Feature", "geometry": json.loads(shapely.to_geojson(point)),
                                "properties": {"class_name": "tree"}}))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeoJSONWarning)
        labels = ObjectDetectionGeoJSONSource(path, class_map, ct, extent, point_radius=10).get_labels()
    np.testing.assert_allclose(labels.boxes, [[40, 90, 60, 110]], atol=0.01)
