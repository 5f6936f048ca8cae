"""Label containers of the three tasks, numpy-backed."""

from rv.labels.chip_classification_labels import ChipClassificationLabels
from rv.labels.object_detection_labels import ObjectDetectionLabels
from rv.labels.semantic_segmentation_labels import LabelWindow, SemanticSegmentationLabels

__all__ = ["ChipClassificationLabels", "LabelWindow", "ObjectDetectionLabels", "SemanticSegmentationLabels"]
