"""OBJECT_DETECTION: boxes with a class and a score."""

from __future__ import annotations

from typing import ClassVar

import attrs

from rv.config import Config, field
from rv.errors import ConfigError
from rv.task.task_config import TaskConfig, TaskConfigBuilder

WINDOW_METHODS = ("chip", "label", "image", "sliding")


@attrs.frozen
class ObjectDetectionChipOptions(Config):
    """Chip options of object detection (Raster Vision's, same meaning)."""

    #: the order ``with_chip_options(...)`` takes positional values in (Raster Vision's)
    positional_options: ClassVar[tuple[str, ...]] = ("neg_ratio", "ioa_thresh", "window_method", "label_buffer")

    neg_ratio: float = field(default=1.0, doc="negative (box-free) chips per positive chip")
    ioa_thresh: float = field(default=0.8, doc="a box is kept in a chip when this share of it lies inside")
    window_method: str = field(
        default="chip",
        doc="'chip': random windows around boxes; 'label': one per box; 'image': whole scene; "
        "'sliding': windows half a chip apart (50 % overlap)",
    )
    label_buffer: float = field(
        default=0.0,
        doc="margin around each box for the 'label' window method: below 1 a fraction of the box's size, "
        "from 1 up pixels",
    )
    debug_chip_probability: float = field(default=0.25, doc="share of chips written as debug PNGs")

    def validate(self) -> None:
        if self.window_method not in WINDOW_METHODS:
            raise ConfigError(f"window_method {self.window_method!r} is not one of {WINDOW_METHODS}.")
        if self.label_buffer < 0:
            raise ConfigError(
                f"label_buffer is {self.label_buffer}; it must be >= 0 (below 1: a fraction of each box's size, "
                "from 1 up: pixels). Fix it in with_chip_options(label_buffer=...)."
            )


@attrs.frozen
class ObjectDetectionPredictOptions(Config):
    """Prediction options of object detection."""

    #: the order ``with_predict_options(...)`` takes positional values in (Raster Vision's)
    positional_options: ClassVar[tuple[str, ...]] = ("merge_thresh", "score_thresh")

    merge_thresh: float = field(default=0.5, doc="IoU above which overlapping boxes of a class are merged (NMS)")
    score_thresh: float = field(default=0.5, doc="boxes scoring below this are dropped")
    stride: int | None = field(default=None, doc="window stride in pixels (default: half the chip size)")


@attrs.frozen
class ObjectDetectionConfig(TaskConfig):
    """Predict boxes."""

    chip_options_class = ObjectDetectionChipOptions
    predict_options_class = ObjectDetectionPredictOptions

    chip_options: ObjectDetectionChipOptions = field(factory=ObjectDetectionChipOptions, doc="chip options")
    predict_options: ObjectDetectionPredictOptions = field(
        factory=ObjectDetectionPredictOptions, doc="prediction options"
    )

    def validate(self) -> None:
        super().validate()
        self.chip_options.validate()

    def create(self):
        from rv.task.object_detection import ObjectDetection

        return ObjectDetection(self)


class ObjectDetectionConfigBuilder(TaskConfigBuilder):
    """Builder of :class:`ObjectDetectionConfig`."""

    config_class = ObjectDetectionConfig
