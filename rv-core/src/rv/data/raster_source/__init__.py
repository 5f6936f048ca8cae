"""Raster sources: windowed reads of a scene's imagery.

The names below load on first access (:mod:`rv._lazy`).
"""

from __future__ import annotations

from rv._lazy import lazy_exports

_EXPORTS = {
    "RasterSource": "rv.data.raster_source.raster_source",
    "GeoTIFFSource": "rv.data.raster_source.geotiff_source",
    "ImageSource": "rv.data.raster_source.image_source",
    "gdal_path": "rv.file_systems",
    "can_stream": "rv.file_systems",
    "mosaic_vrt_xml": "rv.data.raster_source.vrt",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
