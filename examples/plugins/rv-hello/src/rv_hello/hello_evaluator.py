"""The hello evaluator entity: what EVAL runs for ``HELLO_EVALUATOR``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rv import ConfigError, file_utils


def greet(greeting: str, name: str) -> str:
    """``"Hello, world!"``."""
    return f"{greeting}, {name}!"


class HelloEvaluator:
    """Greets each scene and writes the greetings to ``eval.json``.

    It follows the evaluator protocol of rv's EVAL command:
    ``process(scenes, tmp_dir)`` gets scenes with an ``id`` and writes
    ``output_uri`` (atomically, through :mod:`rv.file_utils`).
    """

    def __init__(self, greeting: str, output_uri: str | None, task_config: Any = None):
        if not output_uri:
            raise ConfigError(
                "HELLO_EVALUATOR has no output_uri: add it to an experiment (which sets "
                "<eval_uri>/eval.json) or call .with_output_uri('eval.json')."
            )
        self.greeting = greeting
        self.output_uri = output_uri
        self.task_config = task_config

    def process(self, scenes: Iterable[Any], tmp_dir: str | None = None) -> HelloReport:
        """Greet every scene, write ``eval.json`` and return the report."""
        greetings = {str(scene.id): greet(self.greeting, str(scene.id)) for scene in scenes}
        report = HelloReport(self.greeting, greetings)
        file_utils.write_text(self.output_uri, json.dumps(report.to_dict(), indent=2) + "\n")
        return report


class HelloReport:
    """What :meth:`HelloEvaluator.process` returns (``to_dict()`` is what ``eval.json`` holds)."""

    def __init__(self, greeting: str, greetings: dict[str, str]):
        self.greeting = greeting
        self.greetings = greetings

    def to_dict(self) -> dict[str, Any]:
        """``{"evaluator", "greeting", "scenes": {id: greeting}, "overall": {"scenes": n}}``."""
        return {
            "evaluator": "HELLO_EVALUATOR",
            "greeting": self.greeting,
            "scenes": dict(self.greetings),
            "overall": {"scenes": float(len(self.greetings))},
        }
