"""Semantic segmentation: weighted cross-entropy (+ optional Dice or Lovász), IoU/F1 metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rv.errors import ConfigError
from rv_pytorch.metrics import IGNORE_INDEX, confusion_matrix, confusion_metrics, predicted_class
from rv_pytorch.tasks.base import Evaluator, TorchTask

LOSSES = ("ce", "ce+dice", "ce+lovasz")


def soft_dice_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """1 - mean over classes of the soft Dice score, ignoring pixels labelled 255."""
    num_classes = logits.shape[1]
    valid = (labels != IGNORE_INDEX).unsqueeze(1)
    probs = logits.float().softmax(dim=1) * valid
    onehot = F.one_hot(labels.clamp(max=num_classes - 1), num_classes).permute(0, 3, 1, 2) * valid
    dims = (0, 2, 3)
    intersection = (probs * onehot).sum(dims)
    denominator = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * intersection + 1.0) / (denominator + 1.0)
    return 1.0 - dice.mean()


def _lovasz_gradient(sorted_truth: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovász extension of the Jaccard loss w.r.t. sorted errors."""
    positives = sorted_truth.sum()
    intersection = positives - sorted_truth.cumsum(0)
    union = positives + (1.0 - sorted_truth).cumsum(0)
    jaccard = 1.0 - intersection / union
    jaccard[1:] = jaccard[1:] - jaccard[:-1].clone()
    return jaccard


def lovasz_softmax_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Lovász-softmax loss (Berman et al., CVPR 2018): a convex surrogate of
    1 - IoU, averaged over the classes present in the batch; 255 is ignored."""
    num_classes = logits.shape[1]
    probs = logits.float().softmax(dim=1).permute(0, 2, 3, 1).reshape(-1, num_classes)
    labels = labels.reshape(-1)
    valid = labels != IGNORE_INDEX
    probs, labels = probs[valid], labels[valid]
    losses = []
    for class_index in range(num_classes):
        truth = (labels == class_index).float()
        if truth.sum() == 0:
            continue
        errors = (truth - probs[:, class_index]).abs()
        errors_sorted, order = torch.sort(errors, descending=True)
        losses.append(torch.dot(errors_sorted, _lovasz_gradient(truth[order])))
    if not losses:
        return logits.sum() * 0.0
    return torch.stack(losses).mean()


class SemanticSegmentationTask(TorchTask):
    """Per-pixel classification; labels 255 are ignored by loss and metrics.

    Args:
        class_names: one per class index.
        class_weights: optional cross-entropy weight per class index.
        loss: ``"ce"`` (cross-entropy), ``"ce+dice"`` (plus soft Dice) or
            ``"ce+lovasz"`` (plus the Lovász-softmax surrogate of IoU).
    """

    monitor = "mIoU"

    def __init__(self, class_names: Sequence[str], class_weights: Sequence[float] | None = None, loss: str = "ce"):
        super().__init__(class_names)
        if class_weights is not None and len(class_weights) != self.num_classes:
            raise ConfigError(
                f"{len(class_weights)} class weights were given for {self.num_classes} classes "
                f"{self.class_names}; give one weight per class."
            )
        if loss not in LOSSES:
            raise ConfigError(f"Unknown segmentation loss {loss!r}; choose from {LOSSES}.")
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        self.loss_name = loss

    def criterion(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        loss = F.cross_entropy(logits.float(), labels, weight=weight, ignore_index=IGNORE_INDEX)
        if self.loss_name == "ce+dice":
            loss = loss + soft_dice_loss(logits, labels)
        elif self.loss_name == "ce+lovasz":
            loss = loss + lovasz_softmax_loss(logits, labels)
        return loss

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        return self.criterion(model(batch["image"]), batch["labels"])

    def evaluator(self) -> Evaluator:
        return _SegmentationEvaluator(self)


class _SegmentationEvaluator(Evaluator):
    def __init__(self, task: SemanticSegmentationTask):
        self.task = task
        self.matrix = torch.zeros(task.num_classes, task.num_classes, dtype=torch.int64)

    def update(self, model: nn.Module, batch: dict[str, Any]) -> float:
        logits = model(batch["image"])
        self.matrix += confusion_matrix(predicted_class(logits), batch["labels"], self.task.num_classes)
        return float(self.task.criterion(logits, batch["labels"]))

    def compute(self) -> dict[str, float]:
        return confusion_metrics(self.matrix, self.task.class_names)
