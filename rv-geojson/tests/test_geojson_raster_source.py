"""The rasterizing GeoJSON raster source against GDAL's own reprojection and rasterization."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.warp import transform_geom

from rv.core.box import Box
from rv.core.class_map import IGNORE_CLASS_ID, ClassMap
from rv_geojson.class_options_config import GeoJSONClassOptions
from rv_geojson.geojson_raster_source import GeoJSONRasterSource
from rv_geojson.geojson_reader import GeoJSONWarning
from rv_geojson.testing import scene_grid

#: Kampala's footprints carry no class property: every feature is a building.
ONE_CLASS = GeoJSONClassOptions(default_class_id=1)


def _mosaic(source: GeoJSONRasterSource, size: int = 256) -> np.ndarray:
    """The whole scene assembled from window reads, as CHIP would see it."""
    extent = source.extent
    out = np.full((int(extent.height), int(extent.width)), 254, dtype=np.uint8)
    for window in extent.get_windows(size, padding="shift"):
        out[window.to_slices()] = source.get_chip(window)[:, :, 0]
    return out


def _reference(geojson_path, tif, values) -> np.ndarray:
    """GDAL's answer: every feature reprojected with transform_geom and burnt onto the raster grid."""
    doc = json.loads(geojson_path.read_text())
    with rasterio.open(tif) as ds:
        shapes = [
            (transform_geom("EPSG:4326", ds.crs, f["geometry"]), value)
            for f, value in zip(doc["features"], values(doc["features"]))
        ]
        return rasterize(shapes, out_shape=ds.shape, transform=ds.transform, fill=0, dtype=np.uint8)


@pytest.mark.parametrize("scene", ["a", "b"])
def test_kampala_rasterized_labels_match_gdal(data_dir, kampala_geojson, building_class_map, scene):
    tif = data_dir / "buildings" / f"kampala_oam_{scene}.tif"
    ct, extent = scene_grid(tif)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoJSONWarning)
        source = GeoJSONRasterSource(kampala_geojson, building_class_map, ct, extent, class_options=ONE_CLASS)
    assert (source.num_channels, source.dtype, source.extent) == (1, np.uint8, extent)
    ours = _mosaic(source)
    ref = _reference(kampala_geojson, tif, lambda feats: [1] * len(feats))
    agreement = (ours == ref).mean()
    assert agreement >= 0.995, agreement
    # Not trivially true: buildings cover a real share of the scene.
    assert 0.05 < (ref == 1).mean() < 0.6
    assert set(np.unique(ours)) == {0, 1}


def test_landcover_polygons_agree_with_the_class_raster(data_dir):
    """Training polygons (WGS84) on the EPSG:27700 label grid agree with the classifier's raster."""
    tif = data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif"
    polygons = data_dir / "landcover" / "s2_aberystwyth_training_polygons.geojson"
    class_map = ClassMap.from_spec({"forest": 1, "grass": 2, "urban": 3, "water": 4})
    ct, extent = scene_grid(tif)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoJSONWarning)
        source = GeoJSONRasterSource(polygons, class_map, ct, extent)
    ours = _mosaic(source, 64)
    with rasterio.open(tif) as ds:
        truth = ds.read(1)
    labelled = ours != IGNORE_CLASS_ID  # no background class: unlabelled pixels are ignored
    assert labelled.sum() > 500
    # The tile holds forest, urban and water polygons; the grass ones lie off it.
    assert set(np.unique(ours[labelled])) == {1, 3, 4}
    agreement = (ours[labelled] == truth[labelled]).mean()
    assert agreement >= 0.99, agreement


def test_windows_outside_the_scene_are_ignore_and_masked(data_dir, kampala_geojson, building_class_map):
    tif = data_dir / "buildings" / "kampala_oam_b.tif"
    ct, extent = scene_grid(tif)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoJSONWarning)
        source = GeoJSONRasterSource(kampala_geojson, building_class_map, ct, extent, class_options=ONE_CLASS)
    window = Box(384, 384, 640, 640)  # bottom-right corner: 128x128 inside, the rest outside
    chip, mask = source.get_chip_with_mask(window)
    assert chip.shape == (256, 256, 1) and mask.shape == (256, 256)
    assert mask[:128, :128].sum() == 0 and mask[128:, :].all() and mask[:, 128:].all()
    assert (chip[mask] == IGNORE_CLASS_ID).all()
    inside = source.get_chip(Box(384, 384, 512, 512))[:, :, 0]
    np.testing.assert_array_equal(chip[:128, :128, 0], inside)
    assert {0, 1} <= set(np.unique(inside))


def test_lines_and_points_are_drawn_with_their_buffers(tmp_path, data_dir):
    ct, extent = scene_grid(data_dir / "buildings" / "kampala_oam_a.tif")
    class_map = ClassMap.from_spec({"background": 0, "road": 1, "tree": 2}, background_class_id=0)
    pixel_line = shapely.LineString([(100, 500), (900, 500)])
    pixel_point = shapely.Point(1200, 300)
    line, point = ct.pixel_to_crs_geoms(np.array([pixel_line, pixel_point]), "EPSG:4326")
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(shapely.to_geojson(line)), "properties": {"class_name": "road"}},
        {"type": "Feature", "geometry": json.loads(shapely.to_geojson(point)), "properties": {"class_name": "tree"}},
    ]}
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps(doc))
    source = GeoJSONRasterSource(path, class_map, ct, extent, line_buffer=4, point_radius=20)
    labels = source.get_chip(extent)[:, :, 0]
    # A flat-capped band would be 800 x 8 px; round caps add a disc of radius 4.
    assert (labels == 1).sum() == pytest.approx(800 * 8 + np.pi * 16, rel=0.02)
    assert (labels == 2).sum() == pytest.approx(np.pi * 400, rel=0.02)
    assert labels[500, 500] == 1 and labels[300, 1200] == 2 and labels[520, 500] == 0


def _one_off_rasterize(source: GeoJSONRasterSource, window: Box) -> np.ndarray:
    """What ``rasterize_window`` returned before it reused its GDAL dataset: a fresh
    ``rasterize(out_shape=...)`` of the same candidate features."""
    height, width = int(window.height), int(window.width)
    idx = np.sort(source.index.tree.query(window.to_shapely()))
    if not len(idx):
        return np.full((height, width), source.fill_value, dtype=np.uint8)
    return rasterize(
        [source._shape(i) for i in idx.tolist()],
        out_shape=(height, width),
        transform=rasterio.Affine.translation(window.xmin, window.ymin),
        fill=source.fill_value,
        all_touched=source.all_touched,
        dtype=np.uint8,
    )


@pytest.mark.parametrize("all_touched", [False, True])
def test_reused_canvas_gives_the_one_off_rasterization(data_dir, kampala_geojson, building_class_map, all_touched):
    """Window after window (CHIP's random windows, edge windows, sizes that change, a window
    larger than the kept canvas), the class ids equal a fresh ``rasterize`` of each window."""
    tif = data_dir / "buildings" / "kampala_oam_a.tif"
    ct, extent = scene_grid(tif)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoJSONWarning)
        source = GeoJSONRasterSource(
            kampala_geojson, building_class_map, ct, extent, class_options=ONE_CLASS, all_touched=all_touched
        )
    rng = np.random.default_rng(0)
    h, w = int(extent.height), int(extent.width)
    windows = [Box(y, x, y + 256, x + 256) for y, x in zip(rng.integers(0, h - 256, 60), rng.integers(0, w - 256, 60))]
    windows += [Box(-40, -40, 216, 216), Box(h - 100, w - 100, h + 156, w + 156), Box(10, 20, 11, 333)]
    windows += [Box(y, x, y + 97, x + 131) for y, x in zip(rng.integers(0, h, 20), rng.integers(0, w, 20))]
    windows.append(Box(0, 0, 2100, 2100))  # over the kept canvas size: a one-off canvas
    windows.append(Box(5, 5, 261, 261))
    burnt = 0
    for window in windows:
        expected = _one_off_rasterize(source, window)
        got = source.rasterize_window(window)
        assert got.dtype == np.uint8 and got.shape == expected.shape
        assert np.array_equal(got, expected), window
        burnt += int((got == 1).sum())
    assert burnt > 100_000  # the windows hold buildings: the comparison is not of empty windows
    # The kept canvas is this process's: a pickled (or forked) copy makes its own.
    import pickle

    copy = pickle.loads(pickle.dumps(source))
    assert copy._canvas is None
    assert np.array_equal(copy.rasterize_window(windows[0]), _one_off_rasterize(source, windows[0]))
