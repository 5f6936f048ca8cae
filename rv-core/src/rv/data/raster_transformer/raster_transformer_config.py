"""RasterTransformerConfig: the family of raster transformer configs."""

from __future__ import annotations

from typing import ClassVar

import attrs

from rv.config import Config, ConfigBuilder


@attrs.frozen
class RasterTransformerConfig(Config):
    """Base of raster transformer configs (registered with ``register_raster_transformers``)."""

    group: ClassVar[str] = "raster_transformers"

    def create(self):
        """The runtime raster transformer."""
        raise NotImplementedError

    def needs_stats(self) -> bool:
        """True when the experiment's ANALYZE must produce statistics for it."""
        return False


class RasterTransformerConfigBuilder(ConfigBuilder):
    """Builder of any raster transformer config."""
