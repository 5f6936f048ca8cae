"""The interface between a task and the shared training loop (:mod:`rv_pytorch.train`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rv.errors import ConfigError
from rv.evaluation.classification_metrics import ConfusionMatrixEvaluation
from rv_pytorch.metrics import confusion_matrix, confusion_metrics, predicted_class


class Evaluator(ABC):
    """Accumulates validation results over batches, then computes metrics."""

    @abstractmethod
    def update(self, model: nn.Module, batch: dict[str, Any]) -> float | None:
        """Run the model (in eval mode, without gradients) on a batch, record
        the results, and return the batch's mean validation loss (or None)."""

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """The metrics over every batch seen."""


class TorchTask(ABC):
    """Task-specific parts of training.

    Args:
        class_names: one name per model class index (the chip manifest's order).
    """

    #: the metric that summarises a validation pass (shown on progress bars).
    monitor: str = "loss"

    def __init__(self, class_names: Sequence[str]):
        self.class_names = list(class_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_device(self, batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
        """Move every tensor of a batch (including tensors in lists) to ``device``."""
        out: dict[str, Any] = {}
        for key, value in batch.items():
            if isinstance(value, torch.Tensor):
                out[key] = value.to(device, non_blocking=True)
            elif isinstance(value, list):
                out[key] = [v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for v in value]
            else:
                out[key] = value
        return out

    @abstractmethod
    def loss(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        """The scalar training loss of a batch (model in train mode)."""

    @abstractmethod
    def evaluator(self) -> Evaluator:
        """A fresh :class:`Evaluator` for one validation pass."""


class ClassLogitsTask(TorchTask):
    """A task whose model answers class logits per item (a chip, a pixel): a cross-entropy loss with an
    optional weight per class, validated by a confusion matrix of class indices that an
    :mod:`rv.evaluation` class scores as EVAL does.

    Subclasses set :attr:`target` (the batch key of the true class indices) and :attr:`evaluation`, and
    define :meth:`criterion`.

    Args:
        class_names: one per class index.
        class_weights: optional cross-entropy weight per class index.
    """

    #: the batch key of the true class indices
    target: ClassVar[str]
    #: the rv.evaluation class that scores the confusion matrix (the metrics of eval.json)
    evaluation: ClassVar[type[ConfusionMatrixEvaluation]]

    def __init__(self, class_names: Sequence[str], class_weights: Sequence[float] | None = None):
        super().__init__(class_names)
        if class_weights is not None and len(class_weights) != self.num_classes:
            raise ConfigError(
                f"{len(class_weights)} class weights were given for {self.num_classes} classes "
                f"{self.class_names}; give one weight per class."
            )
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)

    def weight_on(self, device: torch.device) -> torch.Tensor | None:
        """The class weights on ``device`` (None without weights)."""
        return None if self.class_weights is None else self.class_weights.to(device)

    @abstractmethod
    def criterion(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The loss of logits against the true class indices."""

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        return self.criterion(model(batch["image"]), batch[self.target])

    def evaluator(self) -> Evaluator:
        return ConfusionMatrixEvaluator(self)


class ConfusionMatrixEvaluator(Evaluator):
    """Counts (true, predicted) class indices over the validation batches on the model's device; the
    task's :attr:`~ClassLogitsTask.evaluation` scores them."""

    def __init__(self, task: ClassLogitsTask):
        self.task = task
        self.matrix = torch.zeros(task.num_classes, task.num_classes, dtype=torch.int64)

    def update(self, model: nn.Module, batch: dict[str, Any]) -> float:
        logits = model(batch["image"])
        targets = batch[self.task.target]
        self.matrix += confusion_matrix(predicted_class(logits), targets, self.task.num_classes)
        return float(self.task.criterion(logits, targets))

    def compute(self) -> dict[str, float]:
        return confusion_metrics(self.matrix, self.task.class_names, self.task.evaluation)
