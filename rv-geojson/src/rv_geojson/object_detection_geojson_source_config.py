"""OBJECT_DETECTION_GEOJSON label source: boxes from GeoJSON features (any CRS).

Light module: imported at plugin discovery.
"""

from __future__ import annotations

from typing import Any

import attrs

from rv.config import field
from rv.data.label_source.label_source_config import LabelSourceConfig, LabelSourceConfigBuilder
from rv.errors import ConfigError
from rv_geojson.class_options_config import ClassOptionsBuilderMixin, GeoJSONClassOptions
from rv_geojson.geojson_source_config import vector_source_uri


@attrs.frozen
class ObjectDetectionGeoJSONSourceConfig(LabelSourceConfig):
    """Each feature's pixel bounding box (clipped to the scene) with its class."""

    uri: str | None = field(
        default=None, doc="the GeoJSON file (any CRS; RFC 7946 WGS84 unless a crs member says otherwise)"
    )
    point_radius: float | None = field(
        default=None, doc="points become boxes of this half-size in pixels (None: points are dropped)"
    )
    class_options: GeoJSONClassOptions = field(factory=GeoJSONClassOptions, doc="how each feature's class is found")

    def validate(self) -> None:
        if not self.uri:
            raise ConfigError("OBJECT_DETECTION_GEOJSON needs a GeoJSON file: call .with_uri('boxes.geojson').")
        if self.point_radius is not None and self.point_radius <= 0:
            raise ConfigError(f"point_radius is a half-size in pixels (> 0) or None; got {self.point_radius}.")
        self.class_options.validate()

    def input_uris(self) -> list[str]:
        return [self.uri] if self.uri else []

    def create(self, task_config: Any, crs_transformer: Any, extent: Any, tmp_dir: str):
        """The :class:`rv_geojson.object_detection_geojson_source.ObjectDetectionGeoJSONSource` of a scene."""
        from rv_geojson.object_detection_geojson_source import ObjectDetectionGeoJSONSource

        return ObjectDetectionGeoJSONSource(
            self.uri,
            task_config.class_map,
            crs_transformer,
            extent,
            point_radius=self.point_radius,
            class_options=self.class_options,
        )


class ObjectDetectionGeoJSONSourceConfigBuilder(ClassOptionsBuilderMixin, LabelSourceConfigBuilder):
    """Builder of :class:`ObjectDetectionGeoJSONSourceConfig`."""

    config_class = ObjectDetectionGeoJSONSourceConfig

    def with_uri(self, uri: str):
        """The GeoJSON file."""
        return self._with(uri=str(uri))

    def with_vector_source(self, uri: str):
        """The GeoJSON file: the name later Raster Vision releases gave ``with_uri``."""
        return self.with_uri(vector_source_uri(uri, "OBJECT_DETECTION_GEOJSON"))

    def with_point_radius(self, point_radius: float | None):
        """Turn points into boxes of this half-size in pixels (None drops points)."""
        return self._with(point_radius=None if point_radius is None else float(point_radius))
