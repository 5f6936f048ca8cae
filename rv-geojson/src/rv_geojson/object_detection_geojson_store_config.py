"""OBJECT_DETECTION_GEOJSON label store: predicted boxes as GeoJSON rectangles.

Light module: imported at plugin discovery.
"""

from __future__ import annotations

import attrs

from rv_geojson.geojson_store_config import GeoJSONStoreConfig, GeoJSONStoreConfigBuilder


@attrs.frozen
class ObjectDetectionGeoJSONStoreConfig(GeoJSONStoreConfig):
    """One rectangle feature per box with ``class_id``, ``class_name`` and ``score``; WGS84 by default."""

    store_class = "rv_geojson.object_detection_geojson_store:ObjectDetectionGeoJSONStore"


class ObjectDetectionGeoJSONStoreConfigBuilder(GeoJSONStoreConfigBuilder):
    """Builder of :class:`ObjectDetectionGeoJSONStoreConfig`."""

    config_class = ObjectDetectionGeoJSONStoreConfig
