"""AnalyzerConfig: the family of analyzer configs (run by ANALYZE)."""

from __future__ import annotations

from typing import ClassVar

import attrs

from rv.config import Config, ConfigBuilder


@attrs.frozen
class AnalyzerConfig(Config):
    """Base of analyzer configs (registered with ``register_analyzers``)."""

    group: ClassVar[str] = "analyzers"

    def create(self):
        raise NotImplementedError

    def output_names(self) -> list[str]:
        """Files the analyzer writes in ANALYZE's output directory."""
        return []


class AnalyzerConfigBuilder(ConfigBuilder):
    """Builder of any analyzer config."""
