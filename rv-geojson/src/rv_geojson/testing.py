"""Helpers for tests of rv-geojson and of plugins built on it."""

from __future__ import annotations

from pathlib import Path


def scene_grid(tif: str | Path):
    """``(crs_transformer, extent)`` of a GeoTIFF, as a raster source would give them."""
    import rasterio

    from rv.core.box import Box
    from rv.core.crs_transformer import CRSTransformer

    with rasterio.open(tif) as ds:
        return CRSTransformer.from_dataset(ds), Box(0, 0, ds.height, ds.width)
