"""HELLO_EVALUATOR's config: an :class:`rv.EvaluatorConfig` with one option."""

from __future__ import annotations

from typing import Any

import attrs

from rv import ConfigError, EvaluatorConfig
from rv.config import field
from rv.evaluation.evaluator_config import EvaluatorConfigBuilder


@attrs.frozen
class HelloEvaluatorConfig(EvaluatorConfig):
    """Writes an ``eval.json`` that greets every evaluated scene."""

    greeting: str = field(default="Hello", doc="the word each scene is greeted with")

    def validate(self) -> None:
        if not self.greeting.strip():
            raise ConfigError("HELLO_EVALUATOR's greeting is empty: call .with_greeting('Hello').")

    def create(self, task_config: Any):
        """The runtime :class:`rv_hello.hello_evaluator.HelloEvaluator`."""
        from rv_hello.hello_evaluator import HelloEvaluator

        return HelloEvaluator(self.greeting, self.output_uri, task_config)


class HelloEvaluatorConfigBuilder(EvaluatorConfigBuilder):
    """Builder of :class:`HelloEvaluatorConfig`."""

    config_class = HelloEvaluatorConfig

    def with_greeting(self, greeting: str) -> HelloEvaluatorConfigBuilder:
        """The word each scene is greeted with."""
        return self._with(greeting=str(greeting))
