"""Evaluation: comparing predictions with ground truth, per class and overall.

- :mod:`~rv.evaluation.classification_metrics`: precision, recall, F1 (IoU)
  from a confusion matrix, shared by the three tasks, and
  :class:`EvaluationReport` (the content of ``eval.json``);
- :mod:`~rv.evaluation.semantic_segmentation_evaluation`,
  :mod:`~rv.evaluation.object_detection_evaluation`,
  :mod:`~rv.evaluation.chip_classification_evaluation`: what each task adds;
- :mod:`~rv.evaluation.confusion_matrix_plot`: ``confusion_matrix.png``;
- :mod:`~rv.evaluation.evaluator`: the :class:`Evaluator` entity and writing.

The names below load on first use, so importing a config module of this
package (at plugin discovery) does not import the evaluation code.
"""

from __future__ import annotations

from rv._lazy import lazy_exports

_EXPORTS = {
    "ConfusionMatrixEvaluation": "rv.evaluation.classification_metrics",
    "EvaluationReport": "rv.evaluation.classification_metrics",
    "class_metrics": "rv.evaluation.classification_metrics",
    "safe_divide": "rv.evaluation.classification_metrics",
    "SemanticSegmentationEvaluation": "rv.evaluation.semantic_segmentation_evaluation",
    "evaluate_semantic_segmentation": "rv.evaluation.semantic_segmentation_evaluation",
    "ObjectDetectionEvaluation": "rv.evaluation.object_detection_evaluation",
    "evaluate_object_detection": "rv.evaluation.object_detection_evaluation",
    "ChipClassificationEvaluation": "rv.evaluation.chip_classification_evaluation",
    "evaluate_chip_classification": "rv.evaluation.chip_classification_evaluation",
    "Evaluator": "rv.evaluation.evaluator",
    "write_evaluation": "rv.evaluation.evaluator",
    "render_confusion_matrix_png": "rv.evaluation.confusion_matrix_plot",
    "write_confusion_matrix_png": "rv.evaluation.confusion_matrix_plot",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
