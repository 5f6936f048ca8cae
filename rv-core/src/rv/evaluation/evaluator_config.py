"""EvaluatorConfig: the family of evaluator configs (run by EVAL)."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from rv.config import Config, ConfigBuilder, field
from rv.errors import ConfigError
from rv.task.task_config import ClassConfig, classes_from_spec


@attrs.frozen
class EvaluatorConfig(Config):
    """Base of evaluator configs (registered with ``register_evaluators``)."""

    group: ClassVar[str] = "evaluators"

    output_uri: str | None = field(default=None, doc="eval.json (default: <eval_uri>/eval.json)")
    classes: tuple[ClassConfig, ...] | None = field(
        default=None,
        doc="the classes scored, with the names and colors eval.json and its plots show "
        "(with_class_map / with_task; default: the task's); their ids are the task's",
    )

    def create(self, task_config: Any):
        """The runtime evaluator for a task."""
        raise NotImplementedError

    def check_task(self, task_config: Any) -> None:
        """Raise :class:`~rv.errors.ConfigError` when this evaluator's classes cannot score ``task_config``."""
        self.class_map_for(task_config)

    def class_map_for(self, task_config: Any):
        """The :class:`rv.core.class_map.ClassMap` to score ``task_config``'s predictions with.

        The task's own, or the one given by ``with_class_map``: it must have
        the task's class ids (every predicted and labelled pixel, box or cell
        has one); names and colors may differ. The background class is the
        task's.
        """
        task_map = task_config.class_map
        if self.classes is None:
            return task_map
        from rv.core.class_map import ClassItem, ClassMap

        ids = sorted(c.id for c in self.classes)
        if ids != task_map.ids:
            raise ConfigError(
                f"The {type(self).__name__} class map has class ids {ids} but the task's are {task_map.ids}: "
                "an evaluator scores the task's classes, so its class map needs the same ids (names and colors "
                "may differ). Fix the map given to with_class_map(...), or call with_task(task) to use the task's."
            )
        items = [ClassItem(c.id, c.name, c.color) for c in self.classes]
        return ClassMap(items, task_map.background_class_id)


class EvaluatorConfigBuilder(ConfigBuilder):
    """Builder of any evaluator config."""

    def with_output_uri(self, uri: str) -> EvaluatorConfigBuilder:
        return self._with(output_uri=uri)

    def with_class_map(self, class_map: Any) -> EvaluatorConfigBuilder:
        """The classes to score, named and colored as eval.json and its plots should show them.

        Any form ``with_classes`` takes (a ``ClassMap``, a list of names, a
        dict name → id or name → (id, color)), with the task's class ids.
        """
        return self._with(classes=classes_from_spec(class_map))

    def with_task(self, task: Any) -> EvaluatorConfigBuilder:
        """Score with the class map of ``task`` (a task config or builder)."""
        if isinstance(task, ConfigBuilder):
            task = task.build()
        return self._with(classes=tuple(task.classes))
