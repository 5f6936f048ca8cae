"""EvaluatorConfig: the family of evaluator configs (run by EVAL)."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from rv.config import Config, ConfigBuilder, field


@attrs.frozen
class EvaluatorConfig(Config):
    """Base of evaluator configs (registered with ``register_evaluators``)."""

    group: ClassVar[str] = "evaluators"

    output_uri: str | None = field(default=None, doc="eval.json (default: <eval_uri>/eval.json)")

    def create(self, task_config: Any):
        """The runtime evaluator for a task."""
        raise NotImplementedError


class EvaluatorConfigBuilder(ConfigBuilder):
    """Builder of any evaluator config."""

    def with_output_uri(self, uri: str) -> EvaluatorConfigBuilder:
        return self._with(output_uri=uri)
