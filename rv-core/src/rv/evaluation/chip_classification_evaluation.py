"""Cell-wise evaluation of chip classification.

Ground truth and predictions are class ids of cells (pixel windows
``ymin, xmin, ymax, xmax``). Cells are matched by position: two cells are
the same cell when their windows, rounded to whole pixels, are equal (the
rounding absorbs float noise from map → pixel transforms). Then:

- a ground-truth cell with class 255 (no label) is skipped;
- a labelled cell with no predicted cell at its position, or predicted as
  255, is a false negative of its class (``overall["no_prediction_count"]``);
- a predicted cell with no ground-truth cell is not counted: there is no
  ground truth to judge it by.

Metrics are those of :mod:`rv.evaluation.classification_metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rv.errors import DataError
from rv.evaluation.classification_metrics import ConfusionMatrixEvaluation


def _cell_keys(cells: Any, what: str) -> np.ndarray:
    arr = np.asarray(cells, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 4 or not np.isfinite(arr).all():
        raise DataError(
            f"The {what} must be an (N, 4) array of finite pixel windows (ymin, xmin, ymax, xmax); "
            f"got shape {arr.shape}."
        )
    return np.round(arr).astype(np.int64)


def _check_unique(keys: np.ndarray, what: str) -> None:
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1][0].tolist()
        raise DataError(
            f"The {what} hold the cell {dup} (ymin, xmin, ymax, xmax) {int(counts.max())} times; "
            "a cell has one class. Remove the duplicate cells."
        )


class ChipClassificationEvaluation(ConfusionMatrixEvaluation):
    """Cell confusion matrix of a scene (or several merged) and its metrics."""

    none_label = "no prediction"
    report_none_slot = False
    with_iou = False
    unit = ("cell", "cells")

    def update(self, gt_cells: Any, gt_class_ids: Any, pred_cells: Any, pred_class_ids: Any) -> None:
        """Add the cells of one scene (or part of it), matched by position.

        ``*_cells`` are ``(N, 4)`` pixel windows, ``*_class_ids`` ``(N,)`` ints.
        """
        gt_keys = _cell_keys(gt_cells, "ground-truth cells")
        pred_keys = _cell_keys(pred_cells, "predicted cells")
        gt_ids = np.asarray(gt_class_ids).reshape(-1)
        pred_ids = np.asarray(pred_class_ids).reshape(-1)
        for keys, ids, what in ((gt_keys, gt_ids, "ground-truth"), (pred_keys, pred_ids, "predicted")):
            if len(keys) != len(ids):
                raise DataError(
                    f"There are {len(keys)} {what} cells but {len(ids)} {what} class ids; give one class id per cell."
                )
        _check_unique(gt_keys, "ground-truth cells")
        _check_unique(pred_keys, "predicted cells")

        gt_idx = self.class_indices(gt_ids, "ground-truth cell class ids", allow_ignore=True)
        labelled = gt_idx < self.num_classes
        gt_keys, gt_idx = gt_keys[labelled], gt_idx[labelled]
        pred_idx = self.class_indices(pred_ids, "predicted cell class ids", allow_ignore=True)

        # Join by position: number the distinct cells of both sets, then look
        # each ground-truth cell's number up among the predicted cells.
        _, inverse = np.unique(np.concatenate([gt_keys, pred_keys]), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        gt_pos, pred_pos = inverse[: len(gt_keys)], inverse[len(gt_keys) :]
        pred_at = np.full(len(inverse) + 1, self.num_classes, dtype=np.int64)  # default: no prediction
        pred_at[pred_pos] = pred_idx
        self.add_pairs(gt_idx, pred_at[gt_pos])

    def _extra_overall_metrics(self, per_class: dict[str, np.ndarray]) -> dict[str, Any]:
        k = self.num_classes
        return {"no_prediction_count": int(self.confusion[:k, k].sum())}


def evaluate_chip_classification(gt_labels: Any, pred_labels: Any, class_map: Any) -> ChipClassificationEvaluation:
    """Evaluate one scene's :class:`~rv.labels.ChipClassificationLabels` (``cells``, ``class_ids``)."""
    evaluation = ChipClassificationEvaluation(class_map)
    evaluation.update(gt_labels.cells, gt_labels.class_ids, pred_labels.cells, pred_labels.class_ids)
    return evaluation
