"""Networks for the three tasks, all on timm encoders of any band count."""

from rv_pytorch.models.classification import create_classification_model
from rv_pytorch.models.detection import DetectionModel, TimmFPNBackbone, create_detection_model
from rv_pytorch.models.encoder import create_encoder, create_timm_model, extend_first_conv
from rv_pytorch.models.segmentation import FPNDecoder, SegmentationModel, create_segmentation_model

__all__ = [
    "DetectionModel",
    "FPNDecoder",
    "SegmentationModel",
    "TimmFPNBackbone",
    "create_classification_model",
    "create_detection_model",
    "create_encoder",
    "create_timm_model",
    "create_segmentation_model",
    "extend_first_conv",
]
