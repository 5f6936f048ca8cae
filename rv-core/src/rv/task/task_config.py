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
        default=None,
        doc="id of the class that means 'nothing here' (rasterized background, negative cells); "
        "unset: the class named 'background' (any case), if any",
    )
    debug: bool = field(default=False, doc="write debug images of chips and predictions")
    predict_batch_size: int = field(default=8, doc="windows per batch at prediction")
    predict_package_uri: str | None = field(default=None, doc="where BUNDLE writes the model bundle")
    predict_debug_uri: str | None = field(
        default=None,
        doc="where PREDICT writes its debug images, the prediction overlays (default: PREDICT's directory)",
    )

    @property
    def class_map(self):
        """The runtime :class:`rv.core.class_map.ClassMap`.

        Its background class is ``background_class_id``, or when that is unset
        the class named ``background`` in any case (see
        :func:`rv.core.class_map.named_background_id`).
        """
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
        """The class that means 'nothing here': pixels no label covers, cells without an object.

        Unset (None), the class named ``background`` (any case) is the
        background class; with no such class there is none, and pixels
        without a label are ignored in training and evaluation.
        """
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

    def with_predict_debug_uri(self, uri: str | None) -> TaskConfigBuilder:
        """Directory where PREDICT writes its debug images (the prediction overlays)."""
        return self._with(predict_debug_uri=uri)

    def with_chip_options(self, *values: Any, **options: Any) -> TaskConfigBuilder:
        """Chip options of this task (see the task's ``ChipOptions``), by name or by position.

        Positional values follow the order Raster Vision documents for the
        task (``positional_options`` of its ``ChipOptions`` class), e.g.
        ``with_chip_options(1, 0.8, "sliding")`` for object detection.
        """
        return self._with_options("chip", values, options)

    def with_predict_options(self, *values: Any, **options: Any) -> TaskConfigBuilder:
        """Prediction options of this task (see the task's ``PredictOptions``), by name or by position
        (in the order of ``positional_options`` of its ``PredictOptions`` class)."""
        return self._with_options("predict", values, options)

    def _with_options(self, kind: str, values: tuple, options: dict[str, Any]) -> TaskConfigBuilder:
        """Update the ``<kind>_options`` field with positional ``values`` and named ``options``."""
        options_class = getattr(self.config_class, f"{kind}_options_class")
        method = f"{self.config_class.__name__} builder's with_{kind}_options()"
        options = options_by_name(options_class, values, options, method)
        current = self.values.get(f"{kind}_options") or options_class()
        try:
            return self._with(**{f"{kind}_options": attrs.evolve(current, **options)})
        except TypeError:
            known = [f.name for f in attrs.fields(type(current))]
            raise ConfigError(
                f"Unknown {kind} option(s) {sorted(set(options) - set(known))} for {self.config_class.__name__}; "
                f"known: {', '.join(known)}."
            ) from None


def options_by_name(options_class: type, values: tuple, options: dict[str, Any], method: str) -> dict[str, Any]:
    """``options`` plus the positional ``values`` named by ``options_class.positional_options``.

    Each task's options class declares the order in which Raster Vision's
    documented signature takes them (rv's names for them), so experiment
    files that pass options by position keep their meaning.
    """
    if not values:
        return options
    order: tuple[str, ...] = tuple(getattr(options_class, "positional_options", ()))
    if len(values) > len(order):
        known = ", ".join(f.name for f in attrs.fields(options_class))
        takes = f"at most {len(order)}, in the order ({', '.join(order)})" if order else "none"
        raise ConfigError(
            f"{method} got {len(values)} positional value(s) {values!r} but takes {takes}. "
            f"Pass the others by name (option=value); the options are: {known}."
        )
    by_position = dict(zip(order, values))
    twice = sorted(set(by_position) & set(options))
    if twice:
        raise ConfigError(
            f"{method} got {', '.join(twice)} both by position and by name; positional values are taken in "
            f"the order ({', '.join(order)}). Give each option once."
        )
    return {**by_position, **options}
