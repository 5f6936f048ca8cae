"""AOIs: GeoJSON polygons in any CRS onto a scene's pixels, and AOIs that miss the scene."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from rv.errors import DataError
from rv_geojson.aoi import read_aoi
from rv_geojson.testing import scene_grid


def _write(path, geoms, crs=None):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)), "properties": {}} for g in geoms
    ]}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def kampala_a(data_dir):
    return scene_grid(data_dir / "buildings" / "kampala_oam_a.tif")


def test_aoi_in_wgs84_and_in_the_raster_crs(tmp_path, kampala_a):
    ct, extent = kampala_a
    left_half = shapely.box(0, 0, 768, 1024)  # pixel x (col) 0..768, y (row) 0..1024
    crossing = shapely.box(1400, 900, 1700, 1100)  # sticks out past the bottom-right corner
    wgs84 = _write(tmp_path / "aoi.geojson", ct.pixel_to_crs_geoms(np.array([left_half]), "EPSG:4326"))
    metres = _write(tmp_path / "aoi_3857.geojson", ct.pixel_to_map_geoms(np.array([crossing])),
                    crs="urn:ogc:def:crs:EPSG::3857")
    polygons = read_aoi([str(wgs84), str(metres)], ct, extent)
    assert len(polygons) == 2
    assert polygons[0].area == pytest.approx(768 * 1024, rel=1e-6)
    assert shapely.equals_exact(shapely.normalize(polygons[0]), shapely.normalize(left_half), tolerance=1e-4)
    # Clipped to the scene: (1536 - 1400) x (1024 - 900).
    assert polygons[1].area == pytest.approx(136 * 124, rel=1e-6)
    assert read_aoi(str(wgs84), ct, extent)[0].area == pytest.approx(polygons[0].area)


def test_aoi_outside_the_scene(tmp_path, data_dir, kampala_a):
    ct, extent = kampala_a
    # Scene B's footprint, used by mistake as scene A's AOI.
    ct_b, extent_b = scene_grid(data_dir / "buildings" / "kampala_oam_b.tif")
    footprint_b = ct_b.pixel_to_crs_geoms(np.array([extent_b.to_shapely()]), "EPSG:4326")
    path = _write(tmp_path / "scene_b_aoi.geojson", footprint_b)
    with pytest.raises(DataError, match=r"The AOI in .*scene_b_aoi\.geojson lies outside the scene") as e:
        read_aoi(path, ct, extent)
    msg = str(e.value)
    assert type(e.value).__name__ == "DataError"
    assert "1024x1536 px" in msg and "lon 32.59" in msg and "lat 0.35" in msg
    assert "Give this scene the AOI drawn for it" in msg


def test_aoi_must_be_polygons(tmp_path, kampala_a):
    ct, extent = kampala_a
    path = _write(tmp_path / "pt.geojson", ct.pixel_to_crs_geoms(np.array([shapely.Point(10, 10)]), "EPSG:4326"))
    with pytest.raises(DataError, match=r"AOI file .*pt\.geojson has non-polygon geometries \(feature\(s\) 0: Point\)"):
        read_aoi(path, ct, extent)


def test_aoi_along_pixel_edges_is_exact(tmp_path, data_dir):
    """An AOI drawn on pixel edges survives the WGS84 round trip exactly, so boxes on its edge are within it."""
    from rv.labels import ObjectDetectionLabels

    ct, extent = scene_grid(data_dir / "trees" / "neon_osbs_029.tif")
    right_half = shapely.box(200, 0, 400, 400)
    path = _write(tmp_path / "right.geojson", ct.pixel_to_crs_geoms(np.array([right_half]), "EPSG:4326"))
    (polygon,) = read_aoi(path, ct, extent)
    assert sorted(set(polygon.exterior.coords)) == [(200.0, 0.0), (200.0, 400.0), (400.0, 0.0), (400.0, 400.0)]
    # A tree crown touching the scene's right edge (pixel box of neon_osbs_029_trees.csv).
    edge_box = ObjectDetectionLabels([[2, 365, 27, 400]], [0])
    assert len(edge_box.filter_by_aoi([polygon], mode="within")) == 1
