"""STATS_TRANSFORMER: map any dtype to uint8 with the ANALYZE statistics."""

from __future__ import annotations

import attrs

from rv.config import field
from rv.data.raster_transformer.raster_transformer_config import (
    RasterTransformerConfig,
    RasterTransformerConfigBuilder,
)


@attrs.frozen
class StatsTransformerConfig(RasterTransformerConfig):
    """Clip each channel to mean ± ``max_stds``·std and scale to uint8."""

    stats_uri: str | None = field(default=None, doc="stats.json (default: the experiment's ANALYZE output)")
    max_stds: float = field(default=3.0, doc="clip at this many standard deviations from the mean")

    def needs_stats(self) -> bool:
        return True

    def create(self):
        from rv.analyzer.stats_analyzer import RasterStats
        from rv.data.raster_transformer.stats_transformer import StatsTransformer
        from rv.errors import ConfigError

        if self.stats_uri is None:
            raise ConfigError(
                "The stats transformer has no stats_uri: add a STATS_ANALYZER to the experiment "
                "(rv sets the URI) or call .with_stats_uri(...)."
            )
        return StatsTransformer(RasterStats.load(self.stats_uri), max_stds=self.max_stds)


class StatsTransformerConfigBuilder(RasterTransformerConfigBuilder):
    """Builder of :class:`StatsTransformerConfig`."""

    config_class = StatsTransformerConfig

    def with_stats_uri(self, uri: str) -> StatsTransformerConfigBuilder:
        """The stats.json to read (normally set by the experiment)."""
        return self._with(stats_uri=uri)

    def with_max_stds(self, max_stds: float) -> StatsTransformerConfigBuilder:
        """Clip at this many standard deviations from the mean."""
        return self._with(max_stds=float(max_stds))
