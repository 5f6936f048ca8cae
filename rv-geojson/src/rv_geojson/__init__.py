"""rv-geojson: GeoJSON vector I/O for rv.

Label sources and stores for chip classification and object detection, the
rasterizing GeoJSON raster source for segmentation, and AOIs. Every GeoJSON
file may be in any CRS (RFC 7946 WGS84 by default, a legacy ``crs`` member
honoured); geometries are reprojected to the raster's CRS, then to pixels.

The entity classes are imported on first use (PEP 562) so that importing
this package — as plugin discovery does — loads neither rasterio nor shapely.
"""

from __future__ import annotations

from rv._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "ChipClassificationGeoJSONSource": "rv_geojson.chip_classification_geojson_source",
    "ChipClassificationGeoJSONStore": "rv_geojson.chip_classification_geojson_store",
    "ClassResolver": "rv_geojson.geojson_reader",
    "GeoJSONRasterSource": "rv_geojson.geojson_raster_source",
    "GeoJSONWarning": "rv_geojson.geojson_reader",
    "ObjectDetectionGeoJSONSource": "rv_geojson.object_detection_geojson_source",
    "ObjectDetectionGeoJSONStore": "rv_geojson.object_detection_geojson_store",
    "PixelFeatures": "rv_geojson.geojson_reader",
    "VectorIndex": "rv_geojson.vector_index",
    "read_aoi": "rv_geojson.aoi",
    "read_pixel_features": "rv_geojson.geojson_reader",
    "write_geojson": "rv.core.geojson",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
