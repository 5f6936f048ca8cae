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

    def can_merge_parts(self) -> bool:
        """Whether ANALYZE split over parts (``rv run --splits``) can merge this analyzer's partial results
        (the analyzer then has ``process_part`` and ``merge_parts``, see the stats analyzer)."""
        return False


class AnalyzerConfigBuilder(ConfigBuilder):
    """Builder of any analyzer config."""
