"""TaskConfig: the family of task configs, and what the three tasks share."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from rv.config import Config, ConfigBuilder, field
from rv.errors import ConfigError


@attrs.frozen
class ClassConfig(Config):
    """One class of a task: id (0–254), name, display color."""

    id: int = field(doc="class id, 0–254 (255 marks unlabeled pixels)")
    name: str = field(doc="class name")
    color: str | None = field(default=None, doc="display color: a name ('red') or '#rrggbb'")


def classes_from_spec(spec: Any) -> tuple[ClassConfig, ...]:
    """Classes from every form the builder accepts.

    A list of names (ids 1..n), a dict name → id, or a dict name → (id, color).
    """
    from rv.core.class_map import ClassMap

    class_map = ClassMap.from_spec(spec)
    return tuple(ClassConfig(item.id, item.name, item.color) for item in class_map)


@attrs.frozen
class TaskConfig(Config):
    """Base of task configs. Tasks are registered under keys with ``register_tasks``."""

    group: ClassVar[str] = "tasks"

    classes: tuple[ClassConfig, ...] = field(factory=tuple, doc="the classes (with_classes)")
    chip_size: int = field(default=300, doc="chip size in pixels (square)")
    background_class_id: int | None = field(
        default=None, doc="id of the class that means 'nothing here' (rasterized background, negative cells)"
    )
    debug: bool = field(default=False, doc="write debug images of chips and predictions")
    predict_batch_size: int = field(default=8, doc="windows per batch at prediction")
    predict_package_uri: str | None = field(default=None, doc="where BUNDLE writes the model bundle")

    @property
    def class_map(self):
        """The runtime :class:`rv.core.class_map.ClassMap`."""
        from rv.core.class_map import ClassItem, ClassMap

        return ClassMap([ClassItem(c.id, c.name, c.color) for c in self.classes], self.background_class_id)

    @property
    def task_type(self) -> str:
        return self.key

    def validate(self) -> None:
        if not self.classes:
            raise ConfigError(
                f"{type(self).__name__} has no classes: call .with_classes(...) with a list of names, "
                "a dict name → id, or a dict name → (id, color)."
            )
        self.class_map  # noqa: B018  (checks ids, names, colors)
        if self.chip_size <= 0:
            raise ConfigError(f"chip_size must be positive, got {self.chip_size}: call .with_chip_size(256).")
        if self.background_class_id is not None and self.background_class_id not in {c.id for c in self.classes}:
            raise ConfigError(
                f"background_class_id {self.background_class_id} is not one of the class ids "
                f"{sorted(c.id for c in self.classes)}: add it to with_classes(...) or change it."
            )

    def create(self):
        """The runtime task entity (windowing and labels for CHIP and PREDICT)."""
        raise NotImplementedError


class TaskConfigBuilder(ConfigBuilder):
    """Builder of any task config: the options all three tasks share."""

    def with_classes(self, classes: Any) -> TaskConfigBuilder:
        """Classes as a list of names, a dict name → id, or a dict name → (id, color)."""
        return self._with(classes=classes_from_spec(classes))

    def with_chip_size(self, chip_size: int) -> TaskConfigBuilder:
        """Square chip size in pixels, for training chips and prediction windows."""
        return self._with(chip_size=int(chip_size))

    def with_background_class_id(self, class_id: int | None) -> TaskConfigBuilder:
        """The class that means 'nothing here' (None: no such class)."""
        return self._with(background_class_id=class_id)

    def with_debug(self, debug: bool = True) -> TaskConfigBuilder:
        """Write debug images of chips and predictions."""
        return self._with(debug=bool(debug))

    def with_predict_batch_size(self, batch_size: int) -> TaskConfigBuilder:
        """How many windows go through the model at once when predicting."""
        return self._with(predict_batch_size=int(batch_size))

    def with_predict_package_uri(self, uri: str) -> TaskConfigBuilder:
        """Where the BUNDLE command writes the model bundle."""
        return self._with(predict_package_uri=uri)

    def with_chip_options(self, **options: Any) -> TaskConfigBuilder:
        """Chip options of this task (see the task's ``ChipOptions``)."""
        current = self.values.get("chip_options") or self.config_class.chip_options_class()
        try:
            return self._with(chip_options=attrs.evolve(current, **options))
        except TypeError:
            known = [f.name for f in attrs.fields(type(current))]
            raise ConfigError(
                f"Unknown chip option(s) {sorted(set(options) - set(known))} for {self.config_class.__name__}; "
                f"known: {', '.join(known)}."
            ) from None

    def with_predict_options(self, **options: Any) -> TaskConfigBuilder:
        """Prediction options of this task (see the task's ``PredictOptions``)."""
        current = self.values.get("predict_options") or self.config_class.predict_options_class()
        try:
            return self._with(predict_options=attrs.evolve(current, **options))
        except TypeError:
            known = [f.name for f in attrs.fields(type(current))]
            raise ConfigError(
                f"Unknown predict option(s) {sorted(set(options) - set(known))} for {self.config_class.__name__}; "
                f"known: {', '.join(known)}."
            ) from None
