"""DatasetConfig: training, validation and test scenes, and augmentors."""

from __future__ import annotations

import attrs

from rv.augmentor.augmentor_config import AugmentorConfig
from rv.config import Config, ConfigBuilder, field
from rv.errors import ConfigError
from rv.experiment.scene_config import SceneConfig


def _built(items):
    return tuple(i.build() if isinstance(i, ConfigBuilder) else i for i in items)


@attrs.frozen
class DatasetConfig(Config):
    """The scenes of an experiment and the augmentors applied at CHIP."""

    train_scenes: tuple[SceneConfig, ...] = field(factory=tuple, doc="scenes chipped for training")
    validation_scenes: tuple[SceneConfig, ...] = field(
        factory=tuple, doc="scenes chipped for validation, predicted and evaluated"
    )
    test_scenes: tuple[SceneConfig, ...] = field(factory=tuple, doc="scenes predicted and evaluated only")
    augmentors: tuple[AugmentorConfig, ...] = field(factory=tuple, doc="augmentors applied at CHIP")

    def all_scenes(self) -> tuple[SceneConfig, ...]:
        return self.train_scenes + self.validation_scenes + self.test_scenes

    def validate(self) -> None:
        seen: dict[str, str] = {}
        for kind, scenes in (
            ("train", self.train_scenes),
            ("validation", self.validation_scenes),
            ("test", self.test_scenes),
        ):
            for s in scenes:
                if s.id in seen:
                    raise ConfigError(
                        f"Scene id {s.id!r} is used twice ({seen[s.id]} and {kind} scenes); give each scene its own id."
                    )
                seen[s.id] = kind


class DatasetConfigBuilder(ConfigBuilder):
    """Builder of :class:`DatasetConfig`."""

    config_class = DatasetConfig

    def with_train_scene(self, scene) -> DatasetConfigBuilder:
        return self._with(train_scenes=(*self.values.get("train_scenes", ()), *_built([scene])))

    def with_train_scenes(self, scenes) -> DatasetConfigBuilder:
        return self._with(train_scenes=_built(scenes))

    def with_validation_scene(self, scene) -> DatasetConfigBuilder:
        return self._with(validation_scenes=(*self.values.get("validation_scenes", ()), *_built([scene])))

    def with_validation_scenes(self, scenes) -> DatasetConfigBuilder:
        return self._with(validation_scenes=_built(scenes))

    def with_test_scene(self, scene) -> DatasetConfigBuilder:
        return self._with(test_scenes=(*self.values.get("test_scenes", ()), *_built([scene])))

    def with_test_scenes(self, scenes) -> DatasetConfigBuilder:
        return self._with(test_scenes=_built(scenes))

    def with_augmentor(self, augmentor) -> DatasetConfigBuilder:
        """Add an augmentor: a config, a builder, or a key such as ``rv.NODATA_AUGMENTOR``."""
        if isinstance(augmentor, str):
            augmentor = AugmentorConfig.builder(augmentor)
        return self._with(augmentors=(*self.values.get("augmentors", ()), *_built([augmentor])))

    def with_augmentors(self, augmentors) -> DatasetConfigBuilder:
        items = [AugmentorConfig.builder(a) if isinstance(a, str) else a for a in augmentors]
        return self._with(augmentors=_built(items))


DatasetConfig.builder_class = DatasetConfigBuilder
