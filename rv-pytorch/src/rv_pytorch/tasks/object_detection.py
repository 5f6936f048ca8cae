"""Object detection: torchvision's detection losses, AP at IoU 0.5."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.ops import box_iou

from rv_pytorch.tasks.base import Evaluator, TorchTask


def average_precision(
    detections: Sequence[dict[str, torch.Tensor]],
    ground_truths: Sequence[dict[str, torch.Tensor]],
    class_index: int,
    iou_threshold: float = 0.5,
) -> float | None:
    """VOC-style (all points) average precision of one class over a set of images.

    Each detection, highest score first, is a true positive when it overlaps
    a not yet matched ground-truth box of its class with IoU >= ``iou_threshold``.
    Boxes may be in either coordinate order as long as both sides agree.
    Returns None when the class has no ground truth.
    """
    scores, hits = [], []
    num_gt = 0
    for det, gt in zip(detections, ground_truths):
        gt_boxes = gt["boxes"][gt["class_ids"] == class_index]
        keep = det["class_ids"] == class_index
        det_boxes, det_scores = det["boxes"][keep], det["scores"][keep]
        num_gt += len(gt_boxes)
        order = det_scores.argsort(descending=True)
        det_boxes, det_scores = det_boxes[order], det_scores[order]
        matched = torch.zeros(len(gt_boxes), dtype=torch.bool)
        ious = box_iou(det_boxes, gt_boxes) if len(gt_boxes) and len(det_boxes) else None
        for i in range(len(det_boxes)):
            hit = False
            if ious is not None:
                candidates = ious[i].clone()
                candidates[matched] = -1.0
                best = int(candidates.argmax())
                if candidates[best] >= iou_threshold:
                    matched[best] = True
                    hit = True
            hits.append(hit)
        scores.extend(det_scores.tolist())
    if num_gt == 0:
        return None
    if not scores:
        return 0.0
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.asarray(hits, dtype=np.float64)[order]
    cum_tp = np.cumsum(tp)
    recall = cum_tp / num_gt
    precision = cum_tp / np.arange(1, len(tp) + 1)
    # Area under the precision envelope (precision made monotone from the right).
    recall = np.concatenate([[0.0], recall, [recall[-1]]])
    precision = np.concatenate([[1.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum((recall[1:] - recall[:-1]) * precision[1:]))


class ObjectDetectionTask(TorchTask):
    """Boxes and classes per chip, trained with the detector's own losses.

    The model is a :class:`rv_pytorch.models.detection.DetectionModel`.
    """

    monitor = "AP50"

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        targets = [{"boxes": b, "class_ids": c} for b, c in zip(batch["boxes"], batch["class_ids"])]
        losses = model(batch["image"], targets)
        return sum(losses.values())

    def evaluator(self) -> Evaluator:
        return _DetectionEvaluator(self)


class _DetectionEvaluator(Evaluator):
    def __init__(self, task: ObjectDetectionTask):
        self.task = task
        self.detections: list[dict[str, torch.Tensor]] = []
        self.ground_truths: list[dict[str, torch.Tensor]] = []

    def update(self, model: nn.Module, batch: dict[str, Any]) -> None:
        for det in model(batch["image"]):
            self.detections.append({k: v.detach().cpu() for k, v in det.items()})
        for boxes, class_ids in zip(batch["boxes"], batch["class_ids"]):
            self.ground_truths.append({"boxes": boxes.cpu(), "class_ids": class_ids.cpu()})
        return None

    def compute(self) -> dict[str, float]:
        out: dict[str, float] = {}
        values = []
        for index, name in enumerate(self.task.class_names):
            ap = average_precision(self.detections, self.ground_truths, index)
            out[f"AP50_{name}"] = float("nan") if ap is None else ap
            if ap is not None:
                values.append(ap)
        out["AP50"] = float(np.mean(values)) if values else float("nan")
        return out
