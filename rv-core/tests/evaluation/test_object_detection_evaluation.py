"""Object detection evaluation: matching, precision/recall/F1, COCO-style AP, on hand cases and real tree boxes."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rv.core.box import iou_matrix
from rv.core.class_map import ClassMap
from rv.errors import DataError
from rv.evaluation.object_detection_evaluation import (
    IOU_THRESHOLDS,
    ObjectDetectionEvaluation,
    average_precision,
    evaluate_object_detection,
)
from rv.labels import ObjectDetectionLabels


@pytest.fixture
def det_classes() -> ClassMap:
    return ClassMap.from_spec({"building": 1, "road": 2})


# ground truth: A, B buildings, C a road
A, B, C = [0, 0, 10, 10], [20, 20, 30, 30], [0, 40, 10, 50]
GT_BOXES = np.array([A, B, C], dtype=float)
GT_IDS = np.array([1, 1, 2])
# p1 on A; p2 a duplicate of A (IoU 81/119 = 0.68); p3 on C; p4 on B but called a road
PRED_BOXES = np.array([A, [1, 1, 11, 11], C, B], dtype=float)
PRED_IDS = np.array([1, 1, 2, 2])


def test_three_gt_four_predictions_hand_computed(det_classes):
    ev = ObjectDetectionEvaluation(det_classes)
    ev.update(GT_BOXES, GT_IDS, PRED_BOXES, PRED_IDS, [0.9, 0.8, 0.7, 0.6])
    d = ev.to_dict()
    # rows gt (building, road, background), cols prediction (building, road, background)
    assert d["confusion_matrix"] == [
        [1, 1, 0],  # A found; B predicted as a road
        [0, 1, 0],  # C found
        [1, 0, 0],  # the duplicate on A is a false positive against the background
    ]
    building, road = d["classes"]
    assert (building["gt_count"], building["pred_count"]) == (2, 2)
    assert building["precision"] == 0.5 and building["recall"] == 0.5 and building["f1"] == 0.5
    assert (road["gt_count"], road["pred_count"]) == (1, 2)
    assert road["precision"] == 0.5 and road["recall"] == 1.0
    # building: TP then FP with 2 gt -> precision 1 up to recall 0.5: 51 of 101 recall points
    assert building["ap50"] == pytest.approx(51 / 101) and building["ap"] == pytest.approx(51 / 101)
    # road: the TP outranks the FP, recall 1 reached at precision 1
    assert road["ap50"] == 1.0 and road["ap"] == 1.0
    o = d["overall"]
    assert o["map50"] == pytest.approx((51 / 101 + 1) / 2) and o["map"] == pytest.approx((51 / 101 + 1) / 2)
    assert o["gt_count"] == 3 and o["pred_count"] == 4 and o["score_threshold"] is None
    assert "iou" not in o and "iou" not in building


def test_matching_is_redone_at_every_iou_threshold(det_classes):
    """The duplicate outranks the exact box: it takes A up to IoU 0.65, the exact box takes A from 0.70."""
    ev = ObjectDetectionEvaluation(det_classes)
    ev.update(GT_BOXES, GT_IDS, PRED_BOXES, PRED_IDS, [0.9, 0.95, 0.7, 0.6])
    ap = ev.average_precisions()[0]  # building
    # IoU 0.50-0.65: TP then FP (51/101); 0.70-0.95: FP then TP, precision 0.5 up to recall 0.5
    np.testing.assert_allclose(ap, [51 / 101] * 4 + [25.5 / 101] * 6)
    assert ev.class_rows()[0]["ap"] == pytest.approx((4 * 51 + 6 * 25.5) / 1010)


def test_iou_of_exactly_half_matches(det_classes):
    ev = ObjectDetectionEvaluation(det_classes)
    ev.update([[0, 0, 10, 10]], [1], [[0, 0, 10, 20]], [1], [0.5])  # intersection 100, union 200
    row = ev.class_rows()[0]
    assert row["precision"] == row["recall"] == 1.0
    assert row["ap50"] == 1.0 and row["ap"] == pytest.approx(0.1)  # only the 0.5 threshold


def test_greedy_by_score_takes_the_best_iou_then_never_reassigns(det_classes):
    gt = [[0, 0, 10, 10], [0, 4, 10, 14]]
    # p1 (high score): IoU 0.833 with gt0, 0.571 with gt1 -> takes gt0
    # p2 (low score): IoU 0.818 with gt0, 0.333 with gt1 -> gt0 is taken: a false positive,
    # and gt1 is missed (an optimal assignment would have matched both; COCO's greedy does not)
    preds = [[0, 0, 10, 12], [0, -1, 10, 9]]
    ev = ObjectDetectionEvaluation(det_classes)
    ev.update(gt, [1, 1], preds, [1, 1], [0.9, 0.3])
    assert ev.confusion_matrix.tolist() == [[1, 0, 1], [0, 0, 0], [1, 0, 0]]


def test_score_threshold_filters_precision_recall_not_ap(det_classes):
    scores = [0.9, 0.8, 0.7, 0.6]
    all_preds = ObjectDetectionEvaluation(det_classes)
    all_preds.update(GT_BOXES, GT_IDS, PRED_BOXES, PRED_IDS, scores)
    confident = ObjectDetectionEvaluation(det_classes, score_threshold=0.75)
    confident.update(GT_BOXES, GT_IDS, PRED_BOXES, PRED_IDS, scores)
    building, road = confident.class_rows()
    # only p1 (TP) and p2 (duplicate FP) are >= 0.75
    assert (building["pred_count"], building["precision"], building["recall"]) == (2, 0.5, 0.5)
    assert (road["pred_count"], road["precision"], road["recall"]) == (0, 0.0, 0.0)
    assert confident.confusion_matrix.tolist() == [[1, 0, 1], [0, 0, 1], [1, 0, 0]]
    np.testing.assert_allclose(confident.average_precisions(), all_preds.average_precisions())
    assert confident.overall()["score_threshold"] == 0.75


def test_average_precision_of_a_known_pr_curve():
    # 3 gt; ranked TP, FP, TP, FP: recall 1/3 at precision 1, 2/3 at precision 2/3, never 1
    ap = average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0], bool)[:, None], num_gt=3)
    # recall points 0..0.33 -> 1 (34 points), 0.34..0.66 -> 2/3 (33 points), 0.67..1 -> 0
    assert ap.tolist() == [pytest.approx((34 + 33 * 2 / 3) / 101)]
    # the ranking is by score, whatever the input order
    ap2 = average_precision(np.array([0.6, 0.7, 0.8, 0.9]), np.array([0, 1, 0, 1], bool)[:, None], num_gt=3)
    assert ap2 == pytest.approx(ap)
    assert average_precision(np.array([0.5]), np.array([[True]]), num_gt=0).tolist() == [0.0]
    assert average_precision(np.zeros(0), np.zeros((0, 1), bool), num_gt=4).tolist() == [0.0]


def test_empty_images(det_classes):
    ev = ObjectDetectionEvaluation(det_classes)
    ev.update(np.zeros((0, 4)), [], np.zeros((0, 4)), [], [])
    assert ev.overall()["map"] == 0.0 and ev.overall()["f1"] == 0.0
    ev.update(GT_BOXES, GT_IDS, np.zeros((0, 4)), [], None)  # everything missed
    assert ev.confusion_matrix.tolist() == [[0, 0, 2], [0, 0, 1], [0, 0, 0]]
    assert ev.overall()["recall"] == 0.0 and ev.overall()["map"] == 0.0
    ev2 = ObjectDetectionEvaluation(det_classes)
    ev2.update(np.zeros((0, 4)), [], PRED_BOXES, PRED_IDS, None)  # all false positives
    assert ev2.confusion_matrix[2].tolist() == [2, 2, 0]
    assert all(r["precision"] == 0.0 and r["ap"] == 0.0 for r in ev2.class_rows())


def test_boxes_of_different_images_never_match(det_classes):
    one_image = ObjectDetectionEvaluation(det_classes)
    one_image.update([A], [1], [A], [1], [0.9])
    two_images = ObjectDetectionEvaluation(det_classes)
    two_images.update([A], [1], np.zeros((0, 4)), [], [])
    two_images.update(np.zeros((0, 4)), [], [A], [1], [0.9])
    assert one_image.class_rows()[0]["recall"] == 1.0
    assert two_images.class_rows()[0]["recall"] == 0.0 and two_images.class_rows()[0]["pred_count"] == 1


def test_bad_input_raises_data_error(det_classes):
    ev = ObjectDetectionEvaluation(det_classes)
    with pytest.raises(DataError, match="invalid boxes"):
        ev.update([[10, 0, 0, 10]], [1], [], [], [])
    with pytest.raises(DataError, match=r"predicted box class ids hold class ids \[3\]"):
        ev.update([A], [1], [A], [3], [0.5])
    with pytest.raises(DataError, match="2 prediction scores for 1 boxes"):
        ev.update([A], [1], [A], [1], [0.5, 0.4])
    with pytest.raises(DataError, match="same threshold"):
        ev.merge(ObjectDetectionEvaluation(det_classes, score_threshold=0.5))


# ---------------------------------------------------------------- reference


def _reference_tp(gt, gt_cls, pred, pred_cls, scores, thr):
    """COCO's matching loop, written plainly: per prediction by score, the best free same-class gt."""
    iou = iou_matrix(pred, gt)
    taken: set[int] = set()
    tp = np.zeros(len(pred), bool)
    for p in sorted(range(len(pred)), key=lambda i: -scores[i]):
        best, best_iou = -1, thr
        for g in range(len(gt)):
            if g in taken or gt_cls[g] != pred_cls[p]:
                continue
            if iou[p, g] >= best_iou and (best < 0 or iou[p, g] > iou[p, best]):
                best, best_iou = g, iou[p, g]
        if best >= 0:
            taken.add(best)
            tp[p] = True
    return tp


def _reference_ap(scores, tp, num_gt):
    """AP by definition: mean over r in 0, 0.01, ..., 1 of max precision at recall >= r."""
    order = np.argsort(-scores, kind="stable")
    tp = tp[order]
    recall = np.cumsum(tp) / num_gt
    precision = np.cumsum(tp) / np.arange(1, len(tp) + 1)
    total = 0.0
    for r in np.linspace(0, 1, 101):
        reached = precision[recall >= r]
        total += reached.max() if len(reached) else 0.0
    return total / 101


def _random_image(rng, n):
    """Clustered boxes (many overlaps), predictions jittered, duplicated, re-classed and invented."""
    centers = rng.uniform(0, 120, (n, 2))
    sizes = rng.uniform(10, 40, (n, 2))
    gt = np.hstack([centers - sizes / 2, centers + sizes / 2])
    gt_cls = rng.integers(1, 3, n)
    keep = rng.random(n) < 0.8
    pred = gt[keep] + rng.normal(0, 3, (keep.sum(), 4))
    pred_cls = np.where(rng.random(keep.sum()) < 0.85, gt_cls[keep], 3 - gt_cls[keep])
    dup = rng.random(n) < 0.2
    fake = np.hstack([rng.uniform(0, 120, (10, 2)), np.zeros((10, 2))])
    fake[:, 2:] = fake[:, :2] + rng.uniform(10, 40, (10, 2))
    pred = np.vstack([pred, gt[dup] + rng.normal(0, 4, (dup.sum(), 4)), fake])
    pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2])
    pred_cls = np.concatenate([pred_cls, gt_cls[dup], rng.integers(1, 3, 10)])
    return gt, gt_cls, pred, pred_cls, rng.random(len(pred))


def test_random_images_match_a_plain_reference(det_classes):
    rng = np.random.default_rng(3)
    images = [_random_image(rng, n) for n in (60, 80, 5)]
    ev = ObjectDetectionEvaluation(det_classes, score_threshold=0.3)
    tps, classes, all_scores = [], [], []
    expected_counts = np.zeros((2, 3), int)  # per class: tp, gt, pred at the threshold
    for gt, gt_cls, pred, pred_cls, scores in images:
        ev.update(gt, gt_cls, pred, pred_cls, scores)
        tps.append(np.stack([_reference_tp(gt, gt_cls, pred, pred_cls, scores, t) for t in IOU_THRESHOLDS], 1))
        classes.append(pred_cls)
        all_scores.append(scores)
        counted = scores >= 0.3
        for c in (1, 2):
            expected_counts[c - 1] += [
                np.sum(tps[-1][:, 0] & counted & (pred_cls == c)),
                np.sum(gt_cls == c),
                np.sum(counted & (pred_cls == c)),
            ]
    tp, cls, scores = np.concatenate(tps), np.concatenate(classes), np.concatenate(all_scores)
    rows = ev.class_rows()
    for c, row in zip((1, 2), rows):
        n_tp, n_gt, n_pred = expected_counts[c - 1]
        assert (row["gt_count"], row["pred_count"]) == (n_gt, n_pred)
        assert row["recall"] == pytest.approx(n_tp / n_gt)
        assert row["precision"] == pytest.approx(n_tp / n_pred)
        sel = cls == c
        expected_ap = [_reference_ap(scores[sel], tp[sel, t], n_gt) for t in range(len(IOU_THRESHOLDS))]
        np.testing.assert_allclose(ev.average_precisions()[c - 1], expected_ap)
        assert row["ap50"] == pytest.approx(expected_ap[0])
    # every counted prediction and every gt box lands in exactly one cell of the matrix
    m = ev.confusion_matrix
    assert m[:2].sum() == expected_counts[:, 1].sum() and m[:, :2].sum() == expected_counts[:, 2].sum()
    assert m[2, 2] == 0
    # merging per-image evaluations gives the same as evaluating them in one
    parts = []
    for image in images:
        part = ObjectDetectionEvaluation(det_classes, score_threshold=0.3)
        part.update(*image)
        parts.append(part)
    merged = parts[0].merge(parts[1]).merge(parts[2])
    np.testing.assert_array_equal(merged.confusion_matrix, m)
    assert merged.to_dict() == ev.to_dict()


def test_ground_truth_against_itself_is_perfect(det_classes):
    rng = np.random.default_rng(5)
    gt, gt_cls, *_ = _random_image(rng, 100)
    ev = ObjectDetectionEvaluation(det_classes)
    ev.update(gt, gt_cls, gt, gt_cls, None)
    for row in ev.class_rows():
        assert row["precision"] == row["recall"] == row["f1"] == row["ap50"] == row["ap"] == 1.0
    assert ev.overall()["map"] == 1.0
    assert np.count_nonzero(ev.confusion_matrix - np.diag(np.diag(ev.confusion_matrix))) == 0


# ------------------------------------------------------------------ real data


def _tree_labels(data_dir) -> ObjectDetectionLabels:
    with open(data_dir / "trees" / "neon_osbs_029_trees.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    boxes = [[float(r["ymin"]), float(r["xmin"]), float(r["ymax"]), float(r["xmax"])] for r in rows]
    return ObjectDetectionLabels(boxes, np.ones(len(boxes), np.int64))


def test_neon_tree_crowns(data_dir):
    """The 61 NEON tree boxes against themselves, and against copies shifted by 10 % of their width."""
    trees = ClassMap.from_spec({"tree": 1})
    gt = _tree_labels(data_dir)
    assert len(gt) == 61

    perfect = evaluate_object_detection(gt, ObjectDetectionLabels(gt.boxes, gt.class_ids, np.ones(61)), trees)
    assert perfect.overall()["map"] == 1.0 and perfect.overall()["f1"] == 1.0
    assert perfect.confusion_matrix.tolist() == [[61, 0], [0, 0]]

    # Shifting a w-wide box by 0.1 w sideways gives IoU 0.9 / 1.1 = 0.818: a match at
    # IoU 0.50-0.80 (7 thresholds), a miss at 0.85-0.95 (3 thresholds).
    widths = gt.boxes[:, 3] - gt.boxes[:, 1]
    shifted = gt.boxes + np.column_stack([np.zeros(61), 0.1 * widths, np.zeros(61), 0.1 * widths])
    scores = np.linspace(1.0, 0.5, 61)
    ev = evaluate_object_detection(gt, ObjectDetectionLabels(shifted, gt.class_ids, scores), trees)
    row = ev.class_rows()[0]
    assert row["precision"] == row["recall"] == row["ap50"] == 1.0
    assert row["ap"] == pytest.approx(0.7)
    np.testing.assert_allclose(ev.average_precisions()[0], [1.0] * 7 + [0.0] * 3)
