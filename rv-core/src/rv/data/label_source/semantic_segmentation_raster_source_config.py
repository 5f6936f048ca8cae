"""SEMANTIC_SEGMENTATION_RASTER label source: per-pixel classes from a raster."""

from __future__ import annotations

from typing import Any

import attrs

from rv.config import ConfigBuilder, field
from rv.data.label_source.label_source_config import LabelSourceConfig, LabelSourceConfigBuilder
from rv.data.raster_source.raster_source_config import RasterSourceConfig
from rv.errors import ConfigError


@attrs.frozen
class SemanticSegmentationRasterSourceConfig(LabelSourceConfig):
    """Labels from a class-id raster, an RGB raster (with ``rgb_class_map``), or a rasterizing GEOJSON_SOURCE."""

    raster_source: RasterSourceConfig | None = field(default=None, doc="the label raster (or GEOJSON_SOURCE)")
    rgb_class_map: bool = field(default=False, doc="the raster is RGB; pixels map to classes by the class colors")

    def validate(self) -> None:
        if self.raster_source is None:
            raise ConfigError("SEMANTIC_SEGMENTATION_RASTER needs a raster: call .with_raster_source('labels.tif').")

    def input_uris(self) -> list[str]:
        return self.raster_source.input_uris()

    def create(self, task_config: Any, crs_transformer: Any, extent: Any, tmp_dir: str):
        from rv.data.label_source.semantic_segmentation_raster_source import SemanticSegmentationRasterSource

        source = self.raster_source.create(
            tmp_dir, crs_transformer=crs_transformer, extent=extent, class_map=task_config.class_map,
            background_class_id=task_config.background_class_id,
        )
        return SemanticSegmentationRasterSource(source, task_config.class_map, rgb_class_map=self.rgb_class_map)


class SemanticSegmentationRasterSourceConfigBuilder(LabelSourceConfigBuilder):
    """Builder of :class:`SemanticSegmentationRasterSourceConfig`."""

    config_class = SemanticSegmentationRasterSourceConfig

    def with_raster_source(self, source, channel_order=None):
        """A raster source config/builder, or a URI (``.tif`` class raster, ``.geojson`` polygons)."""
        if isinstance(source, str):
            uri = source
            if uri.lower().endswith((".geojson", ".json")):
                from rv.plugins import get_plugin_manager

                reg = get_plugin_manager().rv_registry
                source = reg.get_builder("raster_sources", "GEOJSON_SOURCE")().with_uri(uri)
            else:
                from rv.data.raster_source.geotiff_source_config import GeoTIFFSourceConfigBuilder

                source = GeoTIFFSourceConfigBuilder().with_uri(uri)
        if isinstance(source, ConfigBuilder):
            if channel_order is not None:
                source = source.with_channel_order(channel_order)
            source = source.build()
        return self._with(raster_source=source)

    def with_rgb_class_map(self, rgb: bool = True):
        """The label raster is RGB: map colors to classes by the task's class colors."""
        return self._with(rgb_class_map=bool(rgb))
