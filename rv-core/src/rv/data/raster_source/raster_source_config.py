"""RasterSourceConfig: the family of raster source configs."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from rv.config import Config, ConfigBuilder, field
from rv.data.raster_transformer.raster_transformer_config import RasterTransformerConfig
from rv.errors import ConfigError


@attrs.frozen
class RasterSourceConfig(Config):
    """Base of raster source configs (registered with ``register_raster_sources``)."""

    group: ClassVar[str] = "raster_sources"

    channel_order: tuple[int, ...] | None = field(
        default=None, doc="band indices (0-based) to read, in order; default all bands"
    )
    transformers: tuple[RasterTransformerConfig, ...] = field(
        factory=tuple, doc="raster transformers applied to every chip (e.g. the stats transformer)"
    )

    def create(self, tmp_dir: str, **context: Any):
        """The runtime :class:`rv.data.raster_source.RasterSource`."""
        raise NotImplementedError

    def input_uris(self) -> list[str]:
        """Files this source reads (for the command graph's input check)."""
        return []

    def validate(self) -> None:
        if self.channel_order is not None and any(int(i) < 0 for i in self.channel_order):
            raise ConfigError(
                f"channel_order {list(self.channel_order)} has a negative band index; bands count from 0."
            )

    def _create_transformers(self):
        return [t.create() for t in self.transformers]


class RasterSourceConfigBuilder(ConfigBuilder):
    """Builder of any raster source config."""

    def with_channel_order(self, channel_order) -> RasterSourceConfigBuilder:
        """Band indices (0-based) to read, in order."""
        return self._with(channel_order=None if channel_order is None else tuple(int(i) for i in channel_order))

    def with_transformer(self, transformer) -> RasterSourceConfigBuilder:
        """Add a raster transformer (a config or a builder)."""
        if isinstance(transformer, ConfigBuilder):
            transformer = transformer.build()
        return self._with(transformers=(*self.values.get("transformers", ()), transformer))

    def with_transformers(self, transformers) -> RasterSourceConfigBuilder:
        """Replace the raster transformers."""
        built = tuple(t.build() if isinstance(t, ConfigBuilder) else t for t in transformers)
        return self._with(transformers=built)

    def with_stats_transformer(self, **options: Any) -> RasterSourceConfigBuilder:
        """Add the stats transformer; the experiment's ANALYZE writes the statistics it reads."""
        from rv.data.raster_transformer.stats_transformer_config import StatsTransformerConfig

        return self.with_transformer(StatsTransformerConfig(**options))
