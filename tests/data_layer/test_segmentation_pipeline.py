"""ANALYZE, CHIP and EVAL of semantic segmentation on real data, through the real command path.

- Kampala A (train) / B (validation), EPSG:3857 drone imagery, building
  footprints in a WGS84 GeoJSON shared by both scenes, rasterized by
  GEOJSON_SOURCE, stats transformer on;
- the Sentinel-2 landcover tile (10 bands uint16, four bands picked by a
  channel order) with its class raster, split into a training and a
  validation half by AOIs in EPSG:27700 (legacy ``crs`` member);
- NEON trees (nodata = 255): labels under nodata are 255 in chips and left
  out of the evaluation.

Chips are found in their scene by their pixels, and their labels compared
with labels computed here independently of rv (GDAL's ``transform_geom`` and
``rasterio.features.rasterize``, or the class raster read with rasterio).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.warp import transform_geom

import rv

pytestmark = pytest.mark.filterwarnings("ignore::rv_geojson.geojson_reader.GeoJSONWarning")

KAMPALA_CLASSES = {"building": (1, "red"), "background": (2, "lightgray")}
LANDCOVER_CLASSES = {"forest": (1, "darkgreen"), "grass": (2, "yellowgreen"), "urban": (3, "red"), "water": (4, "blue")}


def independent_building_raster(tif, geojson, building=1, background=2) -> np.ndarray:
    """Buildings burnt on the grid of ``tif``: GDAL reprojection + rasterio rasterize, no rv."""
    doc = json.loads(geojson.read_text())
    with rasterio.open(tif) as ds:
        shapes = []
        for feature in doc["features"]:
            geom = shapely.geometry.shape(transform_geom("EPSG:4326", ds.crs, feature["geometry"]))
            shapes.append((shapely.make_valid(geom), building))
        return rasterize(shapes, out_shape=ds.shape, transform=ds.transform, fill=background, dtype=np.uint8)


def assert_perfect_evaluation(helpers, experiment, gt_pixels: int, class_counts: dict[int, int] | None = None):
    report, png = helpers.read_eval(experiment)
    overall = report["overall"]
    assert overall["f1"] == pytest.approx(1.0) and overall["iou"] == pytest.approx(1.0)
    assert overall["miou"] == pytest.approx(1.0)
    assert overall["gt_count"] == gt_pixels == overall["pred_count"]
    for c in report["classes"]:
        if c["gt_count"]:
            assert c["f1"] == pytest.approx(1.0) and c["iou"] == pytest.approx(1.0), c
            assert c["pred_count"] == c["gt_count"]
    matrix = np.array(report["confusion_matrix"])
    assert matrix.sum() == gt_pixels and (matrix == np.diag(np.diag(matrix))).all()
    if class_counts is not None:
        got = {c["class_id"]: c["gt_count"] for c in report["classes"]}
        for class_id, count in class_counts.items():
            assert got[class_id] == pytest.approx(count, rel=0.005), (class_id, got[class_id], count)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return report


def test_kampala_buildings_from_geojson(rv_env, helpers, data_dir, tmp_path):
    buildings = data_dir / "buildings"
    geojson = buildings / "kampala_buildings.geojson"
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes(KAMPALA_CLASSES)
        .with_background_class_id(2)
        .with_chip_size(128)
        .with_chip_options(window_method="sliding", stride=128)  # no overlap: each pixel in one chip
        .build()
    )
    # The footprints have no class property: every feature is a building.
    labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(
        rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE).with_uri(str(geojson)).with_default_class_id(1)
    )

    def scene(scene_id, tif):
        raster = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(str(tif)).with_stats_transformer()
        return (
            rv.SceneConfig.builder()
            .with_task(task)
            .with_id(scene_id)
            .with_raster_source(raster)
            .with_label_source(labels)
        )

    tif_a, tif_b = buildings / "kampala_oam_a.tif", buildings / "kampala_oam_b.tif"
    experiment = helpers.build_experiment(
        "kampala-seg",
        task,
        [scene("kampala-a", tif_a)],
        [scene("kampala-b", tif_b)],
        tmp_path / "out",
        stats={"sample_prob": 1.0},  # a full pass, to compare with numpy
    )
    helpers.run_commands(experiment, tmp_path)
    resolved = experiment.resolved()

    # ANALYZE (full pass): statistics of the raw RGB bands of both scenes.
    with open(resolved.stats_uri()) as f:
        stats = json.load(f)
    with rasterio.open(tif_a) as a, rasterio.open(tif_b) as b:
        pixels = np.concatenate([a.read().reshape(3, -1), b.read().reshape(3, -1)], axis=1).astype(np.float64)
    assert stats["num_channels"] == 3 and stats["count"] == pixels.shape[1]
    np.testing.assert_allclose(stats["means"], pixels.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(stats["stds"], pixels.std(axis=1), rtol=1e-4)

    # CHIP: 128-px sliding windows, uint8 after the stats transformer, labels on the right pixels.
    manifest, chips, names = helpers.read_chips(experiment)
    assert manifest["task"] == rv.SEMANTIC_SEGMENTATION and manifest["chip_size"] == 128
    assert (manifest["num_channels"], manifest["dtype"]) == (3, "uint8")
    assert manifest["counts"] == {"train": (1024 // 128) * (1536 // 128), "valid": (512 // 128) ** 2}
    assert all(n.startswith("kampala-a-") for n in names["train"]) and all(
        n.startswith("kampala-b-") for n in names["valid"]
    )
    for split, tif, scene_config in (
        ("train", tif_a, resolved.dataset.train_scenes[0]),
        ("valid", tif_b, resolved.dataset.validation_scenes[0]),
    ):
        # Chips are uint8 after the stats transformer: find them in the transformed scene.
        raster_source = scene_config.raster_source.create(str(tmp_path))
        scene_image = raster_source.get_chip(raster_source.extent)
        expected = independent_building_raster(tif, geojson)
        locator = helpers.ChipLocator(scene_image, 128, 128)
        agree = total = 0
        seen = set()
        for chip in chips[split]:
            assert chip["image"].shape == (128, 128, 3) and chip["image"].dtype == np.uint8
            assert chip["labels"].shape == (128, 128) and chip["labels"].dtype == np.uint8
            assert not chip["mask"].any()  # no nodata in Kampala, no AOI
            assert set(np.unique(chip["labels"])) <= {1, 2}
            (window,) = locator.locate(chip["image"])
            seen.add(window.to_tuple())
            want = helpers.window_of(expected, window)
            agree += int((chip["labels"] == want).sum())
            total += want.size
        assert len(seen) == len(chips[split])  # sliding windows: every chip its own window
        assert agree / total >= 0.995, agree / total

    # EVAL: ground truth against itself, every pixel of scene B counted.
    expected_b = independent_building_raster(tif_b, geojson)
    assert_perfect_evaluation(
        helpers, experiment, 512 * 512, {1: int((expected_b == 1).sum()), 2: int((expected_b == 2).sum())}
    )


def test_landcover_class_raster_with_channel_order_and_aois(rv_env, helpers, data_dir, tmp_path):
    image = data_dir / "landcover" / "s2_aberystwyth_tile4.tif"
    label_tif = data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif"
    # Top half trains, bottom half validates; AOIs in the raster's own CRS (legacy crs member).
    top = helpers.write_aoi(tmp_path / "top.geojson", shapely.box(0, 0, 251, 125), image, crs="EPSG:27700")
    bottom = helpers.write_aoi(tmp_path / "bottom.geojson", shapely.box(0, 125, 251, 251), image, crs="EPSG:27700")
    channel_order = [2, 1, 0, 6]  # B4, B3, B2 (RGB) and B8 (NIR)
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes(LANDCOVER_CLASSES)
        .with_chip_size(64)
        .with_chip_options(window_method="random_sample", chips_per_scene=10)
        .build()
    )
    scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(str(image), channel_order=channel_order)
    scenes = scenes.with_label_source(str(label_tif))
    train = scenes.with_id("tile4-top").with_aoi_uri(top)
    valid = scenes.with_id("tile4-bottom").with_aoi_uri(bottom)
    experiment = helpers.build_experiment("landcover", task, [train], [valid], tmp_path / "out", stats={})
    helpers.run_commands(experiment, tmp_path)

    with open(experiment.resolved().stats_uri()) as f:
        assert json.load(f)["num_channels"] == 4  # statistics of the chosen bands

    with rasterio.open(image) as ds:
        scene_image = np.moveaxis(ds.read([c + 1 for c in channel_order]), 0, -1)
    with rasterio.open(label_tif) as ds:
        class_raster = ds.read(1)
    manifest, chips, _ = helpers.read_chips(experiment)
    assert (manifest["num_channels"], manifest["dtype"]) == (4, "uint16")
    assert manifest["counts"] == {"train": 10, "valid": 10}
    for split, aoi in (("train", shapely.box(0, 0, 251, 125)), ("valid", shapely.box(0, 125, 251, 251))):
        in_aoi = helpers.pixel_centres_in(aoi, class_raster.shape)
        locator = helpers.ChipLocator(scene_image, 64, 64)
        for chip in chips[split]:
            assert chip["image"].shape == (64, 64, 4) and chip["image"].dtype == np.uint16
            (window,) = locator.locate(chip["image"])
            # Outside the AOI (or the scene) a pixel is masked and its label ignored.
            valid = helpers.window_of(in_aoi, window, fill=False)
            assert valid.any(), f"a {split} chip at {window} lies outside its AOI"
            np.testing.assert_array_equal(chip["mask"], ~valid)
            want = np.where(valid, helpers.window_of(class_raster, window), rv.IGNORE_CLASS_ID)
            np.testing.assert_array_equal(chip["labels"], want)

    # EVAL counts the validation AOI's pixels only: rows 125..250.
    in_bottom = helpers.pixel_centres_in(shapely.box(0, 125, 251, 251), class_raster.shape)
    counts = {c: int(((class_raster == c) & in_bottom).sum()) for c in (1, 2, 3, 4)}
    assert_perfect_evaluation(helpers, experiment, 126 * 251, counts)


def test_trees_nodata_is_ignored_in_chips_and_evaluation(rv_env, helpers, data_dir, tmp_path):
    trees = data_dir / "trees"
    image = trees / "neon_osbs_029.tif"
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes({"background": (0, "black"), "tree": (1, "green")})
        .with_background_class_id(0)
        .with_chip_size(100)
        .with_chip_options(window_method="sliding", stride=100)  # no overlap: each pixel in one chip
        .build()
    )
    # The file says class_id 0 / class_name "Tree"; map its names onto this class map.
    crowns = (
        rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE)
        .with_uri(str(trees / "neon_osbs_029_trees.geojson"))
        .with_class_property("class_name", {"Tree": "tree"})
    )
    labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(crowns)
    scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(str(image)).with_label_source(labels)
    experiment = helpers.build_experiment(
        "trees-seg", task, [scenes.with_id("osbs-train")], [scenes.with_id("osbs-valid")], tmp_path / "out"
    )
    helpers.run_commands(experiment, tmp_path, ["CHIP", "EVAL"])

    with rasterio.open(image) as ds:
        scene_image = np.moveaxis(ds.read(), 0, -1)
    nodata = (scene_image == 255).all(axis=-1)  # GDAL's rule: nodata when every band is
    assert nodata.sum() > 100
    expected = np.zeros(nodata.shape, dtype=np.uint8)
    with open(trees / "neon_osbs_029_trees.csv") as f:
        for row in csv.DictReader(f):
            expected[int(row["ymin"]) : int(row["ymax"]), int(row["xmin"]) : int(row["xmax"])] = 1
    expected[nodata] = rv.IGNORE_CLASS_ID

    _, chips, _ = helpers.read_chips(experiment)
    assert len(chips["train"]) == len(chips["valid"]) == 16
    locator = helpers.ChipLocator(scene_image, 100, 100)
    masked = agree = total = 0
    for chip in chips["train"] + chips["valid"]:
        (window,) = locator.locate(chip["image"])
        np.testing.assert_array_equal(chip["mask"], helpers.window_of(nodata, window))
        assert (chip["labels"][chip["mask"]] == rv.IGNORE_CLASS_ID).all()
        masked += int(chip["mask"].sum())
        want = helpers.window_of(expected, window)
        agree += int((chip["labels"] == want).sum())
        total += want.size
    assert masked == 2 * nodata.sum()  # sliding windows cover each scene exactly once
    assert agree / total >= 0.995, agree / total

    valid = ~nodata
    assert_perfect_evaluation(
        helpers,
        experiment,
        int(valid.sum()),
        {0: int(((expected == 0) & valid).sum()), 1: int(((expected == 1) & valid).sum())},
    )
