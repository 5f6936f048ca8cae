"""CRSTransformer: pixel <-> map against rasterio's own transform, geometry transforms, WGS84."""

from __future__ import annotations

import json

import numpy as np
import rasterio
import rasterio.transform
import shapely
from pyproj import Transformer

from rv.core.crs_transformer import CRSTransformer, IdentityCRSTransformer


def test_pixel_map_round_trip_matches_rasterio(data_dir):
    path = data_dir / "buildings" / "kampala_oam_a.tif"
    with rasterio.open(path) as ds:
        t = CRSTransformer.from_dataset(ds)
        assert t.crs.to_epsg() == 3857
        rng = np.random.default_rng(0)
        rows = rng.integers(0, ds.height, 500)
        cols = rng.integers(0, ds.width, 500)
        # rasterio.transform.xy gives pixel centers.
        xs, ys = rasterio.transform.xy(ds.transform, rows, cols, offset="center")
        x, y = t.pixel_to_map(cols + 0.5, rows + 0.5)
        np.testing.assert_allclose(x, xs, rtol=0, atol=1e-6)
        np.testing.assert_allclose(y, ys, rtol=0, atol=1e-6)
        col, row = t.map_to_pixel(x, y)
        np.testing.assert_allclose(col, cols + 0.5, atol=1e-6)
        np.testing.assert_allclose(row, rows + 0.5, atol=1e-6)
        # Flooring gives the pixel index that rasterio's index() gives.
        r_idx, c_idx = rasterio.transform.rowcol(ds.transform, xs, ys)
        np.testing.assert_array_equal(np.floor(row).astype(int), r_idx)
        np.testing.assert_array_equal(np.floor(col).astype(int), c_idx)
        # Scalars stay scalars.
        assert isinstance(t.map_to_pixel(float(xs[0]), float(ys[0]))[0], float)


def test_geometries_round_trip_and_reach_wgs84(data_dir):
    path = data_dir / "buildings" / "sn4_atlanta_pan.tif"
    with rasterio.open(path) as ds:
        t = CRSTransformer.from_dataset(ds)
        bounds = ds.bounds
    # The whole raster's pixel footprint maps to the dataset bounds.
    footprint = t.pixel_to_map_geoms(shapely.box(0, 0, 900, 900))
    np.testing.assert_allclose(footprint.bounds, tuple(bounds), atol=1e-6)
    np.testing.assert_allclose(t.map_to_pixel_geoms(footprint).bounds, (0, 0, 900, 900), atol=1e-6)
    # WGS84 output agrees with pyproj point by point.
    lonlat = t.pixel_to_crs_geoms(shapely.Point(450, 450))
    x, y = t.pixel_to_map(450, 450)
    lon, lat = Transformer.from_crs(t.crs, "EPSG:4326", always_xy=True).transform(x, y)
    assert abs(lonlat.x - lon) < 1e-9 and abs(lonlat.y - lat) < 1e-9
    assert -85 < lonlat.x < -84 and 33 < lonlat.y < 34  # Atlanta
    back = t.crs_to_pixel_geoms(lonlat, "EPSG:4326")
    assert abs(back.x - 450) < 1e-6 and abs(back.y - 450) < 1e-6


def test_labels_in_wgs84_land_on_the_scene(data_dir):
    """Kampala building polygons (WGS84) reprojected to pixels fall on scene A's grid."""
    with rasterio.open(data_dir / "buildings" / "kampala_oam_a.tif") as ds:
        t = CRSTransformer.from_dataset(ds)
    features = json.loads((data_dir / "buildings" / "kampala_buildings.geojson").read_text())["features"]
    geoms = np.array([shapely.geometry.shape(f["geometry"]) for f in features], dtype=object)
    pixel = t.crs_to_pixel_geoms(geoms, "EPSG:4326")
    scene = shapely.box(0, 0, 1536, 1024)
    inside = shapely.within(pixel, scene).sum()
    crossing = (shapely.intersects(pixel, scene) & ~shapely.within(pixel, scene)).sum()
    assert (inside, crossing) == (90, 18)  # as the data README counts


def test_identity_transformer():
    t = IdentityCRSTransformer()
    assert t.crs is None
    assert t.pixel_to_map(3.0, 4.0) == (3.0, 4.0)
    assert t.map_to_pixel_geoms(shapely.box(1, 2, 3, 4)).equals(shapely.box(1, 2, 3, 4))
