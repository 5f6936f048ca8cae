"""CHIP_CLASSIFICATION: one class per cell of a grid over the scene."""

from __future__ import annotations

from typing import ClassVar

import attrs

from rv.config import Config, field
from rv.task.task_config import TaskConfig, TaskConfigBuilder


@attrs.frozen
class ChipClassificationChipOptions(Config):
    """Chip options of chip classification (one chip per labelled cell)."""

    #: Raster Vision documents no positional order for these: name them
    positional_options: ClassVar[tuple[str, ...]] = ()

    debug_chip_probability: float = field(default=0.25, doc="share of chips written as debug PNGs")


@attrs.frozen
class ChipClassificationPredictOptions(Config):
    """Prediction options of chip classification."""

    #: Raster Vision documents no positional order for these: name them
    positional_options: ClassVar[tuple[str, ...]] = ()

    debug: bool = field(default=False, doc="write prediction overlay PNGs")


@attrs.frozen
class ChipClassificationConfig(TaskConfig):
    """Predict one class per cell (cell size = chip size)."""

    chip_options_class = ChipClassificationChipOptions
    predict_options_class = ChipClassificationPredictOptions

    chip_options: ChipClassificationChipOptions = field(factory=ChipClassificationChipOptions, doc="chip options")
    predict_options: ChipClassificationPredictOptions = field(
        factory=ChipClassificationPredictOptions, doc="prediction options"
    )

    def create(self):
        from rv.task.chip_classification import ChipClassification

        return ChipClassification(self)


class ChipClassificationConfigBuilder(TaskConfigBuilder):
    """Builder of :class:`ChipClassificationConfig`."""

    config_class = ChipClassificationConfig
