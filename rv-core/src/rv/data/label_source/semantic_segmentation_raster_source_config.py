"""SEMANTIC_SEGMENTATION_RASTER label source: per-pixel classes from a raster."""

from __future__ import annotations

from typing import Any, cast

import attrs

from rv.config import ConfigBuilder, field
from rv.data.label_source.label_source_config import LabelSourceConfig, LabelSourceConfigBuilder
from rv.data.raster_source.raster_source_config import RasterSourceConfig, RasterSourceConfigBuilder
from rv.errors import ConfigError
from rv.task.task_config import ClassConfig, classes_from_spec


@attrs.frozen
class SemanticSegmentationRasterSourceConfig(LabelSourceConfig):
    """Labels from a class-id raster, an RGB raster (with ``rgb_class_map``), or a rasterizing GEOJSON_SOURCE."""

    raster_source: RasterSourceConfig | None = field(default=None, doc="the label raster (or GEOJSON_SOURCE)")
    rgb_class_map: bool = field(default=False, doc="the raster is RGB; pixels map to classes by the class colors")
    rgb_classes: tuple[ClassConfig, ...] | None = field(
        default=None,
        doc="the class of each color of an RGB label raster (with_rgb_class_map(map)); default: the task's class colors",
    )

    def validate(self) -> None:
        if self.raster_source is None:
            raise ConfigError("SEMANTIC_SEGMENTATION_RASTER needs a raster: call .with_raster_source('labels.tif').")

    def input_uris(self) -> list[str]:
        return self.raster_source.input_uris()

    def create(self, task_config: Any, crs_transformer: Any, extent: Any, tmp_dir: str):
        from rv.data.label_source.semantic_segmentation_raster_source import SemanticSegmentationRasterSource

        source = self.raster_source.create(
            tmp_dir,
            crs_transformer=crs_transformer,
            extent=extent,
            class_map=task_config.class_map,
            background_class_id=task_config.background_class_id,
        )
        return SemanticSegmentationRasterSource(
            source, self.label_class_map(task_config), rgb_class_map=self.rgb_class_map
        )

    def label_class_map(self, task_config: Any):
        """The classes the label raster's values map to: the task's, with the colors of ``rgb_classes`` when given.

        A color of the RGB map maps to its class id, which must be one of the
        task's (a color the map does not list becomes 255, ignored).
        """
        task_map = task_config.class_map
        if self.rgb_classes is None:
            return task_map
        from rv.core.class_map import ClassItem, ClassMap

        unknown = sorted({c.id for c in self.rgb_classes} - set(task_map.ids))
        if unknown:
            raise ConfigError(
                f"The RGB class map given to with_rgb_class_map(...) has class id(s) {unknown} that the task lacks "
                f"(task ids: {task_map.ids}); map each label color to one of the task's class ids."
            )
        bg = task_map.background_class_id
        items = [ClassItem(c.id, c.name, c.color) for c in self.rgb_classes]
        return ClassMap(items, bg if bg in {c.id for c in self.rgb_classes} else None)


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
                source = cast(RasterSourceConfigBuilder, source).with_channel_order(channel_order)
            source = source.build()
        return self._with(raster_source=source)

    def with_rgb_class_map(self, rgb_class_map: Any = True):
        """The label raster is RGB: each pixel's color gives its class.

        Given a class map (any form ``with_classes`` takes, with colors, e.g.
        ``{"building": (1, "#ff0000"), "background": (2, "#000000")}``), the
        colors are read by that map; given ``True``, by the task's class
        colors; ``False`` or ``None``: the raster holds class ids.
        """
        if rgb_class_map is None or isinstance(rgb_class_map, bool):
            return self._with(rgb_class_map=bool(rgb_class_map), rgb_classes=None)
        return self._with(rgb_class_map=True, rgb_classes=classes_from_spec(rgb_class_map))
