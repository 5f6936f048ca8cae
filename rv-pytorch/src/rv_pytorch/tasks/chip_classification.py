"""Chip classification: cross-entropy; EVAL's cell metrics (precision, recall, F1)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rv.evaluation.chip_classification_evaluation import ChipClassificationEvaluation
from rv_pytorch.tasks.base import ClassLogitsTask


class ChipClassificationTask(ClassLogitsTask):
    """One class per chip.

    Args:
        class_names: one per class index.
        class_weights: optional cross-entropy weight per class index.
        label_smoothing: cross-entropy label smoothing.
    """

    monitor = "f1"
    target = "class_id"
    evaluation = ChipClassificationEvaluation

    def __init__(
        self,
        class_names: Sequence[str],
        class_weights: Sequence[float] | None = None,
        label_smoothing: float = 0.0,
    ):
        super().__init__(class_names, class_weights)
        self.label_smoothing = label_smoothing

    def criterion(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.float(), targets, weight=self.weight_on(logits.device), label_smoothing=self.label_smoothing
        )
