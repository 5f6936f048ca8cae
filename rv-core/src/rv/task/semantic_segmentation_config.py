"""SEMANTIC_SEGMENTATION: a class per pixel."""

from __future__ import annotations

from typing import ClassVar

import attrs

from rv.config import Config, field
from rv.errors import ConfigError
from rv.task.task_config import TaskConfig, TaskConfigBuilder

WINDOW_METHODS = ("random_sample", "sliding")


def _class_ids(ids):
    """Class ids as a tuple of ints (a list as Raster Vision users pass it compares and serializes the same)."""
    return None if ids is None else tuple(int(i) for i in ids)


@attrs.frozen
class SemanticSegmentationChipOptions(Config):
    """Chip options of semantic segmentation (Raster Vision's, same meaning)."""

    #: the order ``with_chip_options(...)`` takes positional values in (Raster Vision's)
    positional_options: ClassVar[tuple[str, ...]] = (
        "window_method",
        "target_classes",
        "debug_chip_probability",
        "negative_survival_probability",
        "chips_per_scene",
        "target_count_threshold",
        "stride",
    )

    window_method: str = field(default="random_sample", doc="'random_sample' or 'sliding'")
    target_classes: tuple[int, ...] | None = field(
        default=None,
        converter=_class_ids,
        doc="class ids that make a chip 'positive' (default: all but background)",
    )
    debug_chip_probability: float = field(default=0.25, doc="share of chips written as debug PNGs")
    negative_survival_probability: float = field(
        default=1.0, doc="probability of keeping a chip with fewer target pixels than target_count_threshold"
    )
    chips_per_scene: int = field(default=1000, doc="chips sampled per scene (random_sample)")
    target_count_threshold: int = field(default=1000, doc="target pixels a chip needs to count as positive")
    stride: int | None = field(default=None, doc="window stride for 'sliding' (default: half the chip size)")

    def validate(self) -> None:
        if self.window_method not in WINDOW_METHODS:
            raise ConfigError(f"window_method {self.window_method!r} is not one of {WINDOW_METHODS}.")
        if not 0.0 <= self.negative_survival_probability <= 1.0:
            raise ConfigError("negative_survival_probability must lie in [0, 1].")


def default_predict_stride(chip_size: int) -> int:
    """PREDICT's window stride when none is set: the chip size less an eighth (32 px of overlap
    for 256 px windows). Overlapping windows are blended with weights that ramp down over the
    overlap towards each window's inner edges, where the network sees the least context. An
    eighth of a chip scores within 0.01 of half a chip (and as well as a quarter) with 0.38x the
    windows of a 4096² scene (bench/predict_defaults.py)."""
    return max(chip_size - chip_size // 8, 1)


@attrs.frozen
class SemanticSegmentationPredictOptions(Config):
    """Prediction options of semantic segmentation."""

    #: Raster Vision documents no positional order for these: name them
    positional_options: ClassVar[tuple[str, ...]] = ()

    stride: int | None = field(
        default=None,
        doc="window stride in pixels (default: the chip size less an eighth, e.g. 224 for 256 px chips); "
        "where windows overlap, their class probabilities are blended with weights that ramp down over the "
        "overlap towards each window's inner edges",
    )

    def window_stride(self, chip_size: int) -> int:
        """The stride PREDICT uses for windows of ``chip_size``: ``stride`` or the default."""
        return self.stride or default_predict_stride(chip_size)


@attrs.frozen
class SemanticSegmentationConfig(TaskConfig):
    """Predict a class for every pixel."""

    chip_options_class = SemanticSegmentationChipOptions
    predict_options_class = SemanticSegmentationPredictOptions

    chip_options: SemanticSegmentationChipOptions = field(factory=SemanticSegmentationChipOptions, doc="chip options")
    predict_options: SemanticSegmentationPredictOptions = field(
        factory=SemanticSegmentationPredictOptions, doc="prediction options"
    )

    def validate(self) -> None:
        super().validate()
        self.chip_options.validate()

    def create(self):
        from rv.task.semantic_segmentation import SemanticSegmentation

        return SemanticSegmentation(self)


class SemanticSegmentationConfigBuilder(TaskConfigBuilder):
    """Builder of :class:`SemanticSegmentationConfig`."""

    config_class = SemanticSegmentationConfig
