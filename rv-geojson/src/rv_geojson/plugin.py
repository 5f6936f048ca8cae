"""rv-geojson's plugin (entry point ``rv_geojson = rv_geojson.plugin`` in group ``rv.plugins``).

Registers ``GEOJSON_SOURCE`` (raster source), ``CHIP_CLASSIFICATION_GEOJSON``
and ``OBJECT_DETECTION_GEOJSON`` (label sources and stores), and provides
the defaults for GeoJSON files:

- ``with_label_source("x.geojson")``: for segmentation a
  ``SEMANTIC_SEGMENTATION_RASTER`` source rasterizing the file with
  ``GEOJSON_SOURCE``; for chip classification and detection their GeoJSON
  sources;
- the default label stores of chip classification and detection (GeoJSON);
- AOIs given as GeoJSON files (``with_aoi_uri("aoi.geojson")``).

Only ``rv`` and this package's light config modules are imported at
discovery; shapely, pyproj and rasterio load when a file is read.
"""

from __future__ import annotations

from rv import keys
from rv.hookspecs import hookimpl

#: URI endings read as GeoJSON
GEOJSON_EXTENSIONS = (".geojson", ".json")


def is_geojson_uri(uri: str) -> bool:
    """Whether ``uri`` names a GeoJSON file (by its extension; a query string is ignored)."""
    return str(uri).split("?", 1)[0].lower().endswith(GEOJSON_EXTENSIONS)


@hookimpl
def register_raster_sources(register):
    from rv_geojson.geojson_source_config import GeoJSONSourceConfigBuilder

    register(keys.GEOJSON_SOURCE, GeoJSONSourceConfigBuilder)


@hookimpl
def register_label_sources(register):
    from rv_geojson.chip_classification_geojson_source_config import ChipClassificationGeoJSONSourceConfigBuilder
    from rv_geojson.object_detection_geojson_source_config import ObjectDetectionGeoJSONSourceConfigBuilder

    register(keys.CHIP_CLASSIFICATION_GEOJSON, ChipClassificationGeoJSONSourceConfigBuilder)
    register(keys.OBJECT_DETECTION_GEOJSON, ObjectDetectionGeoJSONSourceConfigBuilder)


@hookimpl
def register_label_stores(register):
    from rv_geojson.chip_classification_geojson_store_config import ChipClassificationGeoJSONStoreConfigBuilder
    from rv_geojson.object_detection_geojson_store_config import ObjectDetectionGeoJSONStoreConfigBuilder

    register(keys.CHIP_CLASSIFICATION_GEOJSON, ChipClassificationGeoJSONStoreConfigBuilder)
    register(keys.OBJECT_DETECTION_GEOJSON, ObjectDetectionGeoJSONStoreConfigBuilder)


@hookimpl
def default_label_source(task_type, uri):
    """GeoJSON label files: rasterized for segmentation, their own sources for the other tasks."""
    if not is_geojson_uri(uri):
        return None
    if task_type == keys.SEMANTIC_SEGMENTATION:
        from rv.registry import get_registry
        from rv_geojson.geojson_source_config import GeoJSONSourceConfigBuilder

        # rv-core's raster label source, found by its key like any plugin's.
        raster_label_source = get_registry().get_builder("label_sources", keys.SEMANTIC_SEGMENTATION_RASTER)()
        return raster_label_source.with_raster_source(GeoJSONSourceConfigBuilder().with_uri(uri))
    if task_type == keys.CHIP_CLASSIFICATION:
        from rv_geojson.chip_classification_geojson_source_config import ChipClassificationGeoJSONSourceConfigBuilder

        return ChipClassificationGeoJSONSourceConfigBuilder().with_uri(uri)
    if task_type == keys.OBJECT_DETECTION:
        from rv_geojson.object_detection_geojson_source_config import ObjectDetectionGeoJSONSourceConfigBuilder

        return ObjectDetectionGeoJSONSourceConfigBuilder().with_uri(uri)
    return None


@hookimpl
def default_label_store(task_type):
    """Chip classification and detection predictions go to GeoJSON."""
    if task_type == keys.CHIP_CLASSIFICATION:
        from rv_geojson.chip_classification_geojson_store_config import ChipClassificationGeoJSONStoreConfigBuilder

        return ChipClassificationGeoJSONStoreConfigBuilder()
    if task_type == keys.OBJECT_DETECTION:
        from rv_geojson.object_detection_geojson_store_config import ObjectDetectionGeoJSONStoreConfigBuilder

        return ObjectDetectionGeoJSONStoreConfigBuilder()
    return None


@hookimpl
def read_aoi(uris, crs_transformer, extent):
    """Pixel-space AOI polygons when every AOI file is GeoJSON (else another plugin's turn)."""
    uris = [uris] if isinstance(uris, str) else list(uris)
    if not uris or not all(is_geojson_uri(u) for u in uris):
        return None
    from rv_geojson.aoi import read_aoi as read_geojson_aoi

    return read_geojson_aoi(uris, crs_transformer, extent)
