"""Pixel-wise segmentation evaluation: hand-computed, against scikit-learn, on real rasters."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import rasterio.features
import shapely
from pyproj import Transformer
from rasterio.windows import Window
from sklearn.metrics import confusion_matrix, jaccard_score, precision_recall_fscore_support

from rv.errors import DataError
from rv.evaluation.semantic_segmentation_evaluation import (
    SemanticSegmentationEvaluation,
    evaluate_semantic_segmentation,
)

GT = np.array(
    [
        [0, 0, 1, 1],
        [0, 0, 1, 1],
        [2, 2, 255, 1],
        [2, 2, 0, 0],
    ],
    dtype=np.uint8,
)
PRED = np.array(
    [
        [0, 1, 1, 1],
        [0, 0, 1, 0],
        [2, 0, 2, 1],
        [2, 2, 0, 255],
    ],
    dtype=np.uint8,
)


def test_hand_computed_three_classes(three_classes):
    ev = SemanticSegmentationEvaluation(three_classes)
    ev.update(GT, PRED)
    d = ev.to_dict()
    # rows gt (background, building, road), cols prediction; the gt-255 pixel is skipped
    assert d["confusion_matrix"] == [[4, 1, 0], [1, 4, 0], [1, 0, 3]]
    bg, building, road = d["classes"]
    # background: 6 gt pixels (one predicted 255 = missed), 6 predicted, 4 right
    assert (bg["gt_count"], bg["pred_count"]) == (6, 6)
    assert bg["precision"] == pytest.approx(4 / 6) and bg["recall"] == pytest.approx(4 / 6)
    assert bg["iou"] == pytest.approx(4 / 8)
    assert building["precision"] == pytest.approx(4 / 5) and building["recall"] == pytest.approx(4 / 5)
    assert building["iou"] == pytest.approx(4 / 6)
    assert road["precision"] == 1.0 and road["recall"] == pytest.approx(3 / 4)
    assert road["iou"] == pytest.approx(3 / 4) and road["f1"] == pytest.approx(2 * 3 / 7)
    o = d["overall"]
    assert o["gt_count"] == 15 and o["pred_count"] == 14 and o["no_prediction_count"] == 1
    assert o["miou"] == pytest.approx((1 / 2 + 2 / 3 + 3 / 4) / 3)
    assert o["recall"] == pytest.approx(11 / 15)  # pixel accuracy


def test_mask_and_ignore_pixels_are_excluded(three_classes):
    mask = np.zeros((4, 4), dtype=bool)
    mask[:, 0] = True  # e.g. nodata in the first column
    ev = SemanticSegmentationEvaluation(three_classes)
    ev.update(GT, PRED, mask=mask)
    assert ev.confusion_matrix.tolist() == [[2, 1, 0], [1, 4, 0], [1, 0, 1]]
    assert ev.overall()["gt_count"] == 11  # 16 - 4 masked - 1 ignored

    # all pixels ignored or masked: nothing counts, metrics are 0.0 not NaN
    ev = SemanticSegmentationEvaluation(three_classes)
    ev.update(np.full((4, 4), 255, np.uint8), PRED)
    ev.update(GT, PRED, mask=np.ones((4, 4), bool))
    o = ev.overall()
    assert o["gt_count"] == 0 and o["miou"] == 0.0 and o["f1"] == 0.0


def test_random_labels_match_sklearn(three_classes):
    rng = np.random.default_rng(42)
    gt = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(64, 80), p=[0.5, 0.3, 0.15, 0.05])
    noise = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=gt.shape, p=[0.3, 0.3, 0.3, 0.1])
    pred = np.where(rng.random(gt.shape) < 0.7, gt, noise)
    mask = rng.random(gt.shape) < 0.1

    # accumulated window by window (uneven windows), like a scene read in tiles
    ev = SemanticSegmentationEvaluation(three_classes)
    for rows in (slice(0, 30), slice(30, 64)):
        for cols in (slice(0, 17), slice(17, 80)):
            ev.update(gt[rows, cols], pred[rows, cols], mask[rows, cols])

    keep = (gt != 255) & ~mask
    y_true, y_pred = gt[keep], pred[keep]
    labels = [0, 1, 2]
    np.testing.assert_array_equal(ev.confusion_matrix, confusion_matrix(y_true, y_pred, labels=labels))
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    iou = jaccard_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    rows = ev.class_rows()
    np.testing.assert_allclose([c["precision"] for c in rows], p)
    np.testing.assert_allclose([c["recall"] for c in rows], r)
    np.testing.assert_allclose([c["f1"] for c in rows], f)
    np.testing.assert_allclose([c["iou"] for c in rows], iou)
    assert [c["gt_count"] for c in rows] == support.tolist()
    pw, rw, fw, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="weighted", zero_division=0)
    o = ev.overall()
    assert (o["precision"], o["recall"], o["f1"]) == pytest.approx((pw, rw, fw))
    assert o["miou"] == pytest.approx(iou.mean())
    assert o["no_prediction_count"] == int(np.sum(y_pred == 255))


def test_ground_truth_against_itself_is_perfect(three_classes):
    ev = SemanticSegmentationEvaluation(three_classes)
    ev.update(GT, GT)
    for row in ev.class_rows():
        assert row["precision"] == row["recall"] == row["f1"] == row["iou"] == 1.0
    assert ev.overall()["miou"] == 1.0 and ev.overall()["f1"] == 1.0


def test_miou_averages_only_classes_that_occur(three_classes):
    ev = SemanticSegmentationEvaluation(three_classes)
    ev.update(np.array([[1, 1, 2, 2]]), np.array([[1, 1, 2, 1]]))  # background never occurs
    ious = [r["iou"] for r in ev.class_rows()]
    assert ious == [0.0, pytest.approx(2 / 3), 0.5]
    assert ev.overall()["miou"] == pytest.approx((2 / 3 + 0.5) / 2)


def test_bad_input_raises_data_error(three_classes):
    ev = SemanticSegmentationEvaluation(three_classes)
    with pytest.raises(DataError, match="shape"):
        ev.update(GT, PRED[:3])
    with pytest.raises(DataError, match="mask has shape"):
        ev.update(GT, PRED, mask=np.zeros((3, 3), bool))
    bad = PRED.copy()
    bad[0, 0] = 9
    with pytest.raises(DataError, match=r"predicted segmentation labels hold class ids \[9\]"):
        ev.update(GT, bad)
    assert ev.confusion.sum() == 0  # a failed update adds nothing


def _read_windows(path, size, shift_cols=0):
    """Yield (row_off, col_off, array) for size×size windows, optionally read shifted (boundless, fill 255)."""
    with rasterio.open(path) as src:
        for row in range(0, src.height, size):
            for col in range(0, src.width, size):
                h, w = min(size, src.height - row), min(size, src.width - col)
                win = Window(col + shift_cols, row, w, h)
                arr = src.read(1, window=win, boundless=True, fill_value=255)
                yield row, col, arr


def test_windowed_real_label_raster_against_shifted_copy(data_dir, landcover_class_map):
    """The Aberystwyth class raster vs itself shifted one pixel, read in 64×64 rasterio windows."""
    path = data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif"
    windows = (
        (gt, pred, None)
        for (_, _, gt), (_, _, pred) in zip(_read_windows(path, 64), _read_windows(path, 64, shift_cols=1))
    )
    ev = evaluate_semantic_segmentation(windows, landcover_class_map)

    with rasterio.open(path) as src:
        full = src.read(1)
    shifted = np.full_like(full, 255)
    shifted[:, :-1] = full[:, 1:]
    labels = [1, 2, 3, 4]
    np.testing.assert_array_equal(ev.confusion_matrix, confusion_matrix(full.ravel(), shifted.ravel(), labels=labels))
    o = ev.overall()
    assert o["gt_count"] == 251 * 251
    assert o["no_prediction_count"] == 251  # the last column has nothing to its right
    assert [c["gt_count"] for c in ev.class_rows()] == [6483, 6022, 22890, 27606]  # counts from the data README
    iou = jaccard_score(full.ravel(), shifted.ravel(), labels=labels, average=None, zero_division=0)
    np.testing.assert_allclose([c["iou"] for c in ev.class_rows()], iou)
    # neighbouring pixels mostly agree, but not everywhere
    assert 0.5 < o["miou"] < 1.0

    # and against itself: perfect
    same = evaluate_semantic_segmentation(((gt, gt, None) for _, _, gt in _read_windows(path, 64)), landcover_class_map)
    assert same.overall()["miou"] == 1.0
    assert all(c["f1"] == 1.0 for c in same.class_rows())
    json.dumps(same.to_dict())


def test_classifier_output_against_hand_digitised_polygons(data_dir, landcover_class_map):
    """Ground truth = the 40 training polygons rasterized (255 elsewhere); prediction = the class raster.

    The data README states that the raster agrees with its training polygons
    on at least 99.9 % of their pixels; only polygon pixels may count.
    """
    collection = json.loads((data_dir / "landcover" / "s2_aberystwyth_training_polygons.geojson").read_text())
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)

    def reproject(xy):
        return np.column_stack(to_bng.transform(xy[:, 0], xy[:, 1]))

    shapes = [
        (shapely.transform(shapely.geometry.shape(f["geometry"]), reproject), f["properties"]["class_id"])
        for f in collection["features"]
    ]
    with rasterio.open(data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif") as src:
        gt = rasterio.features.rasterize(
            shapes, out_shape=(src.height, src.width), transform=src.transform, fill=255, dtype="uint8"
        )
        ev = SemanticSegmentationEvaluation(landcover_class_map)
        for row in range(0, src.height, 100):
            win = Window(0, row, src.width, min(100, src.height - row))
            ev.update(gt[row : row + win.height], src.read(1, window=win))
    o = ev.overall()
    assert o["gt_count"] == int(np.sum(gt != 255)) > 1000  # only polygon pixels count
    # the tile holds forest, urban and water polygons; the grass polygons lie outside it
    counted = {c["class_name"]: (c["gt_count"], c["pred_count"]) for c in ev.class_rows()}
    assert counted["grass"] == (0, 0)
    assert all(counted[name][0] > 100 for name in ("forest", "urban", "water"))
    assert o["recall"] >= 0.999
    assert o["precision"] >= 0.999
