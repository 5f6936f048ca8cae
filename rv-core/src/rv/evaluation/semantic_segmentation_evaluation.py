"""Pixel-wise evaluation of semantic segmentation, accumulated window by window.

A scene is compared one window at a time (memory stays bounded by the
window): :meth:`SemanticSegmentationEvaluation.update` adds a window's
ground-truth and predicted label arrays to the confusion matrix with one
``np.bincount``. Which pixels count:

- a pixel whose ground truth is ``255`` (:data:`rv.IGNORE_CLASS_ID`: no
  label, label nodata, outside the AOI) is skipped;
- a pixel where ``mask`` is True (image nodata, outside the raster or the
  AOI) is skipped;
- a labelled pixel predicted as ``255`` (no prediction) is a false negative
  of its ground-truth class and a false positive of no class; the total is
  reported as ``overall["no_prediction_count"]``.

Pixels that count nowhere because their ground truth is 255 although the
image has data there (no label covers them) are counted as
``overall["unlabelled_count"]``; the warnings name them when they explain a
one-class ground truth.

Per class: precision, recall, F1, IoU = TP / (TP + FP + FN), pixel counts.
Overall: those weighted by ground-truth pixel count (weighted recall is the
pixel accuracy), and ``miou``, the unweighted mean IoU over the classes that
occur in the ground truth or the predictions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from rv.core.class_map import IGNORE_CLASS_ID
from rv.errors import DataError
from rv.evaluation.classification_metrics import ConfusionMatrixEvaluation


class SemanticSegmentationEvaluation(ConfusionMatrixEvaluation):
    """Pixel confusion matrix of a scene (or several merged) and its metrics.

    Example::

        ev = SemanticSegmentationEvaluation(class_map)
        for window in windows:
            ev.update(gt_labels[window], pred_labels[window], mask=nodata[window])
        ev.to_dict()["overall"]["miou"]
    """

    none_label = "no prediction"
    report_none_slot = False
    with_iou = True
    unit = ("pixel", "pixels")

    def __init__(self, class_map: Any):
        super().__init__(class_map)
        #: Pixels with data (not masked) whose ground truth is 255: no label covers them.
        self.unlabelled_count = 0
        self.background_class_id = getattr(class_map, "background_class_id", None)

    def _reset_state(self) -> None:
        self.unlabelled_count = 0

    def _merge_state(self, a: ConfusionMatrixEvaluation, b: ConfusionMatrixEvaluation) -> None:
        self.unlabelled_count = getattr(a, "unlabelled_count", 0) + getattr(b, "unlabelled_count", 0)

    def update(self, gt_arr: Any, pred_arr: Any, mask: Any = None) -> None:
        """Add one window: ``(H, W)`` class-id arrays of ground truth and prediction.

        ``mask`` is an optional ``(H, W)`` bool array, True where the pixel
        must not count (nodata, outside the AOI). Ground truth 255 never
        counts. Class ids outside the class map raise
        :class:`~rv.errors.DataError`.
        """
        gt = np.asarray(gt_arr)
        pred = np.asarray(pred_arr)
        if gt.shape != pred.shape:
            raise DataError(
                f"Ground-truth labels of shape {gt.shape} and predicted labels of shape {pred.shape} "
                "cannot be compared pixel by pixel; read both for the same window."
            )
        valid = gt != IGNORE_CLASS_ID
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != gt.shape:
                raise DataError(
                    f"The evaluation mask has shape {mask.shape} but the label window is {gt.shape}; "
                    "give a (H, W) bool mask, True where pixels are excluded."
                )
            self.unlabelled_count += int(np.count_nonzero(~valid & ~mask))
            valid &= ~mask
        else:
            self.unlabelled_count += int(valid.size - np.count_nonzero(valid))
        if valid.all():
            gt_valid, pred_valid = gt.ravel(), pred.ravel()
        else:
            gt_valid, pred_valid = gt[valid], pred[valid]
        if gt_valid.size == 0:
            return
        gt_idx = self.class_indices(gt_valid, "ground-truth segmentation labels")
        pred_idx = self.class_indices(pred_valid, "predicted segmentation labels", allow_ignore=True)
        self.add_pairs(gt_idx, pred_idx)

    def _extra_overall_metrics(self, per_class: dict[str, np.ndarray]) -> dict[str, Any]:
        k = self.num_classes
        present = (per_class["gt_count"] > 0) | (per_class["pred_count"] > 0)
        miou = float(per_class["iou"][present].mean()) if present.any() else 0.0
        return {
            "miou": miou,
            "no_prediction_count": int(self.confusion[:k, k].sum()),
            "unlabelled_count": int(self.unlabelled_count),
        }

    def _warning_hint(self) -> str:
        if not self.unlabelled_count:
            return ""
        unscored = (
            f" {self.unlabelled_count:,} pixels with image data inside the AOI have no class in the ground truth "
            "and were not scored"
        )
        if self.background_class_id is not None:
            return unscored + " (label nodata, or label values outside the class map)."
        return unscored + (
            ": if they are background, give the task a background class (a class named 'background', or "
            "with_background_class_id(id)) so that they are labelled, trained on and scored."
        )


def evaluate_semantic_segmentation(
    windows: Iterable[tuple[Any, Any, Any]], class_map: Any
) -> SemanticSegmentationEvaluation:
    """Evaluate a scene given as ``(gt_arr, pred_arr, mask_or_None)`` windows.

    The windows are consumed one by one, so a generator that reads them
    keeps memory bounded by one window.
    """
    evaluation = SemanticSegmentationEvaluation(class_map)
    for gt_arr, pred_arr, mask in windows:
        evaluation.update(gt_arr, pred_arr, mask)
    return evaluation
