"""rv-pytorch's plugin (entry point ``rv_pytorch = rv_pytorch.plugin`` in group ``rv.plugins``).

Registers the backends ``PYTORCH_CHIP_CLASSIFICATION``,
``PYTORCH_OBJECT_DETECTION`` and ``PYTORCH_SEMANTIC_SEGMENTATION`` and the
model defaults ``RESNET18``, ``RESNET50``, ``EFFICIENTNET_B0`` and
``MOBILENETV3_LARGE`` (from ``model_defaults.json``; a file named by
``RV_MODEL_DEFAULTS_URI`` replaces them, see :mod:`rv_pytorch.model_defaults`).

Discovery imports only ``rv`` and the light config modules: torch, timm and
torchvision load when a backend trains or predicts.
"""

from __future__ import annotations

from rv.hookspecs import hookimpl


@hookimpl
def register_backends(register):
    from rv_pytorch.backend_config import BUILDERS

    for key, builder in BUILDERS.items():
        register(key, builder)


@hookimpl
def register_model_defaults(register):
    from rv_pytorch.model_defaults import builtin_model_defaults

    for key, defaults in builtin_model_defaults().items():
        register(key, defaults)
