"""ANALYZE, CHIP and EVAL of object detection on the NEON tree crowns, through the real command path.

One 400×400 image (EPSG:32617, nodata 255) is split by two WGS84 AOIs: the
left half trains, the right half validates. The boxes come from the WGS84
GeoJSON through the default label source; they are checked against the
pixel boxes of ``neon_osbs_029_trees.csv`` (the file the GeoJSON was derived
from), within 1 px.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from PIL import Image

import rv
from rv.analyzer.stats_analyzer import RasterStats

pytestmark = pytest.mark.filterwarnings("ignore::rv_geojson.geojson_reader.GeoJSONWarning")

LEFT = shapely.box(0, 0, 200, 400)  # pixel x (columns) 0..200, y (rows) 0..400
RIGHT = shapely.box(200, 0, 400, 400)


def csv_boxes(path) -> np.ndarray:
    """``(N, 4)`` pixel boxes ``ymin, xmin, ymax, xmax`` of the CSV."""
    with open(path) as f:
        return np.array(
            [[float(r["ymin"]), float(r["xmin"]), float(r["ymax"]), float(r["xmax"])] for r in csv.DictReader(f)]
        )


def test_tree_detection_with_aois(rv_env, helpers, data_dir, tmp_path):
    trees = data_dir / "trees"
    image = trees / "neon_osbs_029.tif"
    left = helpers.write_aoi(tmp_path / "left.geojson", LEFT, image)
    right = helpers.write_aoi(tmp_path / "right.geojson", RIGHT, image)
    task = (
        rv.TaskConfig.builder(rv.OBJECT_DETECTION)
        .with_classes({"Tree": (0, "green")})  # the file's class_id 0 / class_name "Tree"
        .with_chip_size(100)
        .with_chip_options(window_method="chip", neg_ratio=1.0, ioa_thresh=0.8, debug_chip_probability=1.0)
        .with_debug()
        .build()
    )
    scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(str(image))
    scenes = scenes.with_label_source(str(trees / "neon_osbs_029_trees.geojson"))
    experiment = helpers.build_experiment(
        "trees-od",
        task,
        [scenes.with_id("osbs-left").with_aoi_uri(left)],
        [scenes.with_id("osbs-right").with_aoi_uri(right)],
        tmp_path / "out",
        stats={"sample_prob": 1.0},
    )
    assert experiment.resolved().dataset.validation_scenes[0].label_store.uri.endswith("osbs-right.geojson")
    helpers.run_commands(experiment, tmp_path)

    with rasterio.open(image) as ds:
        scene_image = np.moveaxis(ds.read(), 0, -1)
    nodata = (scene_image == 255).all(axis=-1)
    truth = csv_boxes(trees / "neon_osbs_029_trees.csv")

    # ANALYZE: the nodata value 255 is left out of every band's statistics (GDAL's per-band rule).
    stats = RasterStats.load(experiment.resolved().stats_uri())
    per_band = (scene_image != 255).reshape(-1, 3).sum(axis=0)
    assert stats.count == 2 * int(per_band.max())  # both scenes are the same image
    valid_values = scene_image.reshape(-1, 3).astype(np.float64)
    means = [valid_values[valid_values[:, b] != 255, b].mean() for b in range(3)]
    np.testing.assert_allclose(stats.means, means, rtol=1e-6)

    manifest, chips, names = helpers.read_chips(experiment)
    assert manifest["task"] == rv.OBJECT_DETECTION
    assert (manifest["num_channels"], manifest["dtype"], manifest["chip_size"]) == (3, "uint8", 100)
    for split, aoi in (("train", LEFT), ("valid", RIGHT)):
        in_aoi = helpers.pixel_centres_in(aoi, nodata.shape)
        # Positives: one window around every box lying wholly in the AOI; as many negatives at most.
        wanted = truth[shapely.contains(aoi, shapely.box(truth[:, 1], truth[:, 0], truth[:, 3], truth[:, 2]))]
        assert len(wanted) <= manifest["counts"][split] <= 2 * len(wanted)
        assert len(chips[split]) == manifest["counts"][split]
        locator = helpers.ChipLocator(scene_image, 100, 100)
        found_whole = set()
        for chip in chips[split]:
            assert chip["image"].shape == (100, 100, 3) and chip["image"].dtype == np.uint8
            boxes, class_ids = chip["boxes"], chip["class_ids"]
            assert boxes.dtype == np.float32 and boxes.shape == (len(class_ids), 4)
            assert class_ids.dtype == np.int64 and (class_ids == 0).all()
            windows = locator.locate(chip["image"])
            assert len(windows) == 1
            (window,) = windows
            valid = helpers.window_of(in_aoi, window, fill=False)
            assert valid.any(), f"a {split} chip at {window} lies outside its AOI"
            outside = ~helpers.window_of(np.ones(nodata.shape, bool), window, fill=False)
            np.testing.assert_array_equal(chip["mask"], ~valid | helpers.window_of(nodata, window) | outside)
            assert ((boxes >= 0) & (boxes <= 100)).all()
            # Each chip box is a CSV box of the AOI, clipped to the window, in the chip's frame (±1 px).
            for box in boxes.astype(np.float64) + [window.ymin, window.xmin, window.ymin, window.xmin]:
                clipped = np.column_stack(
                    [
                        np.maximum(wanted[:, 0], window.ymin),
                        np.maximum(wanted[:, 1], window.xmin),
                        np.minimum(wanted[:, 2], window.ymax),
                        np.minimum(wanted[:, 3], window.xmax),
                    ]
                )
                match = np.flatnonzero(np.abs(clipped - box).max(axis=1) <= 1.0)
                assert len(match), f"chip box {box} of {split} matches no CSV box inside the AOI"
                if np.abs(wanted[match[0]] - box).max() <= 1.0:
                    found_whole.add(int(match[0]))
        assert found_whole == set(range(len(wanted)))  # every box in the AOI made it whole into a chip

    # Debug on: one PNG per chip, named like it, with the boxes drawn in the class color.
    chip_dir = Path(experiment.resolved().command_uri("CHIP"))
    for split in ("train", "valid"):
        pngs = sorted(p.stem for p in (chip_dir / "debug" / split).glob("*.png"))
        assert pngs == sorted(p.stem for p in (chip_dir / split).glob("*.npz"))
    name, chip = next((n, c) for n, c in zip(names["train"], chips["train"]) if len(c["boxes"]))
    drawn = np.asarray(Image.open(chip_dir / "debug" / "train" / f"{name}.png").convert("RGB"))
    ymin, xmin, ymax, _ = chip["boxes"][0].astype(int)
    assert tuple(drawn[(ymin + ymax) // 2, min(xmin, 99)]) == (0, 128, 0)  # "green", on the box's left edge

    report, png = helpers.read_eval(experiment)
    centres_right = (truth[:, 1] + truth[:, 3]) / 2 >= 200
    overall = report["overall"]
    assert overall["gt_count"] == overall["pred_count"] == int(centres_right.sum())
    assert overall["f1"] == pytest.approx(1.0) and overall["map"] == pytest.approx(1.0)
    (tree,) = report["classes"]
    assert tree["class_name"] == "Tree" and tree["ap50"] == pytest.approx(1.0) and tree["ap"] == pytest.approx(1.0)
    assert set(report["scenes"]) == {"osbs-right"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_chip_per_box_with_the_label_window_method(rv_env, helpers, data_dir, tmp_path):
    """Label windows have fractional edges (the boxes are reprojected): image, mask and boxes must agree."""
    trees = data_dir / "trees"
    image = trees / "neon_osbs_029.tif"
    left = helpers.write_aoi(tmp_path / "left.geojson", LEFT, image)
    right = helpers.write_aoi(tmp_path / "right.geojson", RIGHT, image)
    task = (
        rv.TaskConfig.builder(rv.OBJECT_DETECTION)
        .with_classes({"Tree": (0, "green")})
        .with_chip_size(100)
        .with_chip_options(window_method="label", label_buffer=5)
        .build()
    )
    scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(str(image))
    scenes = scenes.with_label_source(str(trees / "neon_osbs_029_trees.geojson"))
    experiment = helpers.build_experiment(
        "trees-od-label",
        task,
        [scenes.with_id("osbs-left").with_aoi_uri(left)],
        [scenes.with_id("osbs-right").with_aoi_uri(right)],
        tmp_path / "out",
    )
    helpers.run_commands(experiment, tmp_path, ["CHIP"])

    truth = csv_boxes(trees / "neon_osbs_029_trees.csv")
    _, chips, _ = helpers.read_chips(experiment)
    for split, aoi in (("train", LEFT), ("valid", RIGHT)):
        wanted = truth[shapely.contains(aoi, shapely.box(truth[:, 1], truth[:, 0], truth[:, 3], truth[:, 2]))]
        assert len(chips[split]) == len(wanted)
        sizes = []
        for chip in chips[split]:
            h, w = chip["image"].shape[:2]
            assert chip["mask"].shape == (h, w)
            # The chip's own box, 5 px from each side (less where the scene's edge clipped the window).
            b = chip["boxes"]
            assert ((b[:, 0] <= 6) & (b[:, 1] <= 6) & (b[:, 2] >= h - 6) & (b[:, 3] >= w - 6)).any()
            sizes.append((h, w))
        # Window sizes follow the boxes (+ 2 x 5 px), to within the 1-px rounding of their edges.
        expected = sorted(
            (int(min(b[2] + 5, 400) - max(b[0] - 5, 0)), int(min(b[3] + 5, 400) - max(b[1] - 5, 0))) for b in wanted
        )
        assert all(abs(a - b) <= 1 for s, e in zip(sorted(sizes), expected) for a, b in zip(s, e))
