"""Metrics from a confusion matrix, and the report that merges scenes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from rv.errors import DataError
from rv.evaluation.chip_classification_evaluation import ChipClassificationEvaluation
from rv.evaluation.classification_metrics import (
    ConfusionMatrixEvaluation,
    EvaluationReport,
    class_metrics,
    safe_divide,
    weighted_mean,
)
from rv.evaluation.semantic_segmentation_evaluation import SemanticSegmentationEvaluation


def test_safe_divide_gives_zero_not_nan():
    out = safe_divide([1, 2, 0, 3], [2, 0, 0, 3])
    assert out.tolist() == [0.5, 0.0, 0.0, 1.0]
    assert weighted_mean(np.array([0.5, 1.0]), np.array([0, 0])) == 0.0


def test_class_metrics_hand_computed():
    # rows = ground truth, cols = prediction
    m = np.array(
        [
            [5, 1, 0],  # class a: 6 gt, 5 right
            [2, 3, 1],  # class b: 6 gt, 3 right
            [0, 0, 0],  # class c: no gt, never predicted right, predicted once
        ]
    )
    r = class_metrics(m)
    assert r["tp"].tolist() == [5, 3, 0]
    assert r["gt_count"].tolist() == [6, 6, 0]
    assert r["pred_count"].tolist() == [7, 4, 1]
    np.testing.assert_allclose(r["precision"], [5 / 7, 3 / 4, 0.0])
    np.testing.assert_allclose(r["recall"], [5 / 6, 3 / 6, 0.0])
    np.testing.assert_allclose(r["f1"], [2 * 5 / 13, 2 * 3 / 10, 0.0])
    # IoU = TP / (TP + FP + FN)
    np.testing.assert_allclose(r["iou"], [5 / (5 + 2 + 1), 3 / (3 + 1 + 3), 0.0])


def test_none_slot_counts_as_errors_but_gets_no_metrics():
    # 2 classes + trailing "none" row/column
    m = np.array(
        [
            [4, 0, 2],  # 2 of class 0 got no prediction
            [0, 3, 0],
            [1, 0, 0],  # 1 prediction of class 0 matched nothing
        ]
    )
    r = class_metrics(m, num_classes=2)
    assert r["gt_count"].tolist() == [6, 3]
    assert r["pred_count"].tolist() == [5, 3]
    np.testing.assert_allclose(r["recall"], [4 / 6, 1.0])
    np.testing.assert_allclose(r["precision"], [4 / 5, 1.0])


def test_overall_is_ground_truth_weighted_like_sklearn(three_classes):
    rng = np.random.default_rng(7)
    gt = rng.choice([0, 1, 2], size=500, p=[0.7, 0.2, 0.1])
    pred = np.where(rng.random(500) < 0.6, gt, rng.choice([0, 1, 2], size=500))
    ev = SemanticSegmentationEvaluation(three_classes)
    ev.update(gt.reshape(20, 25), pred.reshape(20, 25))
    overall = ev.overall()
    p, r, f, _ = precision_recall_fscore_support(gt, pred, labels=[0, 1, 2], average="weighted", zero_division=0)
    assert overall["precision"] == pytest.approx(p)
    assert overall["recall"] == pytest.approx(r)
    assert overall["f1"] == pytest.approx(f)
    assert overall["recall"] == pytest.approx(np.mean(gt == pred))  # weighted recall is accuracy
    assert overall["gt_count"] == overall["pred_count"] == 500


def test_report_merges_scenes_by_summing_counts(three_classes):
    a = ChipClassificationEvaluation(three_classes)
    cells = np.array([[0, 0, 10, 10], [0, 10, 10, 20], [10, 0, 20, 10]])
    a.update(cells, [1, 1, 2], cells, [1, 0, 2])
    b = ChipClassificationEvaluation(three_classes)
    b.update(cells, [0, 1, 1], cells, [0, 1, 2])

    report = EvaluationReport({"scene-a": a, "scene-b": b})
    d = report.to_dict()
    assert list(d) == ["warnings", "overall", "classes", "confusion_matrix", "scenes"]
    assert d["warnings"] == []  # every class has ground truth: the scores stand
    assert list(d["scenes"]) == ["scene-a", "scene-b"]
    np.testing.assert_array_equal(
        d["confusion_matrix"],
        np.array(d["scenes"]["scene-a"]["confusion_matrix"]) + d["scenes"]["scene-b"]["confusion_matrix"],
    )
    # overall metrics come from the summed matrix, not from averaging scenes
    building = d["classes"][1]
    assert building == {
        "class_id": 1,
        "class_name": "building",
        "precision": 1.0,  # predicted building 2x, both right
        "recall": 0.5,  # 4 building cells, 2 found
        "f1": pytest.approx(2 / 3),
        "gt_count": 4,
        "pred_count": 2,
    }
    scene_a_building = d["scenes"]["scene-a"]["classes"][1]
    assert scene_a_building["recall"] == 0.5 and scene_a_building["gt_count"] == 2
    # the merge leaves the scene evaluations untouched
    assert a.confusion[:3, :3].sum() == 3 and b.confusion[:3, :3].sum() == 3
    # everything is plain JSON
    assert json.loads(report.to_json()) == json.loads(json.dumps(d))


def test_class_rows_list_every_class_in_class_map_order(three_classes):
    ev = SemanticSegmentationEvaluation(three_classes)
    ev.update(np.array([[2, 2]]), np.array([[2, 2]]))
    rows = ev.class_rows()
    assert [(r["class_id"], r["class_name"]) for r in rows] == [(0, "background"), (1, "building"), (2, "road")]
    # classes that do not occur: zero division gives 0.0, not NaN
    assert rows[0]["precision"] == rows[0]["recall"] == rows[0]["f1"] == rows[0]["iou"] == 0.0
    assert rows[2]["f1"] == 1.0


def test_report_errors_name_the_problem(three_classes, landcover_class_map):
    with pytest.raises(DataError, match="no scenes"):
        EvaluationReport().to_dict()
    report = EvaluationReport()
    report.add_scene("a", SemanticSegmentationEvaluation(three_classes))
    with pytest.raises(DataError, match="'a' was evaluated twice"):
        report.add_scene("a", SemanticSegmentationEvaluation(three_classes))
    with pytest.raises(DataError, match="one task and class map"):
        report.add_scene("b", SemanticSegmentationEvaluation(landcover_class_map))
    with pytest.raises(DataError, match="different class maps"):
        SemanticSegmentationEvaluation(three_classes).merge(SemanticSegmentationEvaluation(landcover_class_map))


def test_class_ids_outside_the_class_map_are_a_data_error(three_classes):
    ev = ConfusionMatrixEvaluation(three_classes)
    assert ev.class_indices(np.array([2, 0, 1]), "x").tolist() == [2, 0, 1]
    assert ev.class_indices(np.array([255]), "x", allow_ignore=True).tolist() == [3]
    with pytest.raises(DataError, match=r"predicted labels hold class ids \[7\] that are not in the class map"):
        ev.class_indices(np.array([1, 7]), "predicted labels")
    with pytest.raises(DataError, match="outside 0-255"):
        ev.class_indices(np.array([300]), "predicted labels")
    with pytest.raises(DataError, match="non-integer"):
        ev.class_indices(np.array([1.5]), "predicted labels")
