"""Chip classification evaluation: cells matched by position, compared with scikit-learn and real labels."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from rv.errors import DataError
from rv.evaluation.chip_classification_evaluation import ChipClassificationEvaluation, evaluate_chip_classification
from rv.labels import ChipClassificationLabels


def _cell(row, col, size=10):
    return [row * size, col * size, (row + 1) * size, (col + 1) * size]


def test_hand_computed_cells_matched_by_position(three_classes):
    gt_cells = [_cell(0, 0), _cell(0, 1), _cell(1, 0), _cell(1, 1), _cell(2, 0)]
    gt_ids = [1, 1, 2, 255, 0]  # (1, 1) has no label
    # predictions in another order, with float noise from a map -> pixel transform;
    # no prediction for (2, 0); (3, 0) has no ground truth
    pred_cells = np.array([_cell(0, 1), _cell(0, 0), _cell(1, 0), _cell(1, 1), _cell(3, 0)], float) + 1e-7
    pred_ids = [1, 2, 2, 0, 1]
    ev = ChipClassificationEvaluation(three_classes)
    ev.update(gt_cells, gt_ids, pred_cells, pred_ids)

    assert ev.confusion_matrix.tolist() == [
        [0, 0, 0],  # the background cell got no prediction (not in the K x K matrix)
        [0, 1, 1],  # building cells: one right, one called a road
        [0, 0, 1],
    ]
    bg, building, road = ev.class_rows()
    assert (bg["gt_count"], bg["pred_count"], bg["recall"]) == (1, 0, 0.0)
    assert (building["precision"], building["recall"]) == (1.0, 0.5)
    assert (road["precision"], road["recall"], road["f1"]) == (0.5, 1.0, pytest.approx(2 / 3))
    o = ev.overall()
    assert (o["gt_count"], o["pred_count"], o["no_prediction_count"]) == (4, 3, 1)
    assert "iou" not in o


def test_random_cells_match_sklearn(three_classes):
    rng = np.random.default_rng(11)
    rows, cols = np.meshgrid(np.arange(20), np.arange(15), indexing="ij")
    cells = np.column_stack([rows.ravel() * 32, cols.ravel() * 32, rows.ravel() * 32 + 32, cols.ravel() * 32 + 32])
    gt = rng.choice([0, 1, 2], size=len(cells), p=[0.6, 0.3, 0.1])
    pred = np.where(rng.random(len(cells)) < 0.65, gt, rng.choice([0, 1, 2], size=len(cells)))
    shuffle = rng.permutation(len(cells))

    ev = ChipClassificationEvaluation(three_classes)
    ev.update(cells, gt, cells[shuffle], pred[shuffle])

    labels = [0, 1, 2]
    np.testing.assert_array_equal(ev.confusion_matrix, confusion_matrix(gt, pred, labels=labels))
    p, r, f, support = precision_recall_fscore_support(gt, pred, labels=labels, zero_division=0)
    rows_ = ev.class_rows()
    np.testing.assert_allclose([c["precision"] for c in rows_], p)
    np.testing.assert_allclose([c["recall"] for c in rows_], r)
    np.testing.assert_allclose([c["f1"] for c in rows_], f)
    assert [c["gt_count"] for c in rows_] == support.tolist()
    pw, rw, fw, _ = precision_recall_fscore_support(gt, pred, labels=labels, average="weighted", zero_division=0)
    o = ev.overall()
    assert (o["precision"], o["recall"], o["f1"]) == pytest.approx((pw, rw, fw))


def test_bad_cells_raise_data_error(three_classes):
    ev = ChipClassificationEvaluation(three_classes)
    with pytest.raises(
        DataError, match=r"ground-truth cells hold the cell \[0, 0, 10, 10\] \(ymin, xmin, ymax, xmax\) 2 times"
    ):
        ev.update([_cell(0, 0), _cell(0, 0)], [1, 2], [], [])
    with pytest.raises(DataError, match="2 ground-truth cells but 1 ground-truth class ids"):
        ev.update([_cell(0, 0), _cell(0, 1)], [1], [], [])
    with pytest.raises(DataError, match="class ids \\[7\\]"):
        ev.update([_cell(0, 0)], [1], [_cell(0, 0)], [7])


def test_landcover_cells_majority_vs_center_pixel(data_dir, landcover_class_map):
    """Cells of the Aberystwyth class raster: ground truth = majority class, prediction = centre pixel's class."""
    size = 25
    with rasterio.open(data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif") as src:
        labels = src.read(1)
    n = labels.shape[0] // size  # 10 x 10 whole cells
    blocks = labels[: n * size, : n * size].reshape(n, size, n, size).transpose(0, 2, 1, 3).reshape(n * n, -1)
    majority = np.array([np.bincount(b, minlength=5).argmax() for b in blocks])
    center = blocks[:, (size // 2) * size + size // 2]
    r, c = np.divmod(np.arange(n * n), n)
    cells = np.column_stack([r * size, c * size, r * size + size, c * size + size])

    gt = ChipClassificationLabels(cells, majority)
    pred = ChipClassificationLabels(cells[::-1], center[::-1])  # order does not matter
    ev = evaluate_chip_classification(gt, pred, landcover_class_map)

    ids = [1, 2, 3, 4]
    np.testing.assert_array_equal(ev.confusion_matrix, confusion_matrix(majority, center, labels=ids))
    _, rec, f1, support = precision_recall_fscore_support(majority, center, labels=ids, zero_division=0)
    np.testing.assert_allclose([row["f1"] for row in ev.class_rows()], f1)
    assert ev.overall()["gt_count"] == 100 == support.sum()
    assert 0.6 < ev.overall()["recall"] < 1.0  # the centre pixel is usually, not always, the majority class

    same = evaluate_chip_classification(gt, gt, landcover_class_map)
    assert all(row["f1"] == 1.0 for row in same.class_rows() if row["gt_count"] > 0)
    assert same.overall()["f1"] == 1.0
