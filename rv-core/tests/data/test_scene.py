"""Scene: AOI masks rasterized in pixel space."""

from __future__ import annotations

import json

import numpy as np
import shapely
from shapely.geometry import shape

from rv.core.box import Box
from rv.data import Scene
from rv.data.raster_source import GeoTIFFSource


def test_aoi_mask_in_window_coordinates(data_dir):
    src = GeoTIFFSource(str(data_dir / "buildings" / "kampala_oam_a.tif"))
    aoi = shapely.box(100, 50, 400, 250)  # pixel space: cols 100-400, rows 50-250
    scene = Scene("kampala_a", src, aoi_polygons=[aoi])
    mask = scene.aoi_mask(Box(0, 0, 300, 300))
    assert mask.shape == (300, 300) and mask.sum() == 200 * 200
    assert mask[50:250, 100:300].all() and not mask[:50].any() and not mask[:, :100].any()
    # An offset window sees the AOI shifted.
    mask = scene.aoi_mask(Box(200, 300, 300, 500))
    assert mask[:50, :100].all() and not mask[50:].any() and not mask[:, 100:].any()
    assert scene.window_in_aoi(Box(60, 110, 100, 150)) and not scene.window_in_aoi(Box(0, 0, 100, 100))
    assert scene.window_in_aoi(Box(0, 0, 100, 150), mode="intersects")
    # No AOI: everything is in.
    assert Scene("all", src).aoi_mask(Box(0, 0, 4, 4)).all()


def test_aoi_from_real_polygons_matches_shapely_areas(data_dir):
    """Building polygons as an AOI: rasterized pixel count ~ their area in pixels."""
    src = GeoTIFFSource(str(data_dir / "buildings" / "kampala_oam_a.tif"))
    features = json.loads((data_dir / "buildings" / "kampala_buildings.geojson").read_text())["features"]
    wgs84 = np.array([shape(f["geometry"]) for f in features], dtype=object)
    pixel = src.crs_transformer.crs_to_pixel_geoms(wgs84, "EPSG:4326")
    scene = Scene("kampala_a", src, aoi_polygons=list(pixel))
    mask = scene.aoi_mask(src.extent)
    # Some hand-drawn footprints self-intersect: the scene repairs them, so does the check.
    expected = shapely.intersection(shapely.union_all(shapely.make_valid(pixel)), src.extent.to_shapely()).area
    assert abs(mask.sum() - expected) / expected < 0.02
