"""The evaluator configs of the three tasks (what differs is the entity they create)."""

from __future__ import annotations

from typing import Any

import attrs

from rv.config import field
from rv.evaluation.evaluator_config import EvaluatorConfig, EvaluatorConfigBuilder


@attrs.frozen
class ChipClassificationEvaluatorConfig(EvaluatorConfig):
    """Per-cell precision, recall and F1 per class."""

    def create(self, task_config: Any):
        from rv.evaluation.evaluator import ChipClassificationEvaluator

        return ChipClassificationEvaluator(self.class_map_for(task_config), self.output_uri)


@attrs.frozen
class ObjectDetectionEvaluatorConfig(EvaluatorConfig):
    """One-to-one matching at IoU ≥ 0.5; precision, recall, F1, AP50 and mAP@[.5:.95]."""

    score_thresh: float | None = field(default=None, doc="ignore predictions scoring below this (None: keep all)")

    def create(self, task_config: Any):
        from rv.evaluation.evaluator import ObjectDetectionEvaluator

        return ObjectDetectionEvaluator(
            self.class_map_for(task_config), self.output_uri, score_threshold=self.score_thresh
        )


@attrs.frozen
class SemanticSegmentationEvaluatorConfig(EvaluatorConfig):
    """Per-pixel precision, recall, F1 and IoU per class, and mIoU (nodata and outside-AOI pixels excluded)."""

    def create(self, task_config: Any):
        from rv.evaluation.evaluator import SemanticSegmentationEvaluator

        return SemanticSegmentationEvaluator(self.class_map_for(task_config), self.output_uri)


class ChipClassificationEvaluatorConfigBuilder(EvaluatorConfigBuilder):
    config_class = ChipClassificationEvaluatorConfig


class ObjectDetectionEvaluatorConfigBuilder(EvaluatorConfigBuilder):
    config_class = ObjectDetectionEvaluatorConfig

    def with_score_thresh(self, score_thresh: float | None):
        return self._with(score_thresh=score_thresh)


class SemanticSegmentationEvaluatorConfigBuilder(EvaluatorConfigBuilder):
    config_class = SemanticSegmentationEvaluatorConfig
