"""Object detection: torchvision's detection losses; EVAL's box metrics (AP50, mAP, F1)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rv.evaluation.object_detection_evaluation import ObjectDetectionEvaluation
from rv_pytorch.metrics import index_class_map
from rv_pytorch.tasks.base import Evaluator, TorchTask


class ObjectDetectionTask(TorchTask):
    """Boxes and classes per chip, trained with the detector's own losses.

    The model is a :class:`rv_pytorch.models.detection.DetectionModel`.
    """

    monitor = "ap50"

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        targets = [{"boxes": b, "class_ids": c} for b, c in zip(batch["boxes"], batch["class_ids"])]
        losses = model(batch["image"], targets)
        return sum(losses.values())

    def evaluator(self) -> Evaluator:
        return _DetectionEvaluator(self)


class _DetectionEvaluator(Evaluator):
    """Each validation chip is one image of :class:`rv.evaluation.ObjectDetectionEvaluation`
    (every detection the model returns counts, as EVAL's default ``score_thresh`` of None)."""

    def __init__(self, task: ObjectDetectionTask):
        self.evaluation = ObjectDetectionEvaluation(index_class_map(task.class_names))

    def update(self, model: nn.Module, batch: dict[str, Any]) -> None:
        for det, boxes, class_ids in zip(model(batch["image"]), batch["boxes"], batch["class_ids"]):
            self.evaluation.update(
                boxes.cpu().numpy(),
                class_ids.cpu().numpy(),
                det["boxes"].detach().float().cpu().numpy(),
                det["class_ids"].cpu().numpy(),
                det["scores"].detach().float().cpu().numpy(),
            )
        return None

    def compute(self) -> dict[str, float]:
        return self.evaluation.flat_metrics()
