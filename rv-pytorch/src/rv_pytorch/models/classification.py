"""Chip classification network: a timm classifier for any band count."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from rv_pytorch.models.encoder import create_timm_model


def create_classification_model(
    encoder_name: str,
    num_classes: int,
    *,
    in_channels: int = 3,
    pretrained: bool = False,
    pretrained_uri: str | Path | None = None,
    drop_rate: float = 0.0,
) -> nn.Module:
    """A timm classifier returning logits ``(N, num_classes)``.

    Pretrained weights load into the body; the classifier layer is new (its
    size is the number of classes). Arguments as
    :func:`rv_pytorch.models.encoder.create_timm_model`.
    """
    return create_timm_model(
        encoder_name,
        in_channels=in_channels,
        pretrained=pretrained,
        pretrained_uri=pretrained_uri,
        num_classes=num_classes,
        drop_rate=drop_rate,
    )
