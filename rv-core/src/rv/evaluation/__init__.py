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

import importlib
from typing import Any

_EXPORTS = {
    "ConfusionMatrixEvaluation": "classification_metrics",
    "EvaluationReport": "classification_metrics",
    "class_metrics": "classification_metrics",
    "safe_divide": "classification_metrics",
    "SemanticSegmentationEvaluation": "semantic_segmentation_evaluation",
    "evaluate_semantic_segmentation": "semantic_segmentation_evaluation",
    "ObjectDetectionEvaluation": "object_detection_evaluation",
    "evaluate_object_detection": "object_detection_evaluation",
    "ChipClassificationEvaluation": "chip_classification_evaluation",
    "evaluate_chip_classification": "chip_classification_evaluation",
    "Evaluator": "evaluator",
    "write_evaluation": "evaluator",
    "render_confusion_matrix_png": "confusion_matrix_plot",
    "write_confusion_matrix_png": "confusion_matrix_plot",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
