"""The package imports light (plugin discovery imports it) and exports its entities lazily."""

from __future__ import annotations

import subprocess
import sys


def test_import_loads_no_heavy_library():
    code = (
        "import sys, rv_geojson\n"
        "heavy = [m for m in ('rasterio', 'shapely', 'pyproj', 'torch', 'matplotlib', 'boto3') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_entities_are_exported():
    import rv_geojson
    from rv_geojson.geojson_raster_source import GeoJSONRasterSource

    assert rv_geojson.GeoJSONRasterSource is GeoJSONRasterSource
    for name in rv_geojson.__all__:
        assert getattr(rv_geojson, name) is not None
