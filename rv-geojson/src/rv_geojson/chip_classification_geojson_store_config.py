"""CHIP_CLASSIFICATION_GEOJSON label store: predicted cells as GeoJSON rectangles.

Light module: imported at plugin discovery.
"""

from __future__ import annotations

import attrs

from rv_geojson.geojson_store_config import GeoJSONStoreConfig, GeoJSONStoreConfigBuilder


@attrs.frozen
class ChipClassificationGeoJSONStoreConfig(GeoJSONStoreConfig):
    """One rectangle feature per cell with ``class_id``, ``class_name`` and ``scores``; WGS84 by default."""

    store_class = "rv_geojson.chip_classification_geojson_store:ChipClassificationGeoJSONStore"


class ChipClassificationGeoJSONStoreConfigBuilder(GeoJSONStoreConfigBuilder):
    """Builder of :class:`ChipClassificationGeoJSONStoreConfig`."""

    config_class = ChipClassificationGeoJSONStoreConfig
