"""The Evaluator entities run by EVAL, and writing ``eval.json`` with its confusion-matrix picture.

EVAL builds an evaluator from its config and calls
:meth:`Evaluator.process` with the validation scenes. The evaluator
compares each scene's predictions (its label store) with its ground truth
(its label source) inside the scene's AOI (:meth:`Evaluator.evaluate_scene`,
one per task), merges the scenes into an
:class:`~rv.evaluation.classification_metrics.EvaluationReport` and writes

- ``confusion_matrix.png`` beside ``eval.json`` (first), then
- ``eval.json`` (last: its presence marks the command finished).

Both are written atomically through :mod:`rv.file_utils`, so any URI an rv
file system serves works (local, ``memory://``, ``s3://`` with rv-aws).
``eval.json``'s ``warnings`` say when the ground truth makes the scores
meaningless; :func:`summary_lines` is the short text of an ``eval.json``
that EVAL's log and the end of ``rv run`` show, warnings included.
"""

from __future__ import annotations

import os
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from rv import file_utils
from rv.errors import DataError
from rv.evaluation.chip_classification_evaluation import ChipClassificationEvaluation, evaluate_chip_classification
from rv.evaluation.classification_metrics import ConfusionMatrixEvaluation, EvaluationReport
from rv.evaluation.object_detection_evaluation import ObjectDetectionEvaluation, evaluate_object_detection
from rv.evaluation.semantic_segmentation_evaluation import SemanticSegmentationEvaluation
from rv.run_output import say_warning

EVAL_JSON = "eval.json"
CONFUSION_MATRIX_PNG = "confusion_matrix.png"


def sibling_uri(uri: str | os.PathLike, name: str) -> str:
    """The URI of file ``name`` in the same directory as ``uri``."""
    uri = os.fspath(uri)
    parent = os.path.dirname(uri) if file_utils.is_local(uri) and "://" not in uri else posixpath.dirname(uri)
    return file_utils.join(parent, name) if parent else name


def write_evaluation(
    report: EvaluationReport, output_uri: str | os.PathLike, plot: bool = True, title: str | None = None
) -> None:
    """Write ``report`` to ``output_uri`` (``eval.json``) and, with ``plot``, ``confusion_matrix.png`` beside it.

    The picture shows the overall (all scenes merged) confusion matrix and is
    written first, so that an existing ``eval.json`` means both are complete.
    """
    data = report.to_json(indent=2) + "\n"  # computed first: a bad report writes nothing
    if plot:
        from rv.evaluation.confusion_matrix_plot import write_confusion_matrix_png

        overall = report.overall
        n_scenes = len(report.scenes)
        write_confusion_matrix_png(
            sibling_uri(output_uri, CONFUSION_MATRIX_PNG),
            overall.confusion_matrix,
            overall.confusion_matrix_labels,
            title or f"Confusion matrix ({n_scenes} scene{'s' if n_scenes != 1 else ''})",
        )
    file_utils.write_text(output_uri, data)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few lines of text summing up an ``eval.json`` dict: the overall scores, each class's F1 (and
    IoU) with its ground-truth count, then ``warning: ...`` for each of its warnings."""
    overall = report.get("overall", {})
    scores = ", ".join(f"{k} {v:.3f}" for k, v in overall.items() if isinstance(v, float))
    lines = [f"overall: {scores}"] if scores else []
    for row in report.get("classes", []):
        values = ", ".join(f"{k} {row[k]:.3f}" for k in ("f1", "iou") if isinstance(row.get(k), float))
        lines.append(f"{row.get('class_name')}: {values} (ground truth: {row.get('gt_count', 0):,})")
    lines += [f"warning: {w}" for w in report.get("warnings", [])]
    return lines


class Evaluator(ABC):
    """Compares predictions with ground truth over scenes and writes ``eval.json``.

    A task's evaluator implements :meth:`evaluate_scene`; :meth:`process`
    is shared. ``class_map`` is the experiment's :class:`rv.core.ClassMap`,
    ``output_uri`` the ``eval.json`` URI.
    """

    def __init__(self, class_map: Any, output_uri: str | os.PathLike, plot: bool = True):
        self.class_map = class_map
        self.output_uri = os.fspath(output_uri)
        self.plot = plot

    @abstractmethod
    def evaluate_scene(self, scene: Any) -> ConfusionMatrixEvaluation:
        """Compare one scene's predictions (its label store) with its ground truth (its label source)."""

    def process(self, scenes: Iterable[Any], tmp_dir: str | os.PathLike | None = None) -> EvaluationReport:
        """Evaluate every scene (keyed by ``scene.id``), write the report, and return it.

        The report's warnings are also printed to stderr (``rv: warning: ...``), so that EVAL's log
        says them too: a score that means nothing must not pass unnoticed.
        """
        report = EvaluationReport()
        for scene in scenes:
            report.add_scene(str(scene.id), self.evaluate_scene(scene))
        if not report.scenes:
            raise DataError(
                f"No scenes were given to evaluate, so {self.output_uri} cannot be written; add validation "
                "scenes (with prediction label stores) to the experiment's dataset."
            )
        write_evaluation(report, self.output_uri, plot=self.plot)
        for warning in report.warnings():
            say_warning(warning)
        return report


def _ground_truth_and_predictions(scene: Any) -> tuple[Any, Any]:
    """The scene's label source and label store, or a DataError saying which is missing."""
    for attr, what in (
        ("label_source", "ground truth (a label source)"),
        ("label_store", "predictions (a label store)"),
    ):
        if getattr(scene, attr, None) is None:
            raise DataError(
                f"Scene {scene.id!r} has no {what}, so it cannot be evaluated; give every validation scene "
                "a label source and a label store, or leave it out of the evaluation."
            )
    return scene.label_source, scene.label_store


def _labels_centred_in_aoi(scene: Any) -> tuple[Any, Any]:
    """The scene's ground-truth and predicted labels (boxes or cells), each kept where its centre lies in
    the scene's AOI (all of them without an AOI): the same rule for both sides."""
    label_source, label_store = _ground_truth_and_predictions(scene)
    gt, pred = label_source.get_labels(), label_store.get_labels()
    if scene.aoi_polygons is not None:
        gt = gt.filter_by_aoi(scene.aoi_polygons, mode="center")
        pred = pred.filter_by_aoi(scene.aoi_polygons, mode="center")
    return gt, pred


class SemanticSegmentationEvaluator(Evaluator):
    """Pixel-wise evaluation of segmentation scenes, read window by window.

    A pixel counts when its ground truth is a class (not 255), the image has
    data there, and its centre lies in the scene's AOI. Memory is bounded by
    ``window_size`` (the image is read only for its nodata mask).
    """

    def __init__(self, class_map: Any, output_uri: str | os.PathLike, plot: bool = True, window_size: int = 1024):
        super().__init__(class_map, output_uri, plot)
        self.window_size = int(window_size)

    def evaluate_scene(self, scene: Any) -> SemanticSegmentationEvaluation:
        label_source, label_store = _ground_truth_and_predictions(scene)
        evaluation = SemanticSegmentationEvaluation(self.class_map)
        extent = scene.extent.to_int()
        for window in extent.get_windows(self.window_size, padding="pad"):
            window = window.clip(extent)
            if not scene.window_in_aoi(window, mode="intersects"):
                continue
            gt = label_source.get_label_arr(window)
            pred = label_store.get_label_arr(window)
            _, excluded = scene.raster_source.get_raw_chip_with_mask(window)
            if scene.aoi is not None:
                excluded = excluded | ~scene.aoi_mask(window)
            evaluation.update(gt, pred, excluded)
        return evaluation


class ObjectDetectionEvaluator(Evaluator):
    """Box-wise evaluation of detection scenes (each scene one image).

    With an AOI, the ground-truth and predicted boxes whose centre lies in
    it are compared (the same rule for both, so a box straddling the AOI's
    edge is never counted on one side only).
    """

    def __init__(
        self,
        class_map: Any,
        output_uri: str | os.PathLike,
        score_threshold: float | None = None,
        plot: bool = True,
    ):
        super().__init__(class_map, output_uri, plot)
        self.score_threshold = score_threshold

    def evaluate_scene(self, scene: Any) -> ObjectDetectionEvaluation:
        gt, pred = _labels_centred_in_aoi(scene)
        return evaluate_object_detection(gt, pred, self.class_map, score_threshold=self.score_threshold)


class ChipClassificationEvaluator(Evaluator):
    """Cell-wise evaluation of chip classification scenes (cells matched by position).

    With an AOI, the cells whose centre lies in it are compared.
    """

    def evaluate_scene(self, scene: Any) -> ChipClassificationEvaluation:
        gt, pred = _labels_centred_in_aoi(scene)
        return evaluate_chip_classification(gt, pred, self.class_map)
