"""Segmentation label raster source and the streaming GeoTIFF label store, on the landcover tile."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import shapely
from shapely.geometry import shape

from rv.core.box import Box
from rv.core.class_map import IGNORE_CLASS_ID
from rv.data.label_source import SemanticSegmentationRasterSource
from rv.data.label_store import SemanticSegmentationRasterStore
from rv.data.label_store.semantic_segmentation_raster_store import polygonize_classes
from rv.data.raster_source import GeoTIFFSource

README_COUNTS = {1: 6483, 2: 6022, 3: 22890, 4: 27606}  # forest, grass, urban, water


@pytest.fixture
def label_source(data_dir, landcover_class_map) -> SemanticSegmentationRasterSource:
    raster = GeoTIFFSource(str(data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif"))
    return SemanticSegmentationRasterSource(raster, landcover_class_map)


def _counts(arr: np.ndarray) -> dict[int, int]:
    counts = np.bincount(arr.ravel(), minlength=256)
    return {i: int(c) for i, c in enumerate(counts) if c and i != IGNORE_CLASS_ID}


def test_class_counts_equal_the_readme(label_source):
    arr = label_source.get_label_arr()
    assert arr.dtype == np.uint8 and arr.shape == (251, 251)
    assert _counts(arr) == README_COUNTS
    # Window by window (with padded edge windows) gives the same counts.
    total = {c: 0 for c in README_COUNTS}
    for window in label_source.extent.get_windows(100):
        part = label_source.get_label_arr(window)
        assert part.shape == (100, 100)
        for c, n in _counts(part).items():
            total[c] += n
    assert total == README_COUNTS
    # Outside the raster is ignored.
    assert (label_source.get_label_arr(Box(200, 200, 300, 300))[51:] == IGNORE_CLASS_ID).all()


def test_ids_outside_the_class_map_and_nodata_are_ignored(data_dir):
    from rv.core.class_map import ClassMap

    raster = GeoTIFFSource(str(data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif"))
    only_water = SemanticSegmentationRasterSource(raster, ClassMap.from_spec({"water": 4}))
    assert _counts(only_water.get_label_arr()) == {4: 27606}


def test_rgb_label_raster(tmp_path, label_source, landcover_class_map):
    arr = label_source.get_label_arr()
    rgb = landcover_class_map.color_lut()[arr]
    rgb[:5, :5] = (1, 2, 3)  # a color of no class
    path = tmp_path / "rgb_labels.tif"
    with rasterio.open(label_source.raster_source.dataset.name) as ds:
        profile = ds.profile
    profile.update(count=3, nodata=None)
    with rasterio.open(path, "w", **profile) as out:
        out.write(np.moveaxis(rgb, -1, 0))
    source = SemanticSegmentationRasterSource(GeoTIFFSource(str(path)), landcover_class_map, rgb_class_map=True)
    back = source.get_label_arr()
    assert (back[:5, :5] == IGNORE_CLASS_ID).all()
    expected = arr.copy()
    expected[:5, :5] = IGNORE_CLASS_ID
    np.testing.assert_array_equal(back, expected)


def test_store_streams_windows_and_reads_back_equal(tmp_path, label_source, landcover_class_map):
    raster = label_source.raster_source
    uri = str(tmp_path / "predict" / "labels.tif")
    store = SemanticSegmentationRasterStore.from_raster_source(
        uri, raster, landcover_class_map, write_scores=True, tile_size=64
    )
    truth = label_source.get_label_arr()
    with store.open_writer() as writer:
        for window in raster.extent.get_windows(96, padding="pad"):
            arr = label_source.get_label_arr(window)
            # One-hot scores in class-map order, as a model's probabilities would be.
            index = landcover_class_map.id_to_index_lut()[arr]
            scores = (np.arange(4)[None, None, :] == index[..., None]).astype(np.float32)
            writer.write(window, arr, scores)
    with rasterio.open(uri) as ds, rasterio.open(raster.dataset.name) as src:
        assert ds.crs == src.crs and ds.transform == src.transform
        assert (ds.width, ds.height, ds.count, ds.dtypes[0], ds.nodata) == (251, 251, 1, "uint8", 255)
        assert ds.profile["tiled"] and ds.block_shapes[0] == (64, 64) and ds.compression.name == "deflate"
    np.testing.assert_array_equal(store.get_label_arr(), truth)
    np.testing.assert_array_equal(store.get_label_arr(Box(10, 20, 60, 90)), truth[10:60, 20:90])
    scores = store.get_scores_arr()
    assert scores.shape == (251, 251, 4) and scores.dtype == np.float32
    np.testing.assert_array_equal(scores.argmax(axis=2), landcover_class_map.id_to_index_lut()[truth])
    labels = store.get_labels()
    assert labels.class_counts() == README_COUNTS
    # Only the outputs are left in the directory: no temporary files.
    assert sorted(p.name for p in (tmp_path / "predict").iterdir()) == ["labels-scores.tif", "labels.tif"]


def test_unwritten_parts_are_ignore_and_failures_leave_nothing(tmp_path, label_source, landcover_class_map):
    raster = label_source.raster_source
    uri = str(tmp_path / "partial.tif")
    store = SemanticSegmentationRasterStore.from_raster_source(uri, raster, landcover_class_map)
    with store.open_writer() as writer:
        writer.write(Box(0, 0, 50, 50), label_source.get_label_arr(Box(0, 0, 50, 50)))
    arr = store.get_label_arr()
    assert (arr[50:] == IGNORE_CLASS_ID).all() and (arr[:50, :50] != IGNORE_CLASS_ID).all()

    failing = SemanticSegmentationRasterStore.from_raster_source(
        str(tmp_path / "failed.tif"), raster, landcover_class_map
    )
    with pytest.raises(RuntimeError):
        with failing.open_writer() as writer:
            writer.write(Box(0, 0, 50, 50), label_source.get_label_arr(Box(0, 0, 50, 50)))
            raise RuntimeError("the model crashed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["partial.tif"]


def test_rgb_store_round_trip(tmp_path, label_source, landcover_class_map):
    raster = label_source.raster_source
    store = SemanticSegmentationRasterStore.from_raster_source(
        str(tmp_path / "rgb.tif"), raster, landcover_class_map, rgb=True
    )
    store.save(label_source.get_labels())
    with rasterio.open(tmp_path / "rgb.tif") as ds:
        assert ds.count == 3
        pixel = ds.read(window=((0, 1), (0, 1)))[:, 0, 0]
    truth = label_source.get_label_arr()
    assert tuple(pixel) == landcover_class_map.colors_rgb()[int(truth[0, 0])]
    np.testing.assert_array_equal(store.get_label_arr(), truth)


def test_polygons_match_the_raster_and_are_wgs84(tmp_path, label_source, landcover_class_map):
    raster = label_source.raster_source
    vector_uri = str(tmp_path / "labels-polygons.geojson")
    store = SemanticSegmentationRasterStore.from_raster_source(
        str(tmp_path / "labels.tif"), raster, landcover_class_map, vector_output=vector_uri, tile_size=32
    )
    with store.open_writer() as writer:
        for window in raster.extent.get_windows(64):
            writer.write(window, label_source.get_label_arr(window))
    collection = json.loads(open(vector_uri).read())
    assert collection["type"] == "FeatureCollection" and "crs" not in collection  # RFC 7946
    geoms = np.array([shape(f["geometry"]) for f in collection["features"]], dtype=object)
    class_ids = np.array([f["properties"]["class_id"] for f in collection["features"]])
    assert shapely.is_valid(geoms).all()
    assert {f["properties"]["class_name"] for f in collection["features"]} == {"forest", "grass", "urban", "water"}
    # lon/lat around Aberystwyth.
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    assert -4.2 < minx < maxx < -3.9 and 52.3 < miny < maxy < 52.5
    # RFC 7946 §3.1.6: exterior rings counterclockwise, holes clockwise (a GIS draws them filled either way).
    polygons = shapely.get_parts(geoms)
    assert shapely.is_ccw(shapely.get_exterior_ring(polygons)).all()
    holes = [ring for p in polygons for ring in p.interiors]
    assert holes and not any(shapely.is_ccw(h) for h in holes)
    # Back in pixel space, each class's polygons cover exactly its pixels.
    pixel = raster.crs_transformer.crs_to_pixel_geoms(geoms, "EPSG:4326")
    for class_id, count in README_COUNTS.items():
        assert shapely.area(pixel[class_ids == class_id]).sum() == pytest.approx(count, rel=1e-6)


def test_polygonize_merges_regions_across_blocks(tmp_path, label_source):
    """Blocks of 32 px cut regions apart; merged, the polygons equal those of one whole-raster pass."""
    path = str(tmp_path / "labels.tif")
    with rasterio.open(label_source.raster_source.dataset.name) as src:
        profile = src.profile
    with rasterio.open(path, "w", **profile) as out:
        out.write(label_source.get_label_arr()[None])
    small = polygonize_classes(path, [1, 2, 3, 4], block_size=32)
    whole = polygonize_classes(path, [1, 2, 3, 4], block_size=1024)
    for class_id in README_COUNTS:
        assert len(small[class_id]) == len(whole[class_id])
        a = shapely.union_all(small[class_id])
        b = shapely.union_all(whole[class_id])
        assert a.symmetric_difference(b).area == 0
        assert sum(p.area for p in small[class_id]) == README_COUNTS[class_id]


def test_polygons_in_the_source_crs(tmp_path, label_source, landcover_class_map):
    raster = label_source.raster_source
    vector_uri = str(tmp_path / "polygons.geojson")
    store = SemanticSegmentationRasterStore.from_raster_source(
        str(tmp_path / "labels.tif"),
        raster,
        landcover_class_map,
        vector_output=vector_uri,
        vector_crs="source",
        vector_class_ids=[4],
    )
    store.save(label_source.get_labels())
    collection = json.loads(open(vector_uri).read())
    assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::27700"
    assert {f["properties"]["class_id"] for f in collection["features"]} == {4}
    geoms = [shape(f["geometry"]) for f in collection["features"]]
    area_m2 = sum(g.area for g in geoms)
    assert area_m2 == pytest.approx(27606 * 100)  # 10 m pixels


def test_remote_outputs_are_uploaded_and_read_back(label_source, landcover_class_map):
    import fsspec

    fs = fsspec.filesystem("memory")
    store = SemanticSegmentationRasterStore.from_raster_source(
        "memory://rv-core-tests/predict/labels.tif",
        label_source.raster_source,
        landcover_class_map,
        vector_output="memory://rv-core-tests/predict/labels-polygons.geojson",
    )
    try:
        store.save(label_source.get_labels())
        assert sorted(fs.ls("memory://rv-core-tests/predict", detail=False)) == [
            "/rv-core-tests/predict/labels-polygons.geojson",
            "/rv-core-tests/predict/labels.tif",
        ]
        np.testing.assert_array_equal(
            store.get_label_arr(Box(0, 0, 100, 100)), label_source.get_label_arr(Box(0, 0, 100, 100))
        )
    finally:
        fs.rm("memory://rv-core-tests", recursive=True)
