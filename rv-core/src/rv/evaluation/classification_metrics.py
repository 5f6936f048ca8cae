"""Per-class precision, recall and F1 from a confusion matrix, shared by the three tasks.

Every task reduces its comparison of predictions with ground truth to a
confusion matrix: pixels for semantic segmentation, cells for chip
classification, matched boxes for object detection. This module turns that
matrix into the metrics written to ``eval.json``; what differs between tasks
(how the matrix is filled, extra metrics such as IoU or AP) lives in the
task's own module as a subclass of :class:`ConfusionMatrixEvaluation`.

**The confusion matrix.** Rows are ground truth, columns are predictions,
over the class ids of the class map in class-map (ascending id) order, plus
one trailing *none* row and column (index ``K`` for ``K`` classes):

- column ``K`` counts ground truth that got no prediction (a missed box, a
  labelled pixel predicted as 255, a labelled cell with no predicted cell);
- row ``K`` counts predictions that match no ground truth (a false-positive
  box against the background).

For a class ``c``: ``TP = M[c, c]``, ``gt_count = M[c, :].sum()``,
``pred_count = M[:, c].sum()``, so

- ``precision = TP / pred_count``,
- ``recall = TP / gt_count``,
- ``f1 = 2 TP / (gt_count + pred_count)`` (the harmonic mean of the two),
- ``iou = TP / (gt_count + pred_count - TP)`` = ``TP / (TP + FP + FN)``.

**Zero divisions give 0.0**, never NaN: precision of a class never
predicted, recall of a class absent from the ground truth, and F1/IoU of a
class with neither are all 0.0 (scikit-learn's ``zero_division=0``).

**Overall** precision, recall, F1 (and IoU) are the per-class values
weighted by each class's ground-truth count (scikit-learn's
``average="weighted"``); a class with no ground truth therefore has no
weight. Per-scene evaluations merge into the overall one by summing their
confusion matrices (and, for detection, their match records), never by
averaging per-scene metrics.

**TRAIN's validation** scores its chips with these same evaluations, so
``log.csv`` and ``eval.json`` share names and definitions:
:meth:`ConfusionMatrixEvaluation.flat_metrics` gives the log's columns.

**Warnings.** Some ground truths make every score meaningless, and
:meth:`ConfusionMatrixEvaluation.warnings` says so in plain sentences
(``eval.json``'s ``warnings`` list, empty when there is nothing to say):
ground truth with no item at all; ground truth of a single class where every
item gets a class (segmentation pixels, chip classification cells): a model
that answers that class everywhere scores 1.0; and each class of the map the
ground truth lacks (its recall and F1 are 0 by definition).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

from rv.core.class_map import IGNORE_CLASS_ID
from rv.errors import DataError

E = TypeVar("E", bound="ConfusionMatrixEvaluation")

#: float entries of ``overall`` that are settings of the evaluation, not scores
_SETTINGS = ("score_threshold",)


def safe_divide(numerator: Any, denominator: Any) -> np.ndarray:
    """Element-wise ``numerator / denominator`` as float64, 0.0 where the denominator is 0."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def class_metrics(confusion: np.ndarray, num_classes: int | None = None) -> dict[str, np.ndarray]:
    """Per-class count and metric arrays from a confusion matrix.

    ``confusion`` is square, rows = ground truth, columns = prediction. When
    ``num_classes`` is smaller than the matrix (the trailing *none* row and
    column of :class:`ConfusionMatrixEvaluation`), metrics are returned for
    the first ``num_classes`` only, but the extra row and column still count
    as false positives and false negatives.

    Returns a dict of ``(num_classes,)`` arrays: ``tp``, ``gt_count``,
    ``pred_count`` (int64) and ``precision``, ``recall``, ``f1``, ``iou``
    (float64, 0.0 on zero division).
    """
    m = np.asarray(confusion, dtype=np.int64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"a confusion matrix is square, got shape {m.shape}")
    k = m.shape[0] if num_classes is None else num_classes
    tp = np.diagonal(m)[:k].copy()
    gt_count = m.sum(axis=1)[:k]
    pred_count = m.sum(axis=0)[:k]
    return {
        "tp": tp,
        "gt_count": gt_count,
        "pred_count": pred_count,
        "precision": safe_divide(tp, pred_count),
        "recall": safe_divide(tp, gt_count),
        "f1": safe_divide(2 * tp, gt_count + pred_count),
        "iou": safe_divide(tp, gt_count + pred_count - tp),
    }


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """``sum(values * weights) / sum(weights)``, 0.0 when the weights sum to 0."""
    return float(safe_divide(np.dot(np.asarray(values, np.float64), np.asarray(weights, np.float64)), np.sum(weights)))


class ConfusionMatrixEvaluation:
    """Accumulated confusion matrix over the classes of a class map, and its metrics.

    The base of the three tasks' evaluations. It holds the ``(K+1, K+1)``
    int64 matrix described in the module docstring; subclasses fill it (their
    ``update`` methods), may keep more state (override :meth:`_merge_state`)
    and add metrics (override :meth:`_extra_class_metrics` and
    :meth:`_extra_overall_metrics`).

    ``class_map`` is a :class:`rv.core.ClassMap` (or any object with ``ids``
    and ``names`` sequences in the same order).
    """

    #: Name of the trailing row/column in plots; also written to eval.json when
    #: ``report_none_slot`` is true.
    none_label: ClassVar[str] = "none"
    #: Whether ``to_dict()["confusion_matrix"]`` includes the trailing none row/column.
    report_none_slot: ClassVar[bool] = False
    #: Whether per-class and overall entries carry ``iou``.
    with_iou: ClassVar[bool] = False
    #: What the matrix counts, singular and plural ("pixel", "pixels"), for :meth:`warnings`.
    unit: ClassVar[tuple[str, str]] = ("item", "items")
    #: Whether every item of the ground truth gets one class of the map (pixels, cells), so that
    #: ground truth of a single class is scored perfectly by a constant answer. Not for detection,
    #: where a one-class map is usual and false positives still count against the background.
    single_class_is_trivial: ClassVar[bool] = True

    def __init__(self, class_map: Any):
        ids = [int(i) for i in class_map.ids]
        names = [str(n) for n in class_map.names]
        if not ids or len(ids) != len(names):
            raise DataError(
                f"Cannot evaluate with class ids {ids} and names {names}: give a class map with at least "
                "one class and one name per id."
            )
        if len(set(ids)) != len(ids) or not all(0 <= i < IGNORE_CLASS_ID for i in ids):
            raise DataError(
                f"Class ids {ids} must be unique ints in 0-254 ({IGNORE_CLASS_ID} means 'ignore'); fix the class map."
            )
        self.class_ids: list[int] = ids
        self.class_names: list[str] = names
        k = len(ids)
        #: ``(K+1, K+1)`` int64: rows ground truth, columns prediction, last row/column "none".
        self.confusion: np.ndarray = np.zeros((k + 1, k + 1), dtype=np.int64)
        # id -> index in class-map order; ids outside the map -> -1 (checked by callers).
        self._id_to_index = np.full(256, -1, dtype=np.int64)
        self._id_to_index[ids] = np.arange(k)

    # ------------------------------------------------------------ class ids

    @property
    def num_classes(self) -> int:
        """Number of classes ``K`` in the class map."""
        return len(self.class_ids)

    def class_indices(self, class_ids: Any, what: str, allow_ignore: bool = False) -> np.ndarray:
        """Class-map indices ``0..K-1`` of an array of class ids (int64, same shape).

        With ``allow_ignore``, :data:`~rv.core.class_map.IGNORE_CLASS_ID`
        becomes index ``K`` (the *none* slot). Any other id outside the class
        map raises :class:`~rv.errors.DataError` naming ``what`` (e.g.
        ``"predicted segmentation labels"``) and the offending ids.
        """
        arr = np.asarray(class_ids)
        if arr.size == 0:
            return np.zeros(arr.shape, dtype=np.int64)
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise DataError(
                    f"The {what} hold non-integer class ids (dtype {arr.dtype}); class ids are integers "
                    f"from the class map {self.class_ids}."
                )
        lo, hi = arr.min(), arr.max()
        if lo < 0 or hi > 255:
            raise DataError(
                f"The {what} hold class id {lo if lo < 0 else hi}, outside 0-255; class ids come from the "
                f"class map {self.class_ids} (255 = ignore)."
            )
        lut = self._id_to_index
        if allow_ignore:
            lut = lut.copy()
            lut[IGNORE_CLASS_ID] = self.num_classes
        idx = lut[arr.astype(np.intp, copy=False)]
        if (idx < 0).any():
            bad = np.unique(arr[idx < 0])
            raise DataError(
                f"The {what} hold class ids {bad.tolist()[:10]} that are not in the class map "
                f"(ids {self.class_ids}, names {self.class_names}). Add them to the class map, or relabel "
                f"them as {IGNORE_CLASS_ID} (ignore)."
            )
        return idx

    def add_pairs(self, gt_indices: np.ndarray, pred_indices: np.ndarray) -> None:
        """Count ``(ground truth, prediction)`` index pairs (``0..K``, ``K`` = none) into the matrix.

        One ``np.bincount`` over the combined index ``gt * (K+1) + pred``.
        """
        n = self.num_classes + 1
        combined = np.asarray(gt_indices, dtype=np.int64).ravel() * n + np.asarray(pred_indices, np.int64).ravel()
        self.confusion += np.bincount(combined, minlength=n * n).reshape(n, n)

    def add_confusion(self, counts: Any) -> None:
        """Add a matrix of counts in class-map order (rows ground truth, columns prediction).

        ``counts`` is ``K × K`` (every item got a class) or ``(K+1) × (K+1)``
        with the trailing *none* row and column. For callers that count on
        their own, e.g. TRAIN's validation on the accelerator.
        """
        m = np.asarray(counts)
        k = self.num_classes
        if m.shape not in ((k, k), (k + 1, k + 1)) or not np.issubdtype(m.dtype, np.integer) or (m < 0).any():
            raise DataError(
                f"A confusion matrix of shape {m.shape} and dtype {m.dtype} was given for {k} classes; give "
                f"non-negative integer counts of shape ({k}, {k}) or ({k + 1}, {k + 1})."
            )
        self.confusion[: m.shape[0], : m.shape[1]] += m.astype(np.int64)

    # --------------------------------------------------------------- merging

    def merge(self: E, other: E) -> E:
        """A new evaluation holding both this one's and ``other``'s counts (scenes → overall)."""
        if type(other) is not type(self):
            raise TypeError(f"cannot merge {type(self).__name__} with {type(other).__name__}")
        if other.class_ids != self.class_ids:
            raise DataError(
                f"Cannot merge evaluations over different class maps (ids {self.class_ids} and "
                f"{other.class_ids}); evaluate every scene with the experiment's class map."
            )
        merged = self.empty_like()
        merged.confusion = self.confusion + other.confusion
        merged._merge_state(self, other)
        return merged

    def empty_like(self: E) -> E:
        """A new evaluation with the same class map and settings and no counts."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.confusion = np.zeros_like(self.confusion)
        new._reset_state()
        return new

    def _reset_state(self) -> None:
        """Clear subclass accumulators on an :meth:`empty_like` copy (hook)."""

    def _merge_state(self, a: ConfusionMatrixEvaluation, b: ConfusionMatrixEvaluation) -> None:
        """Set subclass accumulators on a fresh evaluation to the union of ``a``'s and ``b``'s (hook)."""

    # --------------------------------------------------------------- metrics

    def metrics(self) -> dict[str, np.ndarray]:
        """Per-class arrays from :func:`class_metrics` over this matrix."""
        return class_metrics(self.confusion, self.num_classes)

    def _extra_class_metrics(self) -> dict[str, np.ndarray]:
        """Additional per-class ``(K,)`` float arrays of a task (hook)."""
        return {}

    def _extra_overall_metrics(self, per_class: dict[str, np.ndarray]) -> dict[str, Any]:
        """Additional overall values of a task (hook)."""
        return {}

    def class_rows(self) -> list[dict[str, Any]]:
        """One dict per class in class-map order: ``class_id``, ``class_name``, metrics and counts."""
        m = self.metrics()
        extra = self._extra_class_metrics()
        rows = []
        for i, (cid, name) in enumerate(zip(self.class_ids, self.class_names)):
            row: dict[str, Any] = {
                "class_id": cid,
                "class_name": name,
                "precision": float(m["precision"][i]),
                "recall": float(m["recall"][i]),
                "f1": float(m["f1"][i]),
            }
            if self.with_iou:
                row["iou"] = float(m["iou"][i])
            row["gt_count"] = int(m["gt_count"][i])
            row["pred_count"] = int(m["pred_count"][i])
            row.update({key: float(v[i]) for key, v in extra.items()})
            rows.append(row)
        return rows

    def overall(self) -> dict[str, Any]:
        """Overall metrics: per-class values weighted by ground-truth count, totals, task extras."""
        m = self.metrics()
        w = m["gt_count"]
        out: dict[str, Any] = {
            "precision": weighted_mean(m["precision"], w),
            "recall": weighted_mean(m["recall"], w),
            "f1": weighted_mean(m["f1"], w),
        }
        if self.with_iou:
            out["iou"] = weighted_mean(m["iou"], w)
        out["gt_count"] = int(m["gt_count"].sum())
        out["pred_count"] = int(m["pred_count"].sum())
        out.update(self._extra_overall_metrics(m))
        return out

    def flat_metrics(self) -> dict[str, float]:
        """The scores of :meth:`overall` and :meth:`class_rows` in one flat dict (TRAIN's ``log.csv`` columns).

        Overall scores keep their ``eval.json`` names (``precision``,
        ``recall``, ``f1``, and by task ``iou``, ``miou``, ``ap50``,
        ``map50``, ``map``); a class's scores are ``<score>_<class name>``
        (``f1_building``, ``ap50_tree``). Counts and settings are left out.
        """
        out = {k: float(v) for k, v in self.overall().items() if isinstance(v, float) and k not in _SETTINGS}
        for row in self.class_rows():
            name = row["class_name"]
            out.update({f"{k}_{name}": float(v) for k, v in row.items() if isinstance(v, float)})
        return out

    def warnings(self) -> list[str]:
        """Plain sentences saying why these scores cannot be taken at face value (empty when they can).

        See the module docstring: no ground truth at all, ground truth of a
        single class (:attr:`single_class_is_trivial` tasks), and classes
        the ground truth lacks. Subclasses add what they know
        (:meth:`_warning_hint`).
        """
        gt = self.metrics()["gt_count"]
        one, many = self.unit
        present = [i for i in range(self.num_classes) if gt[i] > 0]
        absent = [i for i in range(self.num_classes) if gt[i] == 0]
        hint = self._warning_hint()
        if not present:
            return [
                f"The ground truth holds no {many} of any class ({', '.join(map(repr, self.class_names))}), so "
                f"no score here means anything: check the validation scenes' labels, AOIs and class map.{hint}"
            ]
        if self.single_class_is_trivial and len(present) == 1:
            i = present[0]
            name = self.class_names[i]
            lacking = f" and no {one} of {', '.join(repr(self.class_names[j]) for j in absent)}" if absent else ""
            return [
                f"The ground truth holds a single class, {name!r} ({int(gt[i]):,} {many}){lacking}: a model that "
                f"predicts {name!r} everywhere scores F1 1.0, so these scores cannot show that it tells {name!r} "
                f"from anything else.{hint}"
            ]
        return [
            f"No {one} of the ground truth is {self.class_names[j]!r} (class {self.class_ids[j]}): its recall "
            "and F1 are 0 by definition and it has no weight in the overall scores."
            for j in absent
        ]

    def _warning_hint(self) -> str:
        """A sentence (with a leading space) a task adds to its warnings, or ``""`` (hook)."""
        return ""

    @property
    def confusion_matrix(self) -> np.ndarray:
        """The matrix as reported: ``K × K``, or ``(K+1) × (K+1)`` with the none slot when the task reports it."""
        if self.report_none_slot:
            return self.confusion.copy()
        return self.confusion[: self.num_classes, : self.num_classes].copy()

    @property
    def confusion_matrix_labels(self) -> list[str]:
        """Axis labels of :attr:`confusion_matrix` (class names, then :attr:`none_label` if reported)."""
        return self.class_names + ([self.none_label] if self.report_none_slot else [])

    def to_dict(self) -> dict[str, Any]:
        """``{"overall": {...}, "classes": [{...}, ...], "confusion_matrix": [[...]]}`` of plain Python values."""
        return {
            "overall": self.overall(),
            "classes": self.class_rows(),
            "confusion_matrix": self.confusion_matrix.tolist(),
        }


class EvaluationReport:
    """Per-scene evaluations and their merge: the content of ``eval.json``.

    Add one evaluation per scene with :meth:`add_scene`; :attr:`overall` is
    their merge (confusion matrices and detection records summed, metrics
    recomputed on the sums). :meth:`to_dict` gives::

        {"warnings": [...], "overall": {...}, "classes": [...], "confusion_matrix": [[...]],
         "scenes": {scene_id: {"overall": ..., "classes": ..., "confusion_matrix": ...}}}

    ``warnings`` (plain sentences, usually empty) say when the ground truth
    makes the overall scores meaningless (see :meth:`warnings`).
    """

    def __init__(self, scenes: Mapping[str, ConfusionMatrixEvaluation] | None = None):
        self.scenes: dict[str, ConfusionMatrixEvaluation] = {}
        for scene_id, evaluation in (scenes or {}).items():
            self.add_scene(scene_id, evaluation)

    def add_scene(self, scene_id: str, evaluation: ConfusionMatrixEvaluation) -> None:
        """Record the evaluation of one scene; a scene id may appear once."""
        if scene_id in self.scenes:
            raise DataError(f"Scene {scene_id!r} was evaluated twice; give every scene of the experiment a unique id.")
        if self.scenes:
            first = next(iter(self.scenes.values()))
            if type(first) is not type(evaluation) or first.class_ids != evaluation.class_ids:
                raise DataError(
                    f"Scene {scene_id!r} was evaluated as {type(evaluation).__name__} over class ids "
                    f"{evaluation.class_ids}, the others as {type(first).__name__} over {first.class_ids}; "
                    "evaluate all scenes of a report with one task and class map."
                )
        self.scenes[str(scene_id)] = evaluation

    @property
    def overall(self) -> ConfusionMatrixEvaluation:
        """The merge of every scene's evaluation."""
        if not self.scenes:
            raise DataError(
                "The evaluation report has no scenes, so there is nothing to summarize; "
                "check that the experiment's validation scenes have predictions."
            )
        evaluations: Sequence[ConfusionMatrixEvaluation] = list(self.scenes.values())
        merged = evaluations[0].empty_like().merge(evaluations[0])
        for evaluation in evaluations[1:]:
            merged = merged.merge(evaluation)
        return merged

    def warnings(self) -> list[str]:
        """Why the overall scores cannot be taken at face value (:meth:`ConfusionMatrixEvaluation.warnings`)."""
        return self.overall.warnings()

    def to_dict(self) -> dict[str, Any]:
        """The ``eval.json`` dict (plain Python values; see the class docstring)."""
        overall = self.overall
        out: dict[str, Any] = {"warnings": overall.warnings(), **overall.to_dict()}
        out["scenes"] = {scene_id: ev.to_dict() for scene_id, ev in self.scenes.items()}
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)
