"""What each task adds to the shared training loop: loss, batch handling, metrics."""

from rv_pytorch.tasks.base import Evaluator, TorchTask
from rv_pytorch.tasks.chip_classification import ChipClassificationTask
from rv_pytorch.tasks.object_detection import ObjectDetectionTask
from rv_pytorch.tasks.semantic_segmentation import SemanticSegmentationTask

__all__ = [
    "ChipClassificationTask",
    "Evaluator",
    "ObjectDetectionTask",
    "SemanticSegmentationTask",
    "TorchTask",
]
