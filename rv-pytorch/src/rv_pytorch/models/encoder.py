"""timm models for any band count, randomly initialised or from pretrained weights.

Every network in rv-pytorch starts here: :func:`create_timm_model` builds a
timm model (a classifier or a ``features_only`` feature extractor) whose first
convolution takes ``in_channels`` bands, and loads pretrained weights from the
timm hub (``pretrained=True``) or from a local file (``pretrained_uri``).

Pretrained weights are RGB. How they are carried over to other band counts:

- 1 or 2 bands: timm's own adaptation (1 band sums the RGB filters; 2 bands
  take R and G scaled by 3/2), which keeps the response to a grey image.
- 3 bands: unchanged.
- more than 3 bands: the first three bands get the RGB filters unchanged and
  the extra bands start at zero, so the network first behaves exactly like the
  pretrained RGB one and learns how to use the extra bands during training.
  rv's ``channel_order`` should therefore put red, green, blue first.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from rv.errors import ConfigError


def create_timm_model(
    name: str,
    *,
    in_channels: int = 3,
    pretrained: bool = False,
    pretrained_uri: str | Path | None = None,
    **timm_kwargs: Any,
) -> nn.Module:
    """Create the timm model ``name`` taking ``in_channels`` bands.

    Args:
        name: a timm model name (``timm.list_models()``), e.g. ``"resnet18"``.
        in_channels: number of image bands (1 or more).
        pretrained: load the timm hub weights of ``name`` (needs internet or a
            filled hub cache).
        pretrained_uri: a local weights file (``.pth``, ``.bin`` or
            ``.safetensors``; a state dict, possibly inside a checkpoint under
            ``state_dict`` or ``model``) in the layout of the timm model
            ``name``. Takes precedence over ``pretrained``. Its first
            convolution may have 3 bands (adapted as described in the module
            docstring) or exactly ``in_channels`` bands.
        **timm_kwargs: passed to :func:`timm.create_model`
            (``features_only``, ``out_indices``, ``num_classes``, ``drop_rate``...).

    Raises:
        ConfigError: unknown model name, bad band count, or a weights file
            that is missing or does not fit the model.
    """
    if in_channels < 1:
        raise ConfigError(
            f"The model {name!r} was asked for {in_channels} input bands; a model "
            "needs at least one band. Check the raster source's channel_order."
        )
    if not timm.is_model(name):
        raise ConfigError(
            f"{name!r} is not a timm model name. Pick one from timm.list_models(), "
            "e.g. 'resnet18', 'efficientnet_b0' or 'mobilenetv3_large_100'."
        )
    if pretrained_uri is None and not pretrained:
        return timm.create_model(name, pretrained=False, in_chans=in_channels, **timm_kwargs)

    overlay: dict[str, Any] = {}
    weight_channels = 3
    if pretrained_uri is not None:
        path = Path(pretrained_uri)
        if not path.is_file():
            raise ConfigError(
                f"The pretrained weights file {str(path)!r} for model {name!r} does not "
                "exist. pretrained_uri must be a local file (download remote weights "
                "first) holding a timm state dict of that model."
            )
        overlay["file"] = str(path)
        weight_channels = _first_conv_channels(name, path)

    if in_channels == weight_channels or in_channels < 3:
        # timm loads unchanged weights, or adapts RGB weights to 1 or 2 bands.
        if weight_channels != 3 and in_channels != weight_channels:
            raise _band_mismatch(name, pretrained_uri, weight_channels, in_channels)
        return _create_pretrained(name, in_channels, overlay, pretrained_uri, timm_kwargs)
    if weight_channels != 3:
        raise _band_mismatch(name, pretrained_uri, weight_channels, in_channels)
    model = _create_pretrained(name, 3, overlay, pretrained_uri, timm_kwargs)
    extend_first_conv(model, in_channels)
    return model


def _create_pretrained(name, in_channels, overlay, pretrained_uri, timm_kwargs) -> nn.Module:
    try:
        return timm.create_model(
            name, pretrained=True, in_chans=in_channels, pretrained_cfg_overlay=overlay, **timm_kwargs
        )
    except RuntimeError as exc:
        if pretrained_uri is None:
            raise
        raise ConfigError(
            f"The weights in {str(pretrained_uri)!r} do not fit the timm model {name!r}: "
            f"{exc}. pretrained_uri must hold a state dict of that exact architecture."
        ) from exc


def _band_mismatch(name, pretrained_uri, weight_channels, in_channels) -> ConfigError:
    return ConfigError(
        f"The pretrained weights {str(pretrained_uri)!r} of model {name!r} take "
        f"{weight_channels} bands but the images have {in_channels}. Use weights with "
        f"3 (RGB) or {in_channels} input bands, or change the channel_order."
    )


def _first_conv_channels(name: str, path: Path) -> int:
    """Band count of the first convolution stored in a weights file."""
    from timm.models import get_pretrained_cfg, load_state_dict

    try:
        state_dict = load_state_dict(str(path))
    except Exception as exc:  # unreadable or not a state dict: say which file
        raise ConfigError(
            f"Cannot read the pretrained weights file {str(path)!r} for model {name!r}: "
            f"{exc}. It must be a torch or safetensors state dict."
        ) from exc
    cfg = get_pretrained_cfg(name)
    first_conv = cfg.first_conv if cfg is not None else None
    names = (first_conv,) if isinstance(first_conv, str) else tuple(first_conv or ())
    for conv_name in names:
        weight = state_dict.get(f"{conv_name}.weight")
        if weight is not None and weight.ndim == 4:
            return int(weight.shape[1])
    # No declared first conv in the file: the first 4-d tensor is the stem.
    for weight in state_dict.values():
        if isinstance(weight, torch.Tensor) and weight.ndim == 4:
            return int(weight.shape[1])
    raise ConfigError(
        f"The weights file {str(path)!r} holds no convolution weights; it is not a "
        f"state dict of the timm model {name!r}."
    )


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The name and module of the model's first 2-d convolution (its stem)."""
    for module_name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return module_name, module
    raise ConfigError(f"The model {type(model).__name__} has no Conv2d stem to adapt to the band count.")


@torch.no_grad()
def extend_first_conv(model: nn.Module, in_channels: int) -> None:
    """Replace the model's RGB stem by one taking ``in_channels`` (> 3) bands.

    The first three input bands keep the RGB filters; the extra bands start at
    zero, so the extended model initially computes exactly what the RGB model
    computes on the first three bands.
    """
    name, conv = first_conv(model)
    if conv.in_channels == in_channels:
        return
    if conv.in_channels != 3 or in_channels < 3 or conv.groups != 1:
        raise ConfigError(
            f"Cannot extend the stem {name!r} from {conv.in_channels} to {in_channels} bands: "
            "only RGB stems are extended to more bands."
        )
    # A copy keeps the conv's class (timm's "same"-padding convs subclass
    # Conv2d) and every hyperparameter; only the weight and band count change.
    weight = torch.zeros(
        (conv.out_channels, in_channels, *conv.kernel_size),
        dtype=conv.weight.dtype,
        device=conv.weight.device,
    )
    weight[:, :3] = conv.weight
    new_conv = copy.deepcopy(conv)
    new_conv.in_channels = in_channels
    new_conv.weight = nn.Parameter(weight)
    parent_name, _, child_name = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child_name, new_conv)


def create_encoder(
    name: str,
    *,
    in_channels: int = 3,
    pretrained: bool = False,
    pretrained_uri: str | Path | None = None,
    out_indices: tuple[int, ...] | None = None,
    **timm_kwargs: Any,
) -> nn.Module:
    """A timm ``features_only`` encoder returning a list of feature maps.

    ``encoder.feature_info.channels()`` and ``.reduction()`` give the channels
    and strides of the returned maps. Other arguments as :func:`create_timm_model`.
    """
    if out_indices is not None:
        timm_kwargs["out_indices"] = tuple(out_indices)
    try:
        return create_timm_model(
            name,
            in_channels=in_channels,
            pretrained=pretrained,
            pretrained_uri=pretrained_uri,
            features_only=True,
            **timm_kwargs,
        )
    except RuntimeError as exc:
        if "features_only" not in str(exc):
            raise
        raise ConfigError(
            f"The timm model {name!r} cannot be used as an encoder (it has no "
            f"features_only mode): {exc}. Choose a CNN such as 'resnet18'."
        ) from exc
