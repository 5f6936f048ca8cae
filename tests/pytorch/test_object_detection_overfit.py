"""A tiny detector trained through ``rv run local`` to overfit one small scene (a 192² crop of the NEON
scene, about 15 trees) finds its trees where they are on the map.

The predicted GeoJSON (WGS84) is turned back into pixels of the crop with
pyproj and the raster's transform, independently of rv, and matched against
the ground-truth boxes' coordinates: what this checks is that the boxes land
on the trees (the training loop, the box offsets of each window, the merging
and the store's map coordinates), not that the model generalises.
"""

import json

import numpy as np
import pytest

CROP = (64, 64, 192)  # row, column, side in pixels of the NEON scene


def iou(a, b):
    """``(len(a), len(b))`` IoU of ``ymin, xmin, ymax, xmax`` boxes."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


@pytest.fixture(scope="module")
def crop(data_dir, tmp_path_factory):
    """The crop as its own GeoTIFF (same CRS, the transform of the window)."""
    import rasterio
    from rasterio.windows import Window

    y, x, side = CROP
    out = tmp_path_factory.mktemp("crop") / "osbs_crop.tif"
    with rasterio.open(data_dir / "trees" / "neon_osbs_029.tif") as src:
        window = Window(x, y, side, side)
        profile = {**src.profile, "width": side, "height": side, "transform": src.window_transform(window)}
        profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(src.read(window=window))
    return out


@pytest.mark.slow
def test_a_detector_overfit_on_one_small_scene_puts_its_boxes_on_the_trees(run_experiment, helpers, data_dir, crop,
                                                                           tmp_path):
    root = tmp_path / "out"
    run_experiment("trees_overfit", root, image_uri=crop)

    # It learnt: the training loss fell.
    from rv_pytorch.train import read_log

    rows = read_log(root / "train" / "trees-overfit" / "log.csv")
    assert rows[-1]["train_loss"] < 0.6 * rows[0]["train_loss"], [r["train_loss"] for r in rows]

    side = CROP[2]
    truth, _ = helpers.geojson_pixel_boxes(data_dir / "trees" / "neon_osbs_029_trees.geojson", crop)
    clipped = np.clip(truth, 0, side)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    whole = truth[area(clipped) >= 0.999 * area(truth)]  # trees wholly in the crop
    seen = clipped[area(clipped) >= 0.5 * area(truth)]  # trees at least half in it, cut at its edge
    assert len(whole) >= 10

    predicted = root / "predict" / "trees-overfit" / "osbs_crop.geojson"
    boxes, props = helpers.geojson_pixel_boxes(predicted, crop)
    assert len(boxes) > 0 and all(p["score"] >= 0.5 for p in props)
    assert (boxes >= -1e-6).all() and (boxes <= side + 1e-6).all()
    # The trees are found where they are (recall), and what is found is a tree (precision), at IoU 0.5.
    hit_trees = (iou(whole, boxes).max(axis=1) >= 0.5).mean()
    hit_boxes = (iou(boxes, seen).max(axis=1) >= 0.5).mean()
    assert hit_trees >= 0.8 and hit_boxes >= 0.7, (hit_trees, hit_boxes, len(boxes), len(whole))
    report = json.loads((root / "eval" / "trees-overfit" / "eval.json").read_text())
    assert report["overall"]["pred_count"] == len(boxes)
