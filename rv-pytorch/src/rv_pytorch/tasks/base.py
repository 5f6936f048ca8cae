"""The interface between a task and the shared training loop (:mod:`rv_pytorch.train`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


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
