"""Configs of the three PyTorch backends: what to train and how (no torch here).

One base, :class:`PyTorchBackendConfig`, holds the options the three tasks
share (encoder, budget, optimiser, augmentation, data loading, monitoring);
each registered subclass adds what its network needs:

- ``PYTORCH_SEMANTIC_SEGMENTATION``: :class:`PyTorchSemanticSegmentationConfig`
  (FPN decoder width, stride-2 refinement, loss);
- ``PYTORCH_OBJECT_DETECTION``: :class:`PyTorchObjectDetectionConfig`
  (detector type, FPN width, finest stride, detections per window);
- ``PYTORCH_CHIP_CLASSIFICATION``: :class:`PyTorchChipClassificationConfig`
  (dropout, label smoothing).

Every option the user leaves unset is filled at ``build()`` from the model
defaults named by ``with_model_defaults(rv.RESNET18)`` (RESNET18's when none
is named), for this backend's key; see :mod:`rv_pytorch.model_defaults`.

Training length: ``num_steps``, when set, is the exact number of optimiser
steps TRAIN runs and ``num_epochs`` does not apply; otherwise TRAIN runs
``num_epochs`` passes over the training chips. What the user sets wins over
the model defaults: ``with_num_steps(n)`` alone trains n steps whatever
epochs the defaults name, and ``with_num_epochs(e)`` alone trains e epochs
even when the model defaults name a number of steps. When the user sets both,
``num_steps`` wins. TRAIN's log says which applies.

This module is imported at plugin discovery: it imports ``rv`` and nothing
heavy (torch, timm and rasterio load in :mod:`rv_pytorch.backend`).

One concept, one module (over 500 lines): the PyTorch backends' options —
the three config classes, their checks, and the builders that fill them
(``with_*`` methods, aliases, model defaults); split, the builder and the
config would each need the other's list of options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from rv import keys
from rv.backend.backend_config import BackendConfig, BackendConfigBuilder
from rv.config import ConfigBuilder, field
from rv.errors import ConfigError

# The engine's choices, defined here (this module stays light) so that configs
# validate without importing torch; the engine's modules import them from here.
AUGMENTATIONS = ("flip", "rot90", "color")
SCHEDULES = ("onecycle", "cosine", "constant")
SEGMENTATION_LOSSES = ("ce", "ce+dice", "ce+lovasz")
TTA_CHOICES = ("none", "flips", "d4")
DETECTORS = ("fcos", "retinanet", "faster_rcnn")
MIN_STRIDES = (4, 8, 16)
#: ``num_processes`` meaning one training process per visible GPU (as Lightning's ``devices=-1``)
ALL_GPUS = -1

#: the model defaults that apply when the builder is given none
DEFAULT_MODEL_DEFAULTS = keys.RESNET18

#: other names accepted by ``with_config`` (and in model-defaults files) → option name
OPTION_ALIASES = {
    "learning_rate": "lr",
    "augment": "augmentation",
    "augmentations": "augmentation",
    "ignore_class": "ignore_class_id",
    "architecture": "detector",
    "epochs": "num_epochs",
    "steps": "num_steps",
    "backbone": "encoder",
}

# Fields that are not training options: set by their own builder methods or
# by the experiment, never through with_config or model defaults.
_NOT_OPTIONS = (
    "task",
    "training_data_uri",
    "training_output_uri",
    "model_uri",
    "pretrained_model_uri",
    "model_defaults",
)


def _optional_tuple(value: Any) -> tuple | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _tuple(value: Any) -> tuple:
    return _optional_tuple(value) or ()


def _optional_float_tuple(value: Any) -> tuple[float, ...] | None:
    if value is None or isinstance(value, Mapping):
        return value  # a mapping is resolved against the task's classes by the builder
    return tuple(float(v) for v in value)


@attrs.frozen
class PyTorchBackendConfig(BackendConfig):
    """Options shared by the PyTorch backends (timm encoders, rv's training loop).

    Not registered itself: use one of the three task backends.
    """

    #: TRAIN's weights file: safetensors (tensors only, nothing runs when it is read)
    model_file_name: ClassVar[str] = "model.safetensors"
    #: the backend key this config class is registered under (set by subclasses)
    backend_key: ClassVar[str] = ""
    #: the task key this backend learns
    task_key: ClassVar[str] = ""

    model_defaults: str | None = field(
        default=None, doc="model defaults key the unset options were filled from (rv.RESNET18, ...)"
    )
    encoder: str = field(default="resnet18", doc="timm model name of the encoder (any timm.list_models() name)")
    pretrained: bool = field(
        default=False, doc="start the encoder from timm's hub weights of `encoder` (needs internet or a hub cache)"
    )
    batch_size: int = field(default=8, doc="chips per optimiser step")
    num_epochs: int = field(default=10, doc="passes over the training chips (when num_steps is not set)")
    num_steps: int | None = field(
        default=None,
        doc="number of optimiser steps to train; when set, num_epochs does not apply (None: train num_epochs passes)",
    )
    lr: float = field(default=1e-3, doc="peak learning rate (AdamW)")
    weight_decay: float = field(default=1e-4, doc="AdamW decoupled weight decay")
    schedule: str = field(
        default="onecycle", doc="learning-rate schedule: 'onecycle', 'cosine' (warm-up then cosine) or 'constant'"
    )
    warmup_fraction: float = field(default=0.2, doc="share of the steps spent warming the learning rate up")
    grad_clip: float | None = field(default=None, doc="clip the gradient norm to this value (None: no clipping)")
    augmentation: tuple[str, ...] = field(
        default=("flip", "rot90"),
        converter=_tuple,
        doc="training augmentations: 'flip' (vertical/horizontal), 'rot90' (quarter turns), 'color' (radiometric jitter)",
    )
    class_weights: tuple[float, ...] | None = field(
        default=None,
        converter=_optional_float_tuple,
        doc="loss weight per class, in the task's class order (with_config also takes {class id or name: weight})",
    )
    class_balance: float = field(
        default=0.0,
        doc="when class_weights is unset: loss weights frequency ** -class_balance from the training chips' class "
        "counts (0: off; 0.5: inverse square root of the frequency; 1: inverse frequency)",
    )
    ignore_class_id: int | None = field(
        default=None, doc="class id the loss ignores (its pixels, chips or boxes do not train the model)"
    )
    cache_chips: bool = field(default=False, doc="keep decoded training chips in memory after the first epoch")
    num_workers: int = field(default=0, doc="DataLoader worker processes (0: load chips in the training process)")
    num_processes: int = field(
        default=1,
        doc="training processes (DistributedDataParallel; batch_size is split among them): 1, N, or -1 for one "
        "per visible GPU; ignored under torchrun or srun, which decide",
    )
    device: str | None = field(default=None, doc="'cpu', 'cuda', 'cuda:1', ... (None: CUDA when available, else CPU)")
    amp: bool | None = field(default=None, doc="mixed precision (None: on with CUDA, off on CPU)")
    seed: int = field(default=0, doc="seed of weights initialisation, chip order and augmentation")
    sync_interval: float = field(
        default=300.0, doc="seconds between uploads of the training output to a remote training_output_uri"
    )
    do_monitoring: bool = field(
        default=True,
        doc="write TensorBoard events to <train dir>/tb and, when TRAIN runs at a terminal, serve them with "
        "tensorboard on localhost:6006 (RV_TENSORBOARD_PORT) while it trains",
    )
    replace_model: bool = field(default=False, doc="train afresh even when the train directory holds a checkpoint")
    debug: bool = field(default=False, doc="write debug-chips.png: training chips as the model sees them, with labels")

    # -- entity ----------------------------------------------------------------
    def create(self, task_config: Any = None, tmp_dir: str | None = None):
        """The runtime backend (:mod:`rv_pytorch.backend`); torch loads when it trains or predicts."""
        from rv_pytorch.backend import backend_class_for

        return backend_class_for(self.backend_key)(self, task_config or self.task, tmp_dir)

    # -- checks ----------------------------------------------------------------
    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(f"{type(self).__name__}: {message}")

        need(
            isinstance(self.encoder, str) and bool(self.encoder),
            f"encoder is {self.encoder!r}; give a timm model name such as 'resnet18'.",
        )
        need(self.batch_size >= 1, f"batch_size is {self.batch_size}; use 1 or more (with_batch_size(8)).")
        need(self.num_epochs >= 1, f"num_epochs is {self.num_epochs}; use 1 or more (with_num_epochs(10)).")
        need(
            self.num_steps is None or self.num_steps >= 1,
            f"num_steps is {self.num_steps}; use None (train num_epochs passes) or a positive number of steps.",
        )
        need(self.lr > 0, f"the learning rate lr is {self.lr}; it must be positive, e.g. 1e-3.")
        need(self.weight_decay >= 0, f"weight_decay is {self.weight_decay}; it must be 0 or more.")
        need(self.schedule in SCHEDULES, f"schedule is {self.schedule!r}; choose from {', '.join(SCHEDULES)}.")
        need(0 <= self.warmup_fraction < 1, f"warmup_fraction is {self.warmup_fraction}; it must lie in [0, 1).")
        need(
            self.grad_clip is None or self.grad_clip > 0, f"grad_clip is {self.grad_clip}; use None or a positive norm."
        )
        unknown = [a for a in self.augmentation if a not in AUGMENTATIONS]
        need(not unknown, f"unknown augmentation(s) {unknown}; choose from {', '.join(AUGMENTATIONS)}.")
        need(0 <= self.class_balance <= 1, f"class_balance is {self.class_balance}; it must lie in [0, 1].")
        need(self.num_workers >= 0, f"num_workers is {self.num_workers}; use 0 or more.")
        need(
            self.num_processes >= 1 or self.num_processes == ALL_GPUS,
            f"num_processes is {self.num_processes}; use 1 or more, or {ALL_GPUS} for one process per GPU.",
        )
        need(
            self.num_processes <= 1 or self.batch_size % self.num_processes == 0,
            f"batch_size {self.batch_size} (chips per optimiser step, all processes together) does not split "
            f"evenly over num_processes {self.num_processes}; use a multiple of {self.num_processes}.",
        )
        need(self.sync_interval > 0, f"sync_interval is {self.sync_interval} s; it must be positive.")
        if self.task is not None:
            task_key = self.task.key
            need(
                task_key == self.task_key,
                f"this backend learns {self.task_key}, but the task is {task_key}; use the "
                f"PYTORCH_{task_key} backend for it.",
            )
            class_ids = [c.id for c in self.task.classes]
            if self.class_weights is not None:
                need(
                    len(self.class_weights) == len(class_ids),
                    f"{len(self.class_weights)} class weights for the {len(class_ids)} classes {class_ids}; "
                    "give one weight per class in the task's class order, or a dict {class id or name: weight}.",
                )
            if self.ignore_class_id is not None:
                need(
                    self.ignore_class_id in class_ids,
                    f"ignore_class_id {self.ignore_class_id} is not one of the class ids {class_ids}.",
                )
        if self.class_weights is not None:
            need(
                not isinstance(self.class_weights, Mapping) and all(w >= 0 for w in self.class_weights),
                f"class_weights {self.class_weights} must be non-negative numbers, one per class.",
            )
        self.validate_task_options(need)

    def validate_task_options(self, need) -> None:
        """Checks of the options a task's subclass adds (``need(condition, message)``)."""

    # -- what the model and the prediction need ------------------------------------
    def model_options(self) -> dict[str, Any]:
        """Architecture options of this task's network (recorded in model-config.json)."""
        return {}

    def train_options(self) -> dict[str, Any]:
        """Keyword arguments of :class:`rv_pytorch.train.TrainOptions`."""
        return {
            **self._options(
                "batch_size",
                "num_epochs",
                "num_steps",
                "lr",
                "weight_decay",
                "schedule",
                "warmup_fraction",
                "grad_clip",
                "num_workers",
                "seed",
                "replace_model",
                "device",
                "amp",
            ),  # fmt: skip
            "tensorboard": self.do_monitoring,
        }

    def _options(self, *names: str) -> dict[str, Any]:
        """``{name: value}`` of these options, in this order."""
        return {name: getattr(self, name) for name in names}


@attrs.frozen
class PyTorchSemanticSegmentationConfig(PyTorchBackendConfig):
    """PYTORCH_SEMANTIC_SEGMENTATION: a timm ``features_only`` encoder with an FPN decoder."""

    backend_key: ClassVar[str] = keys.PYTORCH_SEMANTIC_SEGMENTATION
    task_key: ClassVar[str] = keys.SEMANTIC_SEGMENTATION

    decoder_channels: int = field(default=128, doc="width of the FPN decoder")
    fine: bool = field(default=False, doc="refine at stride 2 with the encoder's finest features (sharper outlines)")
    loss: str = field(
        default="ce",
        doc="'ce' (cross-entropy), 'ce+dice' (plus soft Dice) or 'ce+lovasz' (plus the Lovász-softmax surrogate of IoU)",
    )
    tta: str = field(
        default="none",
        doc="test-time augmentation at prediction: 'none' (the default: one forward pass per window), 'flips' "
        "(average the 4 flips of each window: 4x the compute) or 'd4' (the 8 flips and quarter turns: 8x); "
        "recorded in the model bundle",
    )

    def validate_task_options(self, need) -> None:
        need(self.decoder_channels >= 2, f"decoder_channels is {self.decoder_channels}; use 2 or more (e.g. 128).")
        need(self.loss in SEGMENTATION_LOSSES, f"loss is {self.loss!r}; choose from {', '.join(SEGMENTATION_LOSSES)}.")
        need(self.tta in TTA_CHOICES, f"tta is {self.tta!r}; choose from {', '.join(TTA_CHOICES)}.")

    def model_options(self) -> dict[str, Any]:
        return self._options("decoder_channels", "fine", "tta")


@attrs.frozen
class PyTorchObjectDetectionConfig(PyTorchBackendConfig):
    """PYTORCH_OBJECT_DETECTION: a torchvision detector (FCOS, RetinaNet, Faster R-CNN) on a timm encoder + FPN."""

    backend_key: ClassVar[str] = keys.PYTORCH_OBJECT_DETECTION
    task_key: ClassVar[str] = keys.OBJECT_DETECTION

    detector: str = field(default="fcos", doc="'fcos', 'retinanet' or 'faster_rcnn'")
    fpn_channels: int = field(default=128, doc="width of the feature pyramid")
    min_stride: int = field(default=8, doc="stride of the finest pyramid level: 4 for objects of ~8-30 px, 8 above")
    max_detections: int = field(default=300, doc="most detections kept per prediction window")

    def validate_task_options(self, need) -> None:
        need(
            self.class_weights is None and self.class_balance == 0,
            "class_weights and class_balance are not supported by the detectors' losses; leave them unset "
            "for object detection.",
        )
        need(self.detector in DETECTORS, f"detector is {self.detector!r}; choose from {', '.join(DETECTORS)}.")
        need(self.fpn_channels >= 1, f"fpn_channels is {self.fpn_channels}; use a positive width (e.g. 128).")
        need(self.min_stride in MIN_STRIDES, f"min_stride is {self.min_stride}; use 4, 8 or 16.")
        need(self.max_detections >= 1, f"max_detections is {self.max_detections}; use 1 or more.")

    def model_options(self) -> dict[str, Any]:
        return {"architecture": self.detector, **self._options("fpn_channels", "min_stride", "max_detections")}


@attrs.frozen
class PyTorchChipClassificationConfig(PyTorchBackendConfig):
    """PYTORCH_CHIP_CLASSIFICATION: a timm classifier, one class per chip."""

    backend_key: ClassVar[str] = keys.PYTORCH_CHIP_CLASSIFICATION
    task_key: ClassVar[str] = keys.CHIP_CLASSIFICATION

    drop_rate: float = field(default=0.0, doc="dropout before the classifier layer")
    label_smoothing: float = field(default=0.0, doc="cross-entropy label smoothing (0 to 1)")

    def validate_task_options(self, need) -> None:
        need(0 <= self.drop_rate < 1, f"drop_rate is {self.drop_rate}; it must lie in [0, 1).")
        need(0 <= self.label_smoothing < 1, f"label_smoothing is {self.label_smoothing}; it must lie in [0, 1).")


# -----------------------------------------------------------------------------
# Builders
# -----------------------------------------------------------------------------


def option_names(config_class: type[PyTorchBackendConfig]) -> list[str]:
    """The options ``with_config`` and model defaults may set for ``config_class``."""
    return [f.name for f in attrs.fields(config_class) if f.name not in _NOT_OPTIONS]


def canonical_options(
    config_class: type[PyTorchBackendConfig], options: Mapping[str, Any], source: str
) -> dict[str, Any]:
    """``options`` with aliases resolved; an unknown name is a ConfigError naming ``source`` and the known ones."""
    known = option_names(config_class)
    out: dict[str, Any] = {}
    unknown = []
    for name, value in options.items():
        name = OPTION_ALIASES.get(name, name)
        if name in known:
            out[name] = value
        else:
            unknown.append(name)
    if unknown:
        raise ConfigError(
            f"{source} has unknown option(s) {', '.join(map(repr, unknown))} for {config_class.backend_key}. "
            f"Known options: {', '.join(known)} (also accepted: {', '.join(sorted(OPTION_ALIASES))})."
        )
    return out


class PyTorchBackendConfigBuilder(BackendConfigBuilder):
    """Builder of the PyTorch backends (Raster Vision 0.8's backend builder API).

    Example::

        backend = (
            rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION)
            .with_task(task)
            .with_model_defaults(rv.RESNET18)
            .with_num_epochs(20)
            .with_config({"lr": 2e-3, "augmentation": ["flip", "rot90"]})
            .build()
        )
    """

    config_class: ClassVar[type[PyTorchBackendConfig]] = PyTorchBackendConfig

    def with_task(self, task: Any) -> PyTorchBackendConfigBuilder:
        """The task this backend learns (a task config or its builder)."""
        return self._with(task=task.build() if isinstance(task, ConfigBuilder) else task)

    def with_model_defaults(self, model_defaults_key: str) -> PyTorchBackendConfigBuilder:
        """Fill every option not set otherwise from these model defaults (``rv.RESNET18``, ``rv.RESNET50``,
        ``rv.EFFICIENTNET_B0``, ``rv.MOBILENETV3_LARGE`` or a key of the RV_MODEL_DEFAULTS_URI file)."""
        return self._with(model_defaults=str(model_defaults_key))

    def with_encoder(self, encoder: str) -> PyTorchBackendConfigBuilder:
        """The timm model name of the encoder."""
        return self._with(encoder=str(encoder))

    def with_pretrained(self, pretrained: bool = True) -> PyTorchBackendConfigBuilder:
        """Start the encoder from timm's hub weights (needs internet or a filled hub cache)."""
        return self._with(pretrained=bool(pretrained))

    def with_batch_size(self, batch_size: int) -> PyTorchBackendConfigBuilder:
        """Chips per optimiser step."""
        return self._with(batch_size=int(batch_size))

    def with_num_epochs(self, num_epochs: int) -> PyTorchBackendConfigBuilder:
        """Sets the number of training epochs (passes over the training chips); applies when no
        number of steps is set (with_num_steps wins when both are set)."""
        return self._with(num_epochs=int(num_epochs))

    def with_num_steps(self, num_steps: int | None) -> PyTorchBackendConfigBuilder:
        """Sets the number of training steps: TRAIN runs exactly this many optimiser steps, and the
        number of epochs (yours or the model defaults') does not apply (None: train by epochs)."""
        return self._with(num_steps=None if num_steps is None else int(num_steps))

    def with_train_options(
        self,
        sync_interval: float | None = None,
        do_monitoring: bool | None = None,
        replace_model: bool | None = None,
        num_processes: int | None = None,
    ) -> PyTorchBackendConfigBuilder:
        """How TRAIN runs: seconds between uploads of a remote train directory, TensorBoard
        monitoring (events in <train dir>/tb, served on localhost:6006 while a TRAIN run at a terminal
        lasts), whether to start afresh instead of resuming, and on how many processes it trains
        (-1: one per GPU; None leaves an option as it is)."""
        changes: dict[str, Any] = {}
        if num_processes is not None:
            changes["num_processes"] = int(num_processes)
        if sync_interval is not None:
            changes["sync_interval"] = float(sync_interval)
        if do_monitoring is not None:
            changes["do_monitoring"] = bool(do_monitoring)
        if replace_model is not None:
            changes["replace_model"] = bool(replace_model)
        return self._with(**changes)

    def with_debug(self, debug: bool = True) -> PyTorchBackendConfigBuilder:
        """Write debug-chips.png (training chips as the model sees them) into the train directory."""
        return self._with(debug=bool(debug))

    def with_config(self, config: Mapping[str, Any]) -> PyTorchBackendConfigBuilder:
        """Set any training option by name: ``lr``, ``schedule``, ``weight_decay``, ``augmentation``,
        ``class_weights``, ``ignore_class_id``, ``num_workers``, ``device``, ``seed``, and the
        task's own (``decoder_channels``, ``detector``, ...). An unknown name is a ConfigError
        listing the known ones."""
        if not isinstance(config, Mapping):
            raise ConfigError(f"with_config takes a dict of options, got {type(config).__name__}: {config!r:.80}.")
        return self._with(**canonical_options(self.config_class, config, "with_config"))

    # -- build -------------------------------------------------------------------
    def _defaults(self) -> dict[str, Any]:
        from rv_pytorch.model_defaults import defaults_for

        explicit = self.values.get("model_defaults")
        key = explicit or DEFAULT_MODEL_DEFAULTS
        if all(name in self.values for name in option_names(self.config_class)):
            return {"model_defaults": key}  # nothing left to fill (a config back as a builder)
        options = defaults_for(key, self.config_class.backend_key, required=explicit is not None)
        filled = {**canonical_options(self.config_class, options, f"The model defaults {key!r}"), "model_defaults": key}
        if "num_epochs" in self.values and "num_steps" not in self.values:
            # The user's number of epochs beats a number of steps from the model defaults
            # (num_steps, when set, decides the training length).
            filled["num_steps"] = None
        return filled

    def build(self) -> PyTorchBackendConfig:
        builder = self
        weights = self.values.get("class_weights")
        if isinstance(weights, Mapping):
            builder = self._with(class_weights=_weights_by_class(weights, self.values.get("task")))
        return ConfigBuilder.build(builder)


def _weights_by_class(weights: Mapping[Any, float], task: Any) -> tuple[float, ...]:
    """Class weights given per class id or name, in the task's class order (unnamed classes weigh 1)."""
    if task is None:
        raise ConfigError(
            "class_weights were given as a dict, which needs the task's classes: call with_task(...) "
            "before build(), or give one weight per class as a list."
        )
    by_key: dict[Any, int] = {}
    for index, c in enumerate(task.classes):
        by_key[c.id] = by_key[str(c.id)] = by_key[c.name] = index
    out = [1.0] * len(task.classes)
    for key, weight in weights.items():
        if key not in by_key:
            raise ConfigError(
                f"class_weights names the class {key!r}, which is not one of the task's classes "
                f"{[(c.id, c.name) for c in task.classes]}; use a class id or name."
            )
        out[by_key[key]] = float(weight)
    return tuple(out)


class PyTorchSemanticSegmentationConfigBuilder(PyTorchBackendConfigBuilder):
    """Builder of :class:`PyTorchSemanticSegmentationConfig`."""

    config_class = PyTorchSemanticSegmentationConfig


class PyTorchObjectDetectionConfigBuilder(PyTorchBackendConfigBuilder):
    """Builder of :class:`PyTorchObjectDetectionConfig`."""

    config_class = PyTorchObjectDetectionConfig


class PyTorchChipClassificationConfigBuilder(PyTorchBackendConfigBuilder):
    """Builder of :class:`PyTorchChipClassificationConfig`."""

    config_class = PyTorchChipClassificationConfig


#: backend key → builder, in the order the plugin registers them
BUILDERS: dict[str, type[PyTorchBackendConfigBuilder]] = {
    keys.PYTORCH_CHIP_CLASSIFICATION: PyTorchChipClassificationConfigBuilder,
    keys.PYTORCH_OBJECT_DETECTION: PyTorchObjectDetectionConfigBuilder,
    keys.PYTORCH_SEMANTIC_SEGMENTATION: PyTorchSemanticSegmentationConfigBuilder,
}

__all__ = [
    "BUILDERS",
    "PyTorchBackendConfig",
    "PyTorchBackendConfigBuilder",
    "PyTorchChipClassificationConfig",
    "PyTorchChipClassificationConfigBuilder",
    "PyTorchObjectDetectionConfig",
    "PyTorchObjectDetectionConfigBuilder",
    "PyTorchSemanticSegmentationConfig",
    "PyTorchSemanticSegmentationConfigBuilder",
    "canonical_options",
    "option_names",
]
