"""Object detection: torchvision detectors on a timm encoder with an FPN.

:class:`TimmFPNBackbone` is the timm counterpart of torchvision's
``BackboneWithFPN``: a ``features_only`` encoder (any band count) feeding
``torchvision.ops.FeaturePyramidNetwork``. :func:`create_detection_model`
puts FCOS, RetinaNet or Faster R-CNN on top and wraps the result in
:class:`DetectionModel`, which speaks rv's conventions: boxes are
``ymin, xmin, ymax, xmax`` pixels and classes are 0-based class indices.

Images reach the detector already normalised by rv (see
:class:`rv_pytorch.data.Normalizer`), so the detector's own transform uses an
identity mean/std and never resizes: a chip is seen at its native resolution,
which is what matters for remote sensing, where object size in pixels is a
property of the sensor.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

from rv.errors import ConfigError
from rv_pytorch.backend_config import DETECTORS as ARCHITECTURES
from rv_pytorch.backend_config import MIN_STRIDES
from rv_pytorch.models.encoder import create_encoder


class TimmFPNBackbone(nn.Module):
    """A timm encoder + torchvision FPN returning an ordered dict of feature maps.

    Args:
        encoder: a timm ``features_only`` model.
        out_channels: FPN width (``self.out_channels``, as torchvision expects).
        extra_blocks: torchvision extra FPN block (P6/P7 or max-pool level).
    """

    def __init__(self, encoder: nn.Module, out_channels: int = 128, extra_blocks: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder
        self.strides = list(encoder.feature_info.reduction())
        self.fpn = FeaturePyramidNetwork(list(encoder.feature_info.channels()), out_channels, extra_blocks=extra_blocks)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        features = self.encoder(x)
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(features)))


class _NativeResolutionTransform(GeneralizedRCNNTransform):
    """torchvision's detection transform without resizing (padding only)."""

    def resize(self, image, target=None):
        return image, target


class DetectionModel(nn.Module):
    """A torchvision detector behind rv's box and class conventions.

    ``forward(images, targets)`` in training mode returns torchvision's dict of
    losses; ``targets`` are dicts with ``boxes`` ``(N, 4)`` ``ymin, xmin, ymax,
    xmax`` and ``class_ids`` ``(N,)`` 0-based. In eval mode it returns one dict
    per image with ``boxes`` (same order), ``class_ids`` and ``scores``.
    """

    def __init__(self, detector: nn.Module, architecture: str, num_classes: int):
        super().__init__()
        self.detector = detector
        self.architecture = architecture
        self.num_classes = num_classes
        # Faster R-CNN reserves label 0 for the background; the one-stage
        # detectors use sigmoid scores and 0-based labels.
        self.label_offset = 1 if architecture == "faster_rcnn" else 0

    def set_thresholds(
        self, score_thresh: float | None = None, nms_thresh: float | None = None, max_detections: int | None = None
    ) -> None:
        """Set the detector's score threshold, NMS IoU and detections per image."""
        target = self.detector.roi_heads if self.architecture == "faster_rcnn" else self.detector
        if score_thresh is not None:
            target.score_thresh = score_thresh
        if nms_thresh is not None:
            target.nms_thresh = nms_thresh
        if max_detections is not None:
            target.detections_per_img = max_detections

    @staticmethod
    def _swap_xy(boxes: torch.Tensor) -> torch.Tensor:
        # ymin, xmin, ymax, xmax <-> xmin, ymin, xmax, ymax: the same swap both ways.
        return boxes[:, [1, 0, 3, 2]]

    def forward(self, images: torch.Tensor | list[torch.Tensor], targets: list[dict[str, torch.Tensor]] | None = None):
        images = list(images)
        if self.training:
            if targets is None:
                raise ValueError("DetectionModel needs targets in training mode.")
            tv_targets = [
                {"boxes": self._swap_xy(t["boxes"]), "labels": t["class_ids"] + self.label_offset} for t in targets
            ]
            return self.detector(images, tv_targets)
        detections = self.detector(images)
        return [
            {
                "boxes": self._swap_xy(d["boxes"]),
                "class_ids": d["labels"] - self.label_offset,
                "scores": d["scores"],
            }
            for d in detections
        ]


def create_detection_model(
    encoder_name: str,
    num_classes: int,
    *,
    in_channels: int = 3,
    architecture: str = "fcos",
    pretrained: bool = False,
    pretrained_uri: str | Path | None = None,
    fpn_channels: int = 128,
    min_stride: int = 8,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    max_detections: int = 300,
    **detector_kwargs: Any,
) -> DetectionModel:
    """Build a detector on the timm encoder ``encoder_name``.

    Args:
        encoder_name: a timm CNN with a ``features_only`` mode.
        num_classes: object classes (without background).
        in_channels: image bands.
        architecture: ``"fcos"``, ``"retinanet"`` or ``"faster_rcnn"``.
        pretrained, pretrained_uri: encoder weights (see
            :func:`rv_pytorch.models.encoder.create_timm_model`).
        fpn_channels: FPN width.
        min_stride: stride of the finest pyramid level (4 for objects of
            about 8-30 px, 8 above).
        score_thresh, nms_thresh, max_detections: inference post-processing
            per image.
        **detector_kwargs: passed to the torchvision detector.
    """
    if architecture not in ARCHITECTURES:
        raise ConfigError(f"Unknown detection architecture {architecture!r}; choose from {ARCHITECTURES}.")
    if min_stride not in MIN_STRIDES:
        raise ConfigError(f"min_stride is {min_stride}; use 4, 8 or 16 (the finest FPN level's stride).")
    probe = create_encoder(encoder_name, in_channels=in_channels)
    strides = list(probe.feature_info.reduction())
    del probe
    out_indices = tuple(i for i, s in enumerate(strides) if s >= min_stride)
    encoder = create_encoder(
        encoder_name,
        in_channels=in_channels,
        pretrained=pretrained,
        pretrained_uri=pretrained_uri,
        out_indices=out_indices,
    )
    level_strides = list(encoder.feature_info.reduction())
    if architecture == "faster_rcnn":
        extra = LastLevelMaxPool()
        level_strides.append(level_strides[-1] * 2)
    else:
        extra = LastLevelP6P7(fpn_channels, fpn_channels)
        level_strides += [level_strides[-1] * 2, level_strides[-1] * 4]
    backbone = TimmFPNBackbone(encoder, fpn_channels, extra)

    common = dict(
        min_size=1,
        max_size=1_000_000,
        image_mean=[0.0] * in_channels,
        image_std=[1.0] * in_channels,
    )
    if architecture in ("fcos", "retinanet"):
        if architecture == "fcos":
            anchors = AnchorGenerator(tuple((s,) for s in level_strides), ((1.0,),) * len(level_strides))
        else:
            sizes = tuple(tuple(4 * s * 2 ** (k / 3) for k in range(3)) for s in level_strides)
            anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(level_strides))
        detector = (FCOS if architecture == "fcos" else RetinaNet)(
            backbone,
            num_classes,
            anchor_generator=anchors,
            score_thresh=score_thresh,
            nms_thresh=nms_thresh,
            detections_per_img=max_detections,
            **common,
            **detector_kwargs,
        )
    else:
        anchors = AnchorGenerator(tuple((4 * s,) for s in level_strides), ((0.5, 1.0, 2.0),) * len(level_strides))
        roi_pool = MultiScaleRoIAlign([str(i) for i in range(len(level_strides) - 1)], 7, 2)
        detector = FasterRCNN(
            backbone,
            num_classes + 1,
            rpn_anchor_generator=anchors,
            box_roi_pool=roi_pool,
            box_score_thresh=score_thresh,
            box_nms_thresh=nms_thresh,
            box_detections_per_img=max_detections,
            **common,
            **detector_kwargs,
        )
    detector.transform = _NativeResolutionTransform(**common)
    return DetectionModel(detector, architecture, num_classes)
