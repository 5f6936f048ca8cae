"""OBJECT_DETECTION: boxes with a class and a score."""

from __future__ import annotations

import attrs

from rv.config import Config, field
from rv.errors import ConfigError
from rv.task.task_config import TaskConfig, TaskConfigBuilder

WINDOW_METHODS = ("chip", "label", "image", "sliding")


@attrs.frozen
class ObjectDetectionChipOptions(Config):
    """Chip options of object detection (Raster Vision's, same meaning)."""

    neg_ratio: float = field(default=1.0, doc="negative (box-free) chips per positive chip")
    ioa_thresh: float = field(default=0.8, doc="a box is kept in a chip when this share of it lies inside")
    window_method: str = field(
        default="chip", doc="'chip': random windows around boxes; 'label': one per box; 'image': whole scene; 'sliding'"
    )
    label_buffer: float = field(default=0.0, doc="pixels added around boxes for the 'label' window method")
    debug_chip_probability: float = field(default=0.25, doc="share of chips written as debug PNGs")

    def validate(self) -> None:
        if self.window_method not in WINDOW_METHODS:
            raise ConfigError(f"window_method {self.window_method!r} is not one of {WINDOW_METHODS}.")


@attrs.frozen
class ObjectDetectionPredictOptions(Config):
    """Prediction options of object detection."""

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
