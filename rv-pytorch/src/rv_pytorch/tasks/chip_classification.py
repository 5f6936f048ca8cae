"""Chip classification: cross-entropy, accuracy and F1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rv.errors import ConfigError
from rv_pytorch.metrics import confusion_matrix, confusion_metrics, predicted_class
from rv_pytorch.tasks.base import Evaluator, TorchTask


class ChipClassificationTask(TorchTask):
    """One class per chip.

    Args:
        class_names: one per class index.
        class_weights: optional cross-entropy weight per class index.
        label_smoothing: cross-entropy label smoothing.
    """

    monitor = "mean_f1"

    def __init__(
        self,
        class_names: Sequence[str],
        class_weights: Sequence[float] | None = None,
        label_smoothing: float = 0.0,
    ):
        super().__init__(class_names)
        if class_weights is not None and len(class_weights) != self.num_classes:
            raise ConfigError(
                f"{len(class_weights)} class weights were given for {self.num_classes} classes "
                f"{self.class_names}; give one weight per class."
            )
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        self.label_smoothing = label_smoothing

    def criterion(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        return F.cross_entropy(logits.float(), targets, weight=weight, label_smoothing=self.label_smoothing)

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        return self.criterion(model(batch["image"]), batch["class_id"])

    def evaluator(self) -> Evaluator:
        return _ClassificationEvaluator(self)


class _ClassificationEvaluator(Evaluator):
    def __init__(self, task: ChipClassificationTask):
        self.task = task
        self.matrix = torch.zeros(task.num_classes, task.num_classes, dtype=torch.int64)

    def update(self, model: nn.Module, batch: dict[str, Any]) -> float:
        logits = model(batch["image"])
        self.matrix += confusion_matrix(predicted_class(logits), batch["class_id"], self.task.num_classes)
        return float(self.task.criterion(logits, batch["class_id"]))

    def compute(self) -> dict[str, float]:
        return confusion_metrics(self.matrix, self.task.class_names)
