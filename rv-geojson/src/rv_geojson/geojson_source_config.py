"""GEOJSON_SOURCE: segmentation labels rasterized from GeoJSON, window by window.

A label raster, not imagery: it is drawn on the grid of the scene's image,
so it lives inside ``SEMANTIC_SEGMENTATION_RASTER``, which hands it the
image's CRS transformer and extent::

    rv.SceneConfig.builder().with_task(task).with_label_source("buildings.geojson")

or, with options::

    labels = (rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE)
              .with_uri("roads.geojson")
              .with_rasterizer_options(background_class_id=0, line_buffer=4))
    rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(labels)

Light module: imported at plugin discovery.
"""

from __future__ import annotations

import os
from typing import Any

import attrs

from rv.config import field
from rv.data.raster_source.raster_source_config import RasterSourceConfig, RasterSourceConfigBuilder
from rv.errors import ConfigError
from rv_geojson.class_options_config import ClassOptionsBuilderMixin, GeoJSONClassOptions


@attrs.frozen
class GeoJSONSourceConfig(RasterSourceConfig):
    """Class ids rasterized from GeoJSON polygons (and buffered lines and points) on the image's grid."""

    uri: str | None = field(
        default=None, doc="the GeoJSON file (any CRS; RFC 7946 WGS84 unless a crs member says otherwise)"
    )
    background_class_id: int | None = field(
        default=None, doc="class of pixels no feature covers (default: the task's background class; none: 255 = ignore)"
    )
    line_buffer: float | None = field(
        default=15.0, doc="pixels lines are buffered by on each side (None: lines dropped)"
    )
    point_radius: float | None = field(
        default=15.0, doc="radius in pixels of the disc drawn for a point (None: points dropped)"
    )
    all_touched: bool = field(
        default=False, doc="burn every pixel a polygon touches, not only those whose centre is inside"
    )
    class_options: GeoJSONClassOptions = field(factory=GeoJSONClassOptions, doc="how each feature's class is found")

    def validate(self) -> None:
        super().validate()
        if not self.uri:
            raise ConfigError("GEOJSON_SOURCE needs a GeoJSON file: call .with_uri('labels.geojson').")
        if self.channel_order not in (None, (0,)):
            raise ConfigError(
                f"GEOJSON_SOURCE has one band (class ids), but channel_order is {list(self.channel_order)}; "
                "leave the channel order unset."
            )
        if self.transformers:
            raise ConfigError(
                "GEOJSON_SOURCE yields class ids, which raster transformers must not change; remove its "
                "transformers (put the stats transformer on the scene's image instead)."
            )
        for name in ("line_buffer", "point_radius"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"GEOJSON_SOURCE {name} is {value}; give a distance in pixels >= 0, or None.")
        self.class_options.validate()

    def input_uris(self) -> list[str]:
        return [self.uri] if self.uri else []

    def create(
        self,
        tmp_dir: str,
        crs_transformer: Any = None,
        extent: Any = None,
        class_map: Any = None,
        background_class_id: int | None = None,
        **context: Any,
    ):
        """The :class:`rv_geojson.geojson_raster_source.GeoJSONRasterSource` on the image's grid.

        ``crs_transformer`` and ``extent`` are the scene image's;
        ``background_class_id`` (the task's) applies when the config sets none.
        """
        if crs_transformer is None or extent is None or class_map is None:
            raise ConfigError(
                f"GEOJSON_SOURCE ({self.uri}) rasterizes labels onto a scene image's grid, so it cannot be a "
                "scene's imagery: use it as the label raster of SEMANTIC_SEGMENTATION_RASTER "
                "(e.g. rv.SceneConfig.builder().with_task(task).with_label_source('labels.geojson'))."
            )
        from rv_geojson.geojson_raster_source import GeoJSONRasterSource

        background = self.background_class_id if self.background_class_id is not None else background_class_id
        return GeoJSONRasterSource(
            self.uri,
            class_map,
            crs_transformer,
            extent,
            background_class_id=background,
            line_buffer=self.line_buffer,
            point_radius=self.point_radius,
            all_touched=self.all_touched,
            class_options=self.class_options,
        )


def vector_source_uri(source: Any, key: str) -> str:
    """The GeoJSON URI given to ``with_vector_source`` (later Raster Vision's name of ``with_uri``).

    Later Raster Vision releases also took a vector source config there; rv's
    GeoJSON sources read a file, so the URI is what they take.
    """
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    raise ConfigError(
        f"{key}.with_vector_source() takes the URI of a GeoJSON file (e.g. 'labels.geojson'), "
        f"got {type(source).__name__}: {source!r:.80}."
    )


class GeoJSONSourceConfigBuilder(ClassOptionsBuilderMixin, RasterSourceConfigBuilder):
    """Builder of :class:`GeoJSONSourceConfig` (also reached as ``rv.RASTERIZED_SOURCE``)."""

    config_class = GeoJSONSourceConfig

    def with_uri(self, uri: str) -> GeoJSONSourceConfigBuilder:
        """The GeoJSON file of the labels."""
        return self._with(uri=str(uri))

    def with_vector_source(self, uri: str) -> GeoJSONSourceConfigBuilder:
        """The GeoJSON file of the labels: the name later Raster Vision releases gave ``with_uri``."""
        return self.with_uri(vector_source_uri(uri, "GEOJSON_SOURCE"))

    def with_rasterizer_options(
        self,
        background_class_id: int | None = None,
        line_buffer: float | None = 15,
        point_radius: float | None = 15,
        all_touched: bool = False,
    ) -> GeoJSONSourceConfigBuilder:
        """How features are drawn.

        Args:
            background_class_id: class of pixels no feature covers (None: the task's background class).
            line_buffer: pixels lines are buffered by on each side (None drops lines).
            point_radius: radius in pixels of the disc drawn for each point (None drops points).
            all_touched: burn every pixel a polygon touches instead of those whose centre is inside.
        """
        return self._with(
            background_class_id=background_class_id,
            line_buffer=line_buffer,
            point_radius=point_radius,
            all_touched=bool(all_touched),
        )
