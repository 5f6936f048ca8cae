"""The task evaluators on real scenes: label source vs label store, inside the AOI, without nodata."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import shapely
from sklearn.metrics import confusion_matrix, jaccard_score

from rv.core.box import Box
from rv.core.class_map import ClassMap
from rv.data.label_source.semantic_segmentation_raster_source import SemanticSegmentationRasterSource
from rv.data.label_store.semantic_segmentation_raster_store import SemanticSegmentationRasterStore
from rv.data.raster_source.geotiff_source import GeoTIFFSource
from rv.data.scene import Scene
from rv.errors import DataError
from rv.evaluation.evaluator import (
    ChipClassificationEvaluator,
    ObjectDetectionEvaluator,
    SemanticSegmentationEvaluator,
)
from rv.labels import ChipClassificationLabels, ObjectDetectionLabels


class InMemorySource:
    """Ground truth already in memory (the GeoJSON label sources live in rv-geojson)."""

    def __init__(self, labels):
        self.labels = labels

    def get_labels(self, window=None):
        return self.labels


class InMemoryStore(InMemorySource):
    def save(self, labels):
        self.labels = labels

    def empty(self):
        return None


@pytest.fixture
def landcover_scene_parts(data_dir, tmp_path):
    """Image with a nodata block, the real class raster as ground truth, and its shifted copy as predictions."""
    image_uri = tmp_path / "image.tif"
    with rasterio.open(data_dir / "landcover" / "s2_aberystwyth_tile4.tif") as src:
        profile = src.profile | {"nodata": 0}
        image = src.read()
    image[:, 200:, 200:] = 0  # a nodata corner
    with rasterio.open(image_uri, "w", **profile) as dst:
        dst.write(image)
    labels_uri = data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif"
    with rasterio.open(labels_uri) as src:
        labels = src.read(1)
    predicted = np.full_like(labels, 255)
    predicted[:, :-1] = labels[:, 1:]  # one pixel off; the last column has no prediction
    return image_uri, labels_uri, labels, predicted


def test_segmentation_evaluator_on_a_real_scene(tmp_path, landcover_scene_parts, landcover_class_map):
    image_uri, labels_uri, labels, predicted = landcover_scene_parts
    raster_source = GeoTIFFSource(str(image_uri))
    gt_source = SemanticSegmentationRasterSource(GeoTIFFSource(str(labels_uri)), landcover_class_map)
    store = SemanticSegmentationRasterStore.from_raster_source(
        str(tmp_path / "predict" / "scene.tif"), raster_source, landcover_class_map, tile_size=64
    )
    with store.open_writer() as writer:
        extent = Box(0, 0, 251, 251)
        for window in extent.get_windows(128):
            window = window.clip(extent)
            writer.write(window, predicted[window.to_slices()])
    aoi = shapely.box(0, 0, 180, 251)  # pixel space: columns 0-179, all rows
    scene = Scene("aber_tile4", raster_source, gt_source, store, aoi_polygons=[aoi])

    out = tmp_path / "eval" / "eval.json"
    report = SemanticSegmentationEvaluator(landcover_class_map, out, window_size=100).process([scene])

    counted = np.zeros(labels.shape, bool)
    counted[:, :180] = True  # the AOI; the nodata corner (columns 200+) lies outside it
    y_true, y_pred = labels[counted], predicted[counted]
    ev = report.scenes["aber_tile4"]
    np.testing.assert_array_equal(ev.confusion_matrix, confusion_matrix(y_true, y_pred, labels=[1, 2, 3, 4]))
    np.testing.assert_allclose(
        [c["iou"] for c in ev.class_rows()], jaccard_score(y_true, y_pred, labels=[1, 2, 3, 4], average=None)
    )
    written = json.loads(out.read_text())
    assert written["overall"]["gt_count"] == 251 * 180
    assert written["overall"]["no_prediction_count"] == 0  # the unpredicted last column is outside the AOI
    assert (out.parent / "confusion_matrix.png").stat().st_size > 1000


def test_segmentation_evaluator_excludes_image_nodata(tmp_path, landcover_scene_parts, landcover_class_map):
    image_uri, labels_uri, labels, predicted = landcover_scene_parts
    raster_source = GeoTIFFSource(str(image_uri))
    gt_source = SemanticSegmentationRasterSource(GeoTIFFSource(str(labels_uri)), landcover_class_map)
    store = SemanticSegmentationRasterStore.from_raster_source(
        str(tmp_path / "scene.tif"), raster_source, landcover_class_map
    )
    store.save(_labels_of(predicted))
    scene = Scene("aber_tile4", raster_source, gt_source, store)
    ev = SemanticSegmentationEvaluator(landcover_class_map, tmp_path / "eval.json", plot=False).evaluate_scene(scene)
    counted = np.ones(labels.shape, bool)
    counted[200:, 200:] = False  # image nodata
    assert ev.overall()["gt_count"] == counted.sum() == 251 * 251 - 51 * 51
    np.testing.assert_array_equal(
        ev.confusion_matrix, confusion_matrix(labels[counted], predicted[counted], labels=[1, 2, 3, 4])
    )
    assert ev.overall()["no_prediction_count"] == 200  # the last column above the nodata corner


def _labels_of(arr):
    from rv.labels import SemanticSegmentationLabels

    return SemanticSegmentationLabels.from_array(arr)


def test_detection_evaluator_filters_both_sides_by_aoi_centre(tmp_path):
    class_map = ClassMap.from_spec({"tree": 1})
    gt = ObjectDetectionLabels([[0, 0, 10, 10], [0, 95, 10, 110], [50, 200, 60, 210]], [1, 1, 1])
    pred = ObjectDetectionLabels([[0, 0, 10, 10], [0, 96, 10, 111], [80, 80, 90, 90]], [1, 1, 1], [0.9, 0.8, 0.7])
    aoi = shapely.box(0, 0, 100, 100)  # x 0-100, y 0-100: the box at x 200 is outside
    scene = Scene("osbs", None, InMemorySource(gt), InMemoryStore(pred), aoi_polygons=[aoi])
    ev = ObjectDetectionEvaluator(class_map, tmp_path / "eval.json", score_threshold=0.5).evaluate_scene(scene)
    # centres inside the AOI: gt #0 only (x 102.5 and 205 are outside); predictions #0 and #2 (x 103.5 is out)
    assert ev.confusion_matrix.tolist() == [[1, 0], [1, 0]]
    assert ev.overall()["score_threshold"] == 0.5


def test_chip_classification_evaluator_and_missing_parts(tmp_path, three_classes):
    cells = np.array([[0, 0, 50, 50], [0, 50, 50, 100], [50, 0, 100, 50]])
    scene = Scene(
        "cells",
        None,
        InMemorySource(ChipClassificationLabels(cells, [1, 2, 0])),
        InMemoryStore(ChipClassificationLabels(cells, [1, 1, 0])),
        aoi_polygons=[shapely.box(0, 0, 100, 60)],  # cell centres at y 25 are inside, y 75 not
    )
    ev = ChipClassificationEvaluator(three_classes, tmp_path / "eval.json").evaluate_scene(scene)
    assert ev.confusion_matrix.tolist() == [[0, 0, 0], [0, 1, 0], [0, 1, 0]]

    no_store = Scene("no-predictions", None, InMemorySource(ChipClassificationLabels(cells, [1, 2, 0])))
    with pytest.raises(DataError, match="'no-predictions' has no predictions"):
        ChipClassificationEvaluator(three_classes, tmp_path / "eval.json").process([no_store])
