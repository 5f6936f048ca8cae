"""Semantic segmentation: weighted cross-entropy (+ optional Dice or Lovász); EVAL's pixel metrics."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rv.errors import ConfigError
from rv.evaluation.semantic_segmentation_evaluation import SemanticSegmentationEvaluation
from rv_pytorch.backend_config import SEGMENTATION_LOSSES as LOSSES
from rv_pytorch.metrics import IGNORE_INDEX
from rv_pytorch.tasks.base import ClassLogitsTask


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


class SemanticSegmentationTask(ClassLogitsTask):
    """Per-pixel classification; labels 255 are ignored by loss and metrics.

    Args:
        class_names: one per class index.
        class_weights: optional cross-entropy weight per class index.
        loss: ``"ce"`` (cross-entropy), ``"ce+dice"`` (plus soft Dice) or
            ``"ce+lovasz"`` (plus the Lovász-softmax surrogate of IoU).
    """

    monitor = "miou"
    target = "labels"
    evaluation = SemanticSegmentationEvaluation

    def __init__(self, class_names: Sequence[str], class_weights: Sequence[float] | None = None, loss: str = "ce"):
        super().__init__(class_names, class_weights)
        if loss not in LOSSES:
            raise ConfigError(f"Unknown segmentation loss {loss!r}; choose from {LOSSES}.")
        self.loss_name = loss

    def criterion(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(logits.float(), labels, weight=self.weight_on(logits.device), ignore_index=IGNORE_INDEX)
        if self.loss_name == "ce+dice":
            loss = loss + soft_dice_loss(logits, labels)
        elif self.loss_name == "ce+lovasz":
            loss = loss + lovasz_softmax_loss(logits, labels)
        return loss
