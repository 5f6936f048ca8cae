"""Box-wise evaluation of object detection: matching, precision/recall/F1, AP and mAP.

**Matching.** In each image (scene), predictions are matched one-to-one to
ground-truth boxes *of the same class*, greedily by descending score (ties
keep input order): each prediction takes the still-unmatched ground-truth
box it overlaps most, if that IoU is ≥ the threshold. A second prediction
on an already matched box (a duplicate detection) is a false positive. A
zero-area box has IoU 0 with everything, so it never matches.

**Precision, recall, F1** per class use matching at IoU ≥ 0.5 and only the
predictions with ``score ≥ score_threshold`` (default ``None``: all
predictions). Because matching is greedy by score, dropping low-score
predictions never changes how the remaining ones match.

**AP** is COCO-style: for IoU thresholds 0.50, 0.55, …, 0.95 the predictions
of a class (all of them, regardless of ``score_threshold``, across all
merged images) are ranked by score, the precision envelope (precision made
non-increasing in recall) is sampled at the 101 recall points 0, 0.01, …, 1
(precision 0 past the highest recall reached), and the samples averaged.
Per class, ``ap50`` is AP at IoU 0.5 and ``ap`` the mean over the ten
thresholds. Overall, ``map50`` and ``map`` (mAP@[.5:.95]) are the unweighted
means over the classes that have ground truth; a class without ground truth
has AP 0.0 (undefined) and is left out of the means. Unlike pycocotools there
is no limit on detections per image, no area ranges and no crowd regions.

**Confusion matrix.** Classes in class-map order plus a trailing
*background* row and column: the diagonal holds the matches (IoU ≥ 0.5, at
the score threshold); an unmatched prediction that overlaps an unmatched
ground-truth box of another class at IoU ≥ 0.5 (greedy by score again)
counts as ``[gt class, predicted class]``; any other unmatched prediction
is a false positive ``[background, predicted class]`` and any other unmatched
ground-truth box a false negative ``[gt class, background]``.

Overlapping pairs come from a shapely ``STRtree`` query of the box envelopes
(:func:`rv.core.box.intersecting_pairs`), and IoU is computed on those pairs only, so time and memory grow
with the number of overlapping pairs rather than with ``gt × predictions``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rv.core.box import intersecting_pairs
from rv.errors import DataError
from rv.evaluation.classification_metrics import ConfusionMatrixEvaluation

#: The IoU thresholds of COCO's AP@[.5:.95].
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
#: The recall points at which COCO samples the precision envelope.
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
#: IoU at or above which a prediction matches for precision, recall, F1 and the confusion matrix.
MATCH_IOU = 0.5


def _check_boxes(boxes: Any, what: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise DataError(f"The {what} must be an (N, 4) array (ymin, xmin, ymax, xmax); got shape {arr.shape}.")
    bad = ~np.isfinite(arr).all(axis=1) | (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"The {what} hold {int(bad.sum())} invalid boxes, e.g. #{i} = {arr[i].tolist()}; boxes are "
            "finite (ymin, xmin, ymax, xmax) with ymax >= ymin and xmax >= xmin."
        )
    return arr


def overlapping_pairs(gt_boxes: np.ndarray, pred_boxes: np.ndarray, min_iou: float) -> tuple[np.ndarray, ...]:
    """Index pairs ``(pred, gt)`` of boxes with IoU ≥ ``min_iou`` (> 0), and their IoU.

    The overlapping pairs come from :func:`rv.core.box.intersecting_pairs`
    (a shapely ``STRtree``). Returns ``(pred_idx, gt_idx, iou)``.
    """
    pred_idx, gt_idx, _, iou = intersecting_pairs(pred_boxes, gt_boxes)
    keep = iou >= min_iou
    return pred_idx[keep], gt_idx[keep], iou[keep]


def greedy_match(pair_pred: np.ndarray, pair_gt: np.ndarray, num_preds: int) -> np.ndarray:
    """One-to-one greedy matching of predictions to ground truth over candidate pairs.

    The pairs ``(pair_pred[i], pair_gt[i])`` must be in priority order:
    sorted by prediction rank (highest score first), then by descending IoU
    (see :func:`_in_priority_order`). Each prediction in turn takes its first
    still-unmatched ground-truth box. All given pairs are eligible (filter
    them by IoU threshold and class first; filtering keeps the order).
    Returns ``(num_preds,)`` int64: the matched ground-truth index, or -1.
    """
    match = np.full(num_preds, -1, dtype=np.int64)
    if len(pair_pred) == 0:
        return match
    # A pair whose prediction and ground truth have no other candidate is
    # matched whatever the order: settle those at once, loop over the rest.
    pred_deg = np.bincount(pair_pred, minlength=num_preds)
    gt_deg = np.bincount(pair_gt)
    isolated = (pred_deg[pair_pred] == 1) & (gt_deg[pair_gt] == 1)
    match[pair_pred[isolated]] = pair_gt[isolated]
    if isolated.all():
        return match
    pp, pg = pair_pred[~isolated], pair_gt[~isolated]
    # Each prediction's candidates are one run of the pairs; a prediction
    # stops at its first free ground truth.
    starts = np.flatnonzero(np.r_[True, pp[1:] != pp[:-1]]).tolist()
    ends = starts[1:] + [len(pp)]
    preds, gts = pp.tolist(), pg.tolist()
    gt_taken: set[int] = set()
    for start, end in zip(starts, ends):
        for i in range(start, end):
            if gts[i] not in gt_taken:
                gt_taken.add(gts[i])
                match[preds[i]] = gts[i]
                break
    return match


def _in_priority_order(
    pair_pred: np.ndarray, pair_gt: np.ndarray, pair_iou: np.ndarray, pred_rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs sorted by prediction rank, then by descending IoU (the order :func:`greedy_match` needs)."""
    order = np.lexsort((-pair_iou, pred_rank[pair_pred]))
    return pair_pred[order], pair_gt[order], pair_iou[order]


def average_precision(scores: np.ndarray, is_tp: np.ndarray, num_gt: int) -> np.ndarray:
    """COCO 101-point interpolated AP of one class at several IoU thresholds.

    ``scores`` ``(N,)`` of the class's predictions, ``is_tp`` ``(N, T)`` bool
    (matched at each of ``T`` thresholds), ``num_gt`` the class's
    ground-truth count. Returns ``(T,)`` AP, 0.0 when ``num_gt`` is 0.
    """
    is_tp = np.asarray(is_tp, dtype=bool)
    if is_tp.ndim == 1:
        is_tp = is_tp[:, None]
    num_t = is_tp.shape[1]
    if num_gt == 0 or len(scores) == 0:
        return np.zeros(num_t)
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    tp = np.cumsum(is_tp[order], axis=0)
    fp = np.cumsum(~is_tp[order], axis=0)
    recall = tp / num_gt
    precision = tp / (tp + fp)
    # Precision envelope: the best precision at this recall or any higher one.
    envelope = np.maximum.accumulate(precision[::-1], axis=0)[::-1]
    ap = np.zeros(num_t)
    for t in range(num_t):
        idx = np.searchsorted(recall[:, t], RECALL_POINTS, side="left")
        reached = idx < len(scores)
        ap[t] = envelope[idx[reached], t].sum() / len(RECALL_POINTS)
    return ap


class ObjectDetectionEvaluation(ConfusionMatrixEvaluation):
    """Matches, confusion matrix and AP records of a scene (or several merged).

    Each :meth:`update` is one image: boxes of different updates never
    match each other. ``score_threshold`` selects the predictions counted in
    precision, recall, F1 and the confusion matrix (AP always uses all).
    """

    none_label = "background"
    report_none_slot = True
    with_iou = False
    unit = ("box", "boxes")
    # One class is the usual detection task: predictions off every box still count as false positives.
    single_class_is_trivial = False

    def __init__(self, class_map: Any, score_threshold: float | None = None):
        super().__init__(class_map)
        self.score_threshold = None if score_threshold is None else float(score_threshold)
        self._reset_state()

    def _reset_state(self) -> None:
        # Per prediction, over all updates: class index, score, matched at each IoU threshold.
        self._pred_classes: list[np.ndarray] = []
        self._pred_scores: list[np.ndarray] = []
        self._pred_tp: list[np.ndarray] = []
        self.gt_counts = np.zeros(self.num_classes, dtype=np.int64)

    def _merge_state(self, a: ConfusionMatrixEvaluation, b: ConfusionMatrixEvaluation) -> None:
        assert isinstance(a, ObjectDetectionEvaluation) and isinstance(b, ObjectDetectionEvaluation)
        if a.score_threshold != b.score_threshold:
            raise DataError(
                f"Cannot merge detection evaluations with score thresholds {a.score_threshold} and "
                f"{b.score_threshold}; evaluate every scene with the same threshold."
            )
        self._pred_classes = a._pred_classes + b._pred_classes
        self._pred_scores = a._pred_scores + b._pred_scores
        self._pred_tp = a._pred_tp + b._pred_tp
        self.gt_counts = a.gt_counts + b.gt_counts

    def update(
        self,
        gt_boxes: Any,
        gt_class_ids: Any,
        pred_boxes: Any,
        pred_class_ids: Any,
        pred_scores: Any = None,
    ) -> None:
        """Add one image: ``(N, 4)`` pixel boxes ``ymin, xmin, ymax, xmax`` with class ids and scores.

        ``pred_scores`` ``None`` means every prediction has score 1.0.
        """
        gt_boxes = _check_boxes(gt_boxes, "ground-truth boxes")
        pred_boxes = _check_boxes(pred_boxes, "predicted boxes")
        n_gt, n_pred = len(gt_boxes), len(pred_boxes)
        gt_ids = np.asarray(gt_class_ids).reshape(-1)
        pred_ids = np.asarray(pred_class_ids).reshape(-1)
        scores = np.ones(n_pred) if pred_scores is None else np.asarray(pred_scores, np.float64).reshape(-1)
        for n, got, what in (
            (n_gt, len(gt_ids), "ground-truth class ids"),
            (n_pred, len(pred_ids), "predicted class ids"),
            (n_pred, len(scores), "prediction scores"),
        ):
            if n != got:
                raise DataError(f"There are {got} {what} for {n} boxes; give one per box.")
        if not np.isfinite(scores).all():
            raise DataError("The prediction scores hold NaN or infinite values; give finite scores.")
        gt_cls = self.class_indices(gt_ids, "ground-truth box class ids")
        pred_cls = self.class_indices(pred_ids, "predicted box class ids")

        # Rank predictions by descending score; ties keep input order.
        order = np.argsort(-scores, kind="mergesort")
        rank = np.empty(n_pred, dtype=np.int64)
        rank[order] = np.arange(n_pred)

        pair_pred, pair_gt, pair_iou = overlapping_pairs(gt_boxes, pred_boxes, float(IOU_THRESHOLDS.min()))
        same = pred_cls[pair_pred] == gt_cls[pair_gt]
        # Matching is per class: only same-class pairs, put in priority order
        # once (the per-threshold selections below keep the order).
        sp, sg, si = _in_priority_order(pair_pred[same], pair_gt[same], pair_iou[same], rank)
        tp = np.zeros((n_pred, len(IOU_THRESHOLDS)), dtype=bool)
        match_05 = np.full(n_pred, -1, dtype=np.int64)
        for t, thr in enumerate(IOU_THRESHOLDS):
            sel = si >= thr
            match = greedy_match(sp[sel], sg[sel], n_pred)
            tp[:, t] = match >= 0
            if thr == MATCH_IOU:
                match_05 = match

        self._pred_classes.append(pred_cls)
        self._pred_scores.append(scores)
        self._pred_tp.append(tp)
        self.gt_counts += np.bincount(gt_cls, minlength=self.num_classes)
        cross = ~same
        self._add_confusion(gt_cls, pred_cls, scores, rank, match_05, pair_pred[cross], pair_gt[cross], pair_iou[cross])

    def _add_confusion(
        self,
        gt_cls: np.ndarray,
        pred_cls: np.ndarray,
        scores: np.ndarray,
        rank: np.ndarray,
        match: np.ndarray,
        pair_pred: np.ndarray,
        pair_gt: np.ndarray,
        pair_iou: np.ndarray,
    ) -> None:
        """Count matches, class confusions, false positives and misses at the score threshold.

        ``match`` is the same-class matching at IoU 0.5; the pairs are the
        candidate pairs of boxes of *different* classes.
        """
        bg = self.num_classes
        counted = np.ones(len(scores), bool) if self.score_threshold is None else scores >= self.score_threshold
        matched = counted & (match >= 0)
        gt_matched = np.zeros(len(gt_cls), dtype=bool)
        gt_matched[match[matched]] = True
        # Leftovers that overlap a leftover box of another class are class confusions.
        open_pair = counted[pair_pred] & (match[pair_pred] < 0) & ~gt_matched[pair_gt] & (pair_iou >= MATCH_IOU)
        cp, cg, _ = _in_priority_order(pair_pred[open_pair], pair_gt[open_pair], pair_iou[open_pair], rank)
        confused = greedy_match(cp, cg, len(scores))
        is_confused = confused >= 0
        gt_confused = np.zeros(len(gt_cls), dtype=bool)
        gt_confused[confused[is_confused]] = True

        false_pos = counted & ~matched & ~is_confused
        missed = ~gt_matched & ~gt_confused
        gt_rows = np.concatenate(
            [gt_cls[match[matched]], gt_cls[confused[is_confused]], np.full(false_pos.sum(), bg), gt_cls[missed]]
        )
        pred_cols = np.concatenate(
            [pred_cls[matched], pred_cls[is_confused], pred_cls[false_pos], np.full(missed.sum(), bg)]
        )
        self.add_pairs(gt_rows, pred_cols)

    # --------------------------------------------------------------- metrics

    def _records(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self._pred_scores:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros((0, len(IOU_THRESHOLDS)), bool)
        return np.concatenate(self._pred_classes), np.concatenate(self._pred_scores), np.concatenate(self._pred_tp)

    def average_precisions(self) -> np.ndarray:
        """``(K, 10)`` AP per class at the IoU thresholds 0.50:0.05:0.95 (see module docstring)."""
        classes, scores, tp = self._records()
        ap = np.zeros((self.num_classes, len(IOU_THRESHOLDS)))
        for c in range(self.num_classes):
            sel = classes == c
            ap[c] = average_precision(scores[sel], tp[sel], int(self.gt_counts[c]))
        return ap

    def _extra_class_metrics(self) -> dict[str, np.ndarray]:
        ap = self.average_precisions()
        return {"ap50": ap[:, 0], "ap": ap.mean(axis=1)}

    def _extra_overall_metrics(self, per_class: dict[str, np.ndarray]) -> dict[str, Any]:
        ap = self.average_precisions()
        has_gt = self.gt_counts > 0
        map50 = float(ap[has_gt, 0].mean()) if has_gt.any() else 0.0
        return {
            "ap50": map50,  # the name for the overall AP at IoU 0.5
            "map50": map50,
            "map": float(ap[has_gt].mean()) if has_gt.any() else 0.0,
            "score_threshold": self.score_threshold,
        }


def evaluate_object_detection(
    gt_labels: Any, pred_labels: Any, class_map: Any, score_threshold: float | None = None
) -> ObjectDetectionEvaluation:
    """Evaluate one scene's :class:`~rv.labels.ObjectDetectionLabels` (``boxes``, ``class_ids``, ``scores``)."""
    evaluation = ObjectDetectionEvaluation(class_map, score_threshold=score_threshold)
    evaluation.update(
        gt_labels.boxes, gt_labels.class_ids, pred_labels.boxes, pred_labels.class_ids, pred_labels.scores
    )
    return evaluation
